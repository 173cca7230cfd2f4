//! Access tokens: JWTs with `sub`, `sid`, `iat`, `nbf`, `exp`, `iss`, `aud`, `jti` and `typ: at+jwt`,
//! signed with the current key of the key set (EdDSA, ES256 or HS256) and naming it by `kid`;
//! verified with the key the `kid` names, pinned to that key's algorithm.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Validation, errors::ErrorKind};
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

use super::verified::{Cached, Subject, VerifiedTokens};
use crate::keys::{Algorithm, Context, KeyRing, KeySet, Sealer};
use crate::metrics::keys as metrics;

/// RFC 9068's media type for JWT access tokens; checked on every verification so that no other
/// kind of JWT signed with the same key can pass as an access token (RFC 8725 §3.11).
pub const ACCESS_TYP: &str = "at+jwt";

/// The header members gatehouse reads itself, before any key is chosen: the algorithm, the
/// key id, and whether any member it refuses is there at all. jsonwebtoken parses `crit`, `jku`,
/// `x5u` and `jwk` into its `Header` and then ignores them, and reads `"crit": null` as none.
#[derive(Deserialize)]
struct HeaderProbe {
    alg: String,
    #[serde(default, deserialize_with = "some")]
    kid: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "present")]
    crit: bool,
    #[serde(default, deserialize_with = "present")]
    jku: bool,
    #[serde(default, deserialize_with = "present")]
    x5u: bool,
    #[serde(default, deserialize_with = "present")]
    jwk: bool,
    #[serde(default, deserialize_with = "present")]
    x5c: bool,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

/// A member that is there, even as `null` (which `Option` alone would read as absent).
fn some<'de, D: Deserializer<'de>>(d: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

/// The token's header; `None` when it cannot be read (duplicate members included).
fn read_header(token: &str) -> Option<HeaderProbe> {
    let header = URL_SAFE_NO_PAD.decode(token.split('.').next()?).ok()?;
    serde_json::from_slice(&header).ok()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub sub: Uuid,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub jti: Uuid,
    /// The session (refresh-token family) the token belongs to: what ending the session revokes.
    /// Absent only from tokens signed before sessions had ids, which expire within one TTL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AccessTokenError {
    #[error("expired")]
    Expired,
    #[error("invalid")]
    Invalid,
    /// The token names a key this replica cannot judge yet: the stored keys were never read
    /// (the database away since startup).
    #[error("keys unavailable")]
    Unavailable,
}

/// Why a token was refused, for the refusal counter; clients only see `AccessTokenError`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    UnknownKid,
    BadSignature,
    Expired,
    Invalid,
    Unavailable,
}

impl Refusal {
    fn count(self) -> AccessTokenError {
        let (reason, error) = match self {
            Refusal::UnknownKid => ("unknown_kid", AccessTokenError::Invalid),
            Refusal::BadSignature => ("bad_signature", AccessTokenError::Invalid),
            Refusal::Expired => ("expired", AccessTokenError::Expired),
            Refusal::Invalid => ("invalid", AccessTokenError::Invalid),
            Refusal::Unavailable => return AccessTokenError::Unavailable,
        };
        metrics::refused(reason);
        error
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// No key signs yet: the stored keys were never read, or the current one did not open.
    #[error("no signing key is loaded")]
    NoKey,
}

/// Signs and verifies access tokens with the replica's key set.
pub struct AccessTokens {
    ring: KeyRing,
    /// One per algorithm, each pinned to it: `validations[alg as usize]`.
    validations: [Validation; 3],
    issuer: String,
    audience: String,
    ttl: Duration,
    leeway: Duration,
    verified: VerifiedTokens,
}

fn index(alg: Algorithm) -> usize {
    match alg {
        Algorithm::EdDSA => 0,
        Algorithm::ES256 => 1,
        Algorithm::HS256 => 2,
    }
}

impl AccessTokens {
    pub fn new(ring: KeyRing, issuer: &str, audience: &str, ttl: Duration, leeway: Duration) -> AccessTokens {
        // Security (RFC 8725 §3.1): each key's algorithm is pinned. `alg: none`, another HMAC
        // size, an HMAC "verified" with a public key as its secret, or any algorithm other than
        // the one of the key the `kid` names, are all refused, whatever the header claims.
        let validation = |alg: Algorithm| {
            let mut validation = Validation::new(alg.jsonwebtoken());
            validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
            validation.validate_exp = true;
            validation.validate_nbf = true;
            validation.set_issuer(&[issuer]);
            validation.set_audience(&[audience]);
            validation.leeway = leeway.as_secs();
            validation
        };
        AccessTokens {
            ring,
            validations: [validation(Algorithm::EdDSA), validation(Algorithm::ES256), validation(Algorithm::HS256)],
            issuer: issuer.into(),
            audience: audience.into(),
            ttl,
            leeway,
            verified: VerifiedTokens::default(),
        }
    }

