//! Signing keys: the JWKS, each algorithm, rotation across two replicas, an emergency retire,
//! switching algorithms, and the keys' start-up with several replicas at once.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::helpers::{TestApp, assert_documented, assert_error, header_of_token, replica_of, spawn_app, spawn_app_with};

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_string()).collect()
}

/// Verifies `token` the way a resource server would: with the JWKS alone (jsonwebtoken's JWK
/// support), picking the key by `kid`.
fn verify_with_jwks(jwks: &Value, token: &str) -> Result<Value, String> {
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.clone()).unwrap();
    let kid = header_of_token(token)["kid"].as_str().ok_or("no kid")?.to_string();
    let jwk = set.find(&kid).ok_or("unknown kid")?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let alg: jsonwebtoken::Algorithm = jwk.common.key_algorithm.unwrap().to_string().parse().unwrap();
    let mut validation = jsonwebtoken::Validation::new(alg);
    validation.set_audience(&["gatehouse"]);
    validation.leeway = 0;
    jsonwebtoken::decode::<Value>(token, &key, &validation).map(|d| d.claims).map_err(|e| e.to_string())
}

#[actix_web::test]
async fn the_jwks_publishes_the_current_and_next_ed25519_keys_and_nothing_private() {
    let app = spawn_app().await;
    let resp = app.get("/.well-known/jwks.json").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(resp.headers()["cache-control"], "public, max-age=300");
    let jwks: Value = resp.json().await.unwrap();
    assert!(jwks.get("success").is_none(), "plain JSON, not the envelope: {jwks}");
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "the current key and the next one: {jwks}");
    for key in keys {
        assert_eq!(
            (key["kty"].as_str(), key["crv"].as_str(), key["alg"].as_str(), key["use"].as_str()),
            (Some("OKP"), Some("Ed25519"), Some("EdDSA"), Some("sig"))
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(key["x"].as_str().unwrap()).unwrap().len(), 32);
        assert!(key.get("d").is_none(), "no private half: {key}");
    }
    let user = app.register_user().await;
    let header = header_of_token(&user.access_token);
    assert_eq!((header["alg"].as_str(), header["typ"].as_str()), (Some("EdDSA"), Some("at+jwt")));
    assert!(kids(&jwks).contains(&header["kid"].as_str().unwrap().to_string()));
    let claims = verify_with_jwks(&jwks, &user.access_token).unwrap();
    assert_eq!(claims["sub"], user.user_id.as_str());
}

#[actix_web::test]
async fn es256_tokens_verify_from_the_p256_jwks() {
    let app = spawn_app_with(&[("JWT_ALGORITHM", "ES256")]).await;
    let jwks = app.jwks().await;
    for key in jwks["keys"].as_array().unwrap() {
        assert_eq!((key["kty"].as_str(), key["crv"].as_str(), key["alg"].as_str()), (Some("EC"), Some("P-256"), Some("ES256")));
        assert!(key["y"].is_string() && key.get("d").is_none());
    }
    let user = app.register_user().await;
    assert_eq!(header_of_token(&user.access_token)["alg"], "ES256");
    assert_eq!(verify_with_jwks(&jwks, &user.access_token).unwrap()["sub"], user.user_id.as_str());
    assert_eq!(app.me(&user.access_token).await.status(), 200);
}

#[actix_web::test]
async fn hs256_publishes_no_key_and_still_names_its_key() {
    let app = spawn_app_with(&[("JWT_ALGORITHM", "HS256")]).await;
    assert_eq!(app.jwks().await, serde_json::json!({"keys": []}));
    let user = app.register_user().await;
    let header = header_of_token(&user.access_token);
    assert_eq!((header["alg"].as_str(), header["kid"].as_str()), (Some("HS256"), Some("hs256")));
    assert_eq!(app.me(&user.access_token).await.status(), 200);
}

#[actix_web::test]
async fn switching_the_algorithm_logs_nobody_out() {
    let hs = spawn_app_with(&[("JWT_ALGORITHM", "HS256")]).await;
    let before = hs.register_user().await;
    // The deployment is switched to EdDSA: a replica with the new setting.
    let ed = replica_of(&hs, &[("JWT_ALGORITHM", "EdDSA")]).await;
    assert_eq!(ed.me(&before.access_token).await.status(), 200, "an HS256 token from before the switch");
    let during = ed.register_user().await;
    assert_eq!(header_of_token(&during.access_token)["alg"], "EdDSA");
    // And back: the EdDSA token still verifies on an HS256 replica, which loaded the keys.
    let back = replica_of(&hs, &[("JWT_ALGORITHM", "HS256")]).await;
    assert_eq!(back.me(&during.access_token).await.status(), 200, "an EdDSA token from before switching back");
    assert_eq!(back.me(&before.access_token).await.status(), 200);
    assert_eq!(back.jwks().await["keys"], serde_json::json!([]), "HS256 publishes nothing");
}

