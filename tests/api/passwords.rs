//! Passwords across register and login: one password however it is typed (NFKC), accounts
//! hashed before normalisation, and trivial variants of common passwords.

use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version, password_hash::phc::PasswordHash};
use serde_json::json;

use crate::helpers::{TestApp, assert_error, spawn_app};

/// "café crème 2024" with precomposed accents (NFC, and its own NFKC form).
const COMPOSED: &str = "caf\u{e9} cr\u{e8}me 2024";
/// The same password with each accent typed as a letter and a combining mark (NFD).
const DECOMPOSED: &str = "cafe\u{301} cre\u{300}me 2024";

async fn register(app: &TestApp, username: &str, password: &str) {
    let resp = app.register(&json!({"username": username, "password": password})).await;
    assert_eq!(resp.status(), 201, "{username}");
}

async fn login_status(app: &TestApp, username: &str, password: &str) -> u16 {
    app.login(&json!({"username": username, "password": password})).await.status().as_u16()
}

#[actix_web::test]
async fn a_password_registered_decomposed_logs_in_composed_and_the_other_way_round() {
    let app = spawn_app().await;
    register(&app, "decomposed", DECOMPOSED).await;
    register(&app, "composed", COMPOSED).await;
    for (username, typed) in [("decomposed", COMPOSED), ("composed", DECOMPOSED), ("decomposed", DECOMPOSED), ("composed", COMPOSED)] {
        assert_eq!(login_status(&app, username, typed).await, 200, "{username} with {typed:?}");
    }
    assert_error(app.login(&json!({"username": "composed", "password": "cafe cre\u{300}me 2024"})).await, 401, "INVALID_CREDENTIALS").await;
}

#[actix_web::test]
async fn fullwidth_typing_is_the_same_password() {
    let app = spawn_app().await;
    register(&app, "fullwidth", "ｈｕｎｔｅｒ ｆｉｓｈ ４２").await;
    assert_eq!(login_status(&app, "fullwidth", "hunter fish 42").await, 200);
    assert_eq!(login_status(&app, "fullwidth", "ｈｕｎｔｅｒ ｆｉｓｈ ４２").await, 200);
    assert_eq!(login_status(&app, "fullwidth", "HUNTER FISH 42").await, 401, "case is kept");
}

#[actix_web::test]
async fn an_account_hashed_before_normalisation_logs_in_and_is_upgraded_to_the_normalised_form() {
    let app = spawn_app().await;
    register(&app, "legacy", "a placeholder password").await;
    // The hash an older release stored: of the password exactly as typed (decomposed), with the
    // configured parameters, so only the form of the password can call for a re-hash.
    let params = Params::new(app.config.argon2.m_kib, app.config.argon2.t, app.config.argon2.p, None).unwrap();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let legacy = argon2.hash_password(DECOMPOSED.as_bytes()).unwrap().to_string();
    app.set_password_hash_of("legacy", &legacy).await;
    assert_eq!(login_status(&app, "legacy", COMPOSED).await, 401, "the stored hash is of the decomposed form only");

    assert_eq!(login_status(&app, "legacy", DECOMPOSED).await, 200, "the form it was registered with still logs in");

    let deadline = Instant::now() + Duration::from_secs(30);
    let upgraded = loop {
        let stored = app.password_hash_of("legacy").await;
        if stored != legacy {
            break stored;
        }
        assert!(Instant::now() < deadline, "the stored hash was never upgraded");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    };
    let upgraded_phc = PasswordHash::new(&upgraded).unwrap();
    assert!(argon2.verify_password(COMPOSED.as_bytes(), &upgraded_phc).is_ok(), "the new hash is of the normalised form");
    assert!(argon2.verify_password(DECOMPOSED.as_bytes(), &upgraded_phc).is_err());
    for typed in [DECOMPOSED, COMPOSED] {
        assert_eq!(login_status(&app, "legacy", typed).await, 200, "{typed:?}");
    }
    assert_eq!(app.password_hash_of("legacy").await, upgraded, "an upgraded hash is not re-hashed again");
}

#[actix_web::test]
async fn trivial_variants_of_common_passwords_are_refused_at_registration() {
    let app = spawn_app().await;
    for (i, variant) in ["ｐａｓｓｗｏｒｄ１", "ｐａｓｓｗｏｒｄ", "password ", " PassWord1", "pass word1", "ＰＡＳＳＷＯＲＤ\u{3000}"]
        .into_iter()
        .enumerate()
    {
        let resp = app.register(&json!({"username": format!("variant{i}"), "password": variant})).await;
        assert_error(resp, 422, "PASSWORD_TOO_COMMON").await;
    }
    register(&app, "uncommon", "ｐａｓｓｗｏｒｄ is not my password").await;
}
