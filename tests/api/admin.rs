//! The admin API on the management listener: the admin token (missing, wrong, right), the public
//! port's 404, users search and pagination, disable and enable (`ACCOUNT_DISABLED` with the right
//! password only), ending a user's sessions, deleting a user; and its own document,
//! `/admin/openapi.json`, which every failure read here is checked against (`helpers::body`).

use std::collections::BTreeSet;

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::common::assert_envelope;
use crate::helpers::{PASSWORD, TestApp, assert_error, body, spawn_app_with};

const ADMIN_TOKEN: &str = "Zq8vN3xR1tK6wP0mB5cY7hJ2sD9fG4lA-admin-token";

async fn admin_app() -> TestApp {
    spawn_app_with(&[("METRICS_ADDR", "127.0.0.1:0"), ("ADMIN_TOKEN", ADMIN_TOKEN)]).await
}

impl TestApp {
    fn management(&self, path: &str) -> String {
        format!("{}{path}", self.metrics_address.as_deref().expect("the management listener is on"))
    }

    async fn admin_with(&self, method: Method, path: &str, token: Option<&str>) -> Response {
        let mut req = self.client.request(method, self.management(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.unwrap()
    }

    async fn admin(&self, method: Method, path: &str) -> (u16, Value) {
        let resp = self.admin_with(method, path, Some(ADMIN_TOKEN)).await;
        let status = resp.status().as_u16();
        (status, body(resp).await)
    }
}

async fn refused(resp: Response, status: u16, code: &str) {
    assert_error(resp, status, code).await;
}

#[actix_web::test]
async fn the_admin_api_needs_the_admin_token_and_is_absent_from_the_public_port() {
    let app = admin_app().await;
    refused(app.admin_with(Method::GET, "/admin/users", None).await, 401, "ADMIN_TOKEN_INVALID").await;
    refused(app.admin_with(Method::GET, "/admin/users", Some("not-the-admin-token")).await, 401, "ADMIN_TOKEN_INVALID").await;
    refused(app.admin_with(Method::GET, "/admin/users", Some(&format!("{ADMIN_TOKEN}x"))).await, 401, "ADMIN_TOKEN_INVALID").await;
    let (status, body) = app.admin(Method::GET, "/admin/users").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true);
    for token in [None, Some(ADMIN_TOKEN)] {
        let mut req = app.client.get(app.url("/admin/users"));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        refused(req.send().await.unwrap(), 404, "NOT_FOUND").await;
    }
}

#[actix_web::test]
async fn without_an_admin_token_the_management_listener_has_no_admin_api() {
    let app = spawn_app_with(&[("METRICS_ADDR", "127.0.0.1:0")]).await;
    refused(app.admin_with(Method::GET, "/admin/users", Some(ADMIN_TOKEN)).await, 404, "NOT_FOUND").await;
}

#[actix_web::test]
async fn users_are_found_by_name_or_email_prefix_a_page_at_a_time() {
    let app = admin_app().await;
    let users = [app.register_user().await, app.register_user().await, app.register_user().await];
    // Every registered name starts with "user-": page through them two at a time.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/admin/users?q=USER-&limit=2&cursor={c}"),
            None => "/admin/users?q=USER-&limit=2".to_string(),
        };
        let (status, body) = app.admin(Method::GET, &path).await;
        assert_eq!(status, 200, "{body}");
        let page = body["content"]["users"].as_array().unwrap();
        assert!(page.len() <= 2);
        for u in page {
            assert_eq!(u["disabled"], false);
            assert!(u.get("password_hash").is_none());
            seen.push(u["id"].as_str().unwrap().to_string());
        }
        match body["content"]["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    for u in &users {
        assert_eq!(seen.iter().filter(|id| **id == u.user_id).count(), 1, "each user once");
    }
    let (_, body) = app.admin(Method::GET, &format!("/admin/users?q={}", users[1].email)).await;
    let found: Vec<&str> = body["content"]["users"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(found, vec![users[1].user_id.as_str()], "by email");
    let (_, body) = app.admin(Method::GET, "/admin/users?q=%25").await;
    assert_eq!(body["content"]["users"], json!([]), "a LIKE wildcard is a plain character");
    let (status, body) = app.admin(Method::GET, "/admin/users?cursor=not-a-uuid").await;
    assert_eq!(status, 400, "{body}");
    // No name holds a NUL (and PostgreSQL would refuse one in a query): nobody matches.
    for q in ["%00", "user-%00"] {
        let (status, body) = app.admin(Method::GET, &format!("/admin/users?q={q}")).await;
        assert_eq!((status, &body["content"]["users"]), (200, &json!([])), "{q}: {body}");
    }
}

#[actix_web::test]
async fn a_disabled_account_loses_its_sessions_and_learns_it_only_with_the_right_password() {
    let app = admin_app().await;
    let user = app.register_user().await;
    let (status, body) = app.admin(Method::POST, &format!("/admin/users/{}/disable", user.user_id)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["content"]["disabled"], true);
    let me = app.me(&user.access_token).await;
    refused(me, 401, "SESSION_REVOKED").await;
    refused(app.refresh(&user.refresh).await, 401, "INVALID_REFRESH_TOKEN").await;
    refused(app.login(&json!({"username": user.username, "password": "a wrong password"})).await, 401, "INVALID_CREDENTIALS").await;
    refused(app.login(&json!({"username": user.username, "password": PASSWORD})).await, 403, "ACCOUNT_DISABLED").await;

    let (status, body) = app.admin(Method::POST, &format!("/admin/users/{}/enable", user.user_id)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["content"]["disabled"], false);
    // A second later (tokens carry whole seconds), a login works again.
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1100)).await;
    let resp = app.login(&json!({"username": user.username, "password": PASSWORD})).await;
    assert_eq!(resp.status(), 200);
    let token = resp.json::<Value>().await.unwrap()["content"]["access_token"].as_str().unwrap().to_string();
    assert_eq!(app.me(&token).await.status(), 200);
}