#[actix_web::test]
async fn replicas_starting_together_make_one_key() {
    let first = spawn_app().await;
    // The first created the keys; wipe them so that three replicas start on an empty table.
    let url = first.database_url();
    exec(&url, "DELETE FROM signing_keys").await;
    let (a, b, c) = futures_util::join!(replica_of(&first, &[]), replica_of(&first, &[]), replica_of(&first, &[]));
    let rows = count(&url, "SELECT COUNT(*) FROM signing_keys").await;
    assert_eq!(rows, 2, "one current key and one next key, whatever the number of replicas");
    let (ja, jb, jc) = (a.jwks().await, b.jwks().await, c.jwks().await);
    assert_eq!(kids(&ja), kids(&jb));
    assert_eq!(kids(&jb), kids(&jc));
    assert_eq!((a.current_kid(), b.current_kid()), (c.current_kid(), c.current_kid()));
}

#[actix_web::test]
async fn a_database_dump_alone_cannot_sign() {
    let app = spawn_app().await;
    let url = app.database_url();
    // Another deployment with the dump of this one but its own secret: the keys do not open.
    let thief = replica_of(&app, &[("JWT_SECRET", "Hq3Zr8VwK1pLx0bT6mYcN4aJ2sUe9fGd7iOk5RvWzQyE")]).await;
    let body = assert_error(
        thief.register(&serde_json::json!({"username": "thief-user", "password": crate::helpers::PASSWORD})).await,
        503,
        "SERVICE_UNAVAILABLE",
    )
    .await;
    assert_documented("/auth/register", 503, &body);
    assert!(count(&url, "SELECT COUNT(*) FROM users").await == 0, "nothing stored for the refused registration");
    // It says so: not ready, its database (where the keys are) down for it.
    let ready = thief.get("/health/ready").await;
    assert_eq!(ready.status(), 503);
    assert_eq!(crate::helpers::body(ready).await["content"]["checks"]["database"], "down");
    // The sealed private halves are not the keys: 24 bytes of nonce, 32 sealed, 16 of tag.
    assert_eq!(count(&url, "SELECT COUNT(*) FROM signing_keys WHERE length(sealed_private) = 72").await, 2);
}

