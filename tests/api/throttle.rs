//! Throttling of login and registration.

use serde_json::json;

use crate::helpers::{PASSWORD, assert_error, spawn_app_with};

#[actix_web::test]
async fn parallel_guesses_never_get_more_verifications_than_the_limit() {
    let app = spawn_app_with(&[("THROTTLE_PER_ACCOUNT", "5")]).await;
    let user = app.register_user().await;
    let guess = json!({"username": user.username, "password": "a wrong guess"});
    let responses = futures_util::future::join_all((0..20).map(|_| app.login(&guess))).await;
    let verified = responses.iter().filter(|r| r.status() == 401).count();
    let throttled: Vec<_> = responses.iter().filter(|r| r.status() == 429).collect();
    assert_eq!(verified, 5, "exactly the limit reached the password check");
    assert_eq!(throttled.len(), 15);
    for r in &throttled {
        let after: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=900).contains(&after), "{after}");
    }
    let last = app.login(&guess).await;
    let body = assert_error(last, 429, "RATE_LIMITED").await;
    assert_eq!(body["content"]["error_type"], "RateLimitError");
    // The right password is throttled too while the window lasts: no oracle.
    assert_error(app.login(&json!({"username": user.username, "password": PASSWORD})).await, 429, "RATE_LIMITED").await;
}

#[actix_web::test]
async fn the_account_counter_ignores_case_and_spelling_of_the_identifier() {
    let app = spawn_app_with(&[("THROTTLE_PER_ACCOUNT", "2")]).await;
    let user = app.register_user().await;
    for name in [user.username.clone(), user.username.to_uppercase()] {
        assert_eq!(app.login(&json!({"username": name, "password": "wrong guess"})).await.status(), 401);
    }
    assert_error(app.login(&json!({"username": format!(" {} ", user.username), "password": "x"})).await, 429, "RATE_LIMITED").await;
}

#[actix_web::test]
async fn one_ip_is_limited_across_accounts() {
    let app = spawn_app_with(&[("THROTTLE_LOGIN_PER_IP", "3")]).await;
    for i in 0..3 {
        assert_eq!(app.login(&json!({"username": format!("nobody{i}"), "password": "x"})).await.status(), 401);
    }
    assert_error(app.login(&json!({"username": "nobody9", "password": "x"})).await, 429, "RATE_LIMITED").await;
}

#[actix_web::test]
async fn registration_is_limited_per_ip() {
    let app = spawn_app_with(&[("THROTTLE_REGISTER_PER_IP", "2")]).await;
    for name in ["reg-one", "reg-two"] {
        assert_eq!(app.register(&json!({"username": name, "password": PASSWORD})).await.status(), 201);
    }
    assert_error(app.register(&json!({"username": "reg-three", "password": PASSWORD})).await, 429, "RATE_LIMITED").await;
}

#[actix_web::test]
async fn a_successful_login_clears_the_accounts_failures() {
    let app = spawn_app_with(&[("THROTTLE_PER_ACCOUNT", "3")]).await;
    let user = app.register_user().await;
    let wrong = json!({"username": user.username, "password": "wrong guess"});
    let right = json!({"username": user.username, "password": PASSWORD});
    for _ in 0..2 {
        assert_eq!(app.login(&wrong).await.status(), 401);
    }
    assert_eq!(app.login(&right).await.status(), 200);
    for _ in 0..2 {
        assert_eq!(app.login(&wrong).await.status(), 401, "the count started again");
    }
}

#[actix_web::test]
async fn throttling_is_temporary() {
    let app = spawn_app_with(&[("THROTTLE_PER_ACCOUNT", "1"), ("THROTTLE_WINDOW", "1")]).await;
    let user = app.register_user().await;
    let right = json!({"username": user.username, "password": PASSWORD});
    assert_eq!(app.login(&json!({"username": user.username, "password": "wrong"})).await.status(), 401);
    assert_eq!(app.login(&right).await.status(), 429);
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1300)).await;
    assert_eq!(app.login(&right).await.status(), 200);
}

