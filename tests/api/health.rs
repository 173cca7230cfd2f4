//! `GET /health/live` and `GET /health/ready`.

use crate::helpers::{body, spawn_app};

#[actix_web::test]
async fn liveness_is_ok() {
    let app = spawn_app().await;
    let resp = app.get("/health/live").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(body(resp).await["content"]["status"], "live");
}

#[actix_web::test]
async fn readiness_reports_both_dependencies_up() {
    let app = spawn_app().await;
    let resp = app.get("/health/ready").await;
    assert_eq!(resp.status(), 200);
    let body = body(resp).await;
    assert_eq!(body["content"]["status"], "ready");
    assert_eq!(body["content"]["checks"]["database"], "up");
    assert_eq!(body["content"]["checks"]["token_store"], "up");
}

#[actix_web::test]
async fn readiness_names_an_unreachable_token_store() {
    // A port nothing listens on: the service starts anyway and reports the store as down.
    let app = crate::helpers::spawn_app_with(&[("REDIS_URL", "redis://127.0.0.1:1"), ("DEPENDENCY_TIMEOUT_MS", "1000")]).await;
    let resp = app.get("/health/ready").await;
    let body = crate::helpers::assert_error(resp, 503, "SERVICE_UNAVAILABLE").await;
    assert_eq!(body["content"]["checks"]["database"], "up");
    assert_eq!(body["content"]["checks"]["token_store"], "down");
}
