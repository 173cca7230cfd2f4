// E2E: access-token expiry with silent refresh, two tabs refreshing at once, logout across tabs.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
	REFRESH_REUSE_GRACE,
	SPA_URL,
	authState,
	launch,
	newContext,
	recordGatehouse,
	registerViaUi,
	screenshot,
	sleep,
	uniqueUser,
	waitForExpiry
} from './support.mjs';

const TIMEOUT = { timeout: 60_000 };
let browser;
let context;
let tabA;
let tabB;

before(async () => {
	browser = await launch();
	context = await newContext(browser);
	tabA = await context.newPage();
	await registerViaUi(tabA, uniqueUser('bob'));
});

after(async () => {
	await browser?.close();
});

/** Clicks "Reload profile" and waits for the profile request chain to settle. */
async function reloadProfile(page) {
	const done = page.waitForResponse((r) => r.url().endsWith('/auth/me') && r.request().method() === 'GET' && r.status() !== 401);
	await page.click('[data-testid="reload-profile"]');
	return done;
}

test('an expired access token is refreshed silently and the request retried', TIMEOUT, async () => {
	const seen = recordGatehouse(tabA);
	await waitForExpiry();
	const response = await reloadProfile(tabA);
	assert.equal(response.status(), 200);
	assert.deepEqual(seen, ['GET /auth/me 401', 'POST /auth/refresh 200', 'GET /auth/me 200']);
	assert.equal(new URL(tabA.url()).pathname, '/profile');
	await authState(tabA, 'authenticated');
});

test('two tabs refreshing at the same moment both stay logged in', TIMEOUT, async () => {
	tabB = await context.newPage();
	await tabB.goto(`${SPA_URL}/profile`); // restores its own session from the shared cookie
	await tabB.locator('[data-testid="profile-username"]').waitFor();
	await waitForExpiry();

	// Hold each refresh until both tabs have sent theirs, so both present the same cookie.
	const held = [];
	let release;
	const bothSent = new Promise((r) => (release = r));
	await context.route('**/auth/refresh', async (route) => {
		held.push(route);
		if (held.length === 2) release();
		await Promise.race([bothSent, sleep(5_000)]);
		await route.continue();
	});
	const refreshes = [];
	context.on('response', (r) => {
		if (r.url().endsWith('/auth/refresh')) refreshes.push(r);
	});

	const [a, b] = await Promise.all([reloadProfile(tabA), reloadProfile(tabB)]);
	await context.unroute('**/auth/refresh');

	assert.equal(held.length, 2, 'both tabs refreshed');
	assert.deepEqual(refreshes.map((r) => r.status()), [200, 200]);
	const cookies = await Promise.all(refreshes.map(async (r) => (await r.request().allHeaders()).cookie));
	assert.ok(cookies[0] && cookies[0] === cookies[1], 'both refreshes presented the same refresh cookie');
	assert.deepEqual([a.status(), b.status()], [200, 200]);

	// Both responses set the same, current refresh cookie...
	const setCookies = await Promise.all(refreshes.map(async (r) => (await r.allHeaders())['set-cookie']));
	assert.ok(setCookies[0] && setCookies[0] === setCookies[1], 'both refreshes ended with the same cookie');
	// ...so once the reuse grace window is over, each tab still refreshes with it.
	await sleep((REFRESH_REUSE_GRACE + 1) * 1000);
	for (const tab of [tabA, tabB]) {
		assert.equal((await reloadProfile(tab)).status(), 200);
		await authState(tab, 'authenticated');
		if (tab === tabA) await waitForExpiry();
	}
});

test('logout in one tab ends the session in the other at its next refresh', TIMEOUT, async () => {
	await tabA.click('[data-testid="logout"]');
	await tabA.waitForURL(`${SPA_URL}/login`);

	// Tab B still shows the profile until its access token expires and it needs a refresh.
	assert.equal(new URL(tabB.url()).pathname, '/profile');
	const seen = recordGatehouse(tabB);
	await waitForExpiry();
	await tabB.click('[data-testid="reload-profile"]');
	await tabB.waitForURL(`${SPA_URL}/login`);
	await authState(tabB, 'anonymous');
	const notice = (await tabB.locator('[data-testid="notice"]').textContent()).trim();
	assert.match(notice, /^Your session has ended/);
	assert.deepEqual(seen, ['GET /auth/me 401', 'POST /auth/refresh 401']);
	await screenshot(tabB, '06-session-ended');
});
