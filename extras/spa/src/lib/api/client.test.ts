// Unit tests for the fetch wrapper: refresh-and-retry, one shared refresh, failure, no web storage.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createClient } from './client';
import { ApiError } from './envelope';

const BASE = 'http://gatehouse.test';
const USER = { id: 'u-1', username: 'alice', email: null, created_at: '2026-01-01T00:00:00Z' };

interface Seen {
	path: string;
	method: string;
	credentials: RequestCredentials | undefined;
	authorization: string | null;
}

function envelope(status: number, content: unknown): Response {
	return new Response(JSON.stringify({ success: status < 400, status, content }), {
		status,
		headers: { 'Content-Type': 'application/json' }
	});
}

const refusal = (status: number, code: string) => envelope(status, { error_code: code, message: code.toLowerCase(), error_type: 'AuthError' });

/**
 * A fake gatehouse: `/auth/me` accepts only the current token; `/auth/refresh` issues the next
 * one (after `refreshDelay` ms) or refuses when `refreshRefusal` is set.
 */
function fakeServer() {
	const seen: Seen[] = [];
	const state = { current: 'token-0', issued: 0, refreshDelay: 10, refreshRefusal: null as string | null, expireAfterRefresh: false, meDelays: [] as number[], revoked: false };
	const fetch = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
		const url = new URL(String(input));
		const headers = new Headers(init.headers);
		const entry = { path: url.pathname, method: init.method ?? 'GET', credentials: init.credentials, authorization: headers.get('Authorization') };
		seen.push(entry);
		switch (url.pathname) {
			case '/auth/login':
				return envelope(200, { user: USER, access_token: state.current, token_type: 'Bearer', expires_in: 2 });
			case '/auth/refresh':
				await new Promise((r) => setTimeout(r, state.refreshDelay));
				if (state.refreshRefusal) return refusal(401, state.refreshRefusal);
				state.issued += 1;
				state.current = `token-${state.issued}`;
				return envelope(200, { access_token: state.current, token_type: 'Bearer', expires_in: 2 });
			case '/auth/logout':
				return envelope(200, { message: 'logged out' });
			case '/auth/sessions':
				return state.revoked ? refusal(401, 'SESSION_REVOKED') : envelope(200, { sessions: [] });
			case '/auth/me':
				const answer = !entry.authorization
					? refusal(401, 'MISSING_ACCESS_TOKEN')
					: state.expireAfterRefresh || entry.authorization !== `Bearer ${state.current}`
						? refusal(401, 'EXPIRED_ACCESS_TOKEN')
						: envelope(200, { user: USER });
				// The answer is decided on arrival and delivered after a delay, like a slow network.
				await new Promise((r) => setTimeout(r, state.meDelays.shift() ?? 0));
				return answer;
			default:
				return refusal(404, 'NOT_FOUND');
		}
	});
	/** Makes the token the client holds stale, as if its TTL had passed. */
	const expire = () => {
		state.current = 'rotated-by-time';
	};
	const count = (path: string) => seen.filter((s) => s.path === path).length;
	return { fetch, seen, state, expire, count };
}

async function loggedIn(server: ReturnType<typeof fakeServer>, onSessionEnded = vi.fn()) {
	const client = createClient({ baseUrl: `${BASE}/`, fetch: server.fetch as typeof fetch, onSessionEnded });
	await client.login({ identifier: 'alice', password: 'correct horse' });
	return { client, onSessionEnded };
}

