//! `/admin/*`: the HTTP side of the administration flows (`crate::admin`), served on the
//! management listener (`METRICS_ADDR`) only, and only when `ADMIN_TOKEN` is set. Every answer
//! is in the envelope; every route needs `Authorization: Bearer <ADMIN_TOKEN>`. Each route is
//! declared here like a public one (`facts::Declared`), and `GET /admin/openapi.json` documents
//! them (`openapi::admin_document`).

use actix_web::{HttpResponse, Route, http::StatusCode, web};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::auth::EndedContent;
use super::facts::{self, Declared, Facts, Listener};
use crate::admin::{Admin, AdminCaller, AdminUser, DEFAULT_LIMIT, EventPage, Page, UserDetail};
use crate::envelope::{Envelope, success};
use crate::error::{ApiError, Dependency};
use crate::middleware::RequestId;

/// The admin routes, in the order of the document.
fn routes() -> Vec<(Facts, Route)> {
    use super::declared;
    vec![
        declared::<Search, _, _>(search_users),
        declared::<OneUser, _, _>(get_user),
        declared::<Disable, _, _>(disable_user),
        declared::<Enable, _, _>(enable_user),
        declared::<EndSessions, _, _>(end_user_sessions),
        declared::<DeleteUser, _, _>(delete_user),
        declared::<UserEvents, _, _>(user_events),
        declared::<AllEvents, _, _>(all_events),
        declared::<RotateKey, _, _>(rotate_key),
        declared::<RetireKey, _, _>(retire_key),
        declared::<Document, _, _>(document),
    ]
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::QueryConfig::default().error_handler(|_, _| ApiError::BadRequest.into()));
    super::serve(cfg, routes());
}

/// The facts of every admin route, in the order of the table.
pub fn table() -> Vec<Facts> {
    routes().into_iter().map(|(facts, _)| facts).collect()
}

/// Every admin route: a missing or wrong admin token.
const ADMIN: &[ApiError] = &[ApiError::AdminTokenInvalid];
/// Routes with a query string it could not read (an unknown parameter, a limit that is no number).
const QUERY: &[ApiError] = &[ApiError::BadRequest];
/// Routes of one user: an unknown id, or one that is no UUID.
const ONE_USER: &[ApiError] = &[ApiError::UserNotFound];
const DATABASE: &[ApiError] = &[ApiError::Unavailable(Dependency::Database), ApiError::Internal];
/// Routes that also read or end the user's sessions.
const TOKEN_STORE: &[ApiError] = &[ApiError::Unavailable(Dependency::TokenStore)];

/// Declares admin routes: served on the management listener, with the failures of each.
macro_rules! admin_routes {
    ($($(#[$doc:meta])* $name:ident: $($errors:expr),*;)*) => {$(
        $(#[$doc])*
        pub struct $name;

        impl Declared for $name {
            const ERRORS: &'static [&'static [ApiError]] = &[ADMIN, $($errors),*];
            const LISTENER: &'static Listener = &facts::MANAGEMENT;
        }
    )*};
}

admin_routes! {
    /// `GET /admin/users`, declared.
    Search: QUERY, DATABASE;
    /// `GET /admin/users/{id}`, declared.
    OneUser: ONE_USER, DATABASE, TOKEN_STORE;
    /// `POST /admin/users/{id}/disable`, declared.
    Disable: ONE_USER, DATABASE, TOKEN_STORE;
    /// `POST /admin/users/{id}/enable`, declared.
    Enable: ONE_USER, DATABASE;
    /// `DELETE /admin/users/{id}/sessions`, declared.
    EndSessions: ONE_USER, DATABASE, TOKEN_STORE;
    /// `DELETE /admin/users/{id}`, declared.
    DeleteUser: ONE_USER, DATABASE, TOKEN_STORE;
    /// `GET /admin/users/{id}/events`, declared.
    UserEvents: QUERY, ONE_USER, DATABASE;
    /// `GET /admin/events`, declared.
    AllEvents: QUERY, DATABASE;
    /// `POST /admin/keys/rotate`, declared.
    RotateKey: &[ApiError::Unavailable(Dependency::Database)];
    /// `POST /admin/keys/{kid}/retire`, declared.
    RetireKey: &[ApiError::KeyNotFound, ApiError::KeyNotRetirable, ApiError::Unavailable(Dependency::Database)];
    /// `GET /admin/openapi.json`, declared.
    Document: ;
}

/// The query of `GET /admin/users`.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct SearchQuery {
    /// A prefix of the username or the email, case-insensitive (`%` and `_` are plain
    /// characters); empty or absent: every user.
    #[serde(default)]
    q: String,
    /// Users per page: 1 to 200 (a number outside is brought within), 50 when absent.
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<Uuid>,
}

