//! Refresh tokens: a 128-bit family id and 256 secret bits, base64url. Only their SHA-256 is
//! ever stored.
//!
//! The family is one login's chain of rotations. Carrying its id in the token lets the store
//! keep one small record per session (current hash, predecessor hash) instead of a record per
//! rotated token, and still tell a replayed older generation from a token of a family that a
//! newer login replaced.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

const FAMILY_BYTES: usize = 16;
const SECRET_BYTES: usize = 32;
const TOKEN_BYTES: usize = FAMILY_BYTES + SECRET_BYTES;
/// base64url without padding of 48 bytes.
const TOKEN_CHARS: usize = 64;

/// A refresh token in clear. It exists only between generation and the `Set-Cookie` header,
/// or between the cookie and its hash; `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken([u8; TOKEN_BYTES]);

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshToken(<redacted>)")
    }
}

/// The hex SHA-256 of a whole refresh token: what the token store compares.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(pub String);

impl RefreshToken {
    /// The first token of a new family (a login or a registration).
    ///
    /// Security: every byte comes from the operating system's CSPRNG (`rand`'s `ThreadRng` is
    /// reseeded from it): 256 secret bits cannot be guessed, so a fast hash suffices to store them.
    pub fn generate() -> RefreshToken {
        let mut bytes = [0u8; TOKEN_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        RefreshToken(bytes)
    }

    /// The next generation of the same family: same family id, fresh secret.
    pub fn successor(&self) -> RefreshToken {
        let mut next = RefreshToken::generate();
        next.0[..FAMILY_BYTES].copy_from_slice(&self.0[..FAMILY_BYTES]);
        next
    }

    /// Parses a cookie value; anything that is not exactly a token's shape is refused before
    /// it reaches the store.
    pub fn parse(value: &str) -> Option<RefreshToken> {
        if value.len() != TOKEN_CHARS {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(value).ok()?;
        Some(RefreshToken(bytes.try_into().ok()?))
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// The family id in hex: not a secret on its own (it cannot refresh anything).
    pub fn family(&self) -> String {
        to_hex(&self.0[..FAMILY_BYTES])
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash(to_hex(&Sha256::digest(self.0)))
    }

    /// Seals `successor`'s secret so that only a holder of `self` (its predecessor) can open it.
    ///
    /// Security: during the reuse grace window a tab that presents the token just rotated away
    /// must receive the same successor the winning tab received, yet the store must not hold a
    /// usable token in clear. The successor's secret is stored XORed with a key derived from the
    /// predecessor under a domain separator; the store knows only the predecessor's plain
    /// SHA-256, from which that key cannot be computed.
    pub fn seal(&self, successor: &RefreshToken) -> String {
        let key = self.sealing_key();
        to_hex(&std::array::from_fn::<u8, SECRET_BYTES, _>(|i| successor.0[FAMILY_BYTES + i] ^ key[i]))
    }

    /// The inverse of `seal`, given the predecessor.
    pub fn unseal(&self, sealed: &str) -> Option<RefreshToken> {
        let bytes: [u8; SECRET_BYTES] = hex::decode(sealed).ok()?.try_into().ok()?;
        let key = self.sealing_key();
        let mut next = self.clone();
        for i in 0..SECRET_BYTES {
            next.0[FAMILY_BYTES + i] = bytes[i] ^ key[i];
        }
        Some(next)
    }

    fn sealing_key(&self) -> [u8; SECRET_BYTES] {
        let mut h = Sha256::new();
        h.update(b"gatehouse/refresh-successor-key/v1\0");
        h.update(self.0);
        h.finalize().into()
    }
}

/// Lower-case hex, written into one buffer (`hex::encode` collects an iterator of chars).
fn to_hex(bytes: &[u8]) -> String {
    let mut out = vec![0u8; bytes.len() * 2];
    // unwrap: the buffer is exactly twice the input, and hex digits are ASCII.
    hex::encode_to_slice(bytes, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_round_trips_through_its_cookie_value() {
        let t = RefreshToken::generate();
        assert_eq!(t.encode().len(), TOKEN_CHARS);
        assert_eq!(RefreshToken::parse(&t.encode()), Some(t));
    }

    #[test]
    fn tokens_are_distinct_and_hashes_hide_them() {
        let (a, b) = (RefreshToken::generate(), RefreshToken::generate());
        assert_ne!(a, b);
        assert_ne!(a.family(), b.family());
        assert_ne!(a.hash(), b.hash());
        assert_eq!(a.hash().0.len(), 64);
    }

    #[test]
    fn a_successor_keeps_the_family_and_changes_the_secret() {
        let a = RefreshToken::generate();
        let b = a.successor();
        assert_eq!(a.family(), b.family());
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn malformed_cookie_values_are_refused() {
        for bad in ["", "abc", &"!".repeat(64), &"a".repeat(65), &"a".repeat(63)] {
            assert!(RefreshToken::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn only_the_predecessor_unseals_its_successor() {
        let old = RefreshToken::generate();
        let new = old.successor();
        let other = RefreshToken::generate();
        let sealed = old.seal(&new);
        assert_eq!(old.unseal(&sealed), Some(new.clone()));
        assert_ne!(other.unseal(&sealed), Some(new.clone()));
        assert!(!sealed.contains(&hex::encode(&new.0[FAMILY_BYTES..])));
    }

    proptest::proptest! {
        #[test]
        fn parse_accepts_exactly_the_encodings_of_tokens(s in "[A-Za-z0-9_=!-]{0,80}") {
            match RefreshToken::parse(&s) {
                Some(t) => proptest::prop_assert_eq!(t.encode(), s),
                None => proptest::prop_assert!(s.len() != TOKEN_CHARS || URL_SAFE_NO_PAD.decode(&s).is_err()),
            }
        }
    }

    #[test]
    fn debug_never_prints_the_token() {
        let t = RefreshToken::generate();
        assert!(!format!("{t:?}").contains(&t.encode()));
    }
}
