//! Access tokens: HS256 JWTs with `sub`, `sid`, `iat`, `nbf`, `exp`, `iss`, `aud`, `jti` and `typ: at+jwt`.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

use super::verified::{Cached, Subject, VerifiedTokens};

/// RFC 9068's media type for JWT access tokens; checked on every verification so that no other
/// kind of JWT signed with the same key can pass as an access token (RFC 8725 §3.11).
const ACCESS_TYP: &str = "at+jwt";

/// The one header member gatehouse reads from the raw header itself: whether `crit` is there at
/// all. jsonwebtoken parses `crit` into its `Header` and then ignores it, and reads
/// `"crit": null` as no `crit`.
#[derive(Deserialize)]
struct CritProbe {
    #[serde(default, deserialize_with = "present")]
    crit: bool,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

/// Whether the token's header has a `crit` member (whatever its value); `None` when the header
/// cannot be read.
fn has_crit(token: &str) -> Option<bool> {
    let header = URL_SAFE_NO_PAD.decode(token.split('.').next()?).ok()?;
    serde_json::from_slice::<CritProbe>(&header).ok().map(|probe| probe.crit)
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
}

/// Signs and verifies access tokens with one secret.
pub struct AccessTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    header: Header,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: Duration,
    verified: VerifiedTokens,
}

impl AccessTokens {
    pub fn new(secret: &[u8], issuer: &str, audience: &str, ttl: Duration, leeway: Duration) -> AccessTokens {
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(ACCESS_TYP.into());
        // Security (RFC 8725 §3.1): the algorithm is pinned. `alg: none`, another HMAC size, or
        // an asymmetric algorithm "verified" with this secret as a public key are all refused,
        // whatever the token's header claims.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.leeway = leeway.as_secs();
        AccessTokens {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            header,
            validation,
            issuer: issuer.into(),
            audience: audience.into(),
            ttl,
            verified: VerifiedTokens::default(),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A fresh token for `user_id` in session `sid`, valid from now for the configured lifetime.
    pub fn sign(&self, user_id: Uuid, sid: &str) -> Result<String, jsonwebtoken::errors::Error> {
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

    /// Signs arbitrary claims with the service's header: used by `sign` and by tests that need
    /// a token with particular times.
    pub fn sign_claims(&self, claims: &AccessClaims) -> Result<String, jsonwebtoken::errors::Error> {
        jsonwebtoken::encode(&self.header, claims, &self.encoding)
    }

    /// The user and session a bearer token names: `verify`, remembered for the token's next
    /// presentation (see `verified`). The request path needs nothing else of the claims; the
    /// caller checks the answer against the revocation table, hit or not.
    pub fn verify_subject(&self, token: &str) -> Result<Subject, AccessTokenError> {
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let leeway = self.validation.leeway as i64;
        match self.verified.get(token, now, leeway) {
            Cached::Valid(sub) => return Ok(sub),
            Cached::Expired => return Err(AccessTokenError::Expired),
            Cached::Unknown => {}
        }
        let claims = self.verify(token)?;
        let sid = claims.sid.as_deref().and_then(|sid| (sid.len() == 32).then(|| u128::from_str_radix(sid, 16).ok()).flatten());
        let subject = Subject { sub: claims.sub, sid, iat: claims.iat };
        self.verified.put(token, subject, claims.exp, now, leeway);
        Ok(subject)
    }

    /// Expired tokens are told apart from every other refusal, so a client knows to refresh.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, AccessTokenError> {
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation).map_err(|e| {
            match e.kind() {
                ErrorKind::ExpiredSignature => AccessTokenError::Expired,
                // The reason (never the token) is for operators; the client only learns "invalid".
                kind => {
                    log::debug!("access token refused: {kind:?}");
                    AccessTokenError::Invalid
                }
            }
        })?;
        if data.header.typ.as_deref() != Some(ACCESS_TYP) {
            log::debug!("access token refused: typ is not {ACCESS_TYP}");
            return Err(AccessTokenError::Invalid);
        }
        // Security (RFC 7515 §4.1.11): `crit` lists header extensions the recipient must
        // understand or refuse the token. gatehouse understands none and never sends one, so a
        // `crit` member of any value (an empty list and `null` included) refuses the token.
        if has_crit(token) != Some(false) {
            log::debug!("access token refused: crit header");
            return Err(AccessTokenError::Invalid);
        }
        self.check_lifetime(&data.claims)?;
        Ok(data.claims)
    }

    /// Security: a correctly signed token must also claim a lifetime this service could have
    /// given it. Every token gatehouse signs has `exp - iat = ACCESS_TOKEN_TTL` and `iat` = the
    /// moment of signing, so a token issued in the future (beyond the leeway), with `exp` before
    /// `iat`, or living longer than twice `ACCESS_TOKEN_TTL` plus the leeway was minted elsewhere
    /// (a leaked secret, another service sharing it) and is refused. The factor of two lets
    /// `ACCESS_TOKEN_TTL` be raised or lowered up to twofold across a rolling restart without
    /// refusing tokens that another replica signed under the other setting. The check runs before
    /// a token is remembered in `verified`, and time cannot make a token pass it later.
    fn check_lifetime(&self, claims: &AccessClaims) -> Result<(), AccessTokenError> {
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let leeway = self.validation.leeway as i64;
        let lifetime = claims.exp.saturating_sub(claims.iat);
        if claims.iat > now.saturating_add(leeway) {
            log::debug!("access token refused: iat in the future");
            return Err(AccessTokenError::Invalid);
        }
        if lifetime < 0 || lifetime > self.max_lifetime() {
            log::debug!("access token refused: lifetime of {lifetime} s");
            return Err(AccessTokenError::Invalid);
        }
        Ok(())
    }

    /// The longest `exp - iat` accepted: see `check_lifetime`.
    fn max_lifetime(&self) -> i64 {
        (self.ttl.as_secs() as i64).saturating_mul(2).saturating_add(self.validation.leeway as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"CvUwTRudq9ogaXzGATwcf3TI1HpCBfgsNNewSikL2z0S";
    const SID: &str = "00112233445566778899aabbccddeeff";

    fn tokens() -> AccessTokens {
        AccessTokens::new(SECRET, "gatehouse", "gatehouse", Duration::from_secs(300), Duration::ZERO)
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
            AccessTokens::new(b"another-secret-another-secret-xx", "gatehouse", "gatehouse", Duration::from_secs(60), Duration::ZERO);
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
        let t = AccessTokens::new(SECRET, "gatehouse", "gatehouse", Duration::from_secs(300), Duration::from_secs(5));
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