#[actix_web::test]
async fn forwarded_for_counts_only_behind_a_trusted_proxy() {
    let login_from = |app: &crate::helpers::TestApp, ip: &'static str| {
        app.client.post(app.url("/auth/login")).header("X-Forwarded-For", ip).json(&json!({"username": "nobody", "password": "x"})).send()
    };
    // Not trusted: the header is ignored, both "clients" are the one peer.
    let app = spawn_app_with(&[("THROTTLE_LOGIN_PER_IP", "1"), ("THROTTLE_PER_ACCOUNT", "0")]).await;
    assert_eq!(login_from(&app, "198.51.100.1").await.unwrap().status(), 401);
    assert_eq!(login_from(&app, "198.51.100.2").await.unwrap().status(), 429);
    // Trusted: each forwarded client has its own count.
    let app = spawn_app_with(&[("THROTTLE_LOGIN_PER_IP", "1"), ("THROTTLE_PER_ACCOUNT", "0"), ("TRUSTED_PROXIES", "127.0.0.1")]).await;
    assert_eq!(login_from(&app, "198.51.100.1").await.unwrap().status(), 401);
    assert_eq!(login_from(&app, "198.51.100.2").await.unwrap().status(), 401);
    assert_eq!(login_from(&app, "198.51.100.1").await.unwrap().status(), 429);
}

/// `s` in fullwidth forms (`ｕｓｅｒ－１`), which NFKC folds back onto ASCII.
fn fullwidth(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_graphic() { char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap() } else { c }).collect()
}

/// `s` with its letters and digits in mathematical bold (`𝐮𝐬𝐞𝐫-𝟏`), which NFKC folds back.
fn mathematical_bold(s: &str) -> String {
    let bold = |c: char| match c {
        'a'..='z' => char::from_u32(0x1D41A + (c as u32 - 'a' as u32)).unwrap(),
        '0'..='9' => char::from_u32(0x1D7CE + (c as u32 - '0' as u32)).unwrap(),
        _ => c,
    };
    s.chars().map(bold).collect()
}

#[actix_web::test]
async fn compatibility_spellings_and_the_email_of_one_account_share_one_counter() {
    let app = spawn_app_with(&[("THROTTLE_PER_ACCOUNT", "3"), ("THROTTLE_LOGIN_PER_IP", "1000")]).await;
    let user = app.register_user().await;
    let (wide, bold) = (fullwidth(&user.username), mathematical_bold(&user.username));
    assert_ne!(wide, user.username);
    assert_ne!(bold, user.username);
    for identifier in [json!({"username": wide}), json!({"username": bold}), json!({"email": user.email.to_uppercase()})] {
        let mut guess = identifier.clone();
        guess["password"] = json!("a wrong guess");
        assert_error(app.login(&guess).await, 401, "INVALID_CREDENTIALS").await;
    }
    // The limit is reached: no spelling gets another try, not even with the right password.
    for identifier in [json!({"username": user.username}), json!({"username": fullwidth(&user.username)}), json!({"email": user.email})] {
        let mut right = identifier.clone();
        right["password"] = json!(PASSWORD);
        assert_error(app.login(&right).await, 429, "RATE_LIMITED").await;
    }
}

#[actix_web::test]
async fn registration_counts_compatibility_spellings_of_a_name_as_one() {
    let app = spawn_app_with(&[("THROTTLE_PER_ACCOUNT", "2"), ("THROTTLE_REGISTER_PER_IP", "1000")]).await;
    assert_eq!(app.register(&json!({"username": "taken-name", "password": PASSWORD})).await.status(), 201);
    assert_error(app.register(&json!({"username": fullwidth("taken-name"), "password": PASSWORD})).await, 409, "USERNAME_TAKEN").await;
    assert_error(app.register(&json!({"username": mathematical_bold("taken-name"), "password": PASSWORD})).await, 429, "RATE_LIMITED")
        .await;
}
