//! `GET /`, and the envelope of the framework's own rejections.

use crate::helpers::{assert_error, body, spawn_app};

#[actix_web::test]
async fn ping_answers_server_is_ok() {
    let app = spawn_app().await;
    let resp = app.get("/").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(body(resp).await, serde_json::json!({"success": true, "status": 200, "content": "server is OK"}));
}

#[actix_web::test]
async fn an_unknown_route_is_404_in_the_envelope() {
    let app = spawn_app().await;
    assert_error(app.get("/no/such/route").await, 404, "NOT_FOUND").await;
}

#[actix_web::test]
async fn a_wrong_method_is_405_in_the_envelope() {
    let app = spawn_app().await;
    assert_error(app.client.delete(app.url("/")).send().await.unwrap(), 405, "METHOD_NOT_ALLOWED").await;
    assert_error(app.get("/auth/login").await, 405, "METHOD_NOT_ALLOWED").await;
    assert_error(app.client.post(app.url("/auth/me")).send().await.unwrap(), 405, "METHOD_NOT_ALLOWED").await;
}

#[actix_web::test]
async fn a_sane_request_id_is_echoed_and_a_missing_one_generated() {
    let app = spawn_app().await;
    let resp = app.client.get(app.url("/")).header("X-Request-Id", "abc-123").send().await.unwrap();
    assert_eq!(resp.headers()["x-request-id"], "abc-123");
    let resp = app.client.get(app.url("/")).header("X-Request-Id", "bad id\twith junk").send().await.unwrap();
    let generated = resp.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(generated.len(), 32);
    assert!(generated.bytes().all(|b| b.is_ascii_hexdigit()));
}
