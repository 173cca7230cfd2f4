//! Refresh tokens: a 128-bit family id, 128 random bits and a 128-bit proof tag, base64url.
//! Only a digest of each (the first 128 bits of its SHA-256) is ever stored.
//!
//! The family id is also the session id (`sid`) of the access tokens the session is given. Its
//! first 64 bits are the user's slot tag (the last 64 bits of the user id, see `user_tag`), its
//! last 64 bits random: so the store can name the one Redis key that holds all of a user's
//! sessions (see `token_store::layout`) from a presented token alone, without a lookup.
//!
//! The family is one login's chain of rotations. Carrying its id in the token lets the store
//! keep one small record per session (current hash, predecessor hash) instead of a record per
//! rotated token, and still tell a replayed older generation from a token of a family that a
//! newer login replaced.
//!
//! The family id is not secret (it is the first third of every cookie of the session), so it
//! alone must never be enough to act on the session. A replay of an older generation revokes the
//! family, and the store no longer knows those older tokens' hashes; what proves that the
//! presenter once held a real token of the family is the tag: `HMAC-SHA256(key, family ||
//! random)[..16]` under a key derived from the service secret (`RefreshKey`). A token whose tag
//! does not verify can still rotate if its hash is the family's current one (tokens issued before
//! tags existed), and is still a replay if it is exactly the stored predecessor (only a real
//! holder can match that hash); any other untagged token never causes a reuse verdict.
//!
//! Security: why 128 random bits remain enough. The tag is a proof of origin, not entropy: an
//! attacker who knew the key could compute it, so the token's unguessable part is the 128 random
//! bits. To refresh, an attacker must present the exact token whose SHA-256 the store holds as
//! the family's current one. At a (generous) trillion online guesses a second for the
//! `REFRESH_TOKEN_TTL` of two days, that is about 2^57 guesses against a 2^128 space: a chance
//! of 2^-71, far below OWASP's 64-bit floor for session identifiers. Each family draws its own
//! values, so collisions across sessions (the birthday bound, 2^64 tokens) cannot be exploited
//! either: a token is only ever compared with the hashes of its own family.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

const FAMILY_BYTES: usize = 16;
/// The leading bytes of a family id that name the user's slot.
const TAG_OF_USER_BYTES: usize = 8;
const RANDOM_BYTES: usize = 16;
const TAG_BYTES: usize = 16;
/// What follows the family id: the random bytes and the tag.
const SECRET_BYTES: usize = RANDOM_BYTES + TAG_BYTES;
const TOKEN_BYTES: usize = FAMILY_BYTES + SECRET_BYTES;
/// base64url without padding of 48 bytes.
const TOKEN_CHARS: usize = 64;

/// The key that tags refresh tokens, derived from the service secret: a valid tag proves the
/// token was made by this service, for this family.
#[derive(Clone)]
pub struct RefreshKey(Hmac<Sha256>);

impl std::fmt::Debug for RefreshKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshKey(<redacted>)")
    }
}

impl RefreshKey {
    /// Security: a key of its own (`crate::secret::derive_key`), so a tag can never be a value
    /// made for another use of the secret, nor the JWT signing key.
    pub fn derive(secret: &[u8]) -> RefreshKey {
        // unwrap: HMAC accepts a key of any length.
        RefreshKey(Hmac::new_from_slice(&crate::secret::derive_key(secret, "refresh-proof")).unwrap())
    }

    /// The first token of a new family (a login or a registration).
    ///
    /// Security: the family id and the random bytes come from the operating system's CSPRNG
    /// (`rand`'s `ThreadRng` is reseeded from it); 128 unguessable bits cannot be found online
    /// (see the module comment), so a fast hash suffices to store them.
    /// The family id's random half (64 bits) only has to differ from the user's other
    /// families; it is not a secret (see above).
    pub fn generate(&self, user_id: uuid::Uuid) -> RefreshToken {
        let mut bytes = [0u8; TOKEN_BYTES];
        bytes[..TAG_OF_USER_BYTES].copy_from_slice(&user_id.as_bytes()[16 - TAG_OF_USER_BYTES..]);
        rand::rng().fill_bytes(&mut bytes[TAG_OF_USER_BYTES..FAMILY_BYTES + RANDOM_BYTES]);
        self.tagged(bytes)
    }

    /// The next generation of `token`'s family: same family id, fresh random bytes, its own tag.
    pub fn successor(&self, token: &RefreshToken) -> RefreshToken {
        let mut bytes = [0u8; TOKEN_BYTES];
        bytes[..FAMILY_BYTES].copy_from_slice(&token.0[..FAMILY_BYTES]);
        rand::rng().fill_bytes(&mut bytes[FAMILY_BYTES..FAMILY_BYTES + RANDOM_BYTES]);
        self.tagged(bytes)
    }

