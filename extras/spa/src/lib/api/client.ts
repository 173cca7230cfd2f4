// The gatehouse fetch wrapper: holds the access token in memory, refreshes it once on expiry
// (one shared refresh per tab) and retries the request.
import { ApiError, NETWORK_ERROR, unwrap, type AccessGrant, type Session, type SessionInfo, type User } from './envelope';

export interface ClientOptions {
	/** Origin of the gatehouse service, e.g. `http://localhost:3001`. */
	baseUrl: string;
	fetch?: typeof globalThis.fetch;
	/** Called once when a refresh is refused while retrying a request: the session is over. */
	onSessionEnded?: (error: ApiError) => void;
}

export interface Credentials {
	/** A username, or an email when it contains `@`. */
	identifier: string;
	password: string;
}

export interface Registration {
	username: string;
	password: string;
	email?: string;
}

interface CallOptions {
	method?: 'GET' | 'POST' | 'DELETE';
	body?: unknown;
	/** Send (and accept) the HttpOnly refresh cookie. */
	cookie?: boolean;
	/** Access token for `Authorization: Bearer`. */
	token?: string | null;
}

export type GatehouseClient = ReturnType<typeof createClient>;

export function createClient(options: ClientOptions) {
	const base = options.baseUrl.replace(/\/+$/, '');
	const doFetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));

	// Security: the access token lives only in this closure. Web storage (localStorage,
	// sessionStorage) is readable by any script on the origin, so an XSS bug would leak a
	// token kept there; memory dies with the tab, and a reload gets a new token by refresh.
	let accessToken: string | null = null;
	// One refresh at a time per tab: every caller that finds its token expired awaits this.
	let inflight: Promise<string> | null = null;
	// Bumped when a session starts or ends, so a late refresh cannot resurrect a logged-out tab.
	let epoch = 0;
	let endNotified = false;

	async function call<T>(path: string, { method = 'GET', body, cookie = false, token }: CallOptions = {}): Promise<T> {
		const headers: Record<string, string> = { Accept: 'application/json' };
		if (body !== undefined) headers['Content-Type'] = 'application/json';
		if (token) headers.Authorization = `Bearer ${token}`;
		let response: Response;
		try {
			response = await doFetch(`${base}${path}`, {
				method,
				headers,
				body: body === undefined ? undefined : JSON.stringify(body),
				// Security: the refresh token is an HttpOnly cookie scoped to /auth on the gatehouse
				// origin. A cross-origin fetch only sends it, and only stores a new one, with
				// credentials: 'include' (and gatehouse answers only allowed origins with
				// Access-Control-Allow-Credentials). Calls that do not need it omit it.
				credentials: cookie ? 'include' : 'omit'
			});
		} catch {
			throw new ApiError(0, NETWORK_ERROR, 'cannot reach the gatehouse service, check that it is running');
		}
		return unwrap<T>(response);
	}

	function startSession(grant: AccessGrant): void {
		epoch += 1;
		endNotified = false;
		accessToken = grant.access_token;
	}

	function endSession(): void {
		epoch += 1;
		accessToken = null;
	}

	/** Exchanges the refresh cookie for a new access token; concurrent callers share one call. */
	function refresh(): Promise<string> {
		if (!inflight) {
			const started = epoch;
			inflight = call<AccessGrant>('/auth/refresh', { method: 'POST', cookie: true })
				.then((grant) => {
					if (epoch !== started) throw new ApiError(401, 'LOGGED_OUT', 'logged out during refresh');
					startSession(grant);
					return grant.access_token;
				})
				.catch((error: unknown) => {
					if (error instanceof ApiError && error.status === 401) endSession();
					throw error;
				})
				.finally(() => {
					inflight = null;
				});
		}
		return inflight;
	}

	/** The session ended elsewhere (another device ended it, or a logout everywhere): no refresh
	 * can help, so the tab forgets its token and the app is told once. */
	function sessionRevoked(error: ApiError): void {
		endSession();
		if (!endNotified) {
			endNotified = true;
			options.onSessionEnded?.(error);
		}
	}

	/** An authenticated call: on 401 EXPIRED_ACCESS_TOKEN, refresh once and retry once; on
	 * 401 SESSION_REVOKED, the session is over. */
	async function request<T>(path: string, init: Pick<CallOptions, 'method' | 'body' | 'cookie'> = {}): Promise<T> {
		const sent = accessToken;
		try {
			return await call<T>(path, { ...init, token: sent });
		} catch (error) {
			if (error instanceof ApiError && error.code === 'SESSION_REVOKED') sessionRevoked(error);
			if (!(error instanceof ApiError) || error.code !== 'EXPIRED_ACCESS_TOKEN') throw error;
		}
		let fresh: string;
		if (accessToken && accessToken !== sent) {
			// Another call already refreshed while this one was in flight.
			fresh = accessToken;
		} else {
			try {
				fresh = await refresh();
			} catch (error) {
				if (error instanceof ApiError && error.status === 401 && !endNotified) {
					endNotified = true;
					options.onSessionEnded?.(error);
				}
				throw error;
			}
		}
		try {
			return await call<T>(path, { ...init, token: fresh });
		} catch (error) {
			if (error instanceof ApiError && error.code === 'SESSION_REVOKED') sessionRevoked(error);
			throw error;
		}
	}

	return {
		async register(input: Registration): Promise<User> {
			const session = await call<Session>('/auth/register', { method: 'POST', body: input, cookie: true });
			startSession(session);
			return session.user;
		},

		async login({ identifier, password }: Credentials): Promise<User> {
			const id = identifier.trim();
			const body = id.includes('@') ? { email: id, password } : { username: id, password };
			const session = await call<Session>('/auth/login', { method: 'POST', body, cookie: true });
			startSession(session);
			return session.user;
		},

		/** Restores a session after a page load from the refresh cookie; false when there is none. */
		async restore(): Promise<boolean> {
			try {
				await refresh();
				return true;
			} catch (error) {
				if (error instanceof ApiError && error.status === 401) return false;
				throw error;
			}
		},

		/** Revokes the refresh token server-side; the tab forgets its access token either way. */
		async logout(): Promise<void> {
			endSession();
			await call<unknown>('/auth/logout', { method: 'POST', cookie: true });
		},

		async me(): Promise<User> {
			const content = await request<{ user: User }>('/auth/me');
			return content.user;
		},

		/** Asks for a reset link by mail; the answer is the same whether or not the address is known. */
		async forgotPassword(email: string): Promise<void> {
			await call<unknown>('/auth/password/forgot', { method: 'POST', body: { email: email.trim() } });
		},

		/** Sets a new password with the token of a reset link; starts a session, as a login does. */
		async resetPassword(token: string, password: string): Promise<User> {
			const session = await call<Session>('/auth/password/reset', { method: 'POST', body: { token, password }, cookie: true });
			startSession(session);
			return session.user;
		},

		/** Proves an address with the token of a verification link. */
		async verifyEmail(token: string): Promise<User> {
			const content = await call<{ user: User }>('/auth/email/verify', { method: 'POST', body: { token } });
			return content.user;
		},

		/** Mails a new verification link; false when there is nothing to verify. */
		async resendVerification(): Promise<boolean> {
			const content = await request<{ queued: boolean }>('/auth/email/resend', { method: 'POST' });
			return content.queued;
		},

		/** Changes the password; other sessions end, this one continues with a new refresh cookie. */
		async changePassword(currentPassword: string, newPassword: string): Promise<User> {
			const session = await request<Session>('/auth/password', {
				method: 'POST',
				body: { current_password: currentPassword, new_password: newPassword },
				cookie: true
			});
			startSession(session);
			return session.user;
		},

		/** Starts an email change: a verification link goes to the new address. */
		async changeEmail(password: string, email: string): Promise<void> {
			await request<unknown>('/auth/email', { method: 'POST', body: { password, email: email.trim() } });
		},

		/** Deletes the account; the refresh cookie is cleared and the tab forgets its token. */
		async deleteAccount(password: string): Promise<void> {
			await request<unknown>('/auth/me', { method: 'DELETE', body: { password }, cookie: true });
			endSession();
		},

		/** The user's sessions, the one of this tab marked `current`. */
		async sessions(): Promise<SessionInfo[]> {
			const content = await request<{ sessions: SessionInfo[] }>('/auth/sessions');
			return content.sessions;
		},

		/** Ends one of the user's sessions (another device's, or this one). */
		async endSession(id: string): Promise<void> {
			await request<unknown>(`/auth/sessions/${encodeURIComponent(id)}`, { method: 'DELETE' });
		},

		/** Ends every session of the user, this tab's included. */
		async logoutAll(): Promise<void> {
			try {
				await request<unknown>('/auth/logout-all', { method: 'POST' });
			} finally {
				endSession();
			}
		},

		request,
		refresh,

		isAuthenticated(): boolean {
			return accessToken !== null;
		}
	};
}
