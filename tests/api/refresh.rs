//! `POST /auth/refresh` and `GET /auth/refreshAccessToken`: rotation, reuse detection, the grace
//! window, and the concurrent race.

use std::collections::HashSet;

use crate::helpers::{assert_cookie_attributes, assert_error, body, refresh_cookie, spawn_app, spawn_app_with};

#[actix_web::test]
async fn refresh_returns_an_access_token_and_rotates_the_cookie() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let resp = app.refresh(&user.refresh).await;
    assert_eq!(resp.status(), 200);
    let cookie = refresh_cookie(&resp).expect("rotated cookie");
    assert_cookie_attributes(&cookie);
    assert_ne!(cookie.value, user.refresh);
    let body = body(resp).await;
    assert_eq!(body["content"]["token_type"], "Bearer");
    assert_eq!(body["content"]["expires_in"], 300);
    let access = body["content"]["access_token"].as_str().unwrap();
    assert_eq!(app.me(access).await.status(), 200);
}

#[actix_web::test]
async fn the_original_get_route_refreshes_too() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let resp = app.client.get(app.url("/auth/refreshAccessToken")).header("Cookie", format!("jwt={}", user.refresh)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(refresh_cookie(&resp).is_some());
}

#[actix_web::test]
async fn a_missing_or_malformed_cookie_is_refused_and_cleared() {
    let app = spawn_app().await;
    let resp = app.client.post(app.url("/auth/refresh")).send().await.unwrap();
    assert_error(resp, 401, "MISSING_REFRESH_TOKEN").await;
    let resp = app.refresh("garbage").await;
    let cleared = refresh_cookie(&resp).expect("cleared cookie");
    assert_eq!(cleared.value, "");
    assert_cookie_attributes(&cleared);
    assert!(cleared.has("Max-Age=0"));
    assert_error(resp, 401, "INVALID_REFRESH_TOKEN").await;
    let well_formed_but_unknown = gatehouse::tokens::RefreshToken::generate().encode();
    assert_error(app.refresh(&well_formed_but_unknown).await, 401, "INVALID_REFRESH_TOKEN").await;
}

#[actix_web::test]
async fn inside_the_grace_window_the_predecessor_gets_the_same_successor() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let first = refresh_cookie(&app.refresh(&user.refresh).await).unwrap().value;
    let again = app.refresh(&user.refresh).await;
    assert_eq!(again.status(), 200);
    assert_eq!(refresh_cookie(&again).unwrap().value, first, "the tab that lost the race gets the current token");
    assert_eq!(app.refresh(&first).await.status(), 200);
}

#[actix_web::test]
async fn without_grace_a_rotated_token_is_a_replay_that_revokes_the_session() {
    let app = spawn_app_with(&[("REFRESH_REUSE_GRACE", "0")]).await;
    let user = app.register_user().await;
    let next = refresh_cookie(&app.refresh(&user.refresh).await).unwrap().value;
    assert_error(app.refresh(&user.refresh).await, 401, "REFRESH_TOKEN_REUSED").await;
    assert_error(app.refresh(&next).await, 401, "INVALID_REFRESH_TOKEN").await;
}

#[actix_web::test]
async fn an_older_generation_is_a_replay_even_inside_the_grace_window() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let gen1 = refresh_cookie(&app.refresh(&user.refresh).await).unwrap().value;
    let gen2 = refresh_cookie(&app.refresh(&gen1).await).unwrap().value;
    assert_error(app.refresh(&user.refresh).await, 401, "REFRESH_TOKEN_REUSED").await;
    assert_error(app.refresh(&gen2).await, 401, "INVALID_REFRESH_TOKEN").await;
}

#[actix_web::test]
async fn concurrent_refreshes_with_one_token_leave_exactly_one_valid_token() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let responses = futures_util::future::join_all((0..24).map(|_| app.refresh(&user.refresh))).await;
    assert!(responses.iter().all(|r| r.status() == 200), "every tab stays signed in");
    let issued: HashSet<String> = responses.iter().map(|r| refresh_cookie(r).unwrap().value).collect();
    assert_eq!(issued.len(), 1, "all of them hold the one current token");
    let current = issued.into_iter().next().unwrap();
    assert_eq!(app.refresh(&current).await.status(), 200);
}

#[actix_web::test]
async fn without_grace_exactly_one_of_concurrent_refreshes_rotates() {
    let app = spawn_app_with(&[("REFRESH_REUSE_GRACE", "0")]).await;
    let user = app.register_user().await;
    let responses = futures_util::future::join_all((0..24).map(|_| app.refresh(&user.refresh))).await;
    let winners = responses.iter().filter(|r| r.status() == 200).count();
    assert_eq!(winners, 1);
    assert!(responses.iter().filter(|r| r.status() != 200).all(|r| r.status() == 401));
}

#[actix_web::test]
async fn refresh_tokens_are_stored_only_as_hashes() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let rotated = refresh_cookie(&app.refresh(&user.refresh).await).unwrap().value;
    let stored = app.token_store_dump().await;
    assert!(!stored.is_empty());
    for token in [&user.refresh, &rotated] {
        assert!(stored.iter().all(|s| !s.contains(token.as_str())), "a token in clear in Redis");
    }
}

#[actix_web::test]
async fn after_the_grace_window_the_predecessor_is_a_replay() {
    let app = spawn_app_with(&[("REFRESH_REUSE_GRACE", "1")]).await;
    let user = app.register_user().await;
    let next = refresh_cookie(&app.refresh(&user.refresh).await).unwrap().value;
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1300)).await;
    assert_error(app.refresh(&user.refresh).await, 401, "REFRESH_TOKEN_REUSED").await;
    assert_error(app.refresh(&next).await, 401, "INVALID_REFRESH_TOKEN").await;
}

#[actix_web::test]
async fn the_cookie_name_is_configurable() {
    let app = spawn_app_with(&[("COOKIE_NAME", "__Secure-session"), ("COOKIE_SECURE", "true")]).await;
    let resp = app.register(&serde_json::json!({"username": "hosted", "password": crate::helpers::PASSWORD})).await;
    let set = crate::helpers::set_cookie(&resp, "__Secure-session").expect("the refresh cookie under its configured name");
    assert!(set.has("Secure") && set.has("Path=/auth") && !set.attributes.iter().any(|a| a.starts_with("Domain")), "{set:?}");
    let device = app.device_cookie(&resp).expect("the device cookie");
    assert_eq!(app.device_cookie_name(), "__Secure-session-device", "the prefix carries over");
    assert!(device.has("Secure") && device.has("HttpOnly") && device.has("Path=/auth"), "{device:?}");
    let token = set.value;
    let resp = app.client.post(app.url("/auth/refresh")).header("Cookie", format!("__Secure-session={token}")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_error(app.refresh(&token).await, 401, "MISSING_REFRESH_TOKEN").await;
}