    /// The successor that `predecessor` sealed (see `RefreshToken::seal`), tagged again: `None`
    /// when `sealed` is not a sealed successor's length.
    pub fn unseal(&self, predecessor: &RefreshToken, sealed: &[u8]) -> Option<RefreshToken> {
        let sealed: [u8; RANDOM_BYTES] = sealed.try_into().ok()?;
        let key = predecessor.sealing_key();
        let mut bytes = predecessor.0;
        for i in 0..RANDOM_BYTES {
            bytes[FAMILY_BYTES + i] = sealed[i] ^ key[i];
        }
        Some(self.tagged(bytes))
    }

    /// Whether `token` carries a valid tag: proof that whoever presents it once held a token
    /// this service issued for that family. Security: compared in constant time, so the answer's
    /// timing tells nothing about how much of a forged tag was right.
    pub fn proves(&self, token: &RefreshToken) -> bool {
        let mut mac = self.0.clone();
        mac.update(&token.0[..FAMILY_BYTES + RANDOM_BYTES]);
        mac.verify_truncated_left(&token.0[FAMILY_BYTES + RANDOM_BYTES..]).is_ok()
    }

    fn tagged(&self, mut bytes: [u8; TOKEN_BYTES]) -> RefreshToken {
        let mut mac = self.0.clone();
        mac.update(&bytes[..FAMILY_BYTES + RANDOM_BYTES]);
        bytes[FAMILY_BYTES + RANDOM_BYTES..].copy_from_slice(&mac.finalize().into_bytes()[..TAG_BYTES]);
        RefreshToken(bytes)
    }
}

/// A refresh token in clear. It exists only between generation and the `Set-Cookie` header,
/// or between the cookie and its hash; `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken([u8; TOKEN_BYTES]);

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshToken(<redacted>)")
    }
}

/// The digest of a whole refresh token that the token store keeps and compares: the first 128
/// bits of its SHA-256.
///
/// Security: 128 bits are enough for a digest of a token with 128 unguessable bits. Finding a
/// token that matches a stored digest is a preimage search of 2^128, whoever holds a copy of the
/// store; and a collision between two tokens gains nothing, since a presented token is only ever
/// compared with the digests of its own family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; DIGEST_BYTES]);

/// The bytes of a stored token digest.
pub const DIGEST_BYTES: usize = 16;

impl RefreshToken {
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

    /// The user slot tag the family id starts with (see `user_tag`).
    pub fn user_tag(&self) -> [u8; TAG_OF_USER_BYTES] {
        // unwrap: the slice has exactly the array's length.
        self.0[..TAG_OF_USER_BYTES].try_into().unwrap()
    }

    /// The family id's random half: what tells the user's sessions apart in the store.
    pub fn session_field(&self) -> [u8; FAMILY_BYTES - TAG_OF_USER_BYTES] {
        // unwrap: as above.
        self.0[TAG_OF_USER_BYTES..FAMILY_BYTES].try_into().unwrap()
    }

    pub fn hash(&self) -> TokenHash {
        let digest = Sha256::digest(self.0);
        // unwrap: as above.
        TokenHash(digest[..DIGEST_BYTES].try_into().unwrap())
    }

    /// Seals `successor`'s random bytes so that only a holder of `self` (its predecessor) can
    /// open them.
    ///
    /// Security: during the reuse grace window a tab that presents the token just rotated away
    /// must receive the same successor the winning tab received, yet the store must not hold a
    /// usable token in clear. The successor's random bytes are stored XORed with a key derived
    /// from the predecessor under a domain separator; the store knows only the predecessor's
    /// digest, from which that key cannot be computed. The successor's tag is not stored at all:
    /// `RefreshKey::unseal` computes it again.
    pub fn seal(&self, successor: &RefreshToken) -> [u8; RANDOM_BYTES] {
        let key = self.sealing_key();
        std::array::from_fn(|i| successor.0[FAMILY_BYTES + i] ^ key[i])
    }

    fn sealing_key(&self) -> [u8; SECRET_BYTES] {
        let mut h = Sha256::new();
        h.update(b"gatehouse/refresh-successor-key/v1\0");
        h.update(self.0);
        h.finalize().into()
    }
}

/// The slot tag of a user's sessions: the last 64 bits of their id in hex (a UUIDv7's random
/// part), which every family id of theirs starts with. Two users sharing a tag only share a
/// Redis key; each session in it records its user.
pub fn user_tag(user_id: uuid::Uuid) -> [u8; TAG_OF_USER_BYTES] {
    // unwrap: the slice has exactly the array's length.
    user_id.as_bytes()[16 - TAG_OF_USER_BYTES..].try_into().unwrap()
}

