//! `AuthenticatedUser`: the user named by a valid bearer access token.

use std::future::{Ready, ready};

use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;
use crate::tokens::{AccessTokenError, Subject};

/// Extracted by protected routes; its existence means the token verified and its session has
/// not ended.
#[derive(Debug, Clone, Copy)]
pub struct AuthenticatedUser {
    pub user_id: Uuid,
    /// The verified token's user, session and issue time.
    pub subject: Subject,
}

/// Longer than any token this service signs, short enough to bound the work on junk.
const MAX_TOKEN_LEN: usize = 4096;

/// Parses `Authorization: Bearer <token>` strictly; the token borrowed from the request.
///
/// Security: exactly one Authorization header, the scheme compared case-insensitively (RFC 9110
/// §11.1: `bearer` and `BEARER` too), one space, and a token made of the token68 alphabet
/// (RFC 6750 §2.1). Anything else is `INVALID_ACCESS_TOKEN`; no header at all is
/// `MISSING_ACCESS_TOKEN`. The token is never logged.
pub fn bearer(req: &HttpRequest) -> Result<&str, ApiError> {
    token68(bearer_field(req)?)
}

/// All of `bearer` but the token's alphabet.
fn bearer_field(req: &HttpRequest) -> Result<&[u8], ApiError> {
    let mut values = req.headers().get_all(AUTHORIZATION);
    let value = values.next().ok_or(ApiError::MissingAccessToken)?;
    if values.next().is_some() {
        return Err(ApiError::InvalidAccessToken);
    }
    let value = value.as_bytes();
    let space = value.iter().position(|&b| b == b' ').ok_or(ApiError::InvalidAccessToken)?;
    let (scheme, token) = (&value[..space], &value[space + 1..]);
    if !scheme.eq_ignore_ascii_case(b"bearer") || token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(ApiError::InvalidAccessToken);
    }
    Ok(token)
}

/// The token, if every byte is of the token68 alphabet (which is ASCII, so valid UTF-8).
fn token68(token: &[u8]) -> Result<&str, ApiError> {
    if !is_token68(token) {
        return Err(ApiError::InvalidAccessToken);
    }
    std::str::from_utf8(token).map_err(|_| ApiError::InvalidAccessToken)
}

/// Whether every byte is of RFC 6750 §2.1's token68 alphabet: one table lookup per byte.
fn is_token68(token: &[u8]) -> bool {
    token.iter().all(|&b| TOKEN68[b as usize])
}

const TOKEN68: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=');
        b += 1;
    }
    table
};

impl FromRequest for AuthenticatedUser {
    type Error = ApiError;
    type Future = Ready<Result<AuthenticatedUser, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let result = (|| {
            let state = req.app_data::<web::Data<AppState>>().ok_or(ApiError::Internal)?;
            let field = bearer_field(req)?;
            let access = &state.services.access;
            // A token this worker verified before has exactly the bytes of one that passed every
            // check, its alphabet included: only a token met for the first time is parsed.
            let subject = match access.remembered(field) {
                Some(known) => known,
                None => access.verify_new(token68(field)?),
            }
            .map_err(|e| match e {
                AccessTokenError::Expired => ApiError::ExpiredAccessToken,
                AccessTokenError::Invalid => ApiError::InvalidAccessToken,
                AccessTokenError::Unavailable => ApiError::Unavailable(crate::error::Dependency::Database),
            })?;
            // Security: after every verification, a hit in the verified-token table included: a
            // token of an ended session is refused (`SESSION_REVOKED`), in process.
            state.services.revocations.check(&subject)?;
            Ok(AuthenticatedUser { user_id: subject.sub, subject })
        })();
        ready(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn parse(values: &[&str]) -> Result<String, &'static str> {
        let mut req = TestRequest::default();
        for v in values {
            req = req.append_header((AUTHORIZATION, *v));
        }
        bearer(&req.to_http_request()).map(str::to_string).map_err(|e| e.code())
    }

    proptest::proptest! {
        #[test]
        fn any_header_value_parses_or_is_refused_without_panicking(value in "\\PC{0,200}") {
            if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&value) {
                let req = TestRequest::default().insert_header((AUTHORIZATION, v)).to_http_request();
                if let Ok(token) = bearer(&req) {
                    proptest::prop_assert!(!token.is_empty() && token.is_ascii());
                    proptest::prop_assert!(value.to_ascii_lowercase().starts_with("bearer "));
                }
            }
        }
    }

    #[test]
    fn the_scheme_is_case_insensitive() {
        for v in ["Bearer abc.def.ghi", "bearer abc.def.ghi", "BEARER abc.def.ghi"] {
            assert_eq!(parse(&[v]).unwrap(), "abc.def.ghi");
        }
    }

    #[test]
    fn no_header_is_missing_and_anything_malformed_is_invalid() {
        assert_eq!(parse(&[]), Err("MISSING_ACCESS_TOKEN"));
        for v in ["Bearer", "Bearer ", "Bearer  abc", "Basic dXNlcjpwdw==", "Bearerabc", "Bearer a b", "Bearer ä", "Token abc"] {
            assert_eq!(parse(&[v]), Err("INVALID_ACCESS_TOKEN"), "{v:?}");
        }
        assert_eq!(parse(&["Bearer a", "Bearer b"]), Err("INVALID_ACCESS_TOKEN"));
        assert_eq!(parse(&[&format!("Bearer {}", "a".repeat(MAX_TOKEN_LEN + 1))]), Err("INVALID_ACCESS_TOKEN"));
    }

    #[test]
    fn the_alphabet_is_exactly_token68() {
        for b in 0..=255u8 {
            let expected = b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b);
            assert_eq!(is_token68(&[b]), expected, "byte {b}");
            assert_eq!(is_token68(&[b'a'; 40].iter().copied().chain([b]).collect::<Vec<_>>()), expected, "byte {b} after 40 others");
        }
    }
}
