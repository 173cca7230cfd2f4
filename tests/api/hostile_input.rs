//! Hostile input: always a documented 4xx in the envelope, never a 5xx.

use serde_json::json;

use crate::helpers::{PASSWORD, assert_error, spawn_app};

#[actix_web::test]
async fn deeply_nested_json_is_refused() {
    let app = spawn_app().await;
    let nested = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let resp = app.client.post(app.url("/auth/login")).header("Content-Type", "application/json").body(nested).send().await.unwrap();
    // 10,000 bytes: under MAX_BODY_BYTES, so it is the parser that refuses it.
    assert_error(resp, 400, "INVALID_JSON").await;
}

#[actix_web::test]
async fn invalid_utf8_is_refused() {
    let app = spawn_app().await;
    let mut raw = br#"{"username": "ab"#.to_vec();
    raw.extend_from_slice(&[0xff, 0xfe]);
    raw.extend_from_slice(br#"c", "password": "xxxxxxxxxx"}"#);
    let resp = app.client.post(app.url("/auth/register")).header("Content-Type", "application/json").body(raw).send().await.unwrap();
    assert_error(resp, 400, "INVALID_JSON").await;
}

#[actix_web::test]
async fn sql_and_redis_metacharacters_are_inert_in_every_field() {
    let app = spawn_app().await;
    // Each payload as a username, then inside the email of the user "meta-user": what the README
    // promises for each (`None`: registered). The first payload that makes a valid email
    // registers "meta-user"; the later valid ones find the name taken.
    let nasty = [
        ("' OR '1'='1", Some("INVALID_USERNAME_CHARACTERS"), Some("INVALID_EMAIL")),
        ("\"; DROP TABLE users; --", Some("INVALID_USERNAME_CHARACTERS"), Some("INVALID_EMAIL")),
        ("\r\nFLUSHALL\r\n", None, Some("INVALID_EMAIL")),
        ("*", Some("INVALID_USERNAME_LENGTH"), None),
        ("{a}", Some("INVALID_USERNAME_CHARACTERS"), Some("USERNAME_TAKEN")),
        ("$1", Some("INVALID_USERNAME_LENGTH"), Some("USERNAME_TAKEN")),
        ("\\x00", Some("INVALID_USERNAME_CHARACTERS"), Some("INVALID_EMAIL")),
        ("redis.call('FLUSHALL')", Some("INVALID_USERNAME_CHARACTERS"), Some("INVALID_EMAIL")),
    ];
    for (payload, as_username, in_email) in nasty {
        for (request, expected) in [
            (json!({"username": payload, "password": PASSWORD}), as_username),
            (json!({"username": "meta-user", "email": format!("a{payload}@example.com"), "password": PASSWORD}), in_email),
        ] {
            let resp = app.register(&request).await;
            match expected {
                None => assert_eq!(resp.status(), 201, "{payload:?}"),
                Some(code) => {
                    let status = if code == "USERNAME_TAKEN" { 409 } else { 422 };
                    assert_error(resp, status, code).await;
                }
            }
        }
        for request in [
            json!({"username": payload, "password": payload}),
            json!({"email": payload, "password": payload}),
            json!({"username": "meta-user", "password": payload}),
        ] {
            assert_error(app.login(&request).await, 401, "INVALID_CREDENTIALS").await;
        }
        let cookie_resp = app
            .client
            .post(app.url("/auth/refresh"))
            .header("Cookie", app.refresh_cookie_header(&payload.replace(['\r', '\n', ';'], "")))
            .send()
            .await
            .unwrap();
        assert_error(cookie_resp, 401, "INVALID_REFRESH_TOKEN").await;
    }
    // The database and the store still work: a normal user round-trips.
    let user = app.register_user().await;
    assert_eq!(app.me(&user.access_token).await.status(), 200);
    assert_eq!(app.refresh(&user.refresh).await.status(), 200);
}

#[actix_web::test]
async fn a_nul_byte_or_control_characters_never_reach_the_database() {
    let app = spawn_app().await;
    for name in ["nul\u{0}name", "bell\u{7}name", "zero\u{200b}width"] {
        assert_error(app.register(&json!({"username": name, "password": PASSWORD})).await, 422, "INVALID_USERNAME_CHARACTERS").await;
    }
    let status = app.register(&json!({"username": "nul-pass", "password": "pass\u{0}word-long"})).await.status();
    assert_eq!(status, 201, "a password is opaque bytes to Argon2");
}

#[actix_web::test]
async fn oversized_headers_are_refused_without_a_5xx() {
    let app = spawn_app().await;
    let resp = app.client.get(app.url("/auth/me")).header("Authorization", format!("Bearer {}", "a".repeat(100_000))).send().await;
    // 100,000 bytes: under actix-http's 128 KiB head limit, so the application sees it and
    // refuses the token.
    let resp = resp.unwrap_or_else(|e| panic!("the server should answer, not drop the connection: {e}"));
    assert_error(resp, 401, "INVALID_ACCESS_TOKEN").await;
}

#[actix_web::test]
async fn fullwidth_and_case_variants_of_a_name_are_the_same_name() {
    let app = spawn_app().await;
    assert_eq!(app.register(&json!({"username": "Mallory", "password": PASSWORD})).await.status(), 201);
    for variant in ["ｍａｌｌｏｒｙ", "MALLORY", " mallory "] {
        assert_error(app.register(&json!({"username": variant, "password": PASSWORD})).await, 409, "USERNAME_TAKEN").await;
    }
}

#[actix_web::test]
async fn too_many_headers_are_refused_by_the_http_layer_with_431() {
    // actix-http parses at most 96 headers and answers 431 itself, before the application (and
    // so without the envelope): one of the exceptions the README lists (see http_layer.rs).
    let app = spawn_app().await;
    let mut req = app.client.get(app.url("/"));
    for i in 0..120 {
        req = req.header(format!("x-filler-{i}"), "v");
    }
    assert_eq!(req.send().await.unwrap().status(), 431);
}
