//! `POST /auth/login`.

use serde_json::json;

use crate::helpers::{PASSWORD, assert_cookie_attributes, assert_error, body, refresh_cookie, spawn_app};

#[actix_web::test]
async fn login_by_email_or_username_returns_a_session() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    for request in [
        json!({"email": user.email, "password": PASSWORD}),
        json!({"username": user.username, "password": PASSWORD}),
        json!({"username": user.username.to_uppercase(), "password": PASSWORD}),
    ] {
        let resp = app.login(&request).await;
        assert_eq!(resp.status(), 200, "{request}");
        assert_cookie_attributes(&refresh_cookie(&resp).unwrap());
        let body = body(resp).await;
        assert_eq!(body["content"]["user"]["id"], user.user_id.as_str());
        assert_eq!(body["content"]["token_type"], "Bearer");
        assert!(body["content"]["access_token"].is_string());
    }
}

#[actix_web::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_answer() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let wrong =
        assert_error(app.login(&json!({"email": user.email, "password": "not the password"})).await, 401, "INVALID_CREDENTIALS").await;
    let unknown =
        assert_error(app.login(&json!({"email": "nobody@example.com", "password": PASSWORD})).await, 401, "INVALID_CREDENTIALS").await;
    let impossible =
        assert_error(app.login(&json!({"username": "<no such name>", "password": PASSWORD})).await, 401, "INVALID_CREDENTIALS").await;
    assert_eq!(wrong, unknown);
    assert_eq!(wrong, impossible);
}

#[actix_web::test]
async fn a_login_needs_an_identifier() {
    let app = spawn_app().await;
    assert_error(app.login(&json!({"password": PASSWORD})).await, 422, "MISSING_IDENTIFIER").await;
    assert_error(app.login(&json!({"username": "someone"})).await, 400, "INVALID_JSON").await;
}

#[actix_web::test]
async fn a_new_login_replaces_the_previous_refresh_token() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let resp = app.login(&json!({"username": user.username, "password": PASSWORD})).await;
    let second = refresh_cookie(&resp).unwrap().value;
    assert_error(app.refresh(&user.refresh).await, 401, "INVALID_REFRESH_TOKEN").await;
    assert_eq!(app.refresh(&second).await.status(), 200);
}
