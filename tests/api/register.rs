//! `POST /auth/register`.

use serde_json::json;

use crate::helpers::{PASSWORD, assert_cookie_attributes, assert_error, body, refresh_cookie, spawn_app, spawn_app_with};

#[actix_web::test]
async fn register_returns_201_with_the_user_an_access_token_and_the_cookie() {
    let app = spawn_app().await;
    let resp = app.register(&json!({"username": "alice", "email": "alice@example.com", "password": PASSWORD})).await;
    assert_eq!(resp.status(), 201);
    let cookie = refresh_cookie(&resp).expect("refresh cookie");
    assert_cookie_attributes(&cookie);
    assert!(cookie.has("Max-Age=900"));
    assert!(!cookie.has("Secure"), "Secure is off by default");
    let body = body(resp).await;
    assert_eq!(body["success"], true);
    assert_eq!(body["status"], 201);
    let content = &body["content"];
    assert_eq!(content["user"]["username"], "alice");
    assert_eq!(content["user"]["email"], "alice@example.com");
    assert!(content["user"]["id"].as_str().unwrap().parse::<uuid::Uuid>().is_ok());
    assert!(content["user"]["created_at"].as_str().is_some());
    assert_eq!(content["token_type"], "Bearer");
    assert_eq!(content["expires_in"], 300);
    assert!(content["access_token"].as_str().unwrap().split('.').count() == 3);
    let text = body.to_string();
    assert!(!text.contains("argon2") && !text.contains(PASSWORD), "no hash or password in the response");
}

#[actix_web::test]
async fn the_email_is_optional() {
    let app = spawn_app().await;
    let resp = app.register(&json!({"username": "bob", "password": PASSWORD})).await;
    assert_eq!(resp.status(), 201);
    assert_eq!(body(resp).await["content"]["user"]["email"], serde_json::Value::Null);
}

#[actix_web::test]
async fn cookies_are_secure_when_configured() {
    let app = spawn_app_with(&[("COOKIE_SECURE", "true"), ("COOKIE_SAMESITE", "Strict")]).await;
    let resp = app.register(&json!({"username": "carol", "password": PASSWORD})).await;
    let cookie = refresh_cookie(&resp).unwrap();
    assert!(cookie.has("Secure") && cookie.has("SameSite=Strict") && cookie.has("HttpOnly"), "{cookie:?}");
}

#[actix_web::test]
async fn usernames_are_unique_whatever_their_case() {
    let app = spawn_app().await;
    assert_eq!(app.register(&json!({"username": "Dave", "password": PASSWORD})).await.status(), 201);
    assert_error(app.register(&json!({"username": "dAVE", "password": PASSWORD})).await, 409, "USERNAME_TAKEN").await;
}

#[actix_web::test]
async fn emails_are_unique_whatever_their_case() {
    let app = spawn_app().await;
    assert_eq!(app.register(&json!({"username": "erin", "email": "erin@example.com", "password": PASSWORD})).await.status(), 201);
    let resp = app.register(&json!({"username": "erin2", "email": "ERIN@example.com", "password": PASSWORD})).await;
    assert_error(resp, 409, "EMAIL_TAKEN").await;
}

#[actix_web::test]
async fn invalid_fields_are_422_with_their_own_codes() {
    let app = spawn_app().await;
    let cases = [
        (json!({"username": "ab", "password": PASSWORD}), "INVALID_USERNAME_LENGTH"),
        (json!({"username": "a".repeat(33), "password": PASSWORD}), "INVALID_USERNAME_LENGTH"),
        (json!({"username": "bad<name>", "password": PASSWORD}), "INVALID_USERNAME_CHARACTERS"),
        (json!({"username": "x'; DROP TABLE users;--", "password": PASSWORD}), "INVALID_USERNAME_CHARACTERS"),
        (json!({"username": "frank", "email": "not-an-email", "password": PASSWORD}), "INVALID_EMAIL"),
        (json!({"username": "frank", "email": format!("{}@example.com", "a".repeat(250)), "password": PASSWORD}), "EMAIL_TOO_LONG"),
        (json!({"username": "frank", "password": "short"}), "PASSWORD_TOO_SHORT"),
        (json!({"username": "frank", "password": "p".repeat(129)}), "PASSWORD_TOO_LONG"),
    ];
    for (request, code) in cases {
        let body = assert_error(app.register(&request).await, 422, code).await;
        assert_eq!(body["content"]["error_type"], "ValidationError");
    }
}

#[actix_web::test]
async fn malformed_bodies_are_4xx_in_the_envelope() {
    let app = spawn_app().await;
    let post = |body: &'static str, content_type: &'static str| {
        app.client.post(app.url("/auth/register")).header("Content-Type", content_type).body(body).send()
    };
    assert_error(post("{not json", "application/json").await.unwrap(), 400, "INVALID_JSON").await;
    assert_error(post(r#"{"username": "gina"}"#, "application/json").await.unwrap(), 400, "INVALID_JSON").await;
    assert_error(post(r#"{"username": 5, "password": "x"}"#, "application/json").await.unwrap(), 400, "INVALID_JSON").await;
    assert_error(post(r#"{"username":"gina","password":"pppppppp","admin":true}"#, "application/json").await.unwrap(), 400, "INVALID_JSON")
        .await;
    assert_error(post(r#"{"username":"gina","password":"pppppppp"}"#, "text/plain").await.unwrap(), 415, "UNSUPPORTED_MEDIA_TYPE").await;
    let huge = format!(r#"{{"username":"gina","password":"{}"}}"#, "p".repeat(20_000));
    let resp = app.client.post(app.url("/auth/register")).header("Content-Type", "application/json").body(huge).send().await.unwrap();
    assert_error(resp, 413, "PAYLOAD_TOO_LARGE").await;
}

#[actix_web::test]
async fn concurrent_registrations_of_one_name_have_exactly_one_winner() {
    // The per-account throttle would refuse the later attempts: this test is about the race.
    let app = spawn_app_with(&[("THROTTLE_PER_ACCOUNT", "0")]).await;
    let bodies: Vec<_> = (0..12).map(|i| json!({"username": if i % 2 == 0 { "Race" } else { "race" }, "password": PASSWORD})).collect();
    let attempts = bodies.iter().map(|b| app.register(b));
    let statuses: Vec<u16> = futures_util::future::join_all(attempts).await.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 11, "{statuses:?}");
}
