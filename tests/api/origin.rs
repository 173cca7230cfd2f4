//! CORS and the `Origin` check on the routes that use the refresh cookie.

use serde_json::json;

use crate::helpers::{PASSWORD, assert_error, spawn_app};

const ALLOWED: &str = "http://localhost:5173";
const FOREIGN: &str = "https://evil.example";

#[actix_web::test]
async fn a_foreign_origin_cannot_use_the_cookie_routes() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let cookie = app.refresh_cookie_header(&user.refresh);
    for path in ["/auth/refresh", "/auth/logout"] {
        let resp = app.client.post(app.url(path)).header("Origin", FOREIGN).header("Cookie", &cookie).send().await.unwrap();
        assert_error(resp, 403, "ORIGIN_NOT_ALLOWED").await;
    }
    let resp = app.client.get(app.url("/auth/refreshAccessToken")).header("Origin", "null").header("Cookie", &cookie).send().await.unwrap();
    assert_error(resp, 403, "ORIGIN_NOT_ALLOWED").await;
    let resp = app
        .client
        .post(app.url("/auth/login"))
        .header("Origin", FOREIGN)
        .json(&json!({"username": user.username, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "ORIGIN_NOT_ALLOWED").await;
    let resp = app
        .client
        .post(app.url("/auth/register"))
        .header("Origin", FOREIGN)
        .json(&json!({"username": "someone", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "ORIGIN_NOT_ALLOWED").await;
    // Nothing happened to the session.
    assert_eq!(app.refresh(&user.refresh).await.status(), 200);
}

#[actix_web::test]
async fn a_navigation_from_another_site_cannot_rotate_the_session() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let cookie = app.refresh_cookie_header(&user.refresh);
    for site in ["cross-site", "same-site"] {
        let resp = app
            .client
            .get(app.url("/auth/refreshAccessToken"))
            .header("Sec-Fetch-Site", site)
            .header("Cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_error(resp, 403, "ORIGIN_NOT_ALLOWED").await;
    }
    let resp = app
        .client
        .get(app.url("/auth/refreshAccessToken"))
        .header("Sec-Fetch-Site", "none")
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "typed into the address bar: the user's own navigation");
}

#[actix_web::test]
async fn an_allowed_origin_gets_credentialed_cors() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let resp = app
        .client
        .post(app.url("/auth/refresh"))
        .header("Origin", ALLOWED)
        .header("Cookie", app.refresh_cookie_header(&user.refresh))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["access-control-allow-origin"], ALLOWED);
    assert_eq!(resp.headers()["access-control-allow-credentials"], "true");

    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/auth/me"))
        .header("Origin", ALLOWED)
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "authorization")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 200, "actix-cors answers an accepted preflight 200 OK");
    assert_eq!(preflight.headers()["access-control-allow-origin"], ALLOWED);
}

#[actix_web::test]
async fn a_foreign_origin_gets_no_cors_headers() {
    let app = spawn_app().await;
    let resp = app.client.get(app.url("/")).header("Origin", FOREIGN).send().await.unwrap();
    assert!(resp.headers().get("access-control-allow-origin").is_none());
}

#[actix_web::test]
async fn the_services_own_origin_is_allowed() {
    let app = spawn_app().await;
    let own = app.address.clone();
    let resp = app
        .client
        .post(app.url("/auth/register"))
        .header("Origin", own)
        .json(&json!({"username": "own-origin", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
}

#[actix_web::test]
async fn a_refused_preflight_is_answered_in_the_envelope() {
    let app = spawn_app().await;
    let preflight = |origin: Option<&'static str>, method: &'static str, headers: Option<&'static str>| {
        let mut req = app.client.request(reqwest::Method::OPTIONS, app.url("/auth/login")).header("Access-Control-Request-Method", method);
        if let Some(origin) = origin {
            req = req.header("Origin", origin);
        }
        if let Some(headers) = headers {
            req = req.header("Access-Control-Request-Headers", headers);
        }
        req.send()
    };
    for (what, resp) in [
        ("a foreign origin", preflight(Some(FOREIGN), "POST", None).await.unwrap()),
        ("no origin", preflight(None, "POST", None).await.unwrap()),
        ("a method that is not allowed", preflight(Some(ALLOWED), "PUT", None).await.unwrap()),
        ("a header that is not allowed", preflight(Some(ALLOWED), "POST", Some("x-not-allowed")).await.unwrap()),
    ] {
        assert!(resp.headers().get("access-control-allow-origin").is_none(), "{what}");
        let body = assert_error(resp, 400, "CORS_PREFLIGHT_REJECTED").await;
        assert_eq!(body["content"]["error_type"], "RequestError", "{what}");
    }
}
