//! `ApiError`: every way a request can fail, mapped exhaustively to a status, a stable
//! `error_code` and an `error_type`, and rendered in the envelope.

use std::time::Duration;

use actix_web::{HttpResponse, ResponseError, http::StatusCode, http::header};

use crate::domain::ValidationError;
use crate::envelope::{Envelope, ErrorContent};

/// A backing service the request needed and could not get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependency {
    Database,
    TokenStore,
    Hasher,
}

impl Dependency {
    pub fn name(self) -> &'static str {
        match self {
            Dependency::Database => "database",
            Dependency::TokenStore => "token store",
            Dependency::Hasher => "password hasher",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("malformed JSON body: {0}")]
    InvalidJson(String),
    #[error("unsupported content type")]
    UnsupportedMediaType,
    #[error("unsupported content encoding")]
    UnsupportedContentEncoding,
    #[error("CORS preflight request rejected")]
    CorsPreflightRejected,
    /// A request the HTTP framework refused for a reason no other variant names.
    #[error("bad request")]
    BadRequest,
    #[error("body larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("no such route")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("request body timed out")]
    RequestTimeout,
    #[error(transparent)]
    Validation(#[from] ValidationError),
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("missing access token")]
    MissingAccessToken,
    #[error("invalid access token")]
    InvalidAccessToken,
    #[error("expired access token")]
    ExpiredAccessToken,
    #[error("missing refresh token")]
    MissingRefreshToken,
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    #[error("refresh token reused")]
    RefreshTokenReused,
    /// More than one refresh cookie: possibly one planted by a sibling subdomain.
    #[error("ambiguous refresh token")]
    AmbiguousRefreshToken,
    #[error("origin not allowed")]
    OriginNotAllowed,
    #[error("username taken")]
    UsernameTaken,
    #[error("email taken")]
    EmailTaken,
    #[error("rate limited")]
    RateLimited { retry_after: Duration },
    #[error("too many connections from one client")]
    TooManyConnections,
    #[error("overloaded")]
    Overloaded { retry_after: Duration },
    /// The cause goes to the log where the error is made, never into the response.
    #[error("{} unavailable", .0.name())]
    Unavailable(Dependency),
    #[error("internal error")]
    Internal,
    /// `REQUIRE_VERIFIED_EMAIL` is on and the account has not proven its email.
    #[error("email not verified")]
    EmailNotVerified,
    /// A password-reset or email-verification token that is unknown, used, expired or voided:
    /// one answer for all, so a token's history is not told to whoever holds it.
    #[error("invalid account token")]
    InvalidAccountToken,
    /// A valid access token of a session that has ended (logout, reuse, a newer login, ...).
    #[error("session revoked")]
    SessionRevoked,
    /// No session of the caller's with this id: unknown, ended, or another user's.
    #[error("session not found")]
    SessionNotFound,
    /// The right password for an account an operator disabled.
    #[error("account disabled")]
    AccountDisabled,
    /// `/admin/*` without `Authorization: Bearer <ADMIN_TOKEN>`, or with another token.
    #[error("admin token invalid")]
    AdminTokenInvalid,
    /// `/admin/users/{id}` for an id no user has.
    #[error("user not found")]
    UserNotFound,
    /// `/admin/keys/{kid}/retire` for a kid no verifying key has.
    #[error("key not found")]
    KeyNotFound,
    /// `/admin/keys/{kid}/retire` for the HS256 key, which is `JWT_SECRET` itself.
    #[error("key not retirable")]
    KeyNotRetirable,
}

