// The gatehouse response envelope: its types, and the error the client throws for a refusal.

/** Every gatehouse JSON response: `{ success, status, content }`. */
export interface Envelope<T> {
	success: boolean;
	status: number;
	content: T;
}

/** `content` of a refusal. */
export interface ErrorContent {
	error_code: string;
	message: string;
	error_type: string;
}

export interface User {
	id: string;
	username: string;
	email: string | null;
	/** Whether the owner of `email` proved it (a verification link or a password reset). */
	email_verified: boolean;
	created_at: string;
}

/** `content` of `POST /auth/refresh`. */
export interface AccessGrant {
	access_token: string;
	token_type: 'Bearer';
	expires_in: number;
}

/** `content` of `POST /auth/register` and `POST /auth/login`. */
export interface Session extends AccessGrant {
	user: User;
}

/** One of the user's sessions, as `GET /auth/sessions` lists it. */
export interface SessionInfo {
	id: string;
	created_at: string;
	last_refreshed_at: string;
	ip: string;
	user_agent: string;
	/** The session of this tab's access token. */
	current: boolean;
}

/** Codes the client itself produces when there is no usable response. */
export const NETWORK_ERROR = 'NETWORK_ERROR';
export const BAD_RESPONSE = 'BAD_RESPONSE';

/** A refusal from gatehouse (or a failure to reach it), with the service's code and message. */
export class ApiError extends Error {
	readonly status: number;
	readonly code: string;
	readonly type: string;

	constructor(status: number, code: string, message: string, type = 'ClientError') {
		super(message);
		this.name = 'ApiError';
		this.status = status;
		this.code = code;
		this.type = type;
	}
}

/** Reads an envelope and returns its content, or throws the refusal it carries. */
export async function unwrap<T>(response: Response): Promise<T> {
	let body: Envelope<unknown>;
	try {
		body = await response.json();
	} catch {
		throw new ApiError(response.status, BAD_RESPONSE, `unexpected response from the service (HTTP ${response.status})`);
	}
	if (body && body.success === true) return body.content as T;
	const error = (body?.content ?? {}) as Partial<ErrorContent>;
	throw new ApiError(
		response.status,
		error.error_code ?? BAD_RESPONSE,
		error.message ?? `request failed (HTTP ${response.status})`,
		error.error_type
	);
}
