//! `POST /auth/password/forgot` and `/auth/password/reset`, with the mail read from a real SMTP
//! server and its link followed.

use std::time::Duration;

use serde_json::json;

use crate::common::mail::{link, token};
use crate::helpers::{PASSWORD, assert_error, body, spawn_app_with_mail};

const NEW_PASSWORD: &str = "a brand new passphrase";
const WAIT: Duration = Duration::from_secs(20);

#[actix_web::test]
async fn a_forgotten_password_is_reset_through_the_mailed_link() {
    let (app, mail) = spawn_app_with_mail(&[("APP_URL", "https://app.example")]).await;
    let user = app.register_user().await;

    let resp = app.post_json("/auth/password/forgot", &json!({"email": user.email})).await;
    assert_eq!(resp.status(), 202);
    let message = reset_mail(&mail, &user.email, 1).await;
    let url = link(&message, "/reset");
    assert!(url.starts_with("https://app.example/reset?token="), "{url}");
    assert!(message.contains("Content-Type: text/plain") && message.contains("Content-Type: text/html"), "both bodies");

    let resp = app.post_json("/auth/password/reset", &json!({"token": token(&message, "/reset"), "password": NEW_PASSWORD})).await;
    assert_eq!(resp.status(), 200);
    assert!(app.refresh_cookie(&resp).is_some(), "answers like a login");
    let content = body(resp).await["content"].clone();
    assert_eq!(content["user"]["id"], user.user_id.as_str());
    assert_eq!(content["user"]["email_verified"], true, "the mailbox was proven");
    assert!(content["access_token"].as_str().is_some());

    // Every earlier session ended, its access tokens refused at once; the old password is gone,
    // the new one works.
    assert_error(app.me(&user.access_token).await, 401, "SESSION_REVOKED").await;
    assert_error(app.refresh(&user.refresh).await, 401, "INVALID_REFRESH_TOKEN").await;
    assert_error(app.login(&json!({"username": user.username, "password": PASSWORD})).await, 401, "INVALID_CREDENTIALS").await;
    assert_eq!(app.login(&json!({"username": user.username, "password": NEW_PASSWORD})).await.status(), 200);
}

/// The reset mail of `email`, once it arrived (the registration's verification mail aside).
async fn reset_mail(mail: &crate::common::mail::MailCatcher, email: &str, nth: usize) -> String {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let resets: Vec<String> = mail.messages_to(email).into_iter().filter(|m| m.contains("Reset your")).collect();
        if resets.len() >= nth {
            return resets[nth - 1].clone();
        }
        assert!(std::time::Instant::now() < deadline, "reset mail {nth} for {email} never came");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn a_reset_token_works_once() {
    let (app, mail) = spawn_app_with_mail(&[]).await;
    let user = app.register_user().await;
    app.post_json("/auth/password/forgot", &json!({"email": user.email})).await;
    let token = token(&reset_mail(&mail, &user.email, 1).await, "/reset");
    assert_eq!(app.post_json("/auth/password/reset", &json!({"token": token, "password": NEW_PASSWORD})).await.status(), 200);
    let again = app.post_json("/auth/password/reset", &json!({"token": token, "password": "yet another passphrase"})).await;
    assert_error(again, 403, "INVALID_ACCOUNT_TOKEN").await;
}

#[actix_web::test]
async fn a_newer_request_voids_the_older_link() {
    let (app, mail) = spawn_app_with_mail(&[]).await;
    let user = app.register_user().await;
    app.post_json("/auth/password/forgot", &json!({"email": user.email})).await;
    let first = token(&reset_mail(&mail, &user.email, 1).await, "/reset");
    app.post_json("/auth/password/forgot", &json!({"email": user.email})).await;
    let second = token(&reset_mail(&mail, &user.email, 2).await, "/reset");
    assert_ne!(first, second);
    assert_error(
        app.post_json("/auth/password/reset", &json!({"token": first, "password": NEW_PASSWORD})).await,
        403,
        "INVALID_ACCOUNT_TOKEN",
    )
    .await;
    assert_eq!(app.post_json("/auth/password/reset", &json!({"token": second, "password": NEW_PASSWORD})).await.status(), 200);
}

#[actix_web::test]
async fn an_expired_link_is_refused() {
    let (app, mail) = spawn_app_with_mail(&[("PASSWORD_RESET_TTL", "1")]).await;
    let user = app.register_user().await;
    app.post_json("/auth/password/forgot", &json!({"email": user.email})).await;
    let token = token(&reset_mail(&mail, &user.email, 1).await, "/reset");
    actix_web::rt::time::sleep(Duration::from_millis(1100)).await;
    assert_error(
        app.post_json("/auth/password/reset", &json!({"token": token, "password": NEW_PASSWORD})).await,
        403,
        "INVALID_ACCOUNT_TOKEN",
    )
    .await;
    assert_eq!(app.login(&json!({"username": user.username, "password": PASSWORD})).await.status(), 200, "the password stayed");
}

#[actix_web::test]
async fn an_unknown_address_gets_the_same_answer_and_no_mail() {
    let (app, mail) = spawn_app_with_mail(&[]).await;
    let user = app.register_user().await;
    let known = body(app.post_json("/auth/password/forgot", &json!({"email": user.email})).await).await;
    let resp = app.post_json("/auth/password/forgot", &json!({"email": "nobody-here@example.com"})).await;
    assert_eq!(resp.status(), 202);
    assert_eq!(body(resp).await, known);
    reset_mail(&mail, &user.email, 1).await;
    assert!(mail.messages_to("nobody-here@example.com").is_empty());
}

#[actix_web::test]
async fn a_verification_token_or_a_made_up_one_cannot_reset_a_password() {
    let (app, mail) = spawn_app_with_mail(&[]).await;
    let user = app.register_user().await;
    let verification = mail.wait_for(&user.email, 1, WAIT).await.remove(0);
    let verify_token = token(&verification, "/verify");
    for token in [verify_token.clone(), "A".repeat(43), "not a token".to_string()] {
        let resp = app.post_json("/auth/password/reset", &json!({"token": token, "password": NEW_PASSWORD})).await;
        assert_error(resp, 403, "INVALID_ACCOUNT_TOKEN").await;
    }
    // The verification token was not spent by the attempt.
    assert_eq!(app.post_json("/auth/email/verify", &json!({"token": verify_token})).await.status(), 200);
}

#[actix_web::test]
async fn bad_input_is_refused_with_a_clear_4xx() {
    let (app, _mail) = spawn_app_with_mail(&[]).await;
    assert_error(app.post_json("/auth/password/forgot", &json!({"email": "not an address"})).await, 422, "INVALID_EMAIL").await;
    assert_error(app.post_json("/auth/password/forgot", &json!({})).await, 400, "INVALID_JSON").await;
    let weak = app.post_json("/auth/password/reset", &json!({"token": "A".repeat(43), "password": "short"})).await;
    assert_error(weak, 422, "PASSWORD_TOO_SHORT").await;
}

#[actix_web::test]
async fn forgot_is_throttled_per_address() {
    let (app, _mail) = spawn_app_with_mail(&[("THROTTLE_PER_ACCOUNT", "2")]).await;
    for _ in 0..2 {
        assert_eq!(app.post_json("/auth/password/forgot", &json!({"email": "someone@example.com"})).await.status(), 202);
    }
    let resp = app.post_json("/auth/password/forgot", &json!({"email": "someone@example.com"})).await;
    assert!(resp.headers().contains_key("retry-after"));
    assert_error(resp, 429, "RATE_LIMITED").await;
}
