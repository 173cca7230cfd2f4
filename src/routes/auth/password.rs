//! `POST /auth/password`, `POST /auth/password/forgot`, `POST /auth/password/reset`: the HTTP
//! side of `auth::{change_password, forgot, reset_password}`.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use serde::{Deserialize, Serialize};

use super::session::{self, SessionBody};
use crate::auth::{self, PasswordChange, PasswordReset};
use crate::client::{CheckedOrigin, ClientIp};
use crate::domain::ValidationError;
use crate::envelope::{Envelope, success};
use crate::error::{ApiError, Dependency};
use crate::extract::AuthenticatedUser;
use crate::middleware::RequestId;
use crate::routes::facts::{self, Declared};
use crate::state::AppState;

/// What a new password may be refused for.
pub(super) const NEW_PASSWORD: &[ApiError] = &[
    ApiError::Validation(ValidationError::PasswordTooShort),
    ApiError::Validation(ValidationError::PasswordTooLong),
    ApiError::Validation(ValidationError::PasswordTooCommon),
];

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    current_password: String,
    new_password: String,
}

/// `POST /auth/password`, declared.
pub struct ChangePassword;

impl Declared for ChangePassword {
    const ERRORS: &'static [&'static [ApiError]] = &[
        facts::JSON_BODY,
        facts::ORIGIN_CHECKED,
        facts::BEARER,
        NEW_PASSWORD,
        &[ApiError::InvalidCredentials],
        facts::THROTTLED,
        facts::ALL_STORES,
    ];
}

#[utoipa::path(post, path = "/auth/password", impl_for = ChangePassword, tag = "account", request_body = ChangePasswordRequest, security(("bearer" = [])),
    responses((status = 200, description = "the password is changed; every other session of the user ends, and this one continues with a new refresh cookie (and a new access token in the body). A wrong `current_password` is `INVALID_CREDENTIALS` and counts against the account's login throttle", body = Envelope<SessionBody>, headers(("set-cookie" = String, description = "the new refresh cookie, and the device cookie")))))]
pub async fn change_password(
    _: CheckedOrigin,
    rid: RequestId,
    state: web::Data<AppState>,
    ClientIp(ip): ClientIp,
    req: HttpRequest,
    auth: AuthenticatedUser,
    body: web::Json<ChangePasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let ChangePasswordRequest { current_password, new_password } = body.into_inner();
    let change = PasswordChange { current_password, new_password, user_agent: super::user_agent(&req) };
    let session = auth::change_password(&state.services, &rid, ip, auth.user_id, change).await?;
    Ok(session::started(&state, StatusCode::OK, session))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotPasswordRequest {
    email: String,
}

/// `content` of the routes that queue a mail.
#[derive(Serialize, utoipa::ToSchema)]
pub struct QueuedContent {
    pub message: &'static str,
}

/// `POST /auth/password/forgot`, declared.
pub struct ForgotPassword;

impl Declared for ForgotPassword {
    const ERRORS: &'static [&'static [ApiError]] = &[
        facts::JSON_BODY,
        &[ApiError::Validation(ValidationError::EmailInvalid), ApiError::Validation(ValidationError::EmailTooLong)],
        &[ApiError::RateLimited { retry_after: std::time::Duration::from_secs(60) }],
        &[ApiError::Unavailable(Dependency::Database), ApiError::Unavailable(Dependency::TokenStore), ApiError::Internal],
    ];
}

const FORGOT_MESSAGE: &str = "if an account has this address, a link to reset its password is on its way";

#[utoipa::path(post, path = "/auth/password/forgot", impl_for = ForgotPassword, tag = "account", request_body = ForgotPasswordRequest,
    responses((status = 202, description = "always the same answer, in the same time, whether or not an account has this address; when one has, a mail with a single-use reset link (valid `PASSWORD_RESET_TTL`) is queued, voiding older ones. Throttled per IP and per address", body = Envelope<QueuedContent>)))]
pub async fn forgot_password(
    ClientIp(ip): ClientIp,
    rid: RequestId,
    state: web::Data<AppState>,
    body: web::Json<ForgotPasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    auth::forgot(&state.services, &rid, ip, body.into_inner().email).await?;
    Ok(success(StatusCode::ACCEPTED, QueuedContent { message: FORGOT_MESSAGE }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    token: String,
    password: String,
}

/// `POST /auth/password/reset`, declared.
pub struct ResetPassword;

impl Declared for ResetPassword {
    const ERRORS: &'static [&'static [ApiError]] =
        &[facts::JSON_BODY, facts::ORIGIN_CHECKED, NEW_PASSWORD, &[ApiError::InvalidAccountToken], facts::THROTTLED, facts::ALL_STORES];
}

#[utoipa::path(post, path = "/auth/password/reset", impl_for = ResetPassword, tag = "account", request_body = ResetPasswordRequest,
    responses((status = 200, description = "the password is set with the `token` of a reset mail (used up); every session of the user ends, the email counts as verified, and this answers like a login. An unknown, used, expired or voided token is `INVALID_ACCOUNT_TOKEN`", body = Envelope<SessionBody>, headers(("set-cookie" = String, description = "the refresh cookie, and the device cookie")))))]
pub async fn reset_password(
    _: CheckedOrigin,
    ClientIp(ip): ClientIp,
    req: HttpRequest,
    rid: RequestId,
    state: web::Data<AppState>,
    body: web::Json<ResetPasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let ResetPasswordRequest { token, password } = body.into_inner();
    let reset = PasswordReset { token, password, user_agent: super::user_agent(&req) };
    let session = auth::reset_password(&state.services, &rid, ip, reset).await?;
    Ok(session::started(&state, StatusCode::OK, session))
}
