//! Access tokens under a key set of asymmetric keys: the choice by `kid`, the pinned algorithm,
//! retired and unknown keys, and keys of another deployment.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{AccessClaims, AccessTokenError, AccessTokens};
use crate::keys::{Algorithm, Context, KeyRing, KeyRow, KeySet, Sealer, fresh_key};

const SECRET: &[u8] = b"CvUwTRudq9ogaXzGATwcf3TI1HpCBfgsNNewSikL2z0S";
const SID: &str = "00112233445566778899aabbccddeeff";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A current key and a next one of `alg`, as the worker would store them.
fn rows(alg: Algorithm) -> Vec<KeyRow> {
    let sealer = Sealer::new(SECRET);
    let mut current = fresh_key(&sealer, alg, now() - 10);
    current.activated_at = Some(now() - 10);
    vec![current, fresh_key(&sealer, alg, now())]
}

fn set(configured: Algorithm, rows: &[KeyRow]) -> KeySet {
    KeySet::build(&Context { algorithm: configured, secret: SECRET, sealer: &Sealer::new(SECRET) }, rows, now(), true)
}

fn tokens(ring: KeyRing) -> AccessTokens {
    AccessTokens::new(ring, "gatehouse", "gatehouse", Duration::from_secs(300), Duration::ZERO)
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn header(token: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap()
}

fn claims() -> AccessClaims {
    let now = now();
    AccessClaims {
        sub: Uuid::new_v4(),
        sid: Some(SID.into()),
        iat: now,
        nbf: now,
        exp: now + 300,
        iss: "gatehouse".into(),
        aud: "gatehouse".into(),
        jti: Uuid::new_v4(),
    }
}

fn hmac(key: &[u8], header: &Value, claims: &AccessClaims) -> String {
    use hmac::{Hmac, Mac};
    let input = format!("{}.{}", b64(header), b64(&serde_json::to_value(claims).unwrap()));
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

#[test]
fn each_algorithm_signs_with_its_current_key_and_names_it() {
    for alg in [Algorithm::EdDSA, Algorithm::ES256] {
        let rows = rows(alg);
        let t = tokens(KeyRing::new(set(alg, &rows)));
        let token = t.sign(Uuid::new_v4(), SID).unwrap();
        assert_eq!(header(&token), json!({"alg": alg.name(), "typ": "at+jwt", "kid": rows[0].kid}));
        assert!(t.verify(&token).is_ok(), "{alg}");
        // The same claims verify under the library's own check with the published key alone.
        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(crate::keys::material::jwk(&rows[0].kid, alg, &rows[0].public_key).unwrap()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(alg.jsonwebtoken());
        validation.set_audience(&["gatehouse"]);
        assert!(jsonwebtoken::decode::<Value>(&token, &jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap(), &validation).is_ok());
    }
}

#[test]
fn verification_picks_the_key_by_kid() {
    let rows = rows(Algorithm::EdDSA);
    // A token signed by the next key (as another replica does once it is promoted) verifies.
    let mut promoted = rows.clone();
    (promoted[0].retired_at, promoted[1].activated_at) = (Some(now()), Some(now()));
    let by_next = tokens(KeyRing::new(set(Algorithm::EdDSA, &promoted))).sign(Uuid::new_v4(), SID).unwrap();
    assert_eq!(header(&by_next)["kid"], rows[1].kid.as_str());
    assert!(tokens(KeyRing::new(set(Algorithm::EdDSA, &rows))).verify(&by_next).is_ok());
}

#[test]
fn a_retired_key_verifies_until_its_end_and_not_after() {
    let mut rows = rows(Algorithm::EdDSA);
    let ring = KeyRing::new(set(Algorithm::EdDSA, &rows));
    let t = tokens(ring.clone());
    let token = t.sign(Uuid::new_v4(), SID).unwrap();
    assert!(t.verify_subject(&token).is_ok());
    rows[0].retired_at = Some(now());
    rows[0].verify_until = Some(now() + 60);
    ring.replace(set(Algorithm::EdDSA, &rows));
    assert!(t.verify_subject(&token).is_ok(), "retired on schedule: its tokens still verify");
    rows[0].verify_until = Some(now());
    ring.replace(set(Algorithm::EdDSA, &rows));
    assert_eq!(t.verify_subject(&token), Err(AccessTokenError::Invalid), "retired at once: refused, remembered or not");
    assert_eq!(t.verify(&token), Err(AccessTokenError::Invalid));
}

#[test]
fn an_alg_other_than_the_keys_is_refused() {
    let rows = rows(Algorithm::EdDSA);
    let t = tokens(KeyRing::new(set(Algorithm::EdDSA, &rows)));
    let kid = rows[0].kid.as_str();
    let x = crate::keys::material::jwk(kid, Algorithm::EdDSA, &rows[0].public_key).unwrap()["x"].as_str().unwrap().to_string();
    for (what, token) in [
        (
            "the raw public key as an HMAC secret",
            hmac(&rows[0].public_key, &json!({"alg": "HS256", "typ": "at+jwt", "kid": kid}), &claims()),
        ),
        ("its base64url as an HMAC secret", hmac(x.as_bytes(), &json!({"alg": "HS256", "typ": "at+jwt", "kid": kid}), &claims())),
        ("the HS256 secret under an EdDSA kid", hmac(SECRET, &json!({"alg": "HS256", "typ": "at+jwt", "kid": kid}), &claims())),
        (
            "alg none",
            format!("{}.{}.", b64(&json!({"alg": "none", "typ": "at+jwt", "kid": kid})), b64(&serde_json::to_value(claims()).unwrap())),
        ),
    ] {
        assert_eq!(t.verify(&token), Err(AccessTokenError::Invalid), "{what}");
    }
}

#[test]
fn the_secret_verifies_nothing_under_an_asymmetric_algorithm_unless_it_signed_here() {
    let mut rows = rows(Algorithm::EdDSA);
    let t = tokens(KeyRing::new(set(Algorithm::EdDSA, &rows)));
    let legacy = hmac(SECRET, &json!({"alg": "HS256", "typ": "at+jwt"}), &claims());
    let named = hmac(SECRET, &json!({"alg": "HS256", "typ": "at+jwt", "kid": "hs256"}), &claims());
    assert_eq!(t.verify(&legacy), Err(AccessTokenError::Invalid), "no kid: the secret, which never signed here");
    assert_eq!(t.verify(&named), Err(AccessTokenError::Invalid));
    // After a switch from HS256, the secret's row verifies until its end: tokens from before
    // the switch (and from a release before signing keys, with no kid) still verify.
    rows.push(KeyRow {
        kid: "hs256".into(),
        alg: Algorithm::HS256,
        public_key: vec![],
        sealed_private: vec![],
        created_at: now() - 100,
        activated_at: Some(now() - 100),
        retired_at: Some(now()),
        verify_until: Some(now() + 60),
    });
    let t = tokens(KeyRing::new(set(Algorithm::EdDSA, &rows)));
    assert!(t.verify(&legacy).is_ok());
    assert!(t.verify(&named).is_ok());
}

#[test]
fn keys_of_another_deployment_are_refused() {
    let ours = rows(Algorithm::EdDSA);
    let theirs = rows(Algorithm::EdDSA);
    let t = tokens(KeyRing::new(set(Algorithm::EdDSA, &ours)));
    let foreign = tokens(KeyRing::new(set(Algorithm::EdDSA, &theirs))).sign(Uuid::new_v4(), SID).unwrap();
    assert_eq!(t.verify(&foreign), Err(AccessTokenError::Invalid), "their kid is unknown here");
    // Their key under our kid: the signature does not verify.
    let mut relabelled = theirs[0].clone();
    relabelled.kid = ours[0].kid.clone();
    relabelled.sealed_private = Sealer::new(SECRET).seal(
        &relabelled.kid,
        "EdDSA",
        &Sealer::new(SECRET).open(&theirs[0].kid, "EdDSA", &theirs[0].sealed_private).unwrap(),
    );
    let forged = tokens(KeyRing::new(set(Algorithm::EdDSA, &[relabelled]))).sign(Uuid::new_v4(), SID).unwrap();
    assert_eq!(header(&forged)["kid"], ours[0].kid.as_str());
    assert_eq!(t.verify(&forged), Err(AccessTokenError::Invalid));
}

#[test]
fn before_the_keys_are_read_an_unknown_kid_is_unavailable_not_invalid() {
    let rows = rows(Algorithm::EdDSA);
    let signed = tokens(KeyRing::new(set(Algorithm::EdDSA, &rows))).sign(Uuid::new_v4(), SID).unwrap();
    let initial = KeySet::initial(&Context { algorithm: Algorithm::EdDSA, secret: SECRET, sealer: &Sealer::new(SECRET) });
    let t = tokens(KeyRing::new(initial));
    assert!(!t.can_sign());
    assert_eq!(t.verify_subject(&signed), Err(AccessTokenError::Unavailable));
}

#[test]
fn keys_sealed_under_another_secret_do_not_sign() {
    let rows = rows(Algorithm::EdDSA);
    let other = Sealer::new(b"another secret, of the same sort of length");
    let set = KeySet::build(
        &Context { algorithm: Algorithm::EdDSA, secret: b"another secret, of the same sort of length", sealer: &other },
        &rows,
        now(),
        true,
    );
    assert!(set.signing().is_none());
    assert_eq!(set.published(), 2, "verification needs only the public halves");
}

proptest::proptest! {
    /// Any header a forger might write (with the real key's kid, another or none; any alg; any
    /// extra members) over an HMAC with the secret or the public key never verifies under EdDSA.
    #[test]
    fn no_hmac_forgery_verifies_under_eddsa(alg in "(HS256|HS384|none|EdDSA|ES256|RS256)", kid_choice in 0u8..3, secret_choice in 0u8..2) {
        let rows = rows(Algorithm::EdDSA);
        let t = tokens(KeyRing::new(set(Algorithm::EdDSA, &rows)));
        let mut h = json!({"alg": alg, "typ": "at+jwt"});
        match kid_choice {
            0 => h["kid"] = json!(rows[0].kid),
            1 => h["kid"] = json!(rows[1].kid),
            _ => {}
        }
        let key: &[u8] = if secret_choice == 0 { SECRET } else { &rows[0].public_key };
        proptest::prop_assert!(t.verify(&hmac(key, &h, &claims())).is_err());
    }
}