#[actix_web::test]
async fn an_emergency_retire_refuses_the_keys_tokens_at_once_and_on_every_replica() {
    let a = spawn_app_with(&[("SIGNING_KEY_REFRESH", "1")]).await;
    let b = replica_of(&a, &[]).await;
    let user = a.register_user().await;
    let compromised = header_of_token(&user.access_token)["kid"].as_str().unwrap().to_string();
    assert_eq!(a.me(&user.access_token).await.status(), 200, "verified, and remembered as verified");
    assert_eq!(b.me(&user.access_token).await.status(), 200);
    a.keys.retire_now(&compromised).await.unwrap();
    let body = assert_error(a.me(&user.access_token).await, 401, "INVALID_ACCESS_TOKEN").await;
    assert_documented("/auth/me", 401, &body);
    assert!(!kids(&a.jwks().await).contains(&compromised));
    // The other replica within its refresh interval.
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.me(&user.access_token).await.status() == 200 {
        assert!(Instant::now() < deadline, "replica b still accepts a retired key's token");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    // The session goes on with a new key.
    let resp = a.refresh(&user.refresh).await;
    assert_eq!(resp.status(), 200);
    let token = crate::helpers::body(resp).await["content"]["access_token"].as_str().unwrap().to_string();
    assert_ne!(header_of_token(&token)["kid"].as_str().unwrap(), compromised);
    assert_eq!(b.me(&token).await.status(), 200);
}

#[actix_web::test]
async fn the_key_metrics_show_the_published_keys_and_refusals_by_reason() {
    let app = spawn_app_with(&[("METRICS_ADDR", "127.0.0.1:0")]).await;
    let user = app.register_user().await;
    let forged = {
        let mut parts: Vec<String> = user.access_token.split('.').map(str::to_string).collect();
        let mut header = header_of_token(&user.access_token);
        header["kid"] = Value::String("not-a-key-of-ours".into());
        parts[0] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap());
        parts.join(".")
    };
    assert_eq!(app.me(&forged).await.status(), 401);
    let text = app.scrape_after_first_tick().await;
    let value = |series: &str| -> f64 {
        let line = text.lines().find(|l| l.starts_with(series)).unwrap_or_else(|| panic!("no {series} in\n{text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(value("gatehouse_signing_keys_published "), 2.0);
    assert_eq!(value("gatehouse_signing_key_lifetime_seconds "), 2_592_000.0);
    assert!(value("gatehouse_signing_key_age_seconds ") < 60.0);
    assert!(value("gatehouse_access_token_refusals_total{reason=\"unknown_kid\"}") >= 1.0);
    assert!(text.contains("gatehouse_signing_key_rotations_total{outcome=\"failed\"}"), "created at zero");
}

/// Two replicas through two full rotations with short periods: every token verifies on both
/// until it expires, and each JWKS holds what it should at every step.
#[actix_web::test]
async fn two_replicas_agree_through_two_rotations() {
    let periods = [
        ("SIGNING_KEY_LIFETIME", "3"),
        ("JWKS_MAX_AGE", "1"),
        ("SIGNING_KEY_REFRESH", "1"),
        ("ACCESS_TOKEN_TTL", "4"),
        ("JWT_LEEWAY", "0"),
        // Every login below starts a session of its own; none replaces (and revokes) another.
        ("SESSIONS_PER_USER", "100"),
    ];
    let a = spawn_app_with(&periods).await;
    let b = replica_of(&a, &[]).await;
    let user = a.register_user().await;
    let mut tokens: Vec<(String, i64)> = Vec::new();
    let mut current_kids: Vec<String> = vec![a.current_kid()];
    let deadline = Instant::now() + Duration::from_secs(60);
    while current_kids.len() < 3 {
        assert!(Instant::now() < deadline, "two rotations never happened: {current_kids:?}");
        for replica in [&a, &b] {
            // A login on each replica (the embedded token store is one process's own, so a
            // refresh token would not cross replicas there).
            let resp = replica.login(&serde_json::json!({"username": user.username, "password": crate::helpers::PASSWORD})).await;
            assert_eq!(resp.status(), 200);
            let token = crate::helpers::body(resp).await["content"]["access_token"].as_str().unwrap().to_string();
            let kid = header_of_token(&token)["kid"].as_str().unwrap().to_string();
            if !current_kids.contains(&kid) {
                current_kids.push(kid.clone());
            }
            let exp = verify_with_jwks(&replica.jwks().await, &token).unwrap()["exp"].as_i64().unwrap();
            tokens.push((token, exp));
        }
        check_every_token(&[&a, &b], &tokens).await;
        actix_web::rt::time::sleep(Duration::from_millis(400)).await;
    }
    // After the last token's expiry, the first key has left both JWKS, and its tokens are refused.
    let first = current_kids[0].clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let gone = !kids(&a.jwks().await).contains(&first) && !kids(&b.jwks().await).contains(&first);
        if gone {
            break;
        }
        assert!(Instant::now() < deadline, "the first key never left the JWKS");
        check_every_token(&[&a, &b], &tokens).await;
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    }
    let old = &tokens[0].0;
    assert_eq!(a.me(old).await.status(), 401);
}

/// Every token still inside its lifetime verifies on every replica, and its key is in every
/// replica's JWKS; every replica's JWKS also holds its current key and a next one.
async fn check_every_token(replicas: &[&TestApp], tokens: &[(String, i64)]) {
    for replica in replicas {
        let jwks = replica.jwks().await;
        let published = kids(&jwks);
        assert!(published.contains(&replica.current_kid()), "the current key is published: {published:?}");
        assert!(published.len() >= 2, "a next key is published ahead: {published:?}");
        for (token, exp) in tokens {
            // A second of margin either side of `exp` for the time between reading the clock
            // and the server's check.
            let now = chrono::Utc::now().timestamp();
            if now + 1 < *exp {
                let kid = header_of_token(token)["kid"].as_str().unwrap().to_string();
                assert!(published.contains(&kid), "a live token's key {kid} is missing from {published:?}");
                assert_eq!(replica.me(token).await.status(), 200, "a live token of key {kid} refused at {now}, exp {exp}");
            } else if now > *exp + 1 {
                assert_eq!(replica.me(token).await.status(), 401);
            }
        }
    }
}

async fn exec(url: &str, sql: &'static str) {
    use sqlx::Connection;
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
}

async fn count(url: &str, sql: &'static str) -> i64 {
    use sqlx::Connection;
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
    }
}
