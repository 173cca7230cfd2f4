//! The original demo's client, request for request.
//!
//! Its password, "fishcake", is among the 10,000 most common passwords that registration
//! refuses by default; `PASSWORD_DENYLIST=false` accepts its registration unchanged.

use serde_json::json;

use crate::helpers::{assert_error, body, refresh_cookie, spawn_app, spawn_app_with};

#[actix_web::test]
async fn by_default_the_demos_common_password_is_refused_at_registration() {
    let app = spawn_app().await;
    let resp = app.register(&json!({"username": "John Doe", "email": "johndoe@gmail.com", "password": "fishcake"})).await;
    assert_error(resp, 422, "PASSWORD_TOO_COMMON").await;
}

#[actix_web::test]
async fn the_demo_clients_requests_all_succeed_without_the_denylist() {
    let app = spawn_app_with(&[("PASSWORD_DENYLIST", "false")]).await;
    let resp = app.register(&json!({"username": "John Doe", "email": "johndoe@gmail.com", "password": "fishcake"})).await;
    assert_eq!(resp.status(), 201);

    let resp = app.login(&json!({"email": "johndoe@gmail.com", "password": "fishcake"})).await;
    assert_eq!(resp.status(), 200);
    let cookie = refresh_cookie(&resp).unwrap().value;
    let body = body(resp).await;
    assert_eq!(body["content"]["user"]["username"], "John Doe");
    let access = body["content"]["access_token"].as_str().unwrap().to_string();

    let resp = app.client.get(app.url("/auth/me")).header("Authorization", format!("Bearer {access}")).send().await.unwrap();
    assert_eq!(resp.status(), 200);

    let resp =
        app.client.get(app.url("/auth/refreshAccessToken")).header("Cookie", app.refresh_cookie_header(&cookie)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(crate::helpers::body(resp).await["content"]["access_token"].is_string());
}
