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
    let resp = app
        .client
        .get(app.url("/auth/refreshAccessToken"))
        .header("Cookie", app.refresh_cookie_header(&user.refresh))
        .send()
        .await
        .unwrap();
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
    let well_formed_but_unknown = crate::helpers::refresh_key().generate(uuid::Uuid::now_v7()).encode();
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
    // Rotation is atomic: the first loser presents a rotated token with no grace, a replay that
    // revokes the session; every later one finds the session gone.
    let mut codes = Vec::new();
    for resp in responses.into_iter().filter(|r| r.status() != 200) {
        assert_eq!(resp.status(), 401);
        codes.push(crate::helpers::body(resp).await["content"]["error_code"].as_str().unwrap_or_default().to_string());
    }
    assert_eq!(codes.iter().filter(|c| *c == "REFRESH_TOKEN_REUSED").count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| *c == "INVALID_REFRESH_TOKEN").count(), 22, "{codes:?}");
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
    // The default name is not read once another is configured.
    let default_name = crate::helpers::refresh_cookie_name();
    assert_ne!(default_name, "__Secure-session");
    let resp = app.client.post(app.url("/auth/refresh")).header("Cookie", format!("{default_name}={token}")).send().await.unwrap();
    assert_error(resp, 401, "MISSING_REFRESH_TOKEN").await;
}

/// A cookie value of `real`'s family with every byte after the family id made up: all that
/// someone who has seen only the family id (the first 16 bytes of a cookie) can present.
fn made_up_from_family_of(real: &str) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use rand::RngCore;
    let mut bytes = URL_SAFE_NO_PAD.decode(real).unwrap();
    rand::rng().fill_bytes(&mut bytes[16..]);
    let made_up = URL_SAFE_NO_PAD.encode(&bytes);
    assert_eq!(made_up[..21], real[..21], "same family id");
    made_up
}

/// A refresh-route or logout request with this exact `Cookie` header.
async fn with_cookie_header(app: &crate::helpers::TestApp, method: &str, path: &str, cookie: &str) -> reqwest::Response {
    let request = match method {
        "GET" => app.client.get(app.url(path)),
        _ => app.client.post(app.url(path)),
    };
    request.header("Cookie", cookie).send().await.unwrap()
}

#[actix_web::test]
async fn a_planted_second_refresh_cookie_neither_replaces_nor_ends_the_session() {
    // Without grace, any rotation of the real token would make its next use a replay.
    let app = spawn_app_with(&[("REFRESH_REUSE_GRACE", "0")]).await;
    let user = app.register_user().await;
    // The strongest plant: a live token of the attacker's own account.
    let attacker = app.register_user().await;
    let store_before = {
        let mut dump = app.token_store_dump().await;
        dump.sort();
        dump
    };
    let real = &user.refresh;
    for planted in [attacker.refresh.as_str(), "", "garbage", &made_up_from_family_of(real)] {
        let (planted, real) = (app.refresh_cookie_header(planted), app.refresh_cookie_header(real));
        for header in [format!("{planted}; {real}"), format!("{real}; {planted}")] {
            for (method, path) in [("POST", "/auth/refresh"), ("GET", "/auth/refreshAccessToken"), ("POST", "/auth/logout")] {
                let resp = with_cookie_header(&app, method, path, &header).await;
                assert!(refresh_cookie(&resp).is_none(), "{method} {path} must not set or clear the cookie");
                assert_error(resp, 400, "AMBIGUOUS_REFRESH_TOKEN").await;
            }
        }
    }
    let mut store_after = app.token_store_dump().await;
    store_after.sort();
    assert_eq!(store_after, store_before, "nothing was rotated or revoked");
    // Both sessions are intact: each real cookie, alone, still refreshes, and keeps going.
    for token in [real, &attacker.refresh] {
        let resp = app.refresh(token).await;
        assert_eq!(resp.status(), 200);
        let next = refresh_cookie(&resp).unwrap().value;
        assert_eq!(app.refresh(&next).await.status(), 200);
    }
}

#[actix_web::test]
async fn a_token_that_knows_only_the_family_id_is_invalid_and_the_session_goes_on() {
    let app = spawn_app_with(&[("REFRESH_REUSE_GRACE", "0")]).await;
    let user = app.register_user().await;
    let current = refresh_cookie(&app.refresh(&user.refresh).await).unwrap().value;
    for _ in 0..5 {
        let made_up = made_up_from_family_of(&current);
        assert_error(app.refresh(&made_up).await, 401, "INVALID_REFRESH_TOKEN").await;
        assert_eq!(app.logout(&made_up).await.status(), 200, "logout stays idempotent");
    }
    let resp = app.refresh(&current).await;
    assert_eq!(resp.status(), 200, "the real session was neither revoked nor rotated");
    let next = refresh_cookie(&resp).unwrap().value;
    // A real older generation still proves a replay, and ends the session.
    assert_error(app.refresh(&user.refresh).await, 401, "REFRESH_TOKEN_REUSED").await;
    assert_error(app.refresh(&next).await, 401, "INVALID_REFRESH_TOKEN").await;
}

#[actix_web::test]
async fn a_token_issued_before_tags_existed_still_rotates_but_a_made_up_one_of_its_family_proves_nothing() {
    use gatehouse::actors::token_store::TokenBackend;
    let app = spawn_app_with(&[("REFRESH_REUSE_GRACE", "0")]).await;
    let user = app.register_user().await;
    // An untagged token, as every token was before tags: all 32 bytes after the family id random.
    let legacy = gatehouse::tokens::RefreshToken::parse(&made_up_from_family_of(&user.refresh)).unwrap();
    assert!(!crate::helpers::refresh_key().proves(&legacy));
    let user_id = user.user_id.parse().unwrap();
    let meta = gatehouse::actors::token_store::SessionMeta::default();
    match &app.backend {
        TokenBackend::Redis(redis) => redis.store_new(user_id, &legacy, &meta).await.unwrap(),
        TokenBackend::Memory(memory) => memory.store_new(user_id, &legacy, &meta),
    };
    assert_error(app.refresh(&made_up_from_family_of(&legacy.encode())).await, 401, "INVALID_REFRESH_TOKEN").await;
    let resp = app.refresh(&legacy.encode()).await;
    assert_eq!(resp.status(), 200, "no logout on upgrade");
    let next = refresh_cookie(&resp).unwrap().value;
    assert!(crate::helpers::refresh_key().proves(&gatehouse::tokens::RefreshToken::parse(&next).unwrap()), "its successor carries a tag");
    assert_error(app.refresh(&made_up_from_family_of(&next)).await, 401, "INVALID_REFRESH_TOKEN").await;
    assert_eq!(app.refresh(&next).await.status(), 200);
}