    /// Tokens signed and verified with `secret` alone (HS256): for tests and benchmarks that
    /// need no database.
    pub fn hs256(secret: &[u8], issuer: &str, audience: &str, ttl: Duration, leeway: Duration) -> AccessTokens {
        // Nothing to load: the secret is the whole key set.
        let set = KeySet::build(&Context { algorithm: Algorithm::HS256, secret, sealer: &Sealer::new(secret) }, &[], 0, true);
        Self::new(KeyRing::new(set), issuer, audience, ttl, leeway)
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Whether a key signs: checked before a flow stores a refresh token it could not pair
    /// with an access token.
    pub fn can_sign(&self) -> bool {
        self.ring.get().signing().is_some()
    }

    /// A fresh token for `user_id` in session `sid`, valid from now for the configured lifetime.
    pub fn sign(&self, user_id: Uuid, sid: &str) -> Result<String, SignError> {
        let now = chrono::Utc::now().timestamp();
        let claims = AccessClaims {
            sub: user_id,
            iat: now,
            nbf: now,
            exp: now + self.ttl.as_secs() as i64,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            jti: Uuid::new_v4(),
            sid: Some(sid.to_string()),
        };
        self.sign_claims(&claims)
    }

    /// Signs arbitrary claims with the current key: used by `sign` and by tests that need a
    /// token with particular times. The header (`alg`, `typ`, `kid`) was encoded when the key
    /// set loaded; the key is kept parsed, so a signature costs the signature alone.
    pub fn sign_claims(&self, claims: &AccessClaims) -> Result<String, SignError> {
        let set = self.ring.get();
        let key = set.signing().ok_or(SignError::NoKey)?;
        // unwrap: the claims are plain strings and numbers, which always serialize.
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap());
        let input = format!("{}.{payload}", key.header);
        let signature = URL_SAFE_NO_PAD.encode(key.signer.sign(input.as_bytes()));
        Ok(format!("{input}.{signature}"))
    }

    /// The user and session a bearer token names: `verify`, remembered for the token's next
    /// presentation (see `verified`). The request path needs nothing else of the claims; the
    /// caller checks the answer against the revocation table, hit or not.
    pub fn verify_subject(&self, token: &str) -> Result<Subject, AccessTokenError> {
        self.remembered(token.as_bytes()).unwrap_or_else(|| self.verify_new(token))
    }

    /// The full verification of a token `remembered` does not know, remembered when it passes.
    pub fn verify_new(&self, token: &str) -> Result<Subject, AccessTokenError> {
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let leeway = self.leeway.as_secs() as i64;
        self.ring.with(|set| {
            let (claims, kid) = self.check(set, token).map_err(Refusal::count)?;
            let sid = claims.sid.as_deref().and_then(|sid| (sid.len() == 32).then(|| u128::from_str_radix(sid, 16).ok()).flatten());
            let subject = Subject { sub: claims.sub, sid, iat: claims.iat };
            self.verified.put(token, subject, claims.exp, &kid, now, leeway);
            Ok(subject)
        })
    }

    /// What `verify_subject` would answer for a token this thread verified before (its exact
    /// bytes), as of now; `None` for a token it has not, which needs the full verification.
    pub fn remembered(&self, token: &[u8]) -> Option<Result<Subject, AccessTokenError>> {
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let leeway = self.leeway.as_secs() as i64;
        self.ring.with(|set| match self.verified.get(token, now, leeway, |kid| set.accepts(kid, now)) {
            Cached::Valid(sub) => Some(Ok(sub)),
            Cached::Expired => Some(Err(Refusal::Expired.count())),
            Cached::Unknown => None,
        })
    }

