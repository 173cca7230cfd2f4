//! Key material: generating a key pair, signing a JWS input with a key kept parsed in memory,
//! and the public half as a JWK (RFC 7517; `OKP`/`Ed25519` per RFC 8037, `EC`/`P-256` per
//! RFC 7518).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde_json::{Value, json};

use super::Algorithm;

/// A private key, parsed once when the key set loads: signing then costs the signature alone
/// (jsonwebtoken's `encode` re-parses its key on every call, about twice the cost for EdDSA).
/// Ed25519 signs with AWS-LC (see `Cargo.toml`); generating keys and checking public points
/// stay with ed25519-dalek, off the request path.
pub enum Signer {
    Ed25519(Box<aws_lc_rs::signature::Ed25519KeyPair>),
    P256(Box<p256::ecdsa::SigningKey>),
    Hmac(Vec<u8>),
}

#[derive(Debug, thiserror::Error)]
#[error("stored key material of a {0} key is malformed")]
pub struct MalformedKey(pub Algorithm);

/// A fresh key pair of an asymmetric algorithm: (private bytes, public bytes). Ed25519: the
/// 32-byte seed and the 32-byte point; P-256: the 32-byte scalar and the 65-byte uncompressed
/// SEC1 point.
pub fn generate(alg: Algorithm) -> (Vec<u8>, Vec<u8>) {
    let mut seed = [0u8; 32];
    match alg {
        Algorithm::EdDSA => {
            rand::rng().fill_bytes(&mut seed);
            let key = ed25519_dalek::SigningKey::from_bytes(&seed);
            (seed.to_vec(), key.verifying_key().to_bytes().to_vec())
        }
        Algorithm::ES256 => loop {
            // A random 32-byte string is a valid scalar but for a negligible fraction (zero or
            // beyond the group order): draw again then.
            rand::rng().fill_bytes(&mut seed);
            if let Ok(key) = p256::ecdsa::SigningKey::from_slice(&seed) {
                break (seed.to_vec(), key.verifying_key().to_encoded_point(false).as_bytes().to_vec());
            }
        },
        Algorithm::HS256 => unreachable!("the HS256 key is JWT_SECRET, never generated"),
    }
}

impl Signer {
    pub fn from_private(alg: Algorithm, private: &[u8]) -> Result<Signer, MalformedKey> {
        Ok(match alg {
            Algorithm::EdDSA => {
                let seed: [u8; 32] = private.try_into().map_err(|_| MalformedKey(alg))?;
                let key = aws_lc_rs::signature::Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|_| MalformedKey(alg))?;
                Signer::Ed25519(Box::new(key))
            }
            Algorithm::ES256 => Signer::P256(Box::new(p256::ecdsa::SigningKey::from_slice(private).map_err(|_| MalformedKey(alg))?)),
            Algorithm::HS256 => Signer::Hmac(private.to_vec()),
        })
    }

    /// The JWS signature of `input` (`header.payload`), in the JWS form: Ed25519's 64 bytes,
    /// ECDSA's `r || s` (RFC 7518 §3.4, not DER), HMAC's 32 bytes.
    pub fn sign(&self, input: &[u8]) -> Vec<u8> {
        match self {
            Signer::Ed25519(key) => key.sign(input).as_ref().to_vec(),
            Signer::P256(key) => {
                use p256::ecdsa::signature::Signer as _;
                let signature: p256::ecdsa::Signature = key.sign(input);
                signature.to_bytes().to_vec()
            }
            Signer::Hmac(secret) => {
                use hmac::{Hmac, Mac};
                // unwrap: HMAC accepts a key of any length.
                let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
                mac.update(input);
                mac.finalize().into_bytes().to_vec()
            }
        }
    }
}

/// The verification key jsonwebtoken checks signatures with, made from the stored public half.
pub fn decoding_key(alg: Algorithm, public: &[u8]) -> Result<jsonwebtoken::DecodingKey, MalformedKey> {
    let (x, y) = coordinates(alg, public)?;
    Ok(match alg {
        Algorithm::EdDSA => jsonwebtoken::DecodingKey::from_ed_components(&x).map_err(|_| MalformedKey(alg))?,
        Algorithm::ES256 => jsonwebtoken::DecodingKey::from_ec_components(&x, &y).map_err(|_| MalformedKey(alg))?,
        Algorithm::HS256 => unreachable!("the HS256 key has no public half"),
    })
}

/// The public JWK of a key: `kty`, the curve and its coordinates, `kid`, `alg` and `use: sig`.
pub fn jwk(kid: &str, alg: Algorithm, public: &[u8]) -> Result<Value, MalformedKey> {
    let (x, y) = coordinates(alg, public)?;
    Ok(match alg {
        Algorithm::EdDSA => json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"}),
        Algorithm::ES256 => json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "alg": "ES256", "use": "sig"}),
        Algorithm::HS256 => unreachable!("the HS256 key is never published"),
    })
}