/// The query of the audit trail's routes.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct EventsQuery {
    /// Events per page: 1 to 200 (a number outside is brought within), 50 when absent.
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<i64>,
}

/// `content` of `DELETE /admin/users/{id}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Deleted {
    deleted: bool,
}

/// `content` of `POST /admin/keys/rotate`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Rotated {
    /// The key that signs from now on.
    current_kid: String,
}

/// `content` of `POST /admin/keys/{kid}/retire`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Retired {
    /// The kid of the key retired.
    retired: String,
}

/// An id that is not a UUID names no user: the same 404 as an unknown one.
fn user_id(id: &str) -> Result<Uuid, ApiError> {
    id.parse().map_err(|_| ApiError::UserNotFound)
}

#[utoipa::path(get, path = "/admin/users", impl_for = Search, tag = "admin", security(("admin" = [])), params(SearchQuery),
    responses((status = 200, description = "users whose username or email starts with `q`, in creation order; `next_cursor` is `null` on the last page", body = Envelope<Page>)))]
async fn search_users(_: AdminCaller, admin: web::Data<Admin>, query: web::Query<SearchQuery>) -> Result<HttpResponse, ApiError> {
    let page = admin.search(&query.q, query.limit.unwrap_or(DEFAULT_LIMIT), query.cursor).await?;
    Ok(success(StatusCode::OK, page))
}

#[utoipa::path(get, path = "/admin/users/{id}", impl_for = OneUser, tag = "admin", security(("admin" = [])), params(("id" = String, Path, description = "the user's id")),
    responses((status = 200, description = "the user and their live sessions", body = Envelope<UserDetail>)))]
async fn get_user(_: AdminCaller, admin: web::Data<Admin>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(success(StatusCode::OK, admin.user(user_id(&id)?).await?))
}

#[utoipa::path(post, path = "/admin/users/{id}/disable", impl_for = Disable, tag = "admin", security(("admin" = [])), params(("id" = String, Path, description = "the user's id")),
    responses((status = 200, description = "the account is disabled: its sessions ended and every access token of the user issued up to now is refused (`SESSION_REVOKED`) on every replica; its login with the right password answers `ACCOUNT_DISABLED`", body = Envelope<AdminUser>)))]
async fn disable_user(_: AdminCaller, rid: RequestId, admin: web::Data<Admin>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(success(StatusCode::OK, admin.disable(&rid, user_id(&id)?).await?))
}

#[utoipa::path(post, path = "/admin/users/{id}/enable", impl_for = Enable, tag = "admin", security(("admin" = [])), params(("id" = String, Path, description = "the user's id")),
    responses((status = 200, description = "the account is enabled again (the sessions that ended stay ended)", body = Envelope<AdminUser>)))]
async fn enable_user(_: AdminCaller, rid: RequestId, admin: web::Data<Admin>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(success(StatusCode::OK, admin.enable(&rid, user_id(&id)?).await?))
}

#[utoipa::path(delete, path = "/admin/users/{id}/sessions", impl_for = EndSessions, tag = "admin", security(("admin" = [])), params(("id" = String, Path, description = "the user's id")),
    responses((status = 200, description = "every session of the user ended; their access tokens are refused on every replica", body = Envelope<EndedContent>)))]
