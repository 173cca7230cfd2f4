//! `AdminCaller`: a request that carries the admin token (`Authorization: Bearer <ADMIN_TOKEN>`).

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// The admin token, kept as its SHA-256 only.
#[derive(Clone)]
pub struct AdminToken([u8; 32]);

impl AdminToken {
    pub fn new(token: &[u8]) -> AdminToken {
        AdminToken(Sha256::digest(token).into())
    }

    /// Security: compared in constant time, over digests of equal length, so neither the timing
    /// nor the length of the presented token tells how much of it was right.
    pub fn matches(&self, presented: &[u8]) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented).into();
        self.0.iter().zip(presented.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

/// Extracted by every `/admin` handler; its existence means the token matched.
pub struct AdminCaller;

impl FromRequest for AdminCaller {
    type Error = ApiError;
    type Future = Ready<Result<AdminCaller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let result = (|| {
            let admin = req.app_data::<web::Data<AdminToken>>().ok_or(ApiError::NotFound)?;
            // The same strict parsing as user bearer tokens; any refusal is one answer.
            let token = crate::extract::bearer(req).map_err(|_| ApiError::AdminTokenInvalid)?;
            if !admin.matches(token.as_bytes()) {
                log::warn!(target: "gatehouse::admin", "admin request refused: wrong token");
                return Err(ApiError::AdminTokenInvalid);
            }
            Ok(AdminCaller)
        })();
        ready(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_matches() {
        let token = AdminToken::new(b"an admin token of at least thirty-two bytes");
        assert!(token.matches(b"an admin token of at least thirty-two bytes"));
        for other in [&b""[..], b"an admin token of at least thirty-two byte", b"an admin token of at least thirty-two bytes!"] {
            assert!(!token.matches(other));
        }
    }
}