    /// Expired tokens are told apart from every other refusal, so a client knows to refresh.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, AccessTokenError> {
        self.check(&self.ring.get(), token).map(|(claims, _)| claims).map_err(Refusal::count)
    }

    /// Every check, in order; the claims and the kid of the key that verified them.
    fn check(&self, set: &KeySet, token: &str) -> Result<(AccessClaims, String), Refusal> {
        let Some(header) = read_header(token) else {
            log::debug!("access token refused: unreadable header");
            return Err(Refusal::Invalid);
        };
        // Security (RFC 7515 §4.1.11): `crit` lists header extensions the recipient must
        // understand or refuse the token. gatehouse understands none and never sends one, so a
        // `crit` member of any value (an empty list and `null` included) refuses the token.
        // Security (RFC 8725 §3.10): `jku`, `x5u`, `jwk` and `x5c` would let the token name or
        // carry its own key; gatehouse only trusts keys from its own set, and refuses them all.
        if header.crit || header.jku || header.x5u || header.jwk || header.x5c {
            log::debug!("access token refused: a crit, jku, x5u, jwk or x5c header");
            return Err(Refusal::Invalid);
        }
        let kid = match &header.kid {
            None => None,
            Some(serde_json::Value::String(kid)) => Some(kid.as_str()),
            Some(_) => {
                log::debug!("access token refused: a kid that is not a string");
                return Err(Refusal::Invalid);
            }
        };
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let key = match set.get(kid) {
            Some(key) if key.verifies_at(now) => key,
            // Reliability: before the stored keys were ever read, an unknown kid may be a good
            // one: "try again" (503), not "invalid" (401, which would send the client to log in).
            _ if !set.loaded => return Err(Refusal::Unavailable),
            _ => {
                log::debug!("access token refused: unknown or retired kid");
                return Err(Refusal::UnknownKid);
            }
        };
        // Security: the key's algorithm, not the header's, decides; a mismatch is refused
        // before any signature is checked (a public key is never tried as an HMAC secret).
        if header.alg != key.alg.name() {
            log::debug!("access token refused: alg {} for a {} key", header.alg, key.alg);
            return Err(Refusal::Invalid);
        }
        let data = jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &self.validations[index(key.alg)]).map_err(|e| {
            match e.kind() {
                ErrorKind::ExpiredSignature => Refusal::Expired,
                ErrorKind::InvalidSignature => Refusal::BadSignature,
                // The reason (never the token) is for operators; the client only learns "invalid".
                kind => {
                    log::debug!("access token refused: {kind:?}");
                    Refusal::Invalid
                }
            }
        })?;
        if data.header.typ.as_deref() != Some(ACCESS_TYP) {
            log::debug!("access token refused: typ is not {ACCESS_TYP}");
            return Err(Refusal::Invalid);
        }
        self.check_lifetime(&data.claims)?;
        Ok((data.claims, kid.unwrap_or(crate::keys::HS256_KID).to_string()))
    }

    /// Security: a correctly signed token must also claim a lifetime this service could have
    /// given it. Every token gatehouse signs has `exp - iat = ACCESS_TOKEN_TTL` and `iat` = the
    /// moment of signing, so a token issued in the future (beyond the leeway), with `exp` before
    /// `iat`, or living longer than twice `ACCESS_TOKEN_TTL` plus the leeway was minted elsewhere
    /// (a leaked key, another service sharing it) and is refused. The factor of two lets
    /// `ACCESS_TOKEN_TTL` be raised or lowered up to twofold across a rolling restart without
    /// refusing tokens that another replica signed under the other setting. The check runs before
    /// a token is remembered in `verified`, and time cannot make a token pass it later.
    fn check_lifetime(&self, claims: &AccessClaims) -> Result<(), Refusal> {
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let leeway = self.leeway.as_secs() as i64;
        let lifetime = claims.exp.saturating_sub(claims.iat);
        if claims.iat > now.saturating_add(leeway) {
            log::debug!("access token refused: iat in the future");
            return Err(Refusal::Invalid);
        }
        if lifetime < 0 || lifetime > self.max_lifetime() {
            log::debug!("access token refused: lifetime of {lifetime} s");
            return Err(Refusal::Invalid);
        }
        Ok(())
    }

    /// The longest `exp - iat` accepted: see `check_lifetime`.
    fn max_lifetime(&self) -> i64 {
        (self.ttl.as_secs() as i64).saturating_mul(2).saturating_add(self.leeway.as_secs() as i64)
    }
}

