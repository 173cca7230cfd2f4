//! Access tokens that must be refused, one of each kind, and tokens used in the wrong place.
//! Each forgery differs from an honest token (signed here with the server's own current key)
//! by one property.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use uuid::Uuid;

use crate::helpers::{TEST_SECRET, TestApp, assert_error, spawn_app};

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn claims(sub: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": sub, "iat": now, "nbf": now, "exp": now + 300, "iss": "gatehouse", "aud": "gatehouse", "jti": Uuid::new_v4()})
}

/// A token signed with HMAC-SHA256 under `key`, whatever the header says.
fn hmac_signed(key: &[u8], header: &Value, claims: &Value) -> String {
    let signing_input = format!("{}.{}", b64(header), b64(claims));
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// The honest header of this server's tokens.
fn header(app: &TestApp) -> Value {
    json!({"alg": "EdDSA", "typ": "at+jwt", "kid": app.current_kid()})
}

/// The honest header with members changed (`null` removes one).
fn header_with(app: &TestApp, changes: Value) -> Value {
    let mut h = header(app);
    for (k, v) in changes.as_object().unwrap() {
        match v {
            Value::Null => drop(h.as_object_mut().unwrap().remove(k)),
            v => h[k] = v.clone(),
        }
    }
    h
}

/// An Ed25519 key of another deployment, signing `header.claims`.
fn signed_elsewhere(header: &Value, claims: &Value) -> String {
    use ed25519_dalek::Signer;
    let key = ed25519_dalek::SigningKey::from_bytes(&rand::random::<[u8; 32]>());
    let input = format!("{}.{}", b64(header), b64(claims));
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes()).to_bytes()))
}

#[actix_web::test]
async fn the_control_token_built_here_is_accepted() {
    // Proves the forgeries below fail for the one property each changes.
    let app = spawn_app().await;
    let user = app.register_user().await;
    let token = app.signed_with_current_key(&header(&app), &claims(&user.user_id));
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
    let kid = app.current_kid();
    let at = header(&app);
    let signed = |h: &Value, c: &Value| app.signed_with_current_key(h, c);
    let jwks = app.jwks().await;
    let jwk = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid.as_str()).unwrap().clone();
    let public_x = jwk["x"].as_str().unwrap().to_string();
    let public_raw = URL_SAFE_NO_PAD.decode(&public_x).unwrap();
    let hs512 = jsonwebtoken::encode(
        &{
            let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512);
            h.typ = Some("at+jwt".into());
            h.kid = Some(kid.clone());
            h
        },
        &claims(sub),
        &jsonwebtoken::EncodingKey::from_secret(TEST_SECRET.as_bytes()),
    )
    .unwrap();
    let hs = |h: Value| hmac_signed(TEST_SECRET.as_bytes(), &h, &claims(sub));
    let cases: Vec<(&str, String)> = vec![
        ("alg none", format!("{}.{}.", b64(&header_with(&app, json!({"alg": "none"}))), b64(&claims(sub)))),
        (
            "alg HS256 under the key's kid, the public key (raw) as the HMAC secret",
            hmac_signed(&public_raw, &header_with(&app, json!({"alg": "HS256"})), &claims(sub)),
        ),
        (
            "alg HS256 under the key's kid, the public key (base64url) as the HMAC secret",
            hmac_signed(public_x.as_bytes(), &header_with(&app, json!({"alg": "HS256"})), &claims(sub)),
        ),
        (
            "alg HS256 under the key's kid, the JWK text as the HMAC secret",
            hmac_signed(jwk.to_string().as_bytes(), &header_with(&app, json!({"alg": "HS256"})), &claims(sub)),
        ),
        ("alg ES256 under an EdDSA key's kid", signed(&header_with(&app, json!({"alg": "ES256"})), &claims(sub))),
        ("HS256 with JWT_SECRET, which this EdDSA install never signed with", hs(json!({"alg": "HS256", "typ": "at+jwt", "kid": "hs256"}))),
        ("HS256 with JWT_SECRET and no kid", hs(json!({"alg": "HS256", "typ": "at+jwt"}))),
        ("HS512 with JWT_SECRET", hs512),
        ("an unknown kid", signed(&header_with(&app, json!({"kid": "no-such-key"})), &claims(sub))),
        ("no kid", signed(&header_with(&app, json!({"kid": null})), &claims(sub))),
        ("a kid that is not a string", signed(&header_with(&app, json!({"kid": 7})), &claims(sub))),
        ("a key of another deployment under its own kid", signed_elsewhere(&header_with(&app, json!({"kid": "elsewhere"})), &claims(sub))),
        ("a key of another deployment under this server's kid", signed_elsewhere(&at, &claims(sub))),
        ("a jku header", signed(&header_with(&app, json!({"jku": "https://attacker.example/jwks.json"})), &claims(sub))),
        ("an x5u header", signed(&header_with(&app, json!({"x5u": "https://attacker.example/cert.pem"})), &claims(sub))),
        ("a jwk header", signed(&header_with(&app, json!({"jwk": jwk.clone()})), &claims(sub))),
        ("an x5c header", signed(&header_with(&app, json!({"x5c": ["MIIB"]})), &claims(sub))),
        ("no typ", signed(&header_with(&app, json!({"typ": null})), &claims(sub))),
        ("typ JWT", signed(&header_with(&app, json!({"typ": "JWT"})), &claims(sub))),
        ("no exp", signed(&at, &without("exp"))),
        ("no nbf", signed(&at, &without("nbf"))),
        ("nbf in the future", signed(&at, &with("nbf", json!(now + 3600)))),
        ("another issuer", signed(&at, &with("iss", json!("someone-else")))),
        ("another audience", signed(&at, &with("aud", json!("another-api")))),
        ("a subject that is not a user id", signed(&at, &with("sub", json!("admin")))),
        ("a tampered payload", {
            let good = signed(&at, &claims(sub));
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
    let at = header(&app);
    let signed = |h: &Value, c: &Value| app.signed_with_current_key(h, c);
    let times = |iat: i64, exp: i64| {
        let mut c = claims(sub);
        (c["iat"], c["exp"]) = (json!(iat), json!(exp));
        c
    };
    let cases: Vec<(&str, String)> = vec![
        ("crit naming an extension", signed(&header_with(&app, json!({"crit": ["b64"], "b64": false})), &claims(sub))),
        ("crit naming a registered member", signed(&header_with(&app, json!({"crit": ["exp"], "exp": now + 300})), &claims(sub))),
        ("an empty crit", signed(&header_with(&app, json!({"crit": []})), &claims(sub))),
        ("a null crit", {
            let mut h = header(&app);
            h["crit"] = Value::Null;
            signed(&h, &claims(sub))
        }),
        ("exp a year after iat", signed(&at, &times(now, now + 365 * 86_400))),
        ("iat an hour in the future", signed(&at, &times(now + 3600, now + 3600 + 300))),
        ("exp before iat", signed(&at, &times(now + 2, now + 1))),
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
    assert_eq!(app.me(&signed(&at, &times(now, now + 300))).await.status(), 200);
}
