//! Request bodies with a `Content-Encoding`: refused with 415 in the envelope before anything
//! reads them, never inflated.

use std::io::Write as _;

use flate2::Compression;
use flate2::write::{GzEncoder, ZlibEncoder};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, assert_error, spawn_app};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// HTTP's `deflate` is the zlib format (RFC 9110 §8.4.1.2).
fn deflate(data: &[u8]) -> Vec<u8> {
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// The body under each coding a client might send. No brotli encoder is at hand: the bytes
/// labelled `br` are the plain JSON, which changes nothing since the body is never read.
fn encodings(json: &Value) -> Vec<(&'static str, Vec<u8>)> {
    let plain = serde_json::to_vec(json).unwrap();
    vec![
        ("gzip", gzip(&plain)),
        ("deflate", deflate(&plain)),
        ("br", plain.clone()),
        ("GZip", gzip(&plain)),
        ("identity, gzip", gzip(&plain)),
        ("x-made-up", plain),
    ]
}

#[actix_web::test]
async fn compressed_bodies_to_login_and_register_are_refused_with_415() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let newcomer = json!({"username": "compressed-newcomer", "password": PASSWORD});
    for (path, request) in [("/auth/register", newcomer.clone()), ("/auth/login", json!({"username": user.username, "password": PASSWORD}))]
    {
        for (encoding, bytes) in encodings(&request) {
            let resp = app
                .client
                .post(app.url(path))
                .header("Content-Type", "application/json")
                .header("Content-Encoding", encoding)
                .body(bytes)
                .send()
                .await
                .unwrap();
            assert_eq!(
                resp.headers().get("accept-encoding").map(|v| v.to_str().unwrap().to_string()),
                Some("identity".into()),
                "{path} {encoding}"
            );
            assert!(resp.headers().contains_key("x-request-id"), "{path} {encoding}");
            assert!(resp.headers().get_all("set-cookie").iter().next().is_none(), "{path} {encoding}: no session");
            assert_error(resp, 415, "UNSUPPORTED_CONTENT_ENCODING").await;
        }
    }
    // The refused registrations never reached the handler: the name is still free.
    assert_eq!(app.register(&newcomer).await.status(), 201);
}

#[actix_web::test]
async fn any_request_with_a_content_encoding_is_refused_even_without_a_body() {
    let app = spawn_app().await;
    for path in ["/", "/auth/me", "/no/such/route"] {
        let resp = app.client.get(app.url(path)).header("Content-Encoding", "gzip").send().await.unwrap();
        assert_error(resp, 415, "UNSUPPORTED_CONTENT_ENCODING").await;
    }
}

#[actix_web::test]
async fn the_identity_encoding_is_no_encoding_and_is_accepted() {
    let app = spawn_app().await;
    for (n, encoding) in ["identity", "Identity", " identity , identity"].into_iter().enumerate() {
        let resp = app
            .client
            .post(app.url("/auth/register"))
            .header("Content-Encoding", encoding)
            .json(&json!({"username": format!("identity-{n}"), "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "{encoding:?}");
    }
}

#[actix_web::test]
async fn a_browser_can_read_the_415_of_an_allowed_origin() {
    let app = spawn_app().await;
    let origin = "http://localhost:5173";
    let resp = app
        .client
        .post(app.url("/auth/login"))
        .header("Origin", origin)
        .header("Content-Type", "application/json")
        .header("Content-Encoding", "gzip")
        .body(gzip(br#"{"username":"someone","password":"x"}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["access-control-allow-origin"], origin);
    assert_error(resp, 415, "UNSUPPORTED_CONTENT_ENCODING").await;
}