async fn end_user_sessions(
    _: AdminCaller,
    rid: RequestId,
    admin: web::Data<Admin>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let ended = admin.end_sessions(&rid, user_id(&id)?).await?;
    Ok(success(StatusCode::OK, EndedContent::new(ended)))
}

#[utoipa::path(delete, path = "/admin/users/{id}", impl_for = DeleteUser, tag = "admin", security(("admin" = [])), params(("id" = String, Path, description = "the user's id")),
    responses((status = 200, description = "the user's sessions ended, then the user and every row they own were deleted", body = Envelope<Deleted>)))]
async fn delete_user(_: AdminCaller, rid: RequestId, admin: web::Data<Admin>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    admin.delete(&rid, user_id(&id)?).await?;
    Ok(success(StatusCode::OK, Deleted { deleted: true }))
}

#[utoipa::path(get, path = "/admin/users/{id}/events", impl_for = UserEvents, tag = "admin", security(("admin" = [])),
    params(("id" = String, Path, description = "the user's id"), EventsQuery),
    responses((status = 200, description = "the user's audit trail, newest first; `next_cursor` is `null` on the last page", body = Envelope<EventPage>)))]
async fn user_events(
    _: AdminCaller,
    admin: web::Data<Admin>,
    id: web::Path<String>,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = admin.events(Some(user_id(&id)?), query.limit.unwrap_or(DEFAULT_LIMIT), query.cursor).await?;
    Ok(success(StatusCode::OK, page))
}

#[utoipa::path(get, path = "/admin/events", impl_for = AllEvents, tag = "admin", security(("admin" = [])), params(EventsQuery),
    responses((status = 200, description = "everyone's audit trail, newest first; `next_cursor` is `null` on the last page", body = Envelope<EventPage>)))]
async fn all_events(_: AdminCaller, admin: web::Data<Admin>, query: web::Query<EventsQuery>) -> Result<HttpResponse, ApiError> {
    let page = admin.events(None, query.limit.unwrap_or(DEFAULT_LIMIT), query.cursor).await?;
    Ok(success(StatusCode::OK, page))
}

#[utoipa::path(post, path = "/admin/keys/rotate", impl_for = RotateKey, tag = "admin", security(("admin" = [])),
    responses((status = 200, description = "the published next key signs from now on, here at once and on the other replicas from their next key reload; a new next key is published behind it", body = Envelope<Rotated>)))]
async fn rotate_key(_: AdminCaller, rid: RequestId, admin: web::Data<Admin>) -> Result<HttpResponse, ApiError> {
    Ok(success(StatusCode::OK, Rotated { current_kid: admin.rotate_key(&rid).await? }))
}

#[utoipa::path(post, path = "/admin/keys/{kid}/retire", impl_for = RetireKey, tag = "admin", security(("admin" = [])),
    params(("kid" = String, Path, description = "the key's id, as the JWKS and the tokens' `kid` name it")),
    responses((status = 200, description = "the key left the JWKS and the tokens it signed are refused (`INVALID_ACCESS_TOKEN`), here at once and on the other replicas as soon as the revocation channel tells them (their next key reload at the latest); if it signed, the next key does", body = Envelope<Retired>)))]
async fn retire_key(_: AdminCaller, rid: RequestId, admin: web::Data<Admin>, kid: web::Path<String>) -> Result<HttpResponse, ApiError> {
    admin.retire_key(&rid, &kid).await?;
    Ok(success(StatusCode::OK, Retired { retired: kid.into_inner() }))
}

#[utoipa::path(get, path = "/admin/openapi.json", impl_for = Document, operation_id = "admin_openapi_document", tag = "admin", security(("admin" = [])),
    responses((status = 200, description = "this document (not in the envelope: it is read by tools)", content_type = "application/json", body = Object)))]
async fn document(_: AdminCaller) -> HttpResponse {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let body = DOCUMENT.get_or_init(|| super::openapi::admin_document().to_string());
    HttpResponse::Ok().content_type("application/json").body(body.as_str())
}
