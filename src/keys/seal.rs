//! `Sealer`: private keys sealed with XChaCha20-Poly1305 under a key derived from `JWT_SECRET`
//! (HKDF-SHA256), so that the database alone (a dump, a replica, a backup) cannot sign.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;

/// HKDF's salt and info: a domain of its own, so the sealing key equals no other key derived
/// from the secret (`secret::derive_key` uses HMAC over another label).
const SALT: &[u8] = b"gatehouse/signing-keys/v1";
const INFO: &[u8] = b"private-key-seal";
const NONCE_LEN: usize = 24;

#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("a sealed private key did not open (another JWT_SECRET, or altered)")]
pub struct UnsealError;

impl Sealer {
    pub fn new(secret: &[u8]) -> Sealer {
        let mut key = [0u8; 32];
        // unwrap: 32 bytes is far below HKDF-SHA256's limit of 255 × 32.
        Hkdf::<Sha256>::new(Some(SALT), secret).expand(INFO, &mut key).unwrap();
        Sealer { cipher: XChaCha20Poly1305::new(&key.into()) }
    }

    /// `nonce || ciphertext || tag`. Security: a random 192-bit nonce per seal (XChaCha's size
    /// makes random nonces safe), and the key's id and algorithm as associated data, so a sealed
    /// key copied into another row (to make it sign under another kid or algorithm) does not open.
    pub fn seal(&self, kid: &str, alg: &str, private: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let aad = associated_data(kid, alg);
        // unwrap: encryption fails only for a message beyond the cipher's 256 GiB limit.
        let sealed = self.cipher.encrypt(&XNonce::from(nonce), Payload { msg: private, aad: &aad }).unwrap();
        [nonce.as_slice(), &sealed].concat()
    }

    pub fn open(&self, kid: &str, alg: &str, sealed: &[u8]) -> Result<Vec<u8>, UnsealError> {
        if sealed.len() < NONCE_LEN {
            return Err(UnsealError);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        // unwrap: `split_at` gave exactly NONCE_LEN bytes.
        let nonce: [u8; NONCE_LEN] = nonce.try_into().unwrap();
        let aad = associated_data(kid, alg);
        self.cipher.decrypt(&XNonce::from(nonce), Payload { msg: body, aad: &aad }).map_err(|_| UnsealError)
    }
}

fn associated_data(kid: &str, alg: &str) -> Vec<u8> {
    [kid.as_bytes(), b"\0", alg.as_bytes()].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"CvUwTRudq9ogaXzGATwcf3TI1HpCBfgsNNewSikL2z0S";

    #[test]
    fn a_sealed_key_opens_only_under_its_secret_kid_and_algorithm() {
        let sealer = Sealer::new(SECRET);
        let sealed = sealer.seal("k1", "EdDSA", b"private bytes");
        assert_eq!(sealer.open("k1", "EdDSA", &sealed).unwrap(), b"private bytes");
        assert_eq!(Sealer::new(b"another secret of the same length, or so").open("k1", "EdDSA", &sealed), Err(UnsealError));
        assert_eq!(sealer.open("k2", "EdDSA", &sealed), Err(UnsealError), "moved to another kid");
        assert_eq!(sealer.open("k1", "ES256", &sealed), Err(UnsealError), "relabelled algorithm");
        assert_eq!(sealer.open("k1", "EdDSA", &sealed[..10]), Err(UnsealError), "truncated");
    }

    #[test]
    fn the_sealed_form_never_contains_the_key() {
        let sealer = Sealer::new(SECRET);
        let private = [0x42u8; 32];
        let (a, b) = (sealer.seal("k", "EdDSA", &private), sealer.seal("k", "EdDSA", &private));
        assert_ne!(a, b, "a fresh nonce each time");
        assert!(!a.windows(8).any(|w| w == &private[..8]));
    }

    proptest::proptest! {
        #[test]
        fn any_changed_byte_refuses_to_open(private in proptest::collection::vec(proptest::num::u8::ANY, 1..64), pos in 0usize..200, flip in 1u8..=255) {
            let sealer = Sealer::new(SECRET);
            let mut sealed = sealer.seal("kid", "EdDSA", &private);
            let pos = pos % sealed.len();
            sealed[pos] ^= flip;
            proptest::prop_assert_eq!(sealer.open("kid", "EdDSA", &sealed), Err(UnsealError));
        }
    }
}
