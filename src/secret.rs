//! The access-token signing secret: from `JWT_SECRET`, or, in development, generated once and
//! kept in the data directory so that tokens survive a restart.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::Context as _;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;

const FILE: &str = "jwt_secret";

/// A 32-byte key for one purpose, derived from the service secret: HMAC-SHA256 keyed with the
/// secret over a purpose label (the PRF step of HKDF, RFC 5869, for a uniformly random secret).
///
/// Security: each use of the secret (a cookie signature, a proof inside a refresh token…) gets
/// a key of its own, so a value made for one purpose can never be replayed as another, and none
/// of them is the JWT signing key itself.
pub fn derive_key(secret: &[u8], purpose: &str) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    // unwrap: HMAC accepts a key of any length.
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(b"gatehouse/derived-key/v1\0");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().into()
}

/// How many distinct 3-byte windows a secret needs, in its bytes and in the steps between
/// neighbouring bytes. A 32-byte secret has 30 windows (29 of steps); random base64 or hex has
/// nearly all of them distinct.
const MIN_DISTINCT_WINDOWS: usize = 20;

/// Security: whether a configured secret could have come from a random generator. What is
/// refused is the obviously made-up: one byte repeated, few distinct bytes, a short pattern
/// repeated (`test-secret-test-secret-…`), a run (`abcdef…`, `0123…`). The measure is the number
/// of distinct 3-byte windows, in the secret and in its byte-to-byte steps (which turn a run
/// into a repetition): a pattern of length p has at most p of them, d distinct bytes at most d³.
/// Random base64 of 24 bytes or more, or hex of 16 bytes or more (32 characters, the minimum
/// length), has at least 26 in practice; the proptest below holds it to the threshold of 20.
/// It is a floor against mistakes, not an entropy estimate: a passphrase passes.
pub fn looks_random(secret: &[u8]) -> bool {
    let distinct_windows = |bytes: &[u8]| bytes.windows(3).collect::<std::collections::HashSet<_>>().len();
    let steps: Vec<u8> = secret.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
    distinct_windows(secret) >= MIN_DISTINCT_WINDOWS && distinct_windows(&steps) >= MIN_DISTINCT_WINDOWS
}

pub fn load_or_generate(configured: Option<&[u8]>, data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = configured {
        return Ok(secret.to_vec());
    }
    let path = data_dir.join(FILE);
    match fs::read_to_string(&path) {
        Ok(stored) => {
            let secret = STANDARD.decode(stored.trim()).with_context(|| format!("{} is not base64", path.display()))?;
            anyhow::ensure!(secret.len() >= 32, "{} holds fewer than 32 bytes", path.display());
            log::info!("JWT_SECRET not set: using the secret kept in {}", path.display());
            Ok(secret)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut secret = vec![0u8; 48];
            rand::rng().fill_bytes(&mut secret);
            create_private_dir(data_dir)?;
            write_private(&path, STANDARD.encode(&secret).as_bytes())?;
            log::warn!("JWT_SECRET not set: generated a secret and kept it in {} (development only)", path.display());
            Ok(secret)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Security: the data directory holds the secret and the user database (password hashes), so
/// when gatehouse creates it, only its owner may enter it.
pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).with_context(|| format!("cannot create the directory {}", dir.display()))
}

/// Security: the file is created new (never following an existing one) and readable by its
/// owner only.
fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_differ_by_purpose_and_by_secret() {
        let a = derive_key(b"one secret of enough length for a test", "device-cookie");
        assert_eq!(a, derive_key(b"one secret of enough length for a test", "device-cookie"));
        assert_ne!(a, derive_key(b"one secret of enough length for a test", "refresh-proof"));
        assert_ne!(a, derive_key(b"another secret of enough length for it", "device-cookie"));
    }

    #[test]
    fn made_up_secrets_do_not_look_random() {
        for weak in [
            "a".repeat(40),
            "ab".repeat(20),
            "passwordpasswordpasswordpassword".into(),
            "test-secret-test-secret-test-secret-0123".into(),
            "0123456789abcdef0123456789abcdef".into(),
            "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH".into(),
            "0101101001011010010110100101101001011010".into(),
        ] {
            assert!(!looks_random(weak.as_bytes()), "{weak}");
        }
        assert!(looks_random(b"WWMgovxjVmvwqMXf4Ty/wwK7HwFk1g4BM3udPucly2XA"));
        assert!(looks_random(b"correct horse battery staple, then some"), "a passphrase is not refused");
    }

    proptest::proptest! {
        #[test]
        fn random_secrets_always_look_random(bytes in proptest::collection::vec(proptest::num::u8::ANY, 24..96)) {
            use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
            for encoded in [STANDARD.encode(&bytes), URL_SAFE.encode(&bytes), URL_SAFE_NO_PAD.encode(&bytes), hex::encode(&bytes), hex::encode(&bytes[..16])] {
                proptest::prop_assert!(looks_random(encoded.as_bytes()), "{}", encoded);
            }
        }
    }

    #[test]
    fn a_generated_secret_is_kept_private_and_reused() {
        let dir = std::env::temp_dir().join(format!("gh-secret-{}", uuid::Uuid::new_v4()));
        let first = load_or_generate(None, &dir).unwrap();
        let second = load_or_generate(None, &dir).unwrap();
        assert_eq!(first, second);
        assert_eq!(first.len(), 48);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join(FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(load_or_generate(Some(b"x".repeat(40).as_slice()), &dir).unwrap(), b"x".repeat(40));
        fs::remove_dir_all(dir).unwrap();
    }
}