describe('fetch wrapper', () => {
	it('sends the in-memory access token as a Bearer header', async () => {
		const server = fakeServer();
		const { client } = await loggedIn(server);
		expect(await client.me()).toEqual(USER);
		const me = server.seen.find((s) => s.path === '/auth/me')!;
		expect(me.authorization).toBe('Bearer token-0');
		// The refresh cookie is not needed for /auth/me, so it is not sent.
		expect(me.credentials).toBe('omit');
	});

	it('refreshes once with credentials and retries when the access token expired', async () => {
		const server = fakeServer();
		const { client, onSessionEnded } = await loggedIn(server);
		server.expire();

		expect(await client.me()).toEqual(USER);

		expect(server.seen.map((s) => `${s.method} ${s.path} ${s.authorization ?? '-'}`)).toEqual([
			'POST /auth/login -',
			'GET /auth/me Bearer token-0',
			'POST /auth/refresh -',
			'GET /auth/me Bearer token-1'
		]);
		const refresh = server.seen.find((s) => s.path === '/auth/refresh')!;
		expect(refresh.credentials).toBe('include');
		expect(onSessionEnded).not.toHaveBeenCalled();
	});

	it('shares one refresh between concurrent requests', async () => {
		const server = fakeServer();
		server.state.refreshDelay = 50;
		const { client } = await loggedIn(server);
		server.expire();

		const users = await Promise.all([client.me(), client.me(), client.me(), client.me()]);

		expect(users).toEqual([USER, USER, USER, USER]);
		expect(server.count('/auth/refresh')).toBe(1);
		const retries = server.seen.filter((s) => s.path === '/auth/me' && s.authorization === 'Bearer token-1');
		expect(retries).toHaveLength(4);
	});

	it('does not refresh again for a request whose expiry arrives after another refresh', async () => {
		const server = fakeServer();
		const { client } = await loggedIn(server);
		server.expire();
		server.state.meDelays = [100, 0]; // the first call's 401 arrives late

		const slow = client.me();
		await new Promise((r) => setTimeout(r, 5));
		const fast = client.me(); // expires, refreshes and retries while `slow` is in flight

		expect(await Promise.all([slow, fast])).toEqual([USER, USER]);
		expect(server.count('/auth/refresh')).toBe(1);
		expect(server.seen.filter((s) => s.authorization === 'Bearer token-1')).toHaveLength(2);
	});

	it('retries only once: a second expiry is returned to the caller', async () => {
		const server = fakeServer();
		const { client } = await loggedIn(server);
		server.state.expireAfterRefresh = true;

		await expect(client.me()).rejects.toMatchObject({ code: 'EXPIRED_ACCESS_TOKEN' });
		expect(server.count('/auth/refresh')).toBe(1);
		expect(server.count('/auth/me')).toBe(2);
	});

	it('ends the session once when the refresh is refused, and forgets the token', async () => {
		const server = fakeServer();
		const { client, onSessionEnded } = await loggedIn(server);
		server.expire();
		server.state.refreshRefusal = 'INVALID_REFRESH_TOKEN';

		const results = await Promise.allSettled([client.me(), client.me(), client.me()]);

		for (const result of results) {
			expect(result.status).toBe('rejected');
			const reason = (result as PromiseRejectedResult).reason;
			expect(reason).toBeInstanceOf(ApiError);
			expect(reason.code).toBe('INVALID_REFRESH_TOKEN');
		}
		expect(server.count('/auth/refresh')).toBe(1);
		expect(onSessionEnded).toHaveBeenCalledTimes(1);
		expect(onSessionEnded.mock.calls[0][0].code).toBe('INVALID_REFRESH_TOKEN');
		expect(client.isAuthenticated()).toBe(false);
	});

	it('does not refresh for other refusals', async () => {
		const server = fakeServer();
		const client = createClient({ baseUrl: BASE, fetch: server.fetch as typeof fetch });
		await expect(client.me()).rejects.toMatchObject({ status: 401, code: 'MISSING_ACCESS_TOKEN' });
		expect(server.count('/auth/refresh')).toBe(0);
	});

	it('restores a session from the refresh cookie, and reports none without a notice', async () => {
		const server = fakeServer();
		const onSessionEnded = vi.fn();
		const client = createClient({ baseUrl: BASE, fetch: server.fetch as typeof fetch, onSessionEnded });
		expect(await client.restore()).toBe(true);
		expect(client.isAuthenticated()).toBe(true);

		server.state.refreshRefusal = 'MISSING_REFRESH_TOKEN';
		const fresh = createClient({ baseUrl: BASE, fetch: server.fetch as typeof fetch, onSessionEnded });
		expect(await fresh.restore()).toBe(false);
		expect(fresh.isAuthenticated()).toBe(false);
		expect(onSessionEnded).not.toHaveBeenCalled();
	});

	it('forgets the token on logout, even if a refresh finishes afterwards', async () => {
		const server = fakeServer();
		server.state.refreshDelay = 50;
		const { client } = await loggedIn(server);
		const late = client.refresh().catch((e: unknown) => e);
		await client.logout();
		await late;
		expect(client.isAuthenticated()).toBe(false);
		const logout = server.seen.find((s) => s.path === '/auth/logout')!;
		expect(logout.credentials).toBe('include');
	});

	it('turns an unreachable service into a NETWORK_ERROR', async () => {
		const client = createClient({ baseUrl: BASE, fetch: (async () => Promise.reject(new TypeError('Failed to fetch'))) as typeof fetch });
		await expect(client.login({ identifier: 'a@b.c', password: 'x' })).rejects.toMatchObject({ status: 0, code: 'NETWORK_ERROR' });
	});

	it('ends the session once, without a refresh, when the session was revoked elsewhere', async () => {
		const server = fakeServer();
		const { client, onSessionEnded } = await loggedIn(server);
		server.state.revoked = true;
		const results = await Promise.allSettled([client.sessions(), client.sessions()]);
		expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
		expect(server.count('/auth/refresh')).toBe(0);
		expect(onSessionEnded).toHaveBeenCalledTimes(1);
		expect(client.isAuthenticated()).toBe(false);
	});

	it('logs in by email when the identifier contains @', async () => {
		const server = fakeServer();
		const client = createClient({ baseUrl: BASE, fetch: server.fetch as typeof fetch });
		await client.login({ identifier: ' alice@example.com ', password: 'pw' });
		const body = JSON.parse(String(server.fetch.mock.calls[0][1]?.body));
		expect(body).toEqual({ email: 'alice@example.com', password: 'pw' });
	});
});

describe('token storage', () => {
	const touched: string[] = [];
	const trap = (name: string) =>
		new Proxy({} as Storage, {
			get(_t, prop) {
				touched.push(`${name}.${String(prop)}`);
				return () => null;
			},
			set(_t, prop) {
				touched.push(`${name}.${String(prop)}=`);
				return true;
			}
		});

	beforeEach(() => {
		touched.length = 0;
		vi.stubGlobal('localStorage', trap('localStorage'));
		vi.stubGlobal('sessionStorage', trap('sessionStorage'));
		vi.stubGlobal('document', { get cookie() { touched.push('document.cookie'); return ''; }, set cookie(_v: string) { touched.push('document.cookie='); } });
	});

	afterEach(() => {
		vi.unstubAllGlobals();
	});

	it('never touches localStorage, sessionStorage or document.cookie', async () => {
		const server = fakeServer();
		const { client } = await loggedIn(server);
		server.expire();
		await Promise.all([client.me(), client.me()]);
		await client.restore();
		server.state.refreshRefusal = 'REFRESH_TOKEN_REUSED';
		server.expire();
		await client.me().catch(() => {});
		await client.logout();
		expect(touched).toEqual([]);
	});
});
