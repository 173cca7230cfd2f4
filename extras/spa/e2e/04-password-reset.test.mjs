// E2E: a forgotten password reset in the browser, with the link read from the mail the SMTP
// server received; then the other account pages (verify, change password, delete).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SPA_URL, authState, launch, loginViaUi, newContext, registerViaUi, screenshot, sleep, uniqueUser } from './support.mjs';

const TIMEOUT = { timeout: 60_000 };
/** The Maildir the SMTP server (aiosmtpd, started by scripts/e2e) writes what it receives to. */
const MAILDIR = process.env.MAILDIR;
const user = uniqueUser('reset');
const NEW_PASSWORD = 'a brand new passphrase';
let browser;
let page;

before(async () => {
	assert.ok(MAILDIR, 'scripts/e2e sets MAILDIR');
	browser = await launch();
	page = await (await newContext(browser)).newPage();
});

after(async () => {
	await browser?.close();
});

/** Quoted-printable soft breaks and escapes undone: enough to read a link. */
function decode(text) {
	return text.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
}

/** The link to `page` in the newest mail to `to` whose subject matches, once it has arrived. */
async function linkInMail(to, subject, pagePath) {
	const deadline = Date.now() + 30_000;
	for (;;) {
		let files = [];
		try {
			files = readdirSync(join(MAILDIR, 'new')).map((f) => join(MAILDIR, 'new', f));
		} catch {
			// The Maildir exists once the first message arrived.
		}
		const mails = files
			.map((f) => decode(readFileSync(f, 'utf8')))
			.filter((m) => m.toLowerCase().includes(`to: ${to}`.toLowerCase()) && subject.test(m));
		const found = mails.map((m) => m.match(new RegExp(`https?://[^\\s"<]*${pagePath}\\?token=[A-Za-z0-9_-]+`))).find(Boolean);
		if (found) return found[0];
		assert.ok(Date.now() < deadline, `no ${pagePath} link mailed to ${to}`);
		await sleep(200);
	}
}

test('a new account verifies its email through the mailed link', TIMEOUT, async () => {
	await registerViaUi(page, user);
	assert.equal((await page.locator('[data-testid="profile-verified"]').textContent()).trim(), 'not verified');
	const link = await linkInMail(user.email, /Confirm your email/, '/verify');
	assert.ok(link.startsWith(`${SPA_URL}/verify?token=`), link);
	await page.goto(link);
	await page.locator('[data-testid="notice"]').waitFor();
	assert.match(await page.locator('[data-testid="notice"]').textContent(), /is verified/);
});

test('a forgotten password is reset from the mailed link, and the user is logged in', TIMEOUT, async () => {
	await page.goto(`${SPA_URL}/profile`);
	await page.click('[data-testid="logout"]');
	await authState(page, 'anonymous');
	await page.goto(`${SPA_URL}/login`);
	await page.click('[data-testid="forgot-link"]');
	await page.waitForURL(`${SPA_URL}/forgot`);
	await page.fill('input[name="email"]', user.email);
	await page.click('[data-testid="submit"]');
	await page.locator('[data-testid="notice"]').waitFor();
	await screenshot(page, '04-forgot-sent');

	const link = await linkInMail(user.email, /Reset your gatehouse password/, '/reset');
	await page.goto(link);
	await page.fill('input[name="password"]', NEW_PASSWORD);
	await screenshot(page, '04-reset-form');
	await page.click('[data-testid="submit"]');
	await page.waitForURL(`${SPA_URL}/profile`);
	await authState(page, 'authenticated');
	assert.equal((await page.locator('[data-testid="profile-username"]').textContent()).trim(), user.username);

	// The link works once.
	await page.goto(link);
	await page.fill('input[name="password"]', 'yet another passphrase');
	await page.click('[data-testid="submit"]');
	assert.match(await page.locator('[data-testid="form-error"]').textContent(), /invalid, already used or expired/);
});

test('the password is changed, then the account deleted', TIMEOUT, async () => {
	await page.goto(`${SPA_URL}/change-password`);
	await authState(page, 'authenticated');
	await page.fill('input[name="current_password"]', NEW_PASSWORD);
	await page.fill('input[name="new_password"]', user.password);
	await page.click('[data-testid="submit"]');
	await page.locator('[data-testid="notice"]').waitFor();

	await page.goto(`${SPA_URL}/delete-account`);
	await authState(page, 'authenticated');
	await page.fill('input[name="password"]', user.password);
	await page.click('[data-testid="submit"]');
	await page.waitForURL(`${SPA_URL}/login`);
	assert.match(await page.locator('[data-testid="notice"]').textContent(), /deleted/);
	await loginViaUi(page, user.username, user.password);
	await page.locator('[data-testid="form-error"]').waitFor();
});
