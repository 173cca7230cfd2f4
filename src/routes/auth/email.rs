//! `POST /auth/email/verify`, `POST /auth/email/resend`, `POST /auth/email`: the HTTP side of
//! `auth::{verify_email, resend_verification, change_email}`.

use actix_web::{HttpResponse, http::StatusCode, web};
use serde::{Deserialize, Serialize};

use super::me::MeContent;
use super::password::QueuedContent;
use crate::actors::User;
use crate::auth::{self, EmailChange};
use crate::client::ClientIp;
use crate::domain::ValidationError;
use crate::envelope::{Envelope, success};
use crate::error::{ApiError, Dependency};
use crate::extract::AuthenticatedUser;
use crate::middleware::RequestId;
use crate::routes::facts::{self, Declared};
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmailRequest {
    token: String,
}

#[derive(Serialize)]
struct UserBody {
    user: User,
}

/// `POST /auth/email/verify`, declared.
pub struct VerifyEmail;

impl Declared for VerifyEmail {
    const ERRORS: &'static [&'static [ApiError]] = &[
        facts::JSON_BODY,
        &[ApiError::InvalidAccountToken, ApiError::EmailTaken],
        &[ApiError::RateLimited { retry_after: std::time::Duration::from_secs(60) }],
        &[ApiError::Unavailable(Dependency::Database), ApiError::Unavailable(Dependency::TokenStore), ApiError::Internal],
    ];
}

#[utoipa::path(post, path = "/auth/email/verify", impl_for = VerifyEmail, tag = "account", request_body = VerifyEmailRequest,
    responses((status = 200, description = "the address the `token` was mailed to is now the account's email, verified (when it replaced another, the old address is told); the token is used up. An unknown, used, expired or voided token is `INVALID_ACCOUNT_TOKEN`; an address another account took meanwhile is `EMAIL_TAKEN`", body = Envelope<MeContent>)))]
pub async fn verify_email(
    ClientIp(ip): ClientIp,
    rid: RequestId,
    state: web::Data<AppState>,
    body: web::Json<VerifyEmailRequest>,
) -> Result<HttpResponse, ApiError> {
    let user = auth::verify_email(&state.services, &rid, ip, body.into_inner().token).await?;
    Ok(success(StatusCode::OK, UserBody { user }))
}

/// `content` of `POST /auth/email/resend`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ResendContent {
    /// Whether a mail was queued: `false` when the account has no email or it is verified.
    queued: bool,
}

/// `POST /auth/email/resend`, declared.
pub struct ResendVerification;

impl Declared for ResendVerification {
    const ERRORS: &'static [&'static [ApiError]] = &[
        facts::BEARER,
        &[ApiError::RateLimited { retry_after: std::time::Duration::from_secs(60) }],
        &[ApiError::Unavailable(Dependency::Database), ApiError::Unavailable(Dependency::TokenStore), ApiError::Internal],
    ];
}

#[utoipa::path(post, path = "/auth/email/resend", impl_for = ResendVerification, tag = "account", security(("bearer" = [])),
    responses((status = 202, description = "a new verification mail is queued (older links stop working); throttled per account", body = Envelope<ResendContent>),
              (status = 200, description = "nothing to verify: the account has no email, or it is verified already", body = Envelope<ResendContent>)))]
pub async fn resend_verification(rid: RequestId, state: web::Data<AppState>, auth: AuthenticatedUser) -> Result<HttpResponse, ApiError> {
    let queued = auth::resend_verification(&state.services, &rid, auth.user_id).await?;
    let status = if queued { StatusCode::ACCEPTED } else { StatusCode::OK };
    Ok(success(status, ResendContent { queued }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeEmailRequest {
    password: String,
    email: String,
}

/// `POST /auth/email`, declared.
pub struct ChangeEmail;

impl Declared for ChangeEmail {
    const ERRORS: &'static [&'static [ApiError]] = &[
        facts::JSON_BODY,
        facts::BEARER,
        &[
            ApiError::Validation(ValidationError::EmailInvalid),
            ApiError::Validation(ValidationError::EmailTooLong),
            ApiError::Validation(ValidationError::PasswordTooLong),
        ],
        &[ApiError::InvalidCredentials, ApiError::EmailTaken],
        facts::THROTTLED,
        facts::ALL_STORES,
    ];
}

#[utoipa::path(post, path = "/auth/email", impl_for = ChangeEmail, tag = "account", request_body = ChangeEmailRequest, security(("bearer" = [])),
    responses((status = 202, description = "with the password checked, a verification mail goes to the new address; the account's email changes when its link is followed (`POST /auth/email/verify`), and the old address is then told", body = Envelope<QueuedContent>)))]
pub async fn change_email(
    rid: RequestId,
    state: web::Data<AppState>,
    auth: AuthenticatedUser,
    body: web::Json<ChangeEmailRequest>,
) -> Result<HttpResponse, ApiError> {
    let ChangeEmailRequest { password, email } = body.into_inner();
    auth::change_email(&state.services, &rid, auth.user_id, EmailChange { password, email }).await?;
    Ok(success(StatusCode::ACCEPTED, QueuedContent { message: "follow the link mailed to the new address to make the change" }))
}
