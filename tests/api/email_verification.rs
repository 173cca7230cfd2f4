//! `POST /auth/email/verify`, `/auth/email/resend`, `/auth/email` and `REQUIRE_VERIFIED_EMAIL`,
//! with the mail read from a real SMTP server.

use std::time::Duration;

use serde_json::json;

use crate::common::mail::token;
use crate::helpers::{PASSWORD, assert_error, body, spawn_app_with_mail};

const WAIT: Duration = Duration::from_secs(20);

#[actix_web::test]
async fn registering_with_an_email_mails_a_link_that_verifies_it() {
    let (app, mail) = spawn_app_with_mail(&[]).await;
    let user = app.register_user().await;
    let me = body(app.me(&user.access_token).await).await;
    assert_eq!(me["content"]["user"]["email_verified"], false);

    let message = mail.wait_for(&user.email, 1, WAIT).await.remove(0);
    assert!(message.contains("Confirm your email"), "{message}");
    let resp = app.post_json("/auth/email/verify", &json!({"token": token(&message, "/verify")})).await;
    assert_eq!(resp.status(), 200);
    let content = body(resp).await["content"].clone();
    assert_eq!(content["user"]["email_verified"], true);
    assert_eq!(content["user"]["email"], user.email.as_str());
    assert_eq!(body(app.me(&user.access_token).await).await["content"]["user"]["email_verified"], true);
    // Single use.
    let again = app.post_json("/auth/email/verify", &json!({"token": token(&message, "/verify")})).await;
    assert_error(again, 403, "INVALID_ACCOUNT_TOKEN").await;
}

#[actix_web::test]
async fn resend_mails_a_new_link_and_voids_the_old_one_until_verified() {
    let (app, mail) = spawn_app_with_mail(&[]).await;
    let user = app.register_user().await;
    let first = token(&mail.wait_for(&user.email, 1, WAIT).await[0], "/verify");
    let resp = app.post_bearer("/auth/email/resend", &user.access_token, &json!({})).await;
    assert_eq!(resp.status(), 202);
    assert_eq!(body(resp).await["content"]["queued"], true);
    let tokens: Vec<String> = mail.wait_for(&user.email, 2, WAIT).await.iter().map(|m| token(m, "/verify")).collect();
    let second = tokens.into_iter().find(|t| *t != first).expect("a second, different link");
    assert_ne!(first, second);
    assert_error(app.post_json("/auth/email/verify", &json!({"token": first})).await, 403, "INVALID_ACCOUNT_TOKEN").await;
    assert_eq!(app.post_json("/auth/email/verify", &json!({"token": second})).await.status(), 200);
    let resp = app.post_bearer("/auth/email/resend", &user.access_token, &json!({})).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(body(resp).await["content"]["queued"], false, "nothing left to verify");
}

#[actix_web::test]
async fn an_email_change_takes_effect_once_the_new_address_is_verified_and_the_old_one_is_told() {
    let (app, mail) = spawn_app_with_mail(&[]).await;
    let user = app.register_user().await;
    let other = app.register_user().await;
    let new_address = format!("new-{}", user.email);
    // The registration's verification mail goes out first (a change voids it while still queued).
    mail.wait_for(&user.email, 1, WAIT).await;

    let wrong = app.post_bearer("/auth/email", &user.access_token, &json!({"password": "not mine at all", "email": new_address})).await;
    assert_error(wrong, 401, "INVALID_CREDENTIALS").await;
    let taken = app.post_bearer("/auth/email", &user.access_token, &json!({"password": PASSWORD, "email": other.email})).await;
    assert_error(taken, 409, "EMAIL_TAKEN").await;
    let bad = app.post_bearer("/auth/email", &user.access_token, &json!({"password": PASSWORD, "email": "nope"})).await;
    assert_error(bad, 422, "INVALID_EMAIL").await;

    let resp = app.post_bearer("/auth/email", &user.access_token, &json!({"password": PASSWORD, "email": new_address})).await;
    assert_eq!(resp.status(), 202);
    assert_eq!(body(app.me(&user.access_token).await).await["content"]["user"]["email"], user.email.as_str(), "not yet");

    let link = token(&mail.wait_for(&new_address, 1, WAIT).await[0], "/verify");
    let verified = body(app.post_json("/auth/email/verify", &json!({"token": link})).await).await;
    assert_eq!(verified["content"]["user"]["email"], new_address.as_str(), "{verified}");
    assert_eq!(verified["content"]["user"]["email_verified"], true);
    let notices = mail.wait_for(&user.email, 2, WAIT).await;
    assert!(notices.iter().any(|m| m.contains("changed") && crate::common::mail::decoded(m).contains(&new_address)), "{notices:?}");
    assert_eq!(app.login(&json!({"email": new_address, "password": PASSWORD})).await.status(), 200);
}

#[actix_web::test]
async fn with_verified_email_required_an_unverified_account_cannot_log_in_until_it_verifies() {
    let (app, mail) = spawn_app_with_mail(&[("REQUIRE_VERIFIED_EMAIL", "true")]).await;
    let user = app.register_user().await;
    let login = json!({"username": user.username, "password": PASSWORD});
    assert_error(app.login(&login).await, 403, "EMAIL_NOT_VERIFIED").await;
    // A wrong password learns nothing about verification.
    assert_error(app.login(&json!({"username": user.username, "password": "a wrong password"})).await, 401, "INVALID_CREDENTIALS").await;
    let link = token(&mail.wait_for(&user.email, 1, WAIT).await[0], "/verify");
    assert_eq!(app.post_json("/auth/email/verify", &json!({"token": link})).await.status(), 200);
    assert_eq!(app.login(&login).await.status(), 200);
}

#[actix_web::test]
async fn without_the_switch_an_unverified_account_logs_in() {
    let (app, _mail) = spawn_app_with_mail(&[]).await;
    let user = app.register_user().await;
    assert_eq!(app.login(&json!({"username": user.username, "password": PASSWORD})).await.status(), 200);
}
