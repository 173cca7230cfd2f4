// The UI's auth state (who is logged in, what to tell them) and the actions that change it.
import { goto } from '$app/navigation';
import { createClient, type Credentials, type Registration } from './api/client';
import { ApiError, type User } from './api/envelope';
import { GATEHOUSE_URL } from './config';
import { sentence } from './text';

export type AuthStatus = 'restoring' | 'anonymous' | 'authenticated';

class AuthState {
	status = $state<AuthStatus>('restoring');
	user = $state<User | null>(null);
	/** A one-off message for the login page, e.g. after the session ended elsewhere. */
	notice = $state<string | null>(null);
}

export const auth = new AuthState();

export const api = createClient({
	baseUrl: GATEHOUSE_URL,
	onSessionEnded: () => {
		signedOut('Your session has ended (it was ended from another device, you logged out elsewhere, or it expired). Please log in again.');
		void goto('/login');
	}
});

function signedIn(user: User): void {
	auth.user = user;
	auth.status = 'authenticated';
	auth.notice = null;
}

function signedOut(notice: string | null = null): void {
	auth.user = null;
	auth.status = 'anonymous';
	auth.notice = notice;
}

/** On page load: the access token is gone with the old page, so ask for one with the cookie. */
export async function restoreSession(): Promise<void> {
	try {
		if (await api.restore()) {
			signedIn(await api.me());
			return;
		}
	} catch (error) {
		// Two refresh cookies (one planted by a sibling subdomain): gatehouse uses neither, and
		// only the user can clear them, so say so on the login page.
		if (error instanceof ApiError && error.code === 'AMBIGUOUS_REFRESH_TOKEN') {
			signedOut(sentence(error.message));
			return;
		}
		// Service unreachable: show the app logged out rather than hang on "restoring".
	}
	signedOut(auth.notice);
}

export async function login(credentials: Credentials): Promise<void> {
	signedIn(await api.login(credentials));
}

export async function register(registration: Registration): Promise<void> {
	signedIn(await api.register(registration));
}

export async function logout(): Promise<void> {
	try {
		await api.logout();
	} finally {
		signedOut('You have logged out.');
	}
}

export async function resetPassword(token: string, password: string): Promise<void> {
	signedIn(await api.resetPassword(token, password));
}

export async function changePassword(currentPassword: string, newPassword: string): Promise<void> {
	signedIn(await api.changePassword(currentPassword, newPassword));
}

export async function deleteAccount(password: string): Promise<void> {
	await api.deleteAccount(password);
	signedOut('Your account has been deleted.');
}

/** The profile from `GET /auth/me`; keeps the header in step with it. */
export async function loadProfile(): Promise<User> {
	const user = await api.me();
	auth.user = user;
	return user;
}

/** Logs out on every device: every session of the user ends, this one included. */
export async function logoutEverywhere(): Promise<void> {
	try {
		await api.logoutAll();
	} finally {
		signedOut('You have logged out on every device.');
	}
}
