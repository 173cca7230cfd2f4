// E2E: a page from an origin outside CORS_ORIGINS cannot read tokens or use the refresh cookie.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
	GATEHOUSE_URL,
	authState,
	launch,
	newContext,
	registerViaUi,
	screenshot,
	serveStatic,
	uniqueUser,
	waitForExpiry
} from './support.mjs';

const TIMEOUT = { timeout: 60_000 };

// The page tries what a hostile site would: read a token from gatehouse with the browser's cookie.
const PROBE_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Another site</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;color:#1d2330}pre{background:#f4f4f4;padding:1rem;border-radius:8px}</style>
</head><body>
<h1>Another site</h1>
<p>This page tries to use the gatehouse session of the same browser.</p>
<pre id="out">not run</pre>
<script>
async function attempt(url, init) {
	try {
		const r = await fetch(url, init);
		return { outcome: 'response', type: r.type, status: r.status, body: await r.text() };
	} catch (e) {
		return { outcome: 'blocked', error: e.name };
	}
}
window.probe = async (gatehouse) => {
	const results = {
		refresh: await attempt(gatehouse + '/auth/refresh', { method: 'POST', credentials: 'include' }),
		refreshNoCors: await attempt(gatehouse + '/auth/refresh', { method: 'POST', credentials: 'include', mode: 'no-cors' }),
		me: await attempt(gatehouse + '/auth/me', { credentials: 'include' }),
		cookie: document.cookie
	};
	document.getElementById('out').textContent = JSON.stringify(results, null, 2);
	return results;
};
</script>
</body></html>`;

let browser;
let context;
let spa;
let site;

before(async () => {
	browser = await launch();
	context = await newContext(browser);
	spa = await context.newPage();
	await registerViaUi(spa, uniqueUser('carol'));
	site = await serveStatic(PROBE_PAGE, '127.0.0.1');
});

after(async () => {
	await browser?.close();
	await site?.close();
});

/**
 * What a page sent to gatehouse and got back, read from Chromium's network layer (DevTools
 * protocol), which sees requests whose responses CORS withholds from the page: for each call,
 * its path, HTTP status, whether a Cookie header went out, and any CORS grant.
 */
async function wire(page) {
	const cdp = await context.newCDPSession(page);
	const calls = new Map();
	const call = (id) => calls.get(id) ?? calls.set(id, {}).get(id);
	cdp.on('Network.requestWillBeSent', (e) => {
		if (e.request.url.startsWith(GATEHOUSE_URL) && e.request.method !== 'OPTIONS') call(e.requestId).path = new URL(e.request.url).pathname;
	});
	cdp.on('Network.requestWillBeSentExtraInfo', (e) => {
		call(e.requestId).sentCookie = Object.keys(e.headers).some((h) => h.toLowerCase() === 'cookie');
	});
	cdp.on('Network.responseReceivedExtraInfo', (e) => {
		const c = call(e.requestId);
		c.status = e.statusCode;
		const grant = Object.entries(e.headers).find(([h]) => h.toLowerCase() === 'access-control-allow-origin');
		c.allowOrigin = grant ? grant[1] : null;
	});
	await cdp.send('Network.enable');
	return async () => {
		await cdp.detach();
		return [...calls.values()].filter((c) => c.path);
	};
}

test('a page on another site cannot get a token or use the refresh cookie', TIMEOUT, async () => {
	const foreign = await context.newPage();
	const observed = await wire(foreign);
	await foreign.goto(site.url);
	const results = await foreign.evaluate((gatehouse) => window.probe(gatehouse), GATEHOUSE_URL);
	await screenshot(foreign, '07-foreign-origin');

	// The browser withholds every CORS response: the page sees a network error.
	assert.deepEqual(results.refresh, { outcome: 'blocked', error: 'TypeError' });
	assert.deepEqual(results.me, { outcome: 'blocked', error: 'TypeError' });
	// Without CORS the answer is opaque: no status, no body.
	assert.deepEqual(results.refreshNoCors, { outcome: 'response', type: 'opaque', status: 0, body: '' });
	assert.equal(results.cookie, '');

	// On the wire: no CORS grant for this origin, the SameSite=Lax cookie was never sent, and
	// gatehouse refused the refreshes on their Origin (403) before looking at any cookie.
	const calls = await observed();
	const refreshes = calls.filter((c) => c.path === '/auth/refresh');
	assert.equal(refreshes.length, 2);
	for (const call of calls) assert.equal(call.allowOrigin, null, `${call.path} carries no CORS grant`);
	for (const call of refreshes) {
		assert.equal(call.sentCookie, false, 'the refresh cookie is not sent cross-site');
		assert.equal(call.status, 403, 'refused by the Origin check');
	}
	await foreign.close();
});

test('the real app keeps its session after the foreign attempts', TIMEOUT, async () => {
	await waitForExpiry();
	const done = spa.waitForResponse((r) => r.url().endsWith('/auth/me') && r.status() !== 401);
	await spa.click('[data-testid="reload-profile"]');
	assert.equal((await done).status(), 200);
	await authState(spa, 'authenticated');
});

test('a same-site origin outside CORS_ORIGINS cannot read a token either', TIMEOUT, async (t) => {
	// http://localhost:<other port> is the same site as the app, so the Lax cookie is sent:
	// CORS keeps the response (and the token in it) from the page, and the Origin check keeps
	// the request from rotating or revoking the session at all.
	const sameSite = await serveStatic(PROBE_PAGE, 'localhost');
	try {
		const page = await context.newPage();
		const observed = await wire(page);
		await page.goto(sameSite.url);
		const results = await page.evaluate((gatehouse) => window.probe(gatehouse), GATEHOUSE_URL);
		assert.deepEqual(results.refresh, { outcome: 'blocked', error: 'TypeError' });
		assert.deepEqual(results.me, { outcome: 'blocked', error: 'TypeError' });
		assert.deepEqual(results.refreshNoCors, { outcome: 'response', type: 'opaque', status: 0, body: '' });
		const calls = await observed();
		for (const call of calls) assert.equal(call.allowOrigin, null, `${call.path} carries no CORS grant`);
		const refreshes = calls.filter((c) => c.path === '/auth/refresh');
		assert.ok(refreshes.length > 0);
		for (const call of refreshes) assert.equal(call.status, 403, 'refused by the Origin check');
		await page.close();

		// Whatever the server did with those refreshes, the app's session carries on.
		await waitForExpiry();
		const done = spa.waitForResponse((r) => r.url().endsWith('/auth/me') && r.status() !== 401);
		await spa.click('[data-testid="reload-profile"]');
		assert.equal((await done).status(), 200);
	} finally {
		await sameSite.close();
	}
});