#[actix_web::test]
async fn an_operator_sees_a_users_sessions_and_ends_them() {
    let app = admin_app().await;
    let user = app.register_user().await;
    let (status, body) = app.admin(Method::GET, &format!("/admin/users/{}", user.user_id)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["content"]["user"]["username"], user.username.as_str());
    assert_eq!(body["content"]["sessions"].as_array().unwrap().len(), 1);
    let (status, body) = app.admin(Method::DELETE, &format!("/admin/users/{}/sessions", user.user_id)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["content"]["ended"], 1);
    refused(app.me(&user.access_token).await, 401, "SESSION_REVOKED").await;
    refused(app.refresh(&user.refresh).await, 401, "INVALID_REFRESH_TOKEN").await;
}

#[actix_web::test]
async fn a_deleted_user_is_gone_with_their_sessions() {
    let app = admin_app().await;
    let user = app.register_user().await;
    let (status, body) = app.admin(Method::DELETE, &format!("/admin/users/{}", user.user_id)).await;
    assert_eq!(status, 200, "{body}");
    refused(app.me(&user.access_token).await, 401, "SESSION_REVOKED").await;
    refused(app.refresh(&user.refresh).await, 401, "INVALID_REFRESH_TOKEN").await;
    refused(app.login(&json!({"username": user.username, "password": PASSWORD})).await, 401, "INVALID_CREDENTIALS").await;
    for path in [format!("/admin/users/{}", user.user_id), "/admin/users/not-a-uuid".to_string()] {
        let (status, body) = app.admin(Method::GET, &path).await;
        assert_eq!(status, 404, "{body}");
        assert_envelope(&body, 404, "USER_NOT_FOUND", "");
    }
    let (status, _) = app.admin(Method::DELETE, &format!("/admin/users/{}", user.user_id)).await;
    assert_eq!(status, 404);
}

