//! `DELETE /auth/me`: an account and everything it owns, gone.

use serde_json::json;

use crate::helpers::{PASSWORD, assert_error, body, spawn_app, spawn_app_with_mail};

#[actix_web::test]
async fn a_deleted_account_loses_its_sessions_tokens_and_name() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    assert_error(app.delete_me(&user.access_token, "not my password").await, 401, "INVALID_CREDENTIALS").await;

    let resp = app.delete_me(&user.access_token, PASSWORD).await;
    assert_eq!(resp.status(), 200);
    let cleared = app.refresh_cookie(&resp).expect("the refresh cookie is cleared");
    assert!(cleared.value.is_empty());
    assert_eq!(body(resp).await["success"], true);

    // Its access token is refused at once (the session ended with the account), not at expiry.
    assert_error(app.me(&user.access_token).await, 401, "SESSION_REVOKED").await;
    assert_error(app.refresh(&user.refresh).await, 401, "INVALID_REFRESH_TOKEN").await;
    assert_error(app.login(&json!({"username": user.username, "password": PASSWORD})).await, 401, "INVALID_CREDENTIALS").await;
    assert_error(app.delete_me(&user.access_token, PASSWORD).await, 401, "SESSION_REVOKED").await;
    // The name and address are free again.
    let again = app.register(&json!({"username": user.username, "email": user.email, "password": PASSWORD})).await;
    assert_eq!(again.status(), 201);
}

#[actix_web::test]
async fn a_deleted_accounts_pending_links_and_mail_go_with_it() {
    // The mail server is stopped: the verification mail stays queued until the account goes.
    let (app, mut mail) = spawn_app_with_mail(&[]).await;
    mail.stop();
    let user = app.register_user().await;
    assert_eq!(app.post_json("/auth/password/forgot", &json!({"email": user.email})).await.status(), 202);
    assert_eq!(app.delete_me(&user.access_token, PASSWORD).await.status(), 200);
    mail.restart();
    // A later mail to someone else goes out; nothing queued for the deleted user ever does.
    let other = app.register_user().await;
    mail.wait_for(&other.email, 1, std::time::Duration::from_secs(20)).await;
    assert!(mail.messages_to(&user.email).is_empty(), "mail queued for a deleted user was sent");
}

#[actix_web::test]
async fn deletion_needs_a_token_and_a_password() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let anonymous = app.client.delete(app.url("/auth/me")).json(&json!({"password": PASSWORD})).send().await.unwrap();
    assert_error(anonymous, 401, "MISSING_ACCESS_TOKEN").await;
    let no_body = app.client.delete(app.url("/auth/me")).bearer_auth(&user.access_token).json(&json!({})).send().await.unwrap();
    assert_error(no_body, 400, "INVALID_JSON").await;
    assert_eq!(app.me(&user.access_token).await.status(), 200, "still there");
}
