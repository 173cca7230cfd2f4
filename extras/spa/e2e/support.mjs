// Shared E2E setup: settings from the environment, the Chromium launch, and small page helpers.
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

export const SPA_URL = process.env.SPA_URL ?? 'http://localhost:5173';
export const GATEHOUSE_URL = process.env.GATEHOUSE_URL ?? 'http://localhost:3001';
/** The access-token lifetime gatehouse runs with (seconds); waits below are derived from it. */
export const ACCESS_TOKEN_TTL = Number(process.env.ACCESS_TOKEN_TTL ?? 2);
/** The refresh-token reuse grace gatehouse runs with (seconds). */
export const REFRESH_REUSE_GRACE = Number(process.env.REFRESH_REUSE_GRACE ?? 10);
export const ARTIFACTS_DIR = resolve(process.env.ARTIFACTS_DIR ?? '../../artifacts/e2e');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

// The flags keep headless Chromium quiet and off the network beyond loopback.
const CHROMIUM_ARGS = [
	'--headless',
	'--no-sandbox',
	'--disable-gpu',
	'--disable-quic',
	'--no-first-run',
	'--disable-background-networking',
	'--disable-component-update',
	'--disable-sync'
];

mkdirSync(ARTIFACTS_DIR, { recursive: true });

export async function launch() {
	return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
}

/** A fresh browser context (one cookie jar) with bounded waits. */
export async function newContext(browser) {
	const context = await browser.newContext({ viewport: { width: 960, height: 640 } });
	context.setDefaultTimeout(10_000);
	context.setDefaultNavigationTimeout(15_000);
	return context;
}

export async function screenshot(page, name) {
	await page.screenshot({ path: join(ARTIFACTS_DIR, `${name}.png`) });
}

let counter = 0;
/** A username no earlier run has taken. */
export function uniqueUser(prefix = 'e2e') {
	counter += 1;
	const id = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}${counter}`;
	return { username: `${prefix}-${id}`, email: `${prefix}-${id}@example.com`, password: 'correct horse battery' };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Long enough for any access token issued before the call to have expired (JWT_LEEWAY=0). */
export const waitForExpiry = () => sleep(ACCESS_TOKEN_TTL * 1000 + 1200);

/** Waits until the header reports the given auth state. */
export async function authState(page, state) {
	await page.locator(`[data-testid="nav"][data-auth="${state}"]`).waitFor();
}

export async function registerViaUi(page, user) {
	await page.goto(`${SPA_URL}/register`);
	await authState(page, 'anonymous');
	await page.fill('input[name="username"]', user.username);
	await page.fill('input[name="email"]', user.email);
	await page.fill('input[name="password"]', user.password);
	await page.click('[data-testid="submit"]');
	await page.waitForURL(`${SPA_URL}/profile`);
	await page.locator('[data-testid="profile-username"]').waitFor();
}

export async function loginViaUi(page, identifier, password) {
	await page.goto(`${SPA_URL}/login`);
	await authState(page, 'anonymous');
	await page.fill('input[name="identifier"]', identifier);
	await page.fill('input[name="password"]', password);
	await page.click('[data-testid="submit"]');
}

/** Records gatehouse responses seen by a page as "METHOD /path STATUS". */
export function recordGatehouse(page) {
	const seen = [];
	page.on('response', (response) => {
		const url = new URL(response.url());
		if (url.origin === new URL(GATEHOUSE_URL).origin && response.request().method() !== 'OPTIONS') {
			seen.push(`${response.request().method()} ${url.pathname} ${response.status()}`);
		}
	});
	return seen;
}

/** Serves one HTML page on a loopback port: the foreign origin of the cross-site checks. */
export async function serveStatic(html, host = '127.0.0.1') {
	const server = createServer((_req, res) => {
		res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
		res.end(html);
	});
	await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
	const { port } = server.address();
	return { url: `http://${host}:${port}/`, close: () => new Promise((ok) => server.close(ok)) };
}
