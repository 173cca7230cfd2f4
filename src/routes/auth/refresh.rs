//! `POST /auth/refresh` and `GET /auth/refreshAccessToken`: the HTTP side of `auth::refresh`;
//! a new access token for the refresh cookie, which is rotated.

use actix_web::{HttpRequest, HttpResponse, ResponseError, http::StatusCode, web};

use super::session::AccessTokenBody;
use crate::auth::{self, Refresh};
use crate::client::CheckedOrigin;
use crate::envelope::success_with;
use crate::error::ApiError;
use crate::middleware::RequestId;
use crate::state::AppState;

pub async fn refresh(_: CheckedOrigin, rid: RequestId, state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    match auth::refresh(&state.services, &rid, state.cookie.read(&req)).await? {
        Refresh::Rotated { refresh, access } => {
            let mut builder = HttpResponse::build(StatusCode::OK);
            builder.cookie(state.cookie.set(&refresh));
            Ok(success_with(builder, AccessTokenBody::from(access)))
        }
        Refresh::Refused(error) => Ok(refused(&state, error)),
    }
}

/// A refused refresh also clears the cookie, so the client stops sending a dead token.
fn refused(state: &AppState, error: ApiError) -> HttpResponse {
    let mut response = error.error_response();
    // unwrap: a cookie built from a validated name and a fixed value always encodes.
    response.add_cookie(&state.cookie.clear()).unwrap();
    response
}
