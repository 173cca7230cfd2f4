//! `/admin/*`: the HTTP side of the administration flows (`crate::admin`), served on the
//! management listener (`METRICS_ADDR`) only, and only when `ADMIN_TOKEN` is set. Every answer
//! is in the envelope; every route needs `Authorization: Bearer <ADMIN_TOKEN>`.

use actix_web::{HttpResponse, http::StatusCode, web};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::admin::{Admin, AdminCaller, DEFAULT_LIMIT};
use crate::envelope::success;
use crate::error::ApiError;
use crate::middleware::RequestId;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::QueryConfig::default().error_handler(|_, _| ApiError::BadRequest.into()))
        .service(web::resource("/admin/users").route(web::get().to(search)))
        .service(web::resource("/admin/users/{id}").route(web::get().to(user)).route(web::delete().to(delete)))
        .service(web::resource("/admin/users/{id}/disable").route(web::post().to(disable)))
        .service(web::resource("/admin/users/{id}/enable").route(web::post().to(enable)))
        .service(web::resource("/admin/users/{id}/sessions").route(web::delete().to(end_sessions)))
        .service(web::resource("/admin/users/{id}/events").route(web::get().to(user_events)))
        .service(web::resource("/admin/events").route(web::get().to(all_events)))
        .service(web::resource("/admin/keys/rotate").route(web::post().to(rotate_key)))
        .service(web::resource("/admin/keys/{kid}/retire").route(web::post().to(retire_key)));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchQuery {
    #[serde(default)]
    q: String,
    limit: Option<u32>,
    cursor: Option<Uuid>,
}

#[derive(Serialize)]
struct Ended {
    ended: usize,
}

#[derive(Serialize)]
struct Deleted {
    deleted: bool,
}

/// An id that is not a UUID names no user: the same 404 as an unknown one.
fn user_id(id: &str) -> Result<Uuid, ApiError> {
    id.parse().map_err(|_| ApiError::UserNotFound)
}

async fn search(_: AdminCaller, admin: web::Data<Admin>, query: web::Query<SearchQuery>) -> Result<HttpResponse, ApiError> {
    let page = admin.search(&query.q, query.limit.unwrap_or(DEFAULT_LIMIT), query.cursor).await?;
    Ok(success(StatusCode::OK, page))
}

async fn user(_: AdminCaller, admin: web::Data<Admin>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(success(StatusCode::OK, admin.user(user_id(&id)?).await?))
}

async fn disable(_: AdminCaller, rid: RequestId, admin: web::Data<Admin>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(success(StatusCode::OK, admin.disable(&rid, user_id(&id)?).await?))
}

async fn enable(_: AdminCaller, rid: RequestId, admin: web::Data<Admin>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(success(StatusCode::OK, admin.enable(&rid, user_id(&id)?).await?))
}

async fn end_sessions(_: AdminCaller, rid: RequestId, admin: web::Data<Admin>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let ended = admin.end_sessions(&rid, user_id(&id)?).await?;
    Ok(success(StatusCode::OK, Ended { ended }))
}

async fn delete(_: AdminCaller, rid: RequestId, admin: web::Data<Admin>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    admin.delete(&rid, user_id(&id)?).await?;
    Ok(success(StatusCode::OK, Deleted { deleted: true }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    limit: Option<u32>,
    cursor: Option<i64>,
}

async fn user_events(
    _: AdminCaller,
    admin: web::Data<Admin>,
    id: web::Path<String>,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = admin.events(Some(user_id(&id)?), query.limit.unwrap_or(DEFAULT_LIMIT), query.cursor).await?;
    Ok(success(StatusCode::OK, page))
}

async fn all_events(_: AdminCaller, admin: web::Data<Admin>, query: web::Query<EventsQuery>) -> Result<HttpResponse, ApiError> {
    let page = admin.events(None, query.limit.unwrap_or(DEFAULT_LIMIT), query.cursor).await?;
    Ok(success(StatusCode::OK, page))
}

#[derive(Serialize)]
struct Rotated {
    /// The key that signs from now on.
    current_kid: String,
}

#[derive(Serialize)]
struct Retired {
    retired: String,
}

async fn rotate_key(_: AdminCaller, rid: RequestId, admin: web::Data<Admin>) -> Result<HttpResponse, ApiError> {
    Ok(success(StatusCode::OK, Rotated { current_kid: admin.rotate_key(&rid).await? }))
}

async fn retire_key(_: AdminCaller, rid: RequestId, admin: web::Data<Admin>, kid: web::Path<String>) -> Result<HttpResponse, ApiError> {
    admin.retire_key(&rid, &kid).await?;
    Ok(success(StatusCode::OK, Retired { retired: kid.into_inner() }))
}
