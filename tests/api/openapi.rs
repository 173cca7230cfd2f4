//! `GET /openapi.json`: an OpenAPI 3.1 document whose every operation is routed here, and
//! whose every operation lists the failures it answers with.

use serde_json::json;

use crate::helpers::{assert_documented, body, spawn_app};

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
    for route in gatehouse::routes::table() {
        assert!(paths.contains_key(&route.path), "{} is not documented", route.path);
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

/// Every failure the API tests read goes through `assert_documented`; it must catch a code the
/// document does not list for the path and status, and pass the ones it does.
#[test]
fn an_error_code_the_document_does_not_list_is_caught() {
    let failure = |code: &str| json!({"success": false, "status": 0, "content": {"error_code": code}});
    assert_documented("/auth/login", 403, &failure("ORIGIN_NOT_ALLOWED"));
    assert_documented("/auth/refreshAccessToken", 400, &failure("AMBIGUOUS_REFRESH_TOKEN"));
    assert_documented("/no/such/route", 404, &failure("NOT_FOUND"));
    assert_documented("/me", 405, &failure("METHOD_NOT_ALLOWED"));
    for (path, status, code) in [
        ("/auth/login", 401, "MISSING_ACCESS_TOKEN"),
        ("/health/live", 403, "ORIGIN_NOT_ALLOWED"),
        ("/auth/me", 404, "INVALID_ACCESS_TOKEN"),
    ] {
        let caught = std::panic::catch_unwind(|| assert_documented(path, status, &failure(code))).is_err();
        assert!(caught, "{path} {status} {code} passed unlisted");
    }
}

/// Each documented operation, sent what a hostile or careless client sends: every failure it
/// answers must be listed for it (`body` checks each answer against the document).
#[actix_web::test]
async fn every_operation_answers_hostile_requests_only_with_documented_failures() {
    let app = spawn_app().await;
    let doc = body(app.get("/openapi.json").await).await;
    let operations: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| ops.as_object().unwrap().keys().map(move |m| (m.to_uppercase(), path.clone())))
        .collect();
    let mut failures = 0;
    for (method, path) in operations {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let request = || app.client.request(method.clone(), app.url(&path));
        let hostile = [
            request().header("Origin", "https://evil.example"),
            request().header("Sec-Fetch-Site", "cross-site"),
            request().header("Content-Type", "text/plain").body("{}"),
            request().header("Content-Type", "application/json").body("{not json"),
            request().header("Content-Type", "application/json").body("{}"),
            request().header("Content-Type", "application/json").header("Content-Encoding", "gzip").body("{}"),
            request().json(&json!({"username": "x", "password": "short"})),
            request().json(&json!({"password": "a long enough password"})),
            request().bearer_auth("not.a.token").header("Cookie", "jwt=not-a-token"),
            request().header("Cookie", "jwt=a; jwt=b"),
            request(),
            app.client.request(reqwest::Method::from_bytes(b"PATCH").unwrap(), app.url(&path)),
        ];
        for builder in hostile {
            let resp = builder.send().await.unwrap();
            let (status, json) =
                (resp.status(), resp.headers().get("content-type").is_some_and(|t| t.as_bytes().starts_with(b"application/json")));
            assert!(status.as_u16() < 500, "{method} {path} answered {status} to bad input");
            if json {
                failures += usize::from(!status.is_success());
                body(resp).await;
            }
        }
    }
    assert!(failures > 40, "only {failures} failures were seen");
}