#[cfg(test)]
mod keyed_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};

    const SECRET: &[u8] = b"CvUwTRudq9ogaXzGATwcf3TI1HpCBfgsNNewSikL2z0S";
    const SID: &str = "00112233445566778899aabbccddeeff";

    fn tokens() -> AccessTokens {
        AccessTokens::hs256(SECRET, "gatehouse", "gatehouse", Duration::from_secs(300), Duration::ZERO)
    }

    fn claims(exp_offset: i64) -> AccessClaims {
        let now = chrono::Utc::now().timestamp();
        AccessClaims {
            sub: Uuid::new_v4(),
            iat: now,
            nbf: now,
            exp: now + exp_offset,
            iss: "gatehouse".into(),
            aud: "gatehouse".into(),
            jti: Uuid::new_v4(),
            sid: None,
        }
    }

    fn b64(v: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    #[test]
    fn a_signed_token_verifies_to_its_subject() {
        let t = tokens();
        let id = Uuid::new_v4();
        let claims = t.verify(&t.sign(id, SID).unwrap()).unwrap();
        assert_eq!((claims.sub, claims.sid.as_deref()), (id, Some(SID)));
        let subject = t.verify_subject(&t.sign(id, SID).unwrap()).unwrap();
        assert_eq!(subject.sid_hex().as_deref(), Some(SID));
    }

    #[test]
    fn an_expired_token_is_told_apart() {
        let t = tokens();
        let token = t.sign_claims(&claims(-10)).unwrap();
        assert_eq!(t.verify(&token), Err(AccessTokenError::Expired));
    }

    #[test]
    fn a_token_signed_with_another_secret_is_invalid() {
        let other =
            AccessTokens::hs256(b"another-secret-another-secret-xx", "gatehouse", "gatehouse", Duration::from_secs(60), Duration::ZERO);
        assert_eq!(tokens().verify(&other.sign(Uuid::new_v4(), SID).unwrap()), Err(AccessTokenError::Invalid));
    }

    #[test]
    fn alg_none_is_refused() {
        let header = b64(&serde_json::json!({"alg": "none", "typ": "at+jwt"}));
        let payload = b64(&serde_json::to_value(claims(60)).unwrap());
        assert_eq!(tokens().verify(&format!("{header}.{payload}.")), Err(AccessTokenError::Invalid));
    }

    #[test]
    fn another_issuer_or_audience_is_refused() {
        let t = tokens();
        let mut c = claims(60);
        c.iss = "someone-else".into();
        assert_eq!(t.verify(&t.sign_claims(&c).unwrap()), Err(AccessTokenError::Invalid));
        let mut c = claims(60);
        c.aud = "another-api".into();
        assert_eq!(t.verify(&t.sign_claims(&c).unwrap()), Err(AccessTokenError::Invalid));
    }

    #[test]
    fn a_jwt_without_the_access_typ_is_refused() {
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some("JWT".into());
        let token = jsonwebtoken::encode(&header, &claims(60), &EncodingKey::from_secret(SECRET)).unwrap();
        assert_eq!(tokens().verify(&token), Err(AccessTokenError::Invalid));
    }

    /// A token signed with the right secret and the service's algorithm, with this header.
    fn signed_with_header(header: &serde_json::Value, claims: &AccessClaims) -> String {
        use hmac::{Hmac, Mac};
        let input = format!("{}.{}", b64(header), b64(&serde_json::to_value(claims).unwrap()));
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
        mac.update(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn the_hand_built_control_token_verifies() {
        let token = signed_with_header(&serde_json::json!({"alg": "HS256", "typ": "at+jwt"}), &claims(60));
        assert!(tokens().verify(&token).is_ok());
    }

    #[test]
    fn any_crit_header_is_refused_and_never_remembered() {
        let t = tokens();
        for crit in
            [serde_json::json!(["exp"]), serde_json::json!(["b64"]), serde_json::json!([]), serde_json::json!(null), serde_json::json!("x")]
        {
            let header = serde_json::json!({"alg": "HS256", "typ": "at+jwt", "crit": crit, "exp": 1, "b64": true});
            let token = signed_with_header(&header, &claims(60));
            assert_eq!(t.verify(&token), Err(AccessTokenError::Invalid), "crit {crit}");
            assert_eq!(t.verify_subject(&token), Err(AccessTokenError::Invalid), "crit {crit}");
            assert_eq!(t.verify_subject(&token), Err(AccessTokenError::Invalid), "crit {crit}, presented again");
        }
    }

    #[test]
    fn unknown_header_members_without_crit_are_ignored() {
        let header = serde_json::json!({"alg": "HS256", "typ": "at+jwt", "x-extension": {"a": 1}});
        assert!(tokens().verify(&signed_with_header(&header, &claims(60))).is_ok());
    }

    #[test]
    fn a_lifetime_this_service_never_gives_is_refused() {
        let t = tokens();
        let exact = claims(300);
        assert!(t.verify(&t.sign_claims(&exact).unwrap()).is_ok(), "the configured lifetime");
        let twice = claims(t.max_lifetime());
        assert!(t.verify(&t.sign_claims(&twice).unwrap()).is_ok(), "up to twice the configured lifetime");
        for (what, lifetime) in [("just over the bound", t.max_lifetime() + 1), ("a year", 365 * 86_400), ("i64::MAX", i64::MAX / 2)] {
            let c = claims(lifetime);
            let token = t.sign_claims(&c).unwrap();
            assert_eq!(t.verify(&token), Err(AccessTokenError::Invalid), "{what}");
            assert_eq!(t.verify_subject(&token), Err(AccessTokenError::Invalid), "{what}");
        }
    }

    #[test]
    fn an_iat_in_the_future_or_after_exp_is_refused() {
        let t = AccessTokens::hs256(SECRET, "gatehouse", "gatehouse", Duration::from_secs(300), Duration::from_secs(5));
        let now = chrono::Utc::now().timestamp();
        let mut c = claims(300);
        c.iat = now + 3;
        assert!(t.verify(&t.sign_claims(&c).unwrap()).is_ok(), "within the leeway");
        c.iat = now + 3600;
        c.exp = c.iat + 300;
        assert_eq!(t.verify(&t.sign_claims(&c).unwrap()), Err(AccessTokenError::Invalid), "issued in an hour");
        let mut c = claims(300);
        (c.iat, c.exp) = (now + 4, now + 2);
        assert_eq!(t.verify(&t.sign_claims(&c).unwrap()), Err(AccessTokenError::Invalid), "exp before iat");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_strings_never_verify(s in "\\PC{0,300}") {
            proptest::prop_assert_eq!(tokens().verify(&s), Err(AccessTokenError::Invalid));
        }

        #[test]
        fn a_signed_token_with_any_single_character_changed_never_verifies(pos in 0usize..400, c in "[A-Za-z0-9_.-]") {
            let t = tokens();
            let token = t.sign(Uuid::new_v4(), SID).unwrap();
            let pos = pos % token.len();
            let mut bytes = token.clone().into_bytes();
            bytes[pos] = c.as_bytes()[0];
            let changed = String::from_utf8(bytes).unwrap();
            // Base64 may decode two different final characters to the same bytes.
            let same_bytes = |a: &str, b: &str| URL_SAFE_NO_PAD.decode(a).ok() == URL_SAFE_NO_PAD.decode(b).ok();
            let segment = |s: &str, i: usize| s.split('.').nth(i).unwrap_or_default().to_string();
            let equivalent = (0..3).all(|i| same_bytes(&segment(&changed, i), &segment(&token, i))) && changed.matches('.').count() == 2;
            if !equivalent {
                proptest::prop_assert!(t.verify(&changed).is_err());
            }
        }
    }

    #[test]
    fn garbage_is_invalid_not_a_panic() {
        for junk in ["", ".", "..", "a.b.c", "eyJ.eyJ.sig", &"x".repeat(10_000)] {
            assert_eq!(tokens().verify(junk), Err(AccessTokenError::Invalid), "{junk:.20}");
        }
    }
}
