//! `GET /openapi.json`: an OpenAPI 3.1 document whose every operation is routed here.

use crate::helpers::{body, spawn_app};

#[actix_web::test]
async fn every_documented_operation_is_routed() {
    let app = spawn_app().await;
    let resp = app.get("/openapi.json").await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let doc = body(resp).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    let paths = doc["paths"].as_object().unwrap();
    let documented: Vec<(String, String)> =
        paths.iter().flat_map(|(path, ops)| ops.as_object().unwrap().keys().map(move |m| (m.to_uppercase(), path.clone()))).collect();
    for route in [
        "/",
        "/auth/register",
        "/auth/login",
        "/auth/refresh",
        "/auth/refreshAccessToken",
        "/auth/logout",
        "/auth/me",
        "/me",
        "/health/live",
        "/health/ready",
        "/openapi.json",
    ] {
        assert!(paths.contains_key(route), "{route} is not documented");
    }
    for (method, path) in documented {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let status = app.client.request(method.clone(), app.url(&path)).send().await.unwrap().status().as_u16();
        assert!(status != 404 && status != 405, "{method} {path} answered {status}");
        let responses = doc["paths"][&path][method.as_str().to_lowercase()]["responses"].as_object().unwrap();
        assert!(responses.contains_key(&status.to_string()), "{method} {path} answered {status}, which is not documented");
    }
}

/// Found by schemathesis: RFC 9110 requires a 405 to say which methods the route allows.
#[actix_web::test]
async fn a_wrong_method_names_the_allowed_one() {
    let app = spawn_app().await;
    for (method, path, allowed) in
        [("DELETE", "/", "GET"), ("GET", "/auth/login", "POST"), ("TRACE", "/me", "GET"), ("PUT", "/auth/refresh", "POST")]
    {
        let resp = app.client.request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), app.url(path)).send().await.unwrap();
        assert_eq!(resp.headers().get("allow").map(|v| v.to_str().unwrap().to_string()), Some(allowed.to_string()), "{method} {path}");
        crate::helpers::assert_error(resp, 405, "METHOD_NOT_ALLOWED").await;
    }
}
