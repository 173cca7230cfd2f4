//! `POST /auth/password`: a signed-in user changes the password.

use serde_json::json;

use crate::helpers::{PASSWORD, assert_error, body, spawn_app};

const NEW_PASSWORD: &str = "a brand new passphrase";

#[actix_web::test]
async fn a_password_change_ends_other_sessions_and_keeps_the_callers() {
    let app = crate::helpers::spawn_app_with(&[("SESSIONS_PER_USER", "2")]).await;
    let user = app.register_user().await;
    // A second device of the same user.
    let other = body(app.login(&json!({"username": user.username, "password": PASSWORD})).await).await["content"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(app.me(&other).await.status(), 200);
    let resp =
        app.post_bearer("/auth/password", &user.access_token, &json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD})).await;
    assert_eq!(resp.status(), 200);
    let fresh = app.refresh_cookie(&resp).expect("a rotated refresh cookie").value;
    assert_ne!(fresh, user.refresh);
    let content = body(resp).await["content"].clone();
    assert_eq!(content["user"]["id"], user.user_id.as_str());
    let access = content["access_token"].as_str().unwrap().to_string();

    // The other device's access token is refused at once, not at its expiry; the caller's new one works.
    assert_error(app.me(&other).await, 401, "SESSION_REVOKED").await;
    assert_eq!(app.me(&access).await.status(), 200);
    assert_error(app.refresh(&user.refresh).await, 401, "INVALID_REFRESH_TOKEN").await;
    assert_eq!(app.refresh(&fresh).await.status(), 200, "the caller's session continues");
    assert_error(app.login(&json!({"username": user.username, "password": PASSWORD})).await, 401, "INVALID_CREDENTIALS").await;
    assert_eq!(app.login(&json!({"username": user.username, "password": NEW_PASSWORD})).await.status(), 200);
}

#[actix_web::test]
async fn a_wrong_current_password_is_refused_and_counted() {
    let app = crate::helpers::spawn_app_with(&[("THROTTLE_PER_ACCOUNT", "2")]).await;
    let user = app.register_user().await;
    let change = json!({"current_password": "not my password", "new_password": NEW_PASSWORD});
    for _ in 0..2 {
        assert_error(app.post_bearer("/auth/password", &user.access_token, &change).await, 401, "INVALID_CREDENTIALS").await;
    }
    // The account's throttle is the login's: a third wrong guess is refused before any hash.
    assert_error(app.post_bearer("/auth/password", &user.access_token, &change).await, 429, "RATE_LIMITED").await;
    assert_error(app.login(&json!({"username": user.username, "password": PASSWORD})).await, 429, "RATE_LIMITED").await;
}

#[actix_web::test]
async fn the_new_password_meets_the_policy_and_a_token_is_required() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let weak = json!({"current_password": PASSWORD, "new_password": "short"});
    assert_error(app.post_bearer("/auth/password", &user.access_token, &weak).await, 422, "PASSWORD_TOO_SHORT").await;
    let common = json!({"current_password": PASSWORD, "new_password": "password123"});
    assert_error(app.post_bearer("/auth/password", &user.access_token, &common).await, 422, "PASSWORD_TOO_COMMON").await;
    let anonymous = app.post_json("/auth/password", &json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD})).await;
    assert_error(anonymous, 401, "MISSING_ACCESS_TOKEN").await;
}
