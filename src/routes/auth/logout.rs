//! `POST /auth/logout`: the HTTP side of `auth::logout`; clears the cookie.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};

use crate::auth;
use crate::client::CheckedOrigin;
use crate::envelope::success_with;
use crate::error::ApiError;
use crate::middleware::RequestId;
use crate::state::AppState;

/// Idempotent (see `auth::logout`): the same 200 and a cleared cookie with or without a live
/// token. A store failure (503) and more than one refresh cookie (400) keep the cookie.
pub async fn logout(_: CheckedOrigin, rid: RequestId, state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    auth::logout(&state.services, &rid, state.cookie.read(&req)).await?;
    let mut builder = HttpResponse::build(StatusCode::OK);
    builder.cookie(state.cookie.clear());
    Ok(success_with(builder, serde_json::json!({ "message": "logged out" })))
}
