//! `GET /health/live` and `GET /health/ready`: liveness, and readiness of each dependency.

use actix_web::{HttpResponse, http::StatusCode, web};
use serde::Serialize;

use crate::envelope::{Envelope, success};
use crate::error::ApiError;
use crate::routes::facts::Declared;
use crate::state::AppState;

/// `content` of `GET /health/live`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LiveContent {
    status: String,
}

/// `GET /health/live`, declared.
pub struct Live;

impl Declared for Live {
    const ERRORS: &'static [&'static [ApiError]] = &[];
}

/// `GET /health/ready`, declared: its 503 is `Readiness` itself, not an `ApiError`.
pub struct Ready;

impl Declared for Ready {
    const ERRORS: &'static [&'static [ApiError]] = &[];
}

/// The process is up and serving: never depends on PostgreSQL or Redis, so an orchestrator
/// does not restart a healthy replica because a dependency is away.
#[utoipa::path(get, path = "/health/live", impl_for = Live, tag = "ops", responses((status = 200, description = "the process serves", body = Envelope<LiveContent>)))]
pub async fn live() -> HttpResponse {
    success(StatusCode::OK, LiveContent { status: "live".into() })
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Readiness {
    status: &'static str,
    checks: Checks,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_type: Option<&'static str>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Checks {
    database: &'static str,
    token_store: &'static str,
}

/// Ready when both stores answer (and the signing keys were read from the database); otherwise
/// 503 naming the one that does not.
#[utoipa::path(get, path = "/health/ready", impl_for = Ready, tag = "ops", responses(
    (status = 200, description = "the user store and the token store answer (PostgreSQL and Redis, or the embedded stores)", body = Envelope<Readiness>),
    (status = 503, description = "a dependency is down: `checks` names it; `content` also carries `error_code: SERVICE_UNAVAILABLE`", body = Envelope<Readiness>)))]
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let (db, store) = futures_util::future::join(state.services.users.ping(), state.services.tokens.ping()).await;
    // The signing keys come from the database: a replica that has not read them yet cannot
    // answer a login, so its database is not "up" for it until then.
    let db = db.is_ok() && state.services.access.can_sign();
    let word = |ok: bool| if ok { "up" } else { "down" };
    let checks = Checks { database: word(db), token_store: word(store.is_ok()) };
    if db && store.is_ok() {
        return success(StatusCode::OK, Readiness { status: "ready", checks, error_code: None, message: None, error_type: None });
    }
    let status = StatusCode::SERVICE_UNAVAILABLE;
    HttpResponse::build(status).json(Envelope {
        success: false,
        status: status.as_u16(),
        content: Readiness {
            status: "not_ready",
            checks,
            error_code: Some("SERVICE_UNAVAILABLE"),
            message: Some("a dependency is unavailable, see checks"),
            error_type: Some("ServiceError"),
        },
    })
}
