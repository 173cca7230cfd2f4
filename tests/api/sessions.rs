//! Sessions: `sid` in access tokens, `SESSIONS_PER_USER`, `GET /auth/sessions`,
//! `DELETE /auth/sessions/{id}`, `POST /auth/logout-all`, and `401 SESSION_REVOKED` for the
//! access tokens of every session that ends.

use reqwest::Response;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Session, TestApp, assert_error, body, refresh_cookie, sid_of, spawn_app, spawn_app_with};

impl TestApp {
    async fn sessions(&self, access_token: &str) -> Response {
        self.client.get(self.url("/auth/sessions")).bearer_auth(access_token).send().await.unwrap()
    }

    async fn end_session(&self, access_token: &str, id: &str) -> Response {
        self.client.delete(self.url(&format!("/auth/sessions/{id}"))).bearer_auth(access_token).send().await.unwrap()
    }

    async fn logout_all(&self, access_token: &str) -> Response {
        self.client.post(self.url("/auth/logout-all")).bearer_auth(access_token).send().await.unwrap()
    }

    /// Logs `user` in again with this user agent: a session of its own.
    async fn log_in_as(&self, user: &Session, user_agent: &str) -> Session {
        let resp = self
            .client
            .post(self.url("/auth/login"))
            .header("User-Agent", user_agent)
            .json(&json!({"username": user.username, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let refresh = refresh_cookie(&resp).unwrap().value;
        let body = body(resp).await;
        Session { access_token: body["content"]["access_token"].as_str().unwrap().to_string(), refresh, ..user.clone() }
    }
}

#[actix_web::test]
async fn a_logout_refuses_the_sessions_access_token_at_once_even_after_it_was_remembered() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    // Twice: the second answer comes from the table of verified tokens.
    assert_eq!(app.me(&user.access_token).await.status(), 200);
    assert_eq!(app.me(&user.access_token).await.status(), 200);
    assert_eq!(app.logout(&user.refresh).await.status(), 200);
    let resp = app.me(&user.access_token).await;
    assert_eq!(resp.headers()["www-authenticate"], "Bearer realm=\"gatehouse\", error=\"invalid_token\"");
    assert_error(resp, 401, "SESSION_REVOKED").await;
}

#[actix_web::test]
async fn with_one_session_per_user_a_newer_login_ends_the_previous_session_and_its_access_tokens() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let second = app.log_in_as(&user, "second").await;
    assert_ne!(sid_of(&user.access_token), sid_of(&second.access_token));
    assert_error(app.me(&user.access_token).await, 401, "SESSION_REVOKED").await;
    assert_error(app.refresh(&user.refresh).await, 401, "INVALID_REFRESH_TOKEN").await;
    assert_eq!(app.me(&second.access_token).await.status(), 200);
    let sessions = body(app.sessions(&second.access_token).await).await;
    assert_eq!(sessions["content"]["sessions"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn sessions_are_listed_with_their_metadata_and_the_current_one_marked() {
    let app = spawn_app_with(&[("SESSIONS_PER_USER", "3")]).await;
    let user = app.register_user().await;
    let phone = app.log_in_as(&user, "Phone\t<b>App</b>/1.0").await;
    let resp = app.sessions(&phone.access_token).await;
    assert_eq!(resp.status(), 200);
    let body = body(resp).await;
    let sessions = body["content"]["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{body}");
    let current: Vec<&Value> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], sid_of(&phone.access_token));
    assert_eq!(current[0]["user_agent"], "PhonebApp/b/1.0", "control characters and markup are dropped");
    assert_eq!(current[0]["ip"], "127.0.0.1");
    for s in sessions {
        for field in ["created_at", "last_refreshed_at"] {
            assert!(s[field].as_str().is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok()), "{s}");
        }
    }
    // A refreshed access token belongs to the same session.
    let resp = app.refresh(&phone.refresh).await;
    let refreshed = crate::helpers::body(resp).await["content"]["access_token"].as_str().unwrap().to_string();
    assert_eq!(sid_of(&refreshed), sid_of(&phone.access_token));
}

#[actix_web::test]
async fn beyond_sessions_per_user_the_least_recently_used_session_ends() {
    let app = spawn_app_with(&[("SESSIONS_PER_USER", "2")]).await;
    let first = app.register_user().await;
    let second = app.log_in_as(&first, "second").await;
    // The first session is used again, so the second is now the least recently used.
    actix_web::rt::time::sleep(std::time::Duration::from_millis(5)).await;
    let first_refresh = refresh_cookie(&app.refresh(&first.refresh).await).unwrap().value;
    actix_web::rt::time::sleep(std::time::Duration::from_millis(5)).await;
    let third = app.log_in_as(&first, "third").await;
    assert_error(app.me(&second.access_token).await, 401, "SESSION_REVOKED").await;
    assert_error(app.refresh(&second.refresh).await, 401, "INVALID_REFRESH_TOKEN").await;
    assert_eq!(app.me(&first.access_token).await.status(), 200);
    assert_eq!(app.refresh(&first_refresh).await.status(), 200);
    assert_eq!(app.me(&third.access_token).await.status(), 200);
}

#[actix_web::test]
async fn ending_one_of_my_sessions_ends_its_refresh_and_access_tokens_only() {
    let app = spawn_app_with(&[("SESSIONS_PER_USER", "2")]).await;
    let laptop = app.register_user().await;
    let phone = app.log_in_as(&laptop, "phone").await;
    let resp = app.end_session(&laptop.access_token, &sid_of(&phone.access_token)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(body(resp).await["content"]["ended"], 1);
    assert_error(app.me(&phone.access_token).await, 401, "SESSION_REVOKED").await;
    assert_error(app.refresh(&phone.refresh).await, 401, "INVALID_REFRESH_TOKEN").await;
    assert_eq!(app.me(&laptop.access_token).await.status(), 200);
    assert_eq!(app.refresh(&laptop.refresh).await.status(), 200);
    // Gone now: the same request is an unknown session.
    assert_error(app.end_session(&laptop.access_token, &sid_of(&phone.access_token)).await, 404, "SESSION_NOT_FOUND").await;
}

#[actix_web::test]
async fn another_users_session_id_answers_exactly_like_an_unknown_one_and_survives() {
    let app = spawn_app().await;
    let (mallory, alice) = (app.register_user().await, app.register_user().await);
    let unknown = app.end_session(&mallory.access_token, "0123456789abcdef0123456789abcdef").await;
    let foreign = app.end_session(&mallory.access_token, &sid_of(&alice.access_token)).await;
    assert_eq!(unknown.status(), foreign.status());
    let (unknown, foreign) = (assert_error(unknown, 404, "SESSION_NOT_FOUND").await, assert_error(foreign, 404, "SESSION_NOT_FOUND").await);
    assert_eq!(unknown, foreign);
    for malformed in ["x", "not-a-session-id", "0123456789ABCDEF0123456789ABCDEF", &"0".repeat(64)] {
        assert_error(app.end_session(&mallory.access_token, malformed).await, 404, "SESSION_NOT_FOUND").await;
    }
    assert_eq!(app.me(&alice.access_token).await.status(), 200);
    assert_eq!(app.refresh(&alice.refresh).await.status(), 200);
}

#[actix_web::test]
async fn logout_all_ends_every_session_and_clears_the_cookie() {
    let app = spawn_app_with(&[("SESSIONS_PER_USER", "3")]).await;
    let one = app.register_user().await;
    let two = app.log_in_as(&one, "two").await;
    let three = app.log_in_as(&one, "three").await;
    let resp = app.logout_all(&two.access_token).await;
    assert_eq!(resp.status(), 200);
    let cleared = refresh_cookie(&resp).unwrap();
    assert_eq!(cleared.value, "");
    assert!(cleared.has("Max-Age=0"));
    assert_eq!(body(resp).await["content"]["ended"], 3);
    for s in [&one, &two, &three] {
        assert_error(app.me(&s.access_token).await, 401, "SESSION_REVOKED").await;
        assert_error(app.refresh(&s.refresh).await, 401, "INVALID_REFRESH_TOKEN").await;
    }
    // A new login works at once.
    let again = app.log_in_as(&one, "again").await;
    assert_eq!(app.me(&again.access_token).await.status(), 200);
}

#[actix_web::test]
async fn a_detected_refresh_replay_revokes_the_sessions_access_tokens() {
    let app = spawn_app_with(&[("REFRESH_REUSE_GRACE", "0")]).await;
    let user = app.register_user().await;
    let resp = app.refresh(&user.refresh).await;
    assert_eq!(resp.status(), 200);
    let rotated = body(resp).await["content"]["access_token"].as_str().unwrap().to_string();
    assert_error(app.refresh(&user.refresh).await, 401, "REFRESH_TOKEN_REUSED").await;
    for token in [&user.access_token, &rotated] {
        assert_error(app.me(token).await, 401, "SESSION_REVOKED").await;
    }
}

#[actix_web::test]
async fn the_session_routes_need_a_valid_bearer_token() {
    let app = spawn_app().await;
    for resp in [
        app.client.get(app.url("/auth/sessions")).send().await.unwrap(),
        app.client.delete(app.url("/auth/sessions/0123456789abcdef0123456789abcdef")).send().await.unwrap(),
        app.client.post(app.url("/auth/logout-all")).send().await.unwrap(),
    ] {
        assert_error(resp, 401, "MISSING_ACCESS_TOKEN").await;
    }
    let user = app.register_user().await;
    assert_eq!(app.logout(&user.refresh).await.status(), 200);
    assert_error(app.sessions(&user.access_token).await, 401, "SESSION_REVOKED").await;
    assert_error(app.logout_all(&user.access_token).await, 401, "SESSION_REVOKED").await;
}

#[actix_web::test]
async fn the_store_ends_every_session_but_the_one_kept_on_both_engines() {
    use gatehouse::actors::token_store::TokenBackend;
    let app = spawn_app_with(&[("SESSIONS_PER_USER", "3")]).await;
    let one = app.register_user().await;
    let (two, three) = (app.log_in_as(&one, "two").await, app.log_in_as(&one, "three").await);
    let user_id = one.user_id.parse().unwrap();
    let keep = sid_of(&two.access_token);
    let mut ended = match &app.backend {
        TokenBackend::Redis(redis) => redis.end(user_id, None, Some(&keep)).await.unwrap(),
        TokenBackend::Memory(memory) => memory.end(user_id, None, Some(&keep)),
    };
    ended.sort();
    let mut expected = vec![sid_of(&one.access_token), sid_of(&three.access_token)];
    expected.sort();
    assert_eq!(ended, expected);
    assert_eq!(app.refresh(&two.refresh).await.status(), 200, "the kept session goes on");
    for s in [&one, &three] {
        assert_error(app.refresh(&s.refresh).await, 401, "INVALID_REFRESH_TOKEN").await;
    }
}
