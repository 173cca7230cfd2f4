//! `POST /auth/refresh` and `GET /auth/refreshAccessToken`: the HTTP side of `auth::refresh`;
//! a new access token for the refresh cookie, which is rotated.

use actix_web::{HttpRequest, HttpResponse, ResponseError, http::StatusCode, web};

use super::session::AccessTokenBody;
use crate::auth::{self, Refresh as Refreshed};
use crate::client::CheckedOrigin;
use crate::envelope::{Envelope, success_with};
use crate::error::{ApiError, Dependency};
use crate::middleware::RequestId;
use crate::routes::facts::{self, Declared};
use crate::state::AppState;

/// The failures of both names of the operation.
const ERRORS: &[&[ApiError]] = &[
    facts::ORIGIN_CHECKED,
    &[ApiError::AmbiguousRefreshToken, ApiError::MissingRefreshToken, ApiError::InvalidRefreshToken, ApiError::RefreshTokenReused],
    // The database: the signing keys live there (a replica that could not read them yet).
    &[ApiError::Unavailable(Dependency::TokenStore), ApiError::Unavailable(Dependency::Database), ApiError::Internal],
];

/// `POST /auth/refresh`, declared.
pub struct Refresh;

impl Declared for Refresh {
    const ERRORS: &'static [&'static [ApiError]] = ERRORS;
}

/// `GET /auth/refreshAccessToken`, the original demo's name for the same operation, declared.
pub struct RefreshAccessToken;

impl Declared for RefreshAccessToken {
    const ERRORS: &'static [&'static [ApiError]] = ERRORS;
}

#[utoipa::path(post, path = "/auth/refresh", impl_for = Refresh, tag = "auth", params(("jwt" = Option<String>, Cookie, description = "the refresh token; more than one cookie of this name is refused (`AMBIGUOUS_REFRESH_TOKEN`) and changes nothing")),
    responses((status = 200, description = "a new access token; the refresh cookie is rotated", body = Envelope<AccessTokenBody>, headers(("set-cookie" = String, description = "the refresh cookie: `jwt=…; HttpOnly; Path=/auth; SameSite=…; Max-Age=…`")))))]
#[utoipa::path(get, path = "/auth/refreshAccessToken", impl_for = RefreshAccessToken, operation_id = "refresh_access_token", tag = "auth", params(("jwt" = Option<String>, Cookie, description = "the refresh token; more than one cookie of this name is refused (`AMBIGUOUS_REFRESH_TOKEN`) and changes nothing")),
    responses((status = 200, description = "the same as `POST /auth/refresh` (the original demo's name)", body = Envelope<AccessTokenBody>, headers(("set-cookie" = String, description = "the refresh cookie: `jwt=…; HttpOnly; Path=/auth; SameSite=…; Max-Age=…`")))))]
pub async fn refresh(_: CheckedOrigin, rid: RequestId, state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    match auth::refresh(&state.services, &rid, state.cookie.read(&req)).await? {
        Refreshed::Rotated { refresh, access } => {
            let mut builder = HttpResponse::build(StatusCode::OK);
            builder.cookie(state.cookie.set(&refresh));
            Ok(success_with(builder, AccessTokenBody::from(access)))
        }
        Refreshed::Refused(error) => Ok(refused(&state, error)),
    }
}

/// A refused refresh also clears the cookie, so the client stops sending a dead token.
fn refused(state: &AppState, error: ApiError) -> HttpResponse {
    let mut response = error.error_response();
    // unwrap: a cookie built from a validated name and a fixed value always encodes.
    response.add_cookie(&state.cookie.clear()).unwrap();
    response
}