impl TestApp {
    /// The audit events at `path`, once at least `at_least` of them are written (the audit worker
    /// writes in batches, off the request path).
    async fn events_when(&self, path: &str, at_least: usize) -> Vec<Value> {
        for _ in 0..100 {
            let (status, body) = self.admin(Method::GET, path).await;
            assert_eq!(status, 200, "{body}");
            let events = body["content"]["events"].as_array().unwrap().clone();
            if events.len() >= at_least {
                return events;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("fewer than {at_least} audit events at {path}");
    }
}

#[actix_web::test]
async fn security_events_and_admin_actions_reach_the_audit_trail_without_a_secret() {
    let app = admin_app().await;
    let user = app.register_user().await;
    refused(app.login(&json!({"username": user.username, "password": "a wrong password"})).await, 401, "INVALID_CREDENTIALS").await;
    let resp = app.login(&json!({"username": user.username, "password": PASSWORD})).await;
    let refresh = crate::helpers::refresh_cookie(&resp).unwrap().value;
    assert_eq!(app.logout(&refresh).await.status(), 200);
    let (status, _) = app.admin(Method::POST, &format!("/admin/users/{}/disable", user.user_id)).await;
    assert_eq!(status, 200);

    let path = format!("/admin/users/{}/events", user.user_id);
    let events = app.events_when(&path, 4).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["account_disabled", "logout", "login_succeeded", "login_failed"], "newest first");
    assert_eq!(events[0]["actor"], "admin");
    assert_eq!(events[2]["ip"], "127.0.0.1");
    let text = serde_json::to_string(&events).unwrap();
    for secret in [PASSWORD, "a wrong password", refresh.as_str(), user.access_token.as_str()] {
        assert!(!text.contains(secret), "the audit trail holds no secret");
    }

    // Paginated, newest first, over everyone's events.
    let (_, body) = app.admin(Method::GET, "/admin/events?limit=2").await;
    let first = body["content"]["events"].as_array().unwrap().clone();
    assert_eq!(first.len(), 2);
    let cursor = body["content"]["next_cursor"].as_i64().unwrap();
    let (_, body) = app.admin(Method::GET, &format!("/admin/events?limit=2&cursor={cursor}")).await;
    let second = body["content"]["events"].as_array().unwrap();
    assert!(second.iter().all(|e| e["id"].as_i64().unwrap() < cursor));

    // The trail of a deleted account outlives it.
    let (status, _) = app.admin(Method::DELETE, &format!("/admin/users/{}", user.user_id)).await;
    assert_eq!(status, 200);
    let events = app.events_when(&path, 5).await;
    assert_eq!(events[0]["kind"], "user_deleted");
}

#[actix_web::test]
async fn an_operator_rotates_the_signing_keys_now_and_retires_a_compromised_key_at_once() {
    let app = admin_app().await;
    let user = app.register_user().await;
    let before = app.current_kid();

    let (status, body) = app.admin(Method::POST, "/admin/keys/rotate").await;
    assert_eq!(status, 200, "{body}");
    let current = body["content"]["current_kid"].as_str().unwrap().to_string();
    assert_ne!(current, before, "the next key signs");
    assert_eq!(app.current_kid(), current);
    // A rotation retires the old key gently: its tokens verify until they expire.
    assert_eq!(app.me(&user.access_token).await.status(), 200);

    // A compromised key is retired at once: the tokens it signed are refused, even one this
    // process has already verified and remembers.
    let (status, body) = app.admin(Method::POST, &format!("/admin/keys/{before}/retire")).await;
    assert_eq!((status, body["content"]["retired"].as_str()), (200, Some(before.as_str())), "{body}");
    refused(app.me(&user.access_token).await, 401, "INVALID_ACCESS_TOKEN").await;
    let jwks: Value = app.client.get(format!("{}/.well-known/jwks.json", app.address)).send().await.unwrap().json().await.unwrap();
    assert!(jwks["keys"].as_array().unwrap().iter().all(|k| k["kid"] != before.as_str()), "gone from the JWKS: {jwks}");

    let (status, body) = app.admin(Method::POST, "/admin/keys/no-such-kid/retire").await;
    assert_envelope(&body, status, "KEY_NOT_FOUND", "");
    assert_eq!(status, 404);
    refused(app.admin_with(Method::POST, "/admin/keys/rotate", Some("not the admin token")).await, 401, "ADMIN_TOKEN_INVALID").await;

    let kinds: Vec<String> =
        app.events_when("/admin/events", 2).await.iter().filter_map(|e| e["kind"].as_str().map(str::to_string)).collect();
    assert!(kinds.starts_with(&["key_retired".to_string(), "key_rotated".to_string()]), "{kinds:?}");
}

#[actix_web::test]
async fn a_password_change_reaches_the_audit_trail() {
    let app = admin_app().await;
    let user = app.register_user().await;
    let change = json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"});
    assert_eq!(app.post_bearer("/auth/password", &user.access_token, &change).await.status(), 200);
    let events = app.events_when(&format!("/admin/users/{}/events", user.user_id), 1).await;
    assert_eq!(events[0]["kind"], "password_changed");
    assert_eq!(events[0]["actor"], "user");
}

/// `/admin/openapi.json`: the admin token is needed for it as for every admin route, it names
/// exactly the admin routes, and the public port serves neither it nor any of them.
#[actix_web::test]
async fn the_admin_document_describes_the_admin_routes_to_the_admin_token_only() {
    let app = admin_app().await;
    refused(app.admin_with(Method::GET, "/admin/openapi.json", None).await, 401, "ADMIN_TOKEN_INVALID").await;
    refused(app.client.get(app.url("/admin/openapi.json")).bearer_auth(ADMIN_TOKEN).send().await.unwrap(), 404, "NOT_FOUND").await;
    let resp = app.admin_with(Method::GET, "/admin/openapi.json", Some(ADMIN_TOKEN)).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let doc = body(resp).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    assert_eq!(doc["components"]["securitySchemes"]["admin"]["scheme"], "bearer");
    let documented: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let routed: BTreeSet<String> = gatehouse::routes::admin::table().into_iter().map(|f| f.path).collect();
    assert_eq!(documented, routed);
    let public = body(app.get("/openapi.json").await).await;
    assert!(public["paths"].as_object().unwrap().keys().all(|p| !p.starts_with("/admin")), "the public document has no admin route");
}

/// Each operation of the admin document, without the token, with a wrong one, and with the
/// right one on an unknown user or key: it is routed (a 401 without the token, where an unrouted
/// path answers 404), and every answer is a status it documents, its failures listed for it.
#[actix_web::test]
async fn every_admin_operation_is_routed_and_answers_what_it_documents() {
    let app = admin_app().await;
    let doc = body(app.admin_with(Method::GET, "/admin/openapi.json", Some(ADMIN_TOKEN)).await).await;
    let unknown_user = uuid::Uuid::now_v7().to_string();
    let mut successes = 0;
    for (template, ops) in doc["paths"].as_object().unwrap() {
        let path = template.replace("{id}", &unknown_user).replace("{kid}", "no-such-kid");
        for (method, op) in ops.as_object().unwrap() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            refused(app.admin_with(method.clone(), &path, None).await, 401, "ADMIN_TOKEN_INVALID").await;
            refused(app.admin_with(method.clone(), &path, Some("a wrong admin token")).await, 401, "ADMIN_TOKEN_INVALID").await;
            let resp = app.admin_with(method.clone(), &path, Some(ADMIN_TOKEN)).await;
            let status = resp.status().as_u16();
            assert!(op["responses"].get(status.to_string()).is_some(), "{method} {template} answered {status}, which it does not document");
            successes += usize::from(status == 200);
            body(resp).await;
            let query = app.admin_with(method.clone(), &format!("{path}?no_such_parameter=1"), Some(ADMIN_TOKEN)).await;
            let status = query.status().as_u16();
            assert!(status < 500 && op["responses"].get(status.to_string()).is_some(), "{method} {template}?no_such_parameter: {status}");
            body(query).await;
        }
    }
    // The searches, the trails, the rotation and the document itself found something to answer.
    assert!(successes >= 5, "only {successes} operations answered 200");
}
