// E2E: register (with the service's validation messages), logout, login, profile and reload.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
	GATEHOUSE_URL,
	SPA_URL,
	authState,
	launch,
	loginViaUi,
	newContext,
	recordGatehouse,
	registerViaUi,
	screenshot,
	uniqueUser
} from './support.mjs';

const TIMEOUT = { timeout: 60_000 };
const user = uniqueUser('alice');
let browser;
let context;
let page;
const issuedTokens = [];

before(async () => {
	browser = await launch();
	context = await newContext(browser);
	page = await context.newPage();
	// Remember the access tokens gatehouse hands out (in memory only, never printed).
	page.on('response', async (response) => {
		if (!/\/auth\/(register|login|refresh)$/.test(new URL(response.url()).pathname)) return;
		if (response.request().method() !== 'POST' || !response.ok()) return;
		const body = await response.json().catch(() => null);
		if (body?.content?.access_token) issuedTokens.push(body.content.access_token);
	});
});

after(async () => {
	await browser?.close();
});

/** Submits the register form with one bad field and returns the message shown under it. */
async function registerError(fields, field) {
	await page.goto(`${SPA_URL}/register`);
	await authState(page, 'anonymous');
	for (const [name, value] of Object.entries(fields)) await page.fill(`input[name="${name}"]`, value);
	await page.click('[data-testid="submit"]');
	return (await page.locator(`[data-testid="error-${field}"]`).textContent()).trim();
}

test('a visitor sees the home page with login and registration', TIMEOUT, async () => {
	await page.goto(SPA_URL);
	await authState(page, 'anonymous');
	await page.getByRole('link', { name: 'Create an account' }).waitFor();
	await screenshot(page, '01-home');
});

test('registration shows the service validation messages', TIMEOUT, async () => {
	const ok = { username: user.username, email: user.email, password: user.password };
	assert.equal(await registerError({ ...ok, username: 'ab' }, 'username'), 'Username must be 3 to 32 characters long.');
	assert.match(await registerError({ ...ok, username: 'bad<name>' }, 'username'), /^Username may contain only/);
	assert.equal(await registerError({ ...ok, email: 'not-an-email' }, 'email'), 'Email must look like name@example.com.');
	assert.equal(await registerError({ ...ok, password: 'short' }, 'password'), 'Password must be at least 8 characters long.');
	await screenshot(page, '02-register-validation');
});

test('registering logs the user in and shows the profile', TIMEOUT, async () => {
	await registerViaUi(page, user);
	assert.equal(await page.locator('[data-testid="profile-username"]').textContent(), user.username);
	assert.equal(await page.locator('[data-testid="profile-email"]').textContent(), user.email);
	assert.equal(await page.locator('[data-testid="nav-user"]').textContent(), user.username);
	await screenshot(page, '03-profile');
});

test('tokens never reach page-readable storage; the refresh cookie is HttpOnly', TIMEOUT, async () => {
	// SvelteKit keeps scroll positions in sessionStorage: what matters is that no token is there.
	const exposed = await page.evaluate(() => {
		const dump = (storage) => Object.keys(storage).map((k) => `${k}=${storage.getItem(k)}`);
		return { storage: [...dump(localStorage), ...dump(sessionStorage)], cookie: document.cookie };
	});
	assert.ok(issuedTokens.length > 0, 'the test saw the access tokens gatehouse issued');
	for (const entry of exposed.storage) {
		assert.ok(!issuedTokens.some((t) => entry.includes(t)), 'no access token in web storage');
		assert.doesNotMatch(entry, /eyJ[\w-]+\.[\w-]+\.[\w-]+/, 'nothing JWT-shaped in web storage');
	}
	assert.equal(exposed.cookie, '', 'the refresh cookie is not visible to scripts');
	const cookies = await context.cookies(`${GATEHOUSE_URL}/auth/refresh`);
	const jwt = cookies.find((c) => c.name === 'jwt');
	assert.ok(jwt, 'the refresh cookie is set for the gatehouse origin');
	assert.equal(jwt.httpOnly, true);
	assert.equal(jwt.path, '/auth');
	assert.equal(jwt.sameSite, 'Lax');
});

test('a reload keeps the session by refreshing', TIMEOUT, async () => {
	const seen = recordGatehouse(page);
	await page.reload();
	await authState(page, 'authenticated');
	assert.equal(await page.locator('[data-testid="profile-username"]').textContent(), user.username);
	assert.ok(seen.includes('POST /auth/refresh 200'), `refresh on load: ${seen.join(', ')}`);
});

test('logout ends the session and clears the cookie', TIMEOUT, async () => {
	await page.click('[data-testid="logout"]');
	await page.waitForURL(`${SPA_URL}/login`);
	await authState(page, 'anonymous');
	assert.equal(await page.locator('[data-testid="notice"]').textContent(), 'You have logged out.');
	const cookies = await context.cookies(`${GATEHOUSE_URL}/auth/refresh`);
	assert.equal(cookies.find((c) => c.name === 'jwt'), undefined);
	await screenshot(page, '04-logged-out');

	// The profile is not reachable any more, not even after a reload.
	await page.goto(`${SPA_URL}/profile`);
	await page.waitForURL(`${SPA_URL}/login`);
});

test('a taken username is refused with the service message', TIMEOUT, async () => {
	const taken = await registerError({ username: user.username, email: '', password: user.password }, 'username');
	assert.equal(taken, 'That username is already taken.');
});

test('login refuses a wrong password, then accepts the right one', TIMEOUT, async () => {
	await loginViaUi(page, user.username, 'wrong password!');
	const error = page.locator('[data-testid="form-error"]');
	assert.equal((await error.textContent()).trim(), 'Wrong username, email or password.');
	await screenshot(page, '05-login-error');

	await loginViaUi(page, user.email, user.password);
	await page.waitForURL(`${SPA_URL}/profile`);
	assert.equal(await page.locator('[data-testid="profile-username"]').textContent(), user.username);
	await authState(page, 'authenticated');
});
