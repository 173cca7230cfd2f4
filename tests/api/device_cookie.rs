//! The device cookie: a browser that logged into an account before is not locked out of it by
//! strangers' guesses, and gets its own limit.

use std::collections::HashMap;

use gatehouse::config::Config;
use gatehouse::device_cookie::DeviceCookie;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_cookie_attributes, assert_error, spawn_app_with};

/// A small per-account limit, and a per-IP one high enough never to interfere.
async fn spawn_throttled_app() -> TestApp {
    spawn_app_with(&[("THROTTLE_PER_ACCOUNT", "3"), ("THROTTLE_LOGIN_PER_IP", "1000")]).await
}

fn credentials(username: &str, password: &str) -> Value {
    json!({"username": username, "password": password})
}

/// Logs `username` in with the right password and returns the device cookie the login set.
async fn device_of(app: &TestApp, username: &str) -> String {
    let resp = app.login(&credentials(username, PASSWORD)).await;
    assert_eq!(resp.status(), 200);
    app.device_cookie(&resp).expect("a login sets the device cookie").value
}

/// Wrong guesses without a device cookie until the account is locked for strangers.
async fn lock_out_strangers(app: &TestApp, username: &str) {
    for _ in 0..3 {
        assert_error(app.login(&credentials(username, "an attacker's guess")).await, 401, "INVALID_CREDENTIALS").await;
    }
    assert_error(app.login(&credentials(username, PASSWORD)).await, 429, "RATE_LIMITED").await;
}

#[actix_web::test]
async fn the_owner_with_a_device_cookie_logs_in_while_strangers_are_locked_out() {
    let app = spawn_throttled_app().await;
    let user = app.register_user().await;
    let login = app.login(&credentials(&user.username, PASSWORD)).await;
    let device = app.device_cookie(&login).expect("a login sets the device cookie");
    assert_cookie_attributes(&device);
    assert!(device.has(&format!("Max-Age={}", 365 * 24 * 3600)), "{device:?}");
    lock_out_strangers(&app, &user.username).await;

    let resp = app.login_from_device(&credentials(&user.username, PASSWORD), &device.value).await;
    assert_eq!(resp.status(), 200);
    let renewed = app.device_cookie(&resp).expect("a login from a known device renews its cookie");
    assert_ne!(renewed.value, device.value);
    // Strangers stay locked out.
    assert_error(app.login(&credentials(&user.username, PASSWORD)).await, 429, "RATE_LIMITED").await;
}

#[actix_web::test]
async fn a_device_cookie_holder_who_guesses_wrong_is_throttled_on_their_own_counter() {
    let app = spawn_throttled_app().await;
    let user = app.register_user().await;
    let device = device_of(&app, &user.username).await;
    for _ in 0..3 {
        assert_error(app.login_from_device(&credentials(&user.username, "a wrong guess"), &device).await, 401, "INVALID_CREDENTIALS").await;
    }
    assert_error(app.login_from_device(&credentials(&user.username, PASSWORD), &device).await, 429, "RATE_LIMITED").await;
    // Its guesses were not counted against the account's other clients.
    assert_eq!(app.login(&credentials(&user.username, PASSWORD)).await.status(), 200);
}

#[actix_web::test]
async fn a_forged_or_tampered_device_cookie_does_not_bypass_the_lock() {
    let app = spawn_throttled_app().await;
    let user = app.register_user().await;
    let device = device_of(&app, &user.username).await;
    lock_out_strangers(&app, &user.username).await;

    let flip = |at: usize| {
        let mut bytes = device.clone().into_bytes();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).unwrap()
    };
    let other_secret = HashMap::from([("JWT_SECRET".to_string(), "a secret that is not this server's one".to_string())]);
    let other_key = DeviceCookie::from_config(&Config::from_map(&other_secret).unwrap(), b"a secret that is not this server's one");
    let user_id = user.user_id.parse().unwrap();
    let forgeries = [
        flip(5),                                        // inside the payload (the user id)
        flip(device.len() - 3),                         // inside the MAC
        format!("{device}x"),                           // a longer MAC
        device.rsplit_once('.').unwrap().0.to_string(), // no MAC at all
        other_key.issue(user_id).value().to_string(),   // signed under another key
        "d1.junk.junk".to_string(),
    ];
    for forged in forgeries {
        assert_ne!(forged, device);
        assert_error(app.login_from_device(&credentials(&user.username, PASSWORD), &forged).await, 429, "RATE_LIMITED").await;
    }
    // The genuine cookie still works.
    assert_eq!(app.login_from_device(&credentials(&user.username, PASSWORD), &device).await.status(), 200);
}

#[actix_web::test]
async fn a_device_cookie_for_one_account_does_not_help_another() {
    let app = spawn_throttled_app().await;
    let (alice, bob) = (app.register_user().await, app.register_user().await);
    let alices_device = device_of(&app, &alice.username).await;
    lock_out_strangers(&app, &bob.username).await;
    assert_error(app.login_from_device(&credentials(&bob.username, PASSWORD), &alices_device).await, 429, "RATE_LIMITED").await;
}

#[actix_web::test]
async fn registration_sets_a_device_cookie_for_the_new_account() {
    let app = spawn_throttled_app().await;
    let resp = app.register(&json!({"username": "fresh-device", "password": PASSWORD})).await;
    assert_eq!(resp.status(), 201);
    let device = app.device_cookie(&resp).expect("registration sets the device cookie");
    assert_cookie_attributes(&device);
    lock_out_strangers(&app, "fresh-device").await;
    assert_eq!(app.login_from_device(&credentials("fresh-device", PASSWORD), &device.value).await.status(), 200);
}