/// The base64url coordinates of a stored public key (`y` empty for Ed25519), checked to be a
/// point of the curve.
fn coordinates(alg: Algorithm, public: &[u8]) -> Result<(String, String), MalformedKey> {
    match alg {
        Algorithm::EdDSA => {
            let bytes: [u8; 32] = public.try_into().map_err(|_| MalformedKey(alg))?;
            ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|_| MalformedKey(alg))?;
            Ok((URL_SAFE_NO_PAD.encode(bytes), String::new()))
        }
        Algorithm::ES256 => {
            let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(public).map_err(|_| MalformedKey(alg))?;
            let point = key.to_encoded_point(false);
            // unwrap: an uncompressed point has both coordinates.
            let (x, y) = (point.x().unwrap(), point.y().unwrap());
            Ok((URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y)))
        }
        Algorithm::HS256 => Err(MalformedKey(alg)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifies(alg: Algorithm, public: &[u8], input: &[u8], signature: &[u8]) -> bool {
        let token = format!("{}.{}", std::str::from_utf8(input).unwrap(), URL_SAFE_NO_PAD.encode(signature));
        let (message, sig) = token.rsplit_once('.').unwrap();
        jsonwebtoken::crypto::verify(sig, message.as_bytes(), &decoding_key(alg, public).unwrap(), alg.jsonwebtoken()).unwrap_or(false)
    }

    #[test]
    fn generated_keys_sign_what_jsonwebtoken_verifies_with_the_public_half() {
        for alg in [Algorithm::EdDSA, Algorithm::ES256] {
            let (private, public) = generate(alg);
            let signer = Signer::from_private(alg, &private).unwrap();
            let signature = signer.sign(b"aGVhZGVy.cGF5bG9hZA");
            assert!(verifies(alg, &public, b"aGVhZGVy.cGF5bG9hZA", &signature), "{alg}");
            assert!(!verifies(alg, &public, b"aGVhZGVy.cGF5bG9hZB", &signature), "{alg}: another input");
            let (_, other) = generate(alg);
            assert!(!verifies(alg, &other, b"aGVhZGVy.cGF5bG9hZA", &signature), "{alg}: another key");
        }
    }

    #[test]
    fn ed25519_signatures_are_rfc_8032_and_the_same_bytes_as_ed25519_dalek() {
        // RFC 8032 §7.1, test 1: the empty message.
        let hex = |s: &str| (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect::<Vec<u8>>();
        let seed = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
        let expected = hex(
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        );
        assert_eq!(Signer::from_private(Algorithm::EdDSA, &seed).unwrap().sign(b""), expected);
        for _ in 0..32 {
            let (private, _) = generate(Algorithm::EdDSA);
            let input = format!("aGVhZGVy.{}", URL_SAFE_NO_PAD.encode(private.repeat(3)));
            let dalek = ed25519_dalek::SigningKey::from_bytes(&private.clone().try_into().unwrap());
            let theirs = ed25519_dalek::Signer::sign(&dalek, input.as_bytes()).to_bytes();
            assert_eq!(Signer::from_private(Algorithm::EdDSA, &private).unwrap().sign(input.as_bytes()), theirs);
        }
    }

    #[test]
    fn jwks_follow_rfc_8037_and_7518() {
        let (_, public) = generate(Algorithm::EdDSA);
        let key = jwk("k1", Algorithm::EdDSA, &public).unwrap();
        assert_eq!((key["kty"].as_str(), key["crv"].as_str(), key["use"].as_str()), (Some("OKP"), Some("Ed25519"), Some("sig")));
        assert_eq!(URL_SAFE_NO_PAD.decode(key["x"].as_str().unwrap()).unwrap(), public);
        assert!(key.get("d").is_none() && key.get("y").is_none());

        let (_, public) = generate(Algorithm::ES256);
        let key = jwk("k2", Algorithm::ES256, &public).unwrap();
        assert_eq!((key["kty"].as_str(), key["crv"].as_str(), key["alg"].as_str()), (Some("EC"), Some("P-256"), Some("ES256")));
        let (x, y) =
            (URL_SAFE_NO_PAD.decode(key["x"].as_str().unwrap()).unwrap(), URL_SAFE_NO_PAD.decode(key["y"].as_str().unwrap()).unwrap());
        assert_eq!((x.len(), y.len()), (32, 32));
        assert_eq!([&[4u8][..], &x, &y].concat(), public);
        assert!(key.get("d").is_none());
    }

    #[test]
    fn malformed_material_is_an_error_not_a_panic() {
        assert!(Signer::from_private(Algorithm::EdDSA, &[1, 2, 3]).is_err());
        assert!(Signer::from_private(Algorithm::ES256, &[0u8; 32]).is_err(), "the zero scalar");
        assert!(jwk("k", Algorithm::ES256, &[4u8; 65]).is_err(), "not a point of the curve");
        assert!(decoding_key(Algorithm::EdDSA, &[0u8; 31]).is_err());
    }
}
