//! No secret in clear anywhere: not in logs, not in responses, not in storage; and password
//! hashes are upgraded when the configured parameters grow.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use serde_json::json;

use crate::helpers::{PASSWORD, body, refresh_cookie, spawn_app, spawn_app_with};

/// Collects every log record of this process, at every level and from every crate (gatehouse,
/// sqlx, redis, actix, the HTTP codecs, the test's own client): `log`'s filter is opened to
/// `trace` and nothing is filtered by target.
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

/// A request with the request id `rid`, so that its log lines can be picked out.
fn with_rid(builder: reqwest::RequestBuilder, rid: &str, cookies: &[(&str, &str)]) -> reqwest::RequestBuilder {
    let builder = builder.header("x-request-id", rid);
    if cookies.is_empty() {
        return builder;
    }
    builder.header("Cookie", cookies.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("; "))
}

#[actix_web::test]
async fn a_whole_session_logged_at_trace_leaks_no_secret_and_its_auth_events_carry_the_request_id() {
    let logs = capture();
    // No reuse grace, so that presenting a rotated token again is a replay at once; two
    // attempts per account, so that a third on one name is throttled.
    let app = spawn_app_with(&[("REFRESH_REUSE_GRACE", "0"), ("THROTTLE_PER_ACCOUNT", "2")]).await;
    let (jwt, device_name) = (app.config.cookies.name.clone(), app.device_cookie_name());
    let username = format!("trace{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let credentials = json!({"username": username, "password": PASSWORD});
    let wrong = json!({"username": username, "password": "a wrong password"});
    let send = |builder: reqwest::RequestBuilder| async move { builder.send().await.unwrap() };

    let registered = send(with_rid(app.client.post(app.url("/auth/register")), "rid-register", &[]).json(&credentials)).await;
    assert_eq!(registered.status(), 201);
    let first = refresh_cookie(&registered).unwrap().value;
    let device = app.device_cookie(&registered).unwrap().value;
    let first_access = body(registered).await["content"]["access_token"].as_str().unwrap().to_string();

    let login = send(with_rid(app.client.post(app.url("/auth/login")), "rid-login", &[(&device_name, &device)]).json(&credentials)).await;
    assert_eq!(login.status(), 200);
    let second = refresh_cookie(&login).unwrap().value;
    let second_device = app.device_cookie(&login).unwrap().value;
    let second_access = body(login).await["content"]["access_token"].as_str().unwrap().to_string();

    let refreshed = send(with_rid(app.client.post(app.url("/auth/refresh")), "rid-refresh", &[(&jwt, &second)])).await;
    assert_eq!(refreshed.status(), 200);
    let third = refresh_cookie(&refreshed).unwrap().value;
    let third_access = body(refreshed).await["content"]["access_token"].as_str().unwrap().to_string();

    let me = send(with_rid(app.client.get(app.url("/auth/me")), "rid-me", &[]).bearer_auth(&third_access)).await;
    assert_eq!(me.status(), 200);
    let failed = send(with_rid(app.client.post(app.url("/auth/login")), "rid-failed", &[]).json(&wrong)).await;
    assert_eq!(failed.status(), 401);
    let reused = send(with_rid(app.client.post(app.url("/auth/refresh")), "rid-reuse", &[(&jwt, &second)])).await;
    assert_eq!(reused.status(), 401);

    let again = send(with_rid(app.client.post(app.url("/auth/login")), "rid-login-again", &[]).json(&credentials)).await;
    assert_eq!(again.status(), 200);
    let fourth = refresh_cookie(&again).unwrap().value;
    let logout = send(with_rid(app.client.post(app.url("/auth/logout")), "rid-logout", &[(&jwt, &fourth)])).await;
    assert_eq!(logout.status(), 200);
    let stranger = json!({"username": "nobody-at-all", "password": "a wrong password"});
    for rid in ["rid-stranger-1", "rid-stranger-2"] {
        assert_eq!(send(with_rid(app.client.post(app.url("/auth/login")), rid, &[]).json(&stranger)).await.status(), 401);
    }
    let throttled = send(with_rid(app.client.post(app.url("/auth/login")), "rid-throttled", &[]).json(&stranger)).await;
    assert_eq!(throttled.status(), 429);
    let hash = app.password_hash_of(&username).await;

    let lines = logs.0.lock().unwrap().clone();
    assert!(
        lines.iter().any(|l| l.starts_with("TRACE ") && !l.contains(" gatehouse")),
        "the capture is at trace for every crate, not only gatehouse"
    );
    let all = lines.join("\n");
    let secrets = [
        PASSWORD,
        "a wrong password",
        &first_access,
        &second_access,
        &third_access,
        &first,
        &second,
        &third,
        &fourth,
        &device,
        &second_device,
        &hash,
        "$argon2",
    ];
    for secret in secrets {
        assert!(!all.contains(secret), "a secret reached the logs");
    }
    // Every auth event line carries the id of the request that caused it, as its access line does.
    for (rid, event) in [
        ("rid-register", "register user_id="),
        ("rid-login", "login user_id="),
        ("rid-refresh", "refresh rotated user_id="),
        ("rid-failed", "login failed"),
        ("rid-reuse", "refresh token reuse detected"),
        ("rid-login-again", "login user_id="),
        ("rid-logout", "logout user_id="),
        ("rid-throttled", "login throttled per name"),
    ] {
        let tag = format!("rid={rid}");
        let tagged = |l: &&String| l.split_whitespace().any(|word| word == tag);
        assert!(lines.iter().filter(tagged).any(|l| l.contains("gatehouse::http")), "{rid}: no access line");
        assert!(lines.iter().filter(tagged).any(|l| l.contains("gatehouse::auth") && l.contains(event)), "{rid}: no `{event}` line");
    }
}
