//! Argon2id in a work area that each hasher thread allocates once and keeps.
//!
//! argon2's `hash_password` and `verify_password` allocate their 19 MiB (`ARGON2_M_KIB`) of
//! blocks on every call and free them after. glibc serves such blocks from per-thread arenas
//! that keep what they once held, and a hasher thread wanders between arenas under contention:
//! the process grew to hundreds of MiB after a few hundred logins. With one area per thread,
//! Argon2's memory is exactly `HASHER_THREADS × ARGON2_M_KIB`, paid once at start, and no hash
//! pays for page faults on fresh memory. (The area keeps the last computation's blocks until the
//! next one overwrites them, as freed arena memory did before.)

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

pub struct WorkArea {
    argon2: Argon2<'static>,
    blocks: Vec<Block>,
}

impl WorkArea {
    pub fn new(argon2: Argon2<'static>) -> WorkArea {
        let blocks = vec![Block::new(); argon2.params().block_count()];
        WorkArea { argon2, blocks }
    }

    /// The configured parameters.
    pub fn params(&self) -> &Params {
        self.argon2.params()
    }

    /// A new PHC string for `password`: a fresh random salt and the configured parameters, the
    /// same string argon2's `hash_password` makes.
    pub fn hash(&mut self, password: &[u8]) -> argon2::password_hash::Result<String> {
        let salt = Salt::generate();
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        let params = self.argon2.params().clone();
        run(&self.argon2, &mut self.blocks, password, &salt, &mut out)?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params)?,
            salt: Some(salt),
            hash: Some(Output::new(&out)?),
        };
        Ok(phc.to_string())
    }

    /// Whether `password` matches `stored`: argon2's `verify_password`, step for step. The
    /// algorithm, version and parameters are the stored hash's, and the outputs are compared
    /// in constant time (`Output`'s `==`).
    pub fn verify(&mut self, password: &[u8], stored: &PasswordHash) -> bool {
        let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else { return false };
        let Ok(algorithm) = Algorithm::try_from(stored.algorithm.as_str()) else { return false };
        let Ok(version) = stored.version.map(Version::try_from).transpose() else { return false };
        let Ok(params) = Params::try_from(stored) else { return false };
        let argon2 = Argon2::new(algorithm, version.unwrap_or_default(), params);
        let mut out = [0u8; Output::MAX_LENGTH];
        let out = &mut out[..expected.len()];
        run(&argon2, &mut self.blocks, password, salt, out).is_ok() && Output::new(out).is_ok_and(|computed| &computed == expected)
    }
}

/// Fills `out` in the work area; a stored hash that asks for more memory than the configuration
/// (the configuration was lowered since) gets a one-off area of its own.
fn run(argon2: &Argon2<'_>, blocks: &mut [Block], password: &[u8], salt: &[u8], out: &mut [u8]) -> argon2::Result<()> {
    let needed = argon2.params().block_count();
    match blocks.get_mut(..needed) {
        Some(area) => argon2.hash_password_into_with_memory(password, salt, out, area),
        None => argon2.hash_password_into_with_memory(password, salt, out, vec![Block::new(); needed]),
    }
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    use super::*;

    fn area(m_kib: u32) -> WorkArea {
        WorkArea::new(Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(m_kib, 1, 1, None).unwrap()))
    }

    #[test]
    fn hashes_made_here_and_by_argon2_verify_either_way() {
        let library = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(64, 1, 1, None).unwrap());
        let mut area = area(64);
        let ours = area.hash(b"correct horse").unwrap();
        assert!(library.verify_password(b"correct horse", &PasswordHash::new(&ours).unwrap()).is_ok());
        assert!(library.verify_password(b"wrong horse", &PasswordHash::new(&ours).unwrap()).is_err());
        let theirs = library.hash_password(b"battery staple").unwrap().to_string();
        assert!(area.verify(b"battery staple", &PasswordHash::new(&theirs).unwrap()));
        assert!(!area.verify(b"battery stapler", &PasswordHash::new(&theirs).unwrap()));
    }

    #[test]
    fn a_reused_area_gives_the_same_answers() {
        let mut area = area(64);
        let first = area.hash(b"first password").unwrap();
        let second = area.hash(b"second password").unwrap();
        for _ in 0..2 {
            assert!(area.verify(b"first password", &PasswordHash::new(&first).unwrap()));
            assert!(area.verify(b"second password", &PasswordHash::new(&second).unwrap()));
            assert!(!area.verify(b"second password", &PasswordHash::new(&first).unwrap()));
        }
    }

    #[test]
    fn a_hash_stronger_than_the_area_still_verifies() {
        let strong = area(256).hash(b"correct horse").unwrap();
        let mut small = area(64);
        assert!(small.verify(b"correct horse", &PasswordHash::new(&strong).unwrap()));
        assert!(!small.verify(b"wrong horse", &PasswordHash::new(&strong).unwrap()));
    }

    #[test]
    fn other_algorithms_and_versions_verify_like_argon2_does() {
        for (algorithm, version) in [(Algorithm::Argon2i, Version::V0x13), (Algorithm::Argon2d, Version::V0x10)] {
            let phc = Argon2::new(algorithm, version, Params::new(64, 1, 1, None).unwrap()).hash_password(b"pw").unwrap().to_string();
            assert!(area(64).verify(b"pw", &PasswordHash::new(&phc).unwrap()), "{phc}");
        }
    }
}
