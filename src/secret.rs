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
