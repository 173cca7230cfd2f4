//! `GET /auth/me` and `GET /me`.

use gatehouse::tokens::{AccessClaims, AccessTokens};
use uuid::Uuid;

use crate::helpers::{PASSWORD, assert_error, body, spawn_app};

#[actix_web::test]
async fn both_paths_return_the_user_for_a_valid_token() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    for path in ["/auth/me", "/me"] {
        let resp = app.client.get(app.url(path)).bearer_auth(&user.access_token).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        let body = body(resp).await;
        let u = &body["content"]["user"];
        assert_eq!(u["id"], user.user_id.as_str());
        assert_eq!(u["username"], user.username.as_str());
        assert_eq!(u["email"], user.email.as_str());
        assert!(u["created_at"].is_string());
        assert_eq!(u["email_verified"], false);
        assert_eq!(u.as_object().unwrap().len(), 5, "no hash, nothing else: {u}");
        assert!(!body.to_string().contains(PASSWORD));
    }
}

#[actix_web::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let resp = app.client.get(app.url("/auth/me")).header("Authorization", format!("bearer {}", user.access_token)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[actix_web::test]
async fn a_missing_token_is_told_apart_from_a_bad_one() {
    let app = spawn_app().await;
    let resp = app.get("/auth/me").await;
    assert!(resp.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    assert_error(resp, 401, "MISSING_ACCESS_TOKEN").await;
    for header in ["Bearer not.a.jwt", "Basic dXNlcjpwYXNz", "Bearer", "Token abc"] {
        let resp = app.client.get(app.url("/auth/me")).header("Authorization", header).send().await.unwrap();
        assert_error(resp, 401, "INVALID_ACCESS_TOKEN").await;
    }
}

fn claims(sub: Uuid, exp_offset: i64) -> AccessClaims {
    let now = chrono::Utc::now().timestamp();
    AccessClaims {
        sub,
        iat: now - 600,
        nbf: now - 600,
        exp: now + exp_offset,
        iss: "gatehouse".into(),
        aud: "gatehouse".into(),
        jti: Uuid::new_v4(),
        sid: None,
    }
}

#[actix_web::test]
async fn an_expired_token_asks_the_client_to_refresh() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let expired = app.access_tokens().sign_claims(&claims(user.user_id.parse().unwrap(), -60)).unwrap();
    let body = assert_error(app.me(&expired).await, 401, "EXPIRED_ACCESS_TOKEN").await;
    assert_eq!(body["content"]["message"], "your access token has expired, please refresh at /auth/refreshAccessToken");
}

#[actix_web::test]
async fn a_token_signed_by_another_deployments_key_is_invalid() {
    use gatehouse::keys::{Algorithm, Context, KeyRing, KeySet, Sealer, fresh_key};
    let app = spawn_app().await;
    let user = app.register_user().await;
    // Another deployment: its own secret, its own EdDSA key, under its own kid and then under
    // this server's kid.
    let secret = b"someone-elses-secret-someone-elses";
    let sealer = Sealer::new(secret);
    let now = chrono::Utc::now().timestamp();
    let mut key = fresh_key(&sealer, Algorithm::EdDSA, now);
    key.activated_at = Some(now);
    let forger = |key: &gatehouse::keys::KeyRow| {
        let set = KeySet::build(&Context { algorithm: Algorithm::EdDSA, secret, sealer: &sealer }, std::slice::from_ref(key), now, true);
        AccessTokens::new(KeyRing::new(set), "gatehouse", "gatehouse", app.config.tokens.access_token_ttl, app.config.tokens.jwt_leeway)
    };
    let forged = forger(&key).sign_claims(&claims(user.user_id.parse().unwrap(), 60)).unwrap();
    assert_error(app.me(&forged).await, 401, "INVALID_ACCESS_TOKEN").await;
    let private = sealer.open(&key.kid, "EdDSA", &key.sealed_private).unwrap();
    key.kid = app.current_kid();
    key.sealed_private = sealer.seal(&key.kid, "EdDSA", &private);
    let forged = forger(&key).sign_claims(&claims(user.user_id.parse().unwrap(), 60)).unwrap();
    assert_error(app.me(&forged).await, 401, "INVALID_ACCESS_TOKEN").await;
    // And a token of HS256 under another secret.
    let forged = AccessTokens::hs256(secret, "gatehouse", "gatehouse", app.config.tokens.access_token_ttl, app.config.tokens.jwt_leeway)
        .sign_claims(&claims(user.user_id.parse().unwrap(), 60))
        .unwrap();
    assert_error(app.me(&forged).await, 401, "INVALID_ACCESS_TOKEN").await;
}

#[actix_web::test]
async fn a_valid_token_for_a_user_that_does_not_exist_is_invalid() {
    let app = spawn_app().await;
    let token = app.access_tokens().sign(Uuid::now_v7(), "0123456789abcdef0123456789abcdef").unwrap();
    assert_error(app.me(&token).await, 401, "INVALID_ACCESS_TOKEN").await;
}