/// The user id whose first half is `head` and whose tag is `tag` (how the store records users).
pub fn user_id_of(head: &[u8], tag: [u8; TAG_OF_USER_BYTES]) -> Option<uuid::Uuid> {
    let head: [u8; 16 - TAG_OF_USER_BYTES] = head.try_into().ok()?;
    let mut bytes = [0u8; 16];
    bytes[..16 - TAG_OF_USER_BYTES].copy_from_slice(&head);
    bytes[16 - TAG_OF_USER_BYTES..].copy_from_slice(&tag);
    Some(uuid::Uuid::from_bytes(bytes))
}

/// The session id (`sid`) of the session `field` of the user tagged `tag`: the family id in hex.
pub fn session_id(tag: [u8; TAG_OF_USER_BYTES], field: &[u8]) -> String {
    let mut family = tag.to_vec();
    family.extend_from_slice(field);
    to_hex(&family)
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

    fn key() -> RefreshKey {
        RefreshKey::derive(b"a service secret of enough length for a test")
    }

    #[test]
    fn a_token_round_trips_through_its_cookie_value() {
        let t = key().generate(uuid::Uuid::now_v7());
        assert_eq!(t.encode().len(), TOKEN_CHARS);
        assert_eq!(RefreshToken::parse(&t.encode()), Some(t));
    }

    #[test]
    fn tokens_are_distinct_and_hashes_hide_them() {
        let (a, b) = (key().generate(uuid::Uuid::now_v7()), key().generate(uuid::Uuid::now_v7()));
        assert_ne!(a, b);
        assert_ne!(a.family(), b.family());
        assert_ne!(a.hash(), b.hash());
        assert_eq!(a.hash().0, Sha256::digest(a.0)[..DIGEST_BYTES]);
    }

    #[test]
    fn a_successor_keeps_the_family_and_changes_the_secret() {
        let a = key().generate(uuid::Uuid::now_v7());
        let b = key().successor(&a);
        assert_eq!(a.family(), b.family());
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn issued_tokens_and_their_successors_carry_a_tag_that_verifies() {
        let key = key();
        let first = key.generate(uuid::Uuid::now_v7());
        assert!(key.proves(&first));
        let next = key.successor(&first);
        assert!(key.proves(&next));
        assert!(key.proves(&RefreshToken::parse(&next.encode()).unwrap()), "the tag survives the cookie");
    }

    #[test]
    fn a_forged_secret_of_the_right_family_proves_nothing() {
        let key = key();
        let real = key.generate(uuid::Uuid::now_v7());
        // An attacker who knows only the family id (the first bytes of a cookie) fills the rest.
        for _ in 0..1000 {
            let mut forged = real.clone();
            rand::rng().fill_bytes(&mut forged.0[FAMILY_BYTES..]);
            assert_eq!(forged.family(), real.family());
            assert!(!key.proves(&forged));
        }
        // Another family's valid tag does not transfer, nor does one made under another secret.
        let mut spliced = key.generate(uuid::Uuid::now_v7());
        spliced.0[..FAMILY_BYTES].copy_from_slice(&real.0[..FAMILY_BYTES]);
        assert!(!key.proves(&spliced));
        assert!(!RefreshKey::derive(b"another service secret, also long enough").proves(&real));
        // Changing any single bit of the random part or of the tag breaks the proof.
        for bit in FAMILY_BYTES * 8..TOKEN_BYTES * 8 {
            let mut flipped = real.clone();
            flipped.0[bit / 8] ^= 1 << (bit % 8);
            assert!(!key.proves(&flipped), "bit {bit}");
        }
    }

    #[test]
    fn debug_never_prints_the_key() {
        assert_eq!(format!("{:?}", key()), "RefreshKey(<redacted>)");
    }

    #[test]
    fn malformed_cookie_values_are_refused() {
        for bad in ["", "abc", &"!".repeat(64), &"a".repeat(65), &"a".repeat(63)] {
            assert!(RefreshToken::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn only_the_predecessor_unseals_its_successor() {
        let old = key().generate(uuid::Uuid::now_v7());
        let new = key().successor(&old);
        let other = key().generate(uuid::Uuid::now_v7());
        let sealed = old.seal(&new);
        assert_eq!(key().unseal(&old, &sealed), Some(new.clone()));
        assert_ne!(key().unseal(&other, &sealed), Some(new.clone()));
        assert_ne!(sealed[..], new.0[FAMILY_BYTES..FAMILY_BYTES + RANDOM_BYTES]);
        assert_eq!(key().unseal(&old, &sealed[1..]), None, "a seal of the wrong length opens nothing");
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
        let t = key().generate(uuid::Uuid::now_v7());
        assert!(!format!("{t:?}").contains(&t.encode()));
    }
}
