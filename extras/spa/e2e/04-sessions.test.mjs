// E2E: two devices (two browser contexts) with SESSIONS_PER_USER=2. Device A sees both sessions
// and ends B's; B's next API call is refused (SESSION_REVOKED) and B lands on the login page.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SPA_URL, authState, launch, loginViaUi, newContext, recordGatehouse, registerViaUi, screenshot, uniqueUser } from './support.mjs';

const TIMEOUT = { timeout: 60_000 };
let browser;
let deviceA;
let deviceB;
const user = uniqueUser('devices');

before(async () => {
	browser = await launch();
	deviceA = await (await newContext(browser)).newPage();
	deviceB = await (await newContext(browser)).newPage();
	await registerViaUi(deviceA, user);
	await loginViaUi(deviceB, user.username, user.password);
	await deviceB.waitForURL(`${SPA_URL}/profile`);
	await deviceB.locator('[data-testid="profile-username"]').waitFor();
});

after(async () => {
	await browser?.close();
});

test('device A sees both sessions, this one marked', TIMEOUT, async () => {
	await deviceA.click('[data-testid="nav-sessions"]');
	await deviceA.waitForURL(`${SPA_URL}/sessions`);
	const rows = deviceA.locator('[data-testid="session"]');
	await rows.nth(1).waitFor();
	assert.equal(await rows.count(), 2);
	assert.equal(await deviceA.locator('[data-testid="session"][data-current="true"]').count(), 1);
	await screenshot(deviceA, 'sessions-two-devices');
});

test("device A ends B's session; B's next call fails and B lands on the login page", TIMEOUT, async () => {
	const other = deviceA.locator('[data-testid="session"][data-current="false"]');
	await other.locator('[data-testid="end-session"]').click();
	await deviceA.locator('[data-testid="session"]').nth(1).waitFor({ state: 'detached' });
	assert.equal(await deviceA.locator('[data-testid="session"]').count(), 1);

	const seen = recordGatehouse(deviceB);
	await deviceB.click('[data-testid="reload-profile"]');
	await deviceB.waitForURL(`${SPA_URL}/login`);
	await authState(deviceB, 'anonymous');
	// Refused as SESSION_REVOKED, or (the access token having expired first: ACCESS_TOKEN_TTL is
	// 2 s here) as expired and then the refresh refused: either way B is logged out.
	assert.ok(seen.includes('GET /auth/me 401'), `B's call was refused: ${seen}`);
	assert.ok(!seen.includes('POST /auth/refresh 200'), `B got no new token: ${seen}`);
	await screenshot(deviceB, 'sessions-ended-from-another-device');

	// A is still logged in.
	await deviceA.click('[data-testid="reload-sessions"]');
	await authState(deviceA, 'authenticated');
});

test('log out everywhere ends the last session too', TIMEOUT, async () => {
	await deviceA.click('[data-testid="logout-everywhere"]');
	await deviceA.waitForURL(`${SPA_URL}/login`);
	await authState(deviceA, 'anonymous');
	await deviceA.reload();
	await authState(deviceA, 'anonymous');
});
