//! `Algorithm`: the three ways gatehouse signs access tokens, as `JWT_ALGORITHM` names them.

use std::fmt;
use std::str::FromStr;

/// A JWS algorithm gatehouse signs with. Its name is the JWS `alg` value (RFC 7518, RFC 8037).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Ed25519 (RFC 8037): the default for new installs.
    EdDSA,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// HMAC-SHA256 with `JWT_SECRET`: only services holding the secret can verify.
    HS256,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::EdDSA => "EdDSA",
            Algorithm::ES256 => "ES256",
            Algorithm::HS256 => "HS256",
        }
    }

    /// Whether its verification key can be published.
    pub fn is_asymmetric(self) -> bool {
        !matches!(self, Algorithm::HS256)
    }

    /// jsonwebtoken's name for it: what verification pins.
    pub fn jsonwebtoken(self) -> jsonwebtoken::Algorithm {
        match self {
            Algorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
            Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
            Algorithm::HS256 => jsonwebtoken::Algorithm::HS256,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = String;

    /// The exact JWS names: `alg` values are case-sensitive (RFC 7515 §4.1.1).
    fn from_str(s: &str) -> Result<Algorithm, String> {
        match s {
            "EdDSA" => Ok(Algorithm::EdDSA),
            "ES256" => Ok(Algorithm::ES256),
            "HS256" => Ok(Algorithm::HS256),
            other => Err(format!("{other:?} is not EdDSA, ES256 or HS256")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_nothing_else_parses() {
        for alg in [Algorithm::EdDSA, Algorithm::ES256, Algorithm::HS256] {
            assert_eq!(alg.name().parse::<Algorithm>(), Ok(alg));
        }
        for bad in ["eddsa", "none", "RS256", "HS512", "", "ES256K"] {
            assert!(bad.parse::<Algorithm>().is_err(), "{bad}");
        }
    }
}
