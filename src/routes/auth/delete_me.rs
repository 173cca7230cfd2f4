//! `DELETE /auth/me`: the HTTP side of `auth::delete_me`; clears the refresh cookie.

use actix_web::{HttpResponse, http::StatusCode, web};
use serde::{Deserialize, Serialize};

use crate::auth;
use crate::client::CheckedOrigin;
use crate::domain::ValidationError;
use crate::envelope::{Envelope, success_with};
use crate::error::ApiError;
use crate::extract::AuthenticatedUser;
use crate::middleware::RequestId;
use crate::routes::facts::{self, Declared};
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteMeRequest {
    password: String,
}

/// `content` of `DELETE /auth/me`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DeletedContent {
    message: &'static str,
}

/// `DELETE /auth/me`, declared.
pub struct DeleteMe;

impl Declared for DeleteMe {
    const ERRORS: &'static [&'static [ApiError]] = &[
        facts::JSON_BODY,
        facts::ORIGIN_CHECKED,
        facts::BEARER,
        &[ApiError::Validation(ValidationError::PasswordTooLong)],
        &[ApiError::InvalidCredentials],
        facts::THROTTLED,
        facts::ALL_STORES,
    ];
}

#[utoipa::path(delete, path = "/auth/me", impl_for = DeleteMe, operation_id = "delete_me", tag = "account", request_body = DeleteMeRequest, security(("bearer" = [])),
    responses((status = 200, description = "with the password checked, the user is deleted with everything the user owns (sessions, pending tokens, queued mail); their access tokens stop working and the refresh cookie is cleared", body = Envelope<DeletedContent>, headers(("set-cookie" = String, description = "the refresh cookie, cleared")))))]
pub async fn delete_me(
    _: CheckedOrigin,
    rid: RequestId,
    state: web::Data<AppState>,
    auth: AuthenticatedUser,
    body: web::Json<DeleteMeRequest>,
) -> Result<HttpResponse, ApiError> {
    auth::delete_me(&state.services, &rid, auth.user_id, body.into_inner().password).await?;
    let mut builder = HttpResponse::build(StatusCode::OK);
    builder.cookie(state.cookie.clear());
    Ok(success_with(builder, DeletedContent { message: "account deleted" }))
}
