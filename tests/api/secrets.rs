//! No secret in clear anywhere: not in logs, not in responses, not in storage; and password
//! hashes are upgraded when the configured parameters grow.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use serde_json::json;

use crate::helpers::{PASSWORD, body, refresh_cookie, spawn_app, spawn_app_with};

/// Collects every log record of this process.
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        self.0.lock().unwrap().push(format!("{} {} {}", record.level(), record.target(), record.args()));
    }
    fn flush(&self) {}
}

fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture: &'static Capture = Box::leak(Box::new(Capture(Mutex::new(Vec::new()))));
        log::set_logger(capture).expect("no other logger in the test binary");
        log::set_max_level(log::LevelFilter::Trace);
        capture
    })
}

#[actix_web::test]
async fn no_password_token_hash_or_cookie_reaches_the_logs() {
    let logs = capture();
    let app = spawn_app().await;
    let user = app.register_user().await;
    let login = app.login(&json!({"username": user.username, "password": PASSWORD})).await;
    let login_cookie = refresh_cookie(&login).unwrap().value;
    let device = app.device_cookie(&login).unwrap().value;
    app.login_from_device(&json!({"username": user.username, "password": "a wrong password"}), &device).await;
    let access = body(login).await["content"]["access_token"].as_str().unwrap().to_string();
    let rotated = refresh_cookie(&app.refresh(&login_cookie).await).unwrap().value;
    app.me(&access).await;
    app.login(&json!({"username": user.username, "password": "a wrong password"})).await;
    app.refresh(&login_cookie).await; // inside the grace window
    app.refresh(&user.refresh).await; // replaced by the login: invalid
    app.logout(&rotated).await;
    let hash = app.password_hash_of(&user.username).await;

    let lines = logs.0.lock().unwrap().join("\n");
    assert!(lines.contains(&format!("login user_id={}", user.user_id)), "auth events are logged with the user id");
    assert!(lines.contains("POST /auth/login 401"), "request lines are logged");
    let secrets =
        [PASSWORD, "a wrong password", &user.access_token, &access, &user.refresh, &login_cookie, &rotated, &device, &hash, "$argon2"];
    for secret in secrets {
        assert!(!lines.contains(secret), "a secret reached the logs");
    }
}

#[actix_web::test]
async fn a_weaker_stored_hash_is_upgraded_at_the_next_login() {
    let old = spawn_app().await;
    let user = old.register_user().await;
    assert!(old.password_hash_of(&user.username).await.contains("m=1024,t=1,p=1"));

    let database_url = old.database_url();
    let stronger = spawn_app_with(&[("DATABASE_URL", database_url.as_str()), ("ARGON2_M_KIB", "2048"), ("ARGON2_T", "2")]).await;
    let resp = stronger.login(&json!({"username": user.username, "password": PASSWORD})).await;
    assert_eq!(resp.status(), 200);
    let mut upgraded = String::new();
    for _ in 0..50 {
        upgraded = stronger.password_hash_of(&user.username).await;
        if upgraded.contains("m=2048,t=2,p=1") {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(upgraded.starts_with("$argon2id$v=19$m=2048,t=2,p=1$"), "{upgraded}");
    assert_eq!(stronger.login(&json!({"username": user.username, "password": PASSWORD})).await.status(), 200);
}

#[actix_web::test]
async fn no_response_carrying_a_token_or_user_data_may_be_cached() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let login = app.login(&json!({"username": user.username, "password": PASSWORD})).await;
    let cookie = refresh_cookie(&login).unwrap().value;
    let responses = [
        ("login", login),
        ("refresh", app.refresh(&cookie).await),
        ("me", app.me(&user.access_token).await),
        ("a refused token", app.me("not.a.token").await),
    ];
    for (what, resp) in responses {
        assert_eq!(resp.headers().get("cache-control").map(|v| v.to_str().unwrap()), Some("no-store"), "{what}");
    }
}
