//! Access tokens that must be refused, one of each kind, and tokens used in the wrong place.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use uuid::Uuid;

use crate::helpers::{TEST_SECRET, assert_error, spawn_app};

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn claims(sub: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": sub, "iat": now, "nbf": now, "exp": now + 300, "iss": "gatehouse", "aud": "gatehouse", "jti": Uuid::new_v4()})
}

/// A token signed with HMAC-SHA256 under the service's own secret, whatever the header says.
fn hs256_signed(header: &Value, claims: &Value) -> String {
    let signing_input = format!("{}.{}", b64(header), b64(claims));
    let mut mac = Hmac::<Sha256>::new_from_slice(TEST_SECRET.as_bytes()).unwrap();
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

#[actix_web::test]
async fn the_control_token_built_here_is_accepted() {
    // Proves the forgeries below fail for the one property each changes.
    let app = spawn_app().await;
    let user = app.register_user().await;
    let token = hs256_signed(&json!({"alg": "HS256", "typ": "at+jwt"}), &claims(&user.user_id));
    assert_eq!(app.me(&token).await.status(), 200);
}

#[actix_web::test]
async fn every_kind_of_forged_or_misused_token_is_invalid() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let sub = user.user_id.as_str();
    let now = chrono::Utc::now().timestamp();
    let with = |key: &str, value: Value| {
        let mut c = claims(sub);
        c[key] = value;
        c
    };
    let without = |key: &str| {
        let mut c = claims(sub);
        c.as_object_mut().unwrap().remove(key);
        c
    };
    let at = json!({"alg": "HS256", "typ": "at+jwt"});
    let hs512 = jsonwebtoken::encode(
        &{
            let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512);
            h.typ = Some("at+jwt".into());
            h
        },
        &claims(sub),
        &jsonwebtoken::EncodingKey::from_secret(TEST_SECRET.as_bytes()),
    )
    .unwrap();
    let cases: Vec<(&str, String)> = vec![
        ("alg none", format!("{}.{}.", b64(&json!({"alg": "none", "typ": "at+jwt"})), b64(&claims(sub)))),
        ("another HMAC size with the same secret", hs512),
        ("an asymmetric alg verified with the secret", hs256_signed(&json!({"alg": "RS256", "typ": "at+jwt"}), &claims(sub))),
        ("no typ", hs256_signed(&json!({"alg": "HS256"}), &claims(sub))),
        ("typ JWT", hs256_signed(&json!({"alg": "HS256", "typ": "JWT"}), &claims(sub))),
        ("no exp", hs256_signed(&at, &without("exp"))),
        ("no nbf", hs256_signed(&at, &without("nbf"))),
        ("nbf in the future", hs256_signed(&at, &with("nbf", json!(now + 3600)))),
        ("another issuer", hs256_signed(&at, &with("iss", json!("someone-else")))),
        ("another audience", hs256_signed(&at, &with("aud", json!("another-api")))),
        ("a subject that is not a user id", hs256_signed(&at, &with("sub", json!("admin")))),
        ("a tampered payload", {
            let good = hs256_signed(&at, &claims(sub));
            let parts: Vec<&str> = good.split('.').collect();
            format!("{}.{}.{}", parts[0], b64(&with("sub", json!(Uuid::now_v7()))), parts[2])
        }),
        ("the refresh token used as an access token", user.refresh.clone()),
    ];
    for (what, token) in cases {
        let resp = app.me(&token).await;
        assert_eq!(resp.status(), 401, "{what}");
        crate::common::assert_envelope(&crate::helpers::body(resp).await, 401, "INVALID_ACCESS_TOKEN", &format!("{what}: "));
    }
}

#[actix_web::test]
async fn an_access_token_is_never_a_refresh_token() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    assert_error(app.refresh(&user.access_token).await, 401, "INVALID_REFRESH_TOKEN").await;
}

#[actix_web::test]
async fn correctly_signed_tokens_with_crit_or_an_absurd_lifetime_are_invalid_every_time() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let sub = user.user_id.as_str();
    let now = chrono::Utc::now().timestamp();
    let at = json!({"alg": "HS256", "typ": "at+jwt"});
    let times = |iat: i64, exp: i64| {
        let mut c = claims(sub);
        (c["iat"], c["exp"]) = (json!(iat), json!(exp));
        c
    };
    let cases: Vec<(&str, String)> = vec![
        ("crit naming an extension", hs256_signed(&json!({"alg": "HS256", "typ": "at+jwt", "crit": ["b64"], "b64": false}), &claims(sub))),
        (
            "crit naming a registered member",
            hs256_signed(&json!({"alg": "HS256", "typ": "at+jwt", "crit": ["exp"], "exp": now + 300}), &claims(sub)),
        ),
        ("an empty crit", hs256_signed(&json!({"alg": "HS256", "typ": "at+jwt", "crit": []}), &claims(sub))),
        ("a null crit", hs256_signed(&json!({"alg": "HS256", "typ": "at+jwt", "crit": null}), &claims(sub))),
        ("exp a year after iat", hs256_signed(&at, &times(now, now + 365 * 86_400))),
        ("iat an hour in the future", hs256_signed(&at, &times(now + 3600, now + 3600 + 300))),
        ("exp before iat", hs256_signed(&at, &times(now + 2, now + 1))),
    ];
    for (what, token) in cases {
        // Twice: a refused token must not have been remembered as verified on the first try.
        for attempt in ["first", "second"] {
            let resp = app.me(&token).await;
            assert_eq!(resp.status(), 401, "{what}, {attempt} presentation");
            let body = crate::helpers::body(resp).await;
            crate::common::assert_envelope(&body, 401, "INVALID_ACCESS_TOKEN", &format!("{what}, {attempt}: "));
        }
    }
    // The same user's honest token of the configured lifetime still works.
    assert_eq!(app.me(&hs256_signed(&at, &times(now, now + 300))).await.status(), 200);
}
