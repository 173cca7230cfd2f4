//! Account tokens: the single-use tokens a password-reset or verification mail carries.
//!
//! Security: a token is `HMAC-SHA256(key, id)` in base64url (256 bits), where `id` is the
//! token's random row id (UUID v4, 122 random bits) and `key` is derived from the service secret
//! for this purpose only. The database stores the id and the SHA-256 of the token, never the
//! token: the outbox row names the token by id and the mail worker derives the text when it
//! renders the mail, so neither a copy of the database nor the outbox yields a usable link.
//! Whoever holds only the token learns nothing of the id.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Characters of an encoded token (32 bytes in base64url without padding).
const TOKEN_CHARS: usize = 43;

#[derive(Clone)]
pub struct AccountTokenKey([u8; 32]);

impl AccountTokenKey {
    pub fn derive(secret: &[u8]) -> AccountTokenKey {
        AccountTokenKey(crate::secret::derive_key(secret, "account-token"))
    }

    /// The token text of the token row `id`.
    pub fn token(&self, id: Uuid) -> String {
        // unwrap: HMAC accepts a key of any length.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).unwrap();
        mac.update(id.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

/// The stored form of a token as a client sent it: `None` when it is not even a token's shape
/// (refused before the database is asked).
pub fn hash_presented(token: &str) -> Option<String> {
    if token.len() != TOKEN_CHARS || URL_SAFE_NO_PAD.decode(token).is_err() {
        return None;
    }
    Some(hex::encode(Sha256::digest(token.as_bytes())))
}

/// The stored form of a token this service derived.
pub fn hash_of(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_derived_token_is_accepted_and_hashes_to_its_stored_form() {
        let key = AccountTokenKey::derive(b"a secret of at least thirty-two bytes, random enough");
        let id = Uuid::new_v4();
        let token = key.token(id);
        assert_eq!(token.len(), TOKEN_CHARS);
        assert_eq!(hash_presented(&token), Some(hash_of(&token)));
        assert_ne!(key.token(Uuid::new_v4()), token);
    }

    #[test]
    fn anything_not_shaped_like_a_token_is_refused_before_the_database() {
        assert_eq!(hash_presented(""), None);
        assert_eq!(hash_presented(&"a".repeat(44)), None);
        assert_eq!(hash_presented(&"!".repeat(43)), None);
    }
}
