//! `AuthenticatedUser`: the user named by a valid bearer access token.

use std::future::{Ready, ready};

use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use actix_web_httpauth::headers::authorization::Bearer;
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

/// Parses `Authorization: Bearer <token>` strictly.
///
/// Security: exactly one Authorization header, the scheme compared case-insensitively (RFC 9110
/// §11.1; actix-web-httpauth's own parser accepts only `Bearer`), one space, and a token made
/// of the token68 alphabet (RFC 6750 §2.1). Anything else is `INVALID_ACCESS_TOKEN`; no header
/// at all is `MISSING_ACCESS_TOKEN`. The `Bearer` type masks the token in `Debug`.
pub fn bearer(req: &HttpRequest) -> Result<Bearer, ApiError> {
    let mut values = req.headers().get_all(AUTHORIZATION);
    let value = values.next().ok_or(ApiError::MissingAccessToken)?;
    if values.next().is_some() {
        return Err(ApiError::InvalidAccessToken);
    }
    let value = value.as_bytes();
    let space = value.iter().position(|&b| b == b' ').ok_or(ApiError::InvalidAccessToken)?;
    let (scheme, token) = (&value[..space], &value[space + 1..]);
    if !scheme.eq_ignore_ascii_case(b"bearer")
        || token.is_empty()
        || token.len() > MAX_TOKEN_LEN
        || !token.iter().all(|&b| TOKEN68[b as usize])
    {
        return Err(ApiError::InvalidAccessToken);
    }
    // The token68 alphabet is ASCII, so the token is valid UTF-8.
    let token = std::str::from_utf8(token).map_err(|_| ApiError::InvalidAccessToken)?;
    Ok(Bearer::new(token.to_string()))
}

/// RFC 6750 §2.1's token68 alphabet, one entry per byte: a bearer check costs one lookup per
/// byte of the token.
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
            let credentials = bearer(req)?;
            let subject = state.services.access.verify_subject(credentials.token()).map_err(|e| match e {
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
        bearer(&req.to_http_request()).map(|b| b.token().to_string()).map_err(|e| e.code())
    }

    proptest::proptest! {
        #[test]
        fn any_header_value_parses_or_is_refused_without_panicking(value in "\\PC{0,200}") {
            if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&value) {
                let req = TestRequest::default().insert_header((AUTHORIZATION, v)).to_http_request();
                if let Ok(b) = bearer(&req) {
                    proptest::prop_assert!(!b.token().is_empty() && b.token().is_ascii());
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
}