impl ApiError {
    /// The stable, documented code a client switches on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidJson(_) => "INVALID_JSON",
            ApiError::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            ApiError::UnsupportedContentEncoding => "UNSUPPORTED_CONTENT_ENCODING",
            ApiError::CorsPreflightRejected => "CORS_PREFLIGHT_REJECTED",
            ApiError::BadRequest => "BAD_REQUEST",
            ApiError::PayloadTooLarge { .. } => "PAYLOAD_TOO_LARGE",
            ApiError::NotFound => "NOT_FOUND",
            ApiError::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ApiError::RequestTimeout => "REQUEST_TIMEOUT",
            ApiError::Validation(e) => e.code(),
            ApiError::InvalidCredentials => "INVALID_CREDENTIALS",
            ApiError::MissingAccessToken => "MISSING_ACCESS_TOKEN",
            ApiError::InvalidAccessToken => "INVALID_ACCESS_TOKEN",
            ApiError::ExpiredAccessToken => "EXPIRED_ACCESS_TOKEN",
            ApiError::MissingRefreshToken => "MISSING_REFRESH_TOKEN",
            ApiError::InvalidRefreshToken => "INVALID_REFRESH_TOKEN",
            ApiError::RefreshTokenReused => "REFRESH_TOKEN_REUSED",
            ApiError::AmbiguousRefreshToken => "AMBIGUOUS_REFRESH_TOKEN",
            ApiError::OriginNotAllowed => "ORIGIN_NOT_ALLOWED",
            ApiError::UsernameTaken => "USERNAME_TAKEN",
            ApiError::EmailTaken => "EMAIL_TAKEN",
            ApiError::RateLimited { .. } => "RATE_LIMITED",
            ApiError::TooManyConnections => "TOO_MANY_CONNECTIONS",
            ApiError::Overloaded { .. } => "OVERLOADED",
            ApiError::Unavailable(_) => "SERVICE_UNAVAILABLE",
            ApiError::Internal => "INTERNAL_ERROR",
            ApiError::EmailNotVerified => "EMAIL_NOT_VERIFIED",
            ApiError::InvalidAccountToken => "INVALID_ACCOUNT_TOKEN",
            ApiError::SessionRevoked => "SESSION_REVOKED",
            ApiError::SessionNotFound => "SESSION_NOT_FOUND",
            ApiError::AccountDisabled => "ACCOUNT_DISABLED",
            ApiError::AdminTokenInvalid => "ADMIN_TOKEN_INVALID",
            ApiError::UserNotFound => "USER_NOT_FOUND",
            ApiError::KeyNotFound => "KEY_NOT_FOUND",
            ApiError::KeyNotRetirable => "KEY_NOT_RETIRABLE",
        }
    }

    pub fn error_type(&self) -> &'static str {
        match self {
            ApiError::InvalidJson(_) | ApiError::Validation(_) => "ValidationError",
            ApiError::UnsupportedMediaType
            | ApiError::UnsupportedContentEncoding
            | ApiError::CorsPreflightRejected
            | ApiError::BadRequest
            | ApiError::PayloadTooLarge { .. }
            | ApiError::NotFound
            | ApiError::MethodNotAllowed
            | ApiError::RequestTimeout
            | ApiError::SessionNotFound
            | ApiError::UserNotFound
            | ApiError::KeyNotFound
            | ApiError::KeyNotRetirable => "RequestError",
            ApiError::InvalidCredentials
            | ApiError::MissingAccessToken
            | ApiError::InvalidAccessToken
            | ApiError::ExpiredAccessToken
            | ApiError::MissingRefreshToken
            | ApiError::InvalidRefreshToken
            | ApiError::RefreshTokenReused
            | ApiError::AmbiguousRefreshToken
            | ApiError::OriginNotAllowed
            | ApiError::EmailNotVerified
            | ApiError::InvalidAccountToken
            | ApiError::SessionRevoked
            | ApiError::AccountDisabled
            | ApiError::AdminTokenInvalid => "AuthError",
            ApiError::UsernameTaken | ApiError::EmailTaken => "ConflictError",
            ApiError::RateLimited { .. } | ApiError::TooManyConnections => "RateLimitError",
            ApiError::Overloaded { .. } | ApiError::Unavailable(_) | ApiError::Internal => "ServiceError",
        }
    }

    /// A message for people. It never carries driver text, SQL or a stack.
    pub fn message(&self) -> String {
        match self {
            ApiError::InvalidJson(detail) => format!("the request body is not valid JSON for this endpoint: {detail}"),
            ApiError::UnsupportedMediaType => "send the body as JSON with Content-Type: application/json".into(),
            ApiError::UnsupportedContentEncoding => "send the request without Content-Encoding: compressed bodies are not accepted".into(),
            ApiError::CorsPreflightRejected => {
                "this cross-origin request is not allowed: its origin, method or headers are not accepted here".into()
            }
            ApiError::BadRequest => "the request is malformed".into(),
            ApiError::PayloadTooLarge { limit } => format!("the request body is larger than {limit} bytes"),
            ApiError::NotFound => "no such route".into(),
            ApiError::MethodNotAllowed => "this route does not accept that method".into(),
            ApiError::RequestTimeout => "the request body did not arrive in time; send it right after the headers".into(),
            ApiError::Validation(e) => e.to_string(),
            ApiError::InvalidCredentials => "wrong username, email or password".into(),
            ApiError::MissingAccessToken => "send an access token as Authorization: Bearer <token>".into(),
            ApiError::InvalidAccessToken => "the access token is malformed, forged or not valid here".into(),
            ApiError::ExpiredAccessToken => {
                "your access token has expired, please refresh at /auth/refreshAccessToken".into()
            }
            ApiError::MissingRefreshToken => "no refresh token cookie was sent, please log in".into(),
            ApiError::InvalidRefreshToken => "the refresh token is invalid, expired or revoked, please log in".into(),
            ApiError::RefreshTokenReused => {
                "this refresh token was already used; the session has been revoked, please log in".into()
            }
            ApiError::AmbiguousRefreshToken => {
                "more than one refresh token cookie was sent, so none was used and nothing changed; clear this site's cookies and log in again".into()
            }
            ApiError::OriginNotAllowed => "requests from this origin are not allowed".into(),
            ApiError::UsernameTaken => "that username is already taken".into(),
            ApiError::EmailTaken => "that email is already registered".into(),
            ApiError::RateLimited { retry_after } => {
                format!("too many attempts, try again in {} seconds", retry_after.as_secs().max(1))
            }
            ApiError::TooManyConnections => "too many open connections from your address; reuse or close some, then retry".into(),
            ApiError::Overloaded { .. } => "the service is busy, try again shortly".into(),
            ApiError::Unavailable(dep) => format!("the {} is unavailable, try again shortly", dep.name()),
            ApiError::Internal => "an internal error occurred".into(),
            ApiError::EmailNotVerified => {
                "verify your email first: follow the link we mailed you, or ask for a password reset at /auth/password/forgot, which proves it too".into()
            }
            ApiError::InvalidAccountToken => "this link is invalid, already used or expired; ask for a new one".into(),
            ApiError::SessionRevoked => "this session has ended (logged out, ended from another device, or replaced), please log in".into(),
            ApiError::SessionNotFound => "you have no session with this id".into(),
            ApiError::AccountDisabled => "this account has been disabled; contact the operators of this service".into(),
            ApiError::AdminTokenInvalid => "send the admin token as Authorization: Bearer <ADMIN_TOKEN>".into(),
            ApiError::UserNotFound => "no user has this id".into(),
            ApiError::KeyNotFound => "no verifying key has this kid".into(),
            ApiError::KeyNotRetirable => "the HS256 key is JWT_SECRET itself: change the secret instead".into(),
        }
    }

    /// How long a client should wait before retrying, for the failures that are temporary: also
    /// what the OpenAPI document says carries `Retry-After`.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::RateLimited { retry_after } | ApiError::Overloaded { retry_after } => Some(*retry_after),
            ApiError::Unavailable(_) | ApiError::TooManyConnections => Some(Duration::from_secs(1)),
            _ => None,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            // 400, not 401: the request is malformed (RFC 6750 §3.1 `invalid_request`
            // for a repeated credential), and a client that treats 401 as "log in again" would
            // not help, since the extra cookie outlives any login.
            ApiError::InvalidJson(_) | ApiError::AmbiguousRefreshToken | ApiError::CorsPreflightRejected | ApiError::BadRequest => {
                StatusCode::BAD_REQUEST
            }
            ApiError::UnsupportedMediaType | ApiError::UnsupportedContentEncoding => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotFound | ApiError::SessionNotFound | ApiError::UserNotFound | ApiError::KeyNotFound => StatusCode::NOT_FOUND,
            ApiError::KeyNotRetirable => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::InvalidCredentials
            | ApiError::MissingAccessToken
            | ApiError::InvalidAccessToken
            | ApiError::ExpiredAccessToken
            | ApiError::MissingRefreshToken
            | ApiError::InvalidRefreshToken
            | ApiError::RefreshTokenReused
            | ApiError::SessionRevoked
            | ApiError::AdminTokenInvalid => StatusCode::UNAUTHORIZED,
            // 403 for a mailed token that is no good: the request is well-formed, and what it
            // carries does not authorise the change (a link, not a login: no 401).
            ApiError::OriginNotAllowed | ApiError::EmailNotVerified | ApiError::InvalidAccountToken | ApiError::AccountDisabled => {
                StatusCode::FORBIDDEN
            }
            ApiError::UsernameTaken | ApiError::EmailTaken => StatusCode::CONFLICT,
            ApiError::RateLimited { .. } | ApiError::TooManyConnections => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Overloaded { .. } | ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let mut builder = HttpResponse::build(status);
        if let Some(after) = self.retry_after() {
            builder.insert_header((header::RETRY_AFTER, after.as_secs().max(1).to_string()));
        }
        if matches!(self, ApiError::RequestTimeout | ApiError::TooManyConnections) {
            // Reliability: the connection is the problem (a body that stalls, one too many from
            // its client): it is closed after this answer, not kept alive for another request.
            builder.force_close();
        }
        if matches!(self, ApiError::UnsupportedContentEncoding) {
            // RFC 9110 §15.5.16: a 415 caused by a content coding says which codings would do.
            builder.insert_header((header::ACCEPT_ENCODING, "identity"));
        }
        if status == StatusCode::UNAUTHORIZED
            && matches!(
                self,
                ApiError::MissingAccessToken | ApiError::InvalidAccessToken | ApiError::ExpiredAccessToken | ApiError::SessionRevoked
            )
        {
            // RFC 6750 §3: tell bearer clients which scheme failed and why.
            let error = if matches!(self, ApiError::MissingAccessToken) { "" } else { ", error=\"invalid_token\"" };
            builder.insert_header((header::WWW_AUTHENTICATE, format!("Bearer realm=\"gatehouse\"{error}")));
        }
        builder.json(Envelope {
            success: false,
            status: status.as_u16(),
            content: ErrorContent { error_code: self.code(), message: self.message(), error_type: self.error_type() },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    fn body_of(err: &ApiError) -> serde_json::Value {
        let bytes = err.error_response().into_body().try_into_bytes().unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn every_error_renders_the_envelope_with_matching_status() {
        let all = [
            ApiError::InvalidJson("x".into()),
            ApiError::UnsupportedMediaType,
            ApiError::UnsupportedContentEncoding,
            ApiError::CorsPreflightRejected,
            ApiError::BadRequest,
            ApiError::PayloadTooLarge { limit: 10 },
            ApiError::NotFound,
            ApiError::MethodNotAllowed,
            ApiError::RequestTimeout,
            ApiError::Validation(ValidationError::PasswordTooShort),
            ApiError::InvalidCredentials,
            ApiError::MissingAccessToken,
            ApiError::InvalidAccessToken,
            ApiError::ExpiredAccessToken,
            ApiError::MissingRefreshToken,
            ApiError::InvalidRefreshToken,
            ApiError::RefreshTokenReused,
            ApiError::AmbiguousRefreshToken,
            ApiError::OriginNotAllowed,
            ApiError::UsernameTaken,
            ApiError::EmailTaken,
            ApiError::RateLimited { retry_after: Duration::from_secs(3) },
            ApiError::TooManyConnections,
            ApiError::Overloaded { retry_after: Duration::from_secs(1) },
            ApiError::Unavailable(Dependency::Database),
            ApiError::Internal,
            ApiError::EmailNotVerified,
            ApiError::InvalidAccountToken,
            ApiError::SessionRevoked,
            ApiError::SessionNotFound,
            ApiError::AccountDisabled,
            ApiError::AdminTokenInvalid,
            ApiError::UserNotFound,
            ApiError::KeyNotFound,
            ApiError::KeyNotRetirable,
        ];
        for err in all {
            let body = body_of(&err);
            assert_eq!(body["success"], false);
            assert_eq!(body["status"], err.status_code().as_u16());
            assert_eq!(body["content"]["error_code"], err.code());
            assert_eq!(body["content"]["error_type"], err.error_type());
            let code = err.code();
            assert!(code.chars().all(|c| c.is_ascii_uppercase() || c == '_'), "{code}");
        }
    }

    #[test]
    fn client_faults_are_4xx_and_dependency_faults_503() {
        assert!(ApiError::InvalidJson("x".into()).status_code().is_client_error());
        assert!(ApiError::Validation(ValidationError::EmailInvalid).status_code().is_client_error());
        assert_eq!(ApiError::Unavailable(Dependency::TokenStore).status_code(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn expired_access_token_keeps_the_original_message() {
        let body = body_of(&ApiError::ExpiredAccessToken);
        assert_eq!(body["content"]["message"], "your access token has expired, please refresh at /auth/refreshAccessToken");
    }

    #[test]
    fn throttling_and_shedding_say_when_to_retry() {
        let resp = ApiError::RateLimited { retry_after: Duration::from_secs(42) }.error_response();
        assert_eq!(resp.headers().get(header::RETRY_AFTER).unwrap(), "42");
        let resp = ApiError::Overloaded { retry_after: Duration::from_secs(1) }.error_response();
        assert_eq!(resp.headers().get(header::RETRY_AFTER).unwrap(), "1");
    }
}
