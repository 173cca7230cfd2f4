//! `KeySet`: the keys one replica signs and verifies with, built from the stored rows, and the
//! JWKS document pre-rendered from them; `KeyRing`: the set every HTTP worker reads, swapped
//! whole when the key worker reloads it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use actix_web::web::Bytes;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::material::{self, Signer};
use super::plan::{HS256_KID, KeyRow};
use super::{Algorithm, Sealer};
use crate::per_thread::PerThread;

/// A key that verifies: its algorithm (pinned: a token naming this kid with another `alg` is
/// refused), jsonwebtoken's verification key, and when it stops verifying.
pub struct VerifyKey {
    pub alg: Algorithm,
    pub decoding: jsonwebtoken::DecodingKey,
    pub verify_until: Option<i64>,
}

impl VerifyKey {
    pub fn verifies_at(&self, now: i64) -> bool {
        self.verify_until.is_none_or(|until| now < until)
    }
}

/// The key that signs, parsed once, with its header already encoded.
pub struct SigningKey {
    pub kid: String,
    pub alg: Algorithm,
    /// `base64url({"alg":…,"typ":"at+jwt","kid":…})`.
    pub header: String,
    pub signer: Signer,
}

/// Security: foldhash instead of SipHash, looked up on every bearer request by a token's `kid`;
/// only this deployment's few keys are ever inserted, so no input can make it collide.
type Keys = HashMap<String, VerifyKey, foldhash::fast::RandomState>;

pub struct KeySet {
    keys: Keys,
    signing: Option<SigningKey>,
    jwks: Bytes,
    published: usize,
    /// When the current key became current (for the key-age gauge); `None` under HS256.
    pub current_since: Option<i64>,
    /// Whether the stored keys were read at least once: before, a kid this set does not know
    /// may be a good one, and the answer is "unavailable" rather than "invalid".
    pub loaded: bool,
}

/// The settings a key set is built under.
pub struct Context<'a> {
    pub algorithm: Algorithm,
    pub secret: &'a [u8],
    pub sealer: &'a Sealer,
}

impl KeySet {
    /// The set before the stored keys were read: under HS256 the secret signs and verifies
    /// already (the database is not needed); otherwise nothing signs yet.
    pub fn initial(ctx: &Context) -> KeySet {
        Self::build(ctx, &[], 0, false)
    }

    /// The set of `rows` at `now`: every key that still verifies, the current one signing.
    pub fn build(ctx: &Context, rows: &[KeyRow], now: i64, loaded: bool) -> KeySet {
        let mut keys = Keys::default();
        let mut jwks = Vec::new();
        let mut signing = None;
        let mut current_since = None;
        let mut verifying: Vec<&KeyRow> = rows.iter().filter(|r| r.verifies_at(now)).collect();
        verifying.sort_by_key(|r| (r.created_at, r.kid.clone()));
        for row in verifying {
            let decoding = match row.alg {
                Algorithm::HS256 => jsonwebtoken::DecodingKey::from_secret(ctx.secret),
                alg => match material::decoding_key(alg, &row.public_key) {
                    Ok(key) => key,
                    Err(e) => {
                        log::error!("signing key {}: {e}; not used", row.kid);
                        continue;
                    }
                },
            };
            if row.alg.is_asymmetric() && ctx.algorithm.is_asymmetric() {
                // unwrap: the public key parsed just above.
                jwks.push(material::jwk(&row.kid, row.alg, &row.public_key).unwrap());
            }
            if row.is_current() && ctx.algorithm.is_asymmetric() {
                signing = signing_key(ctx, row);
                current_since = row.activated_at;
            }
            keys.insert(row.kid.clone(), VerifyKey { alg: row.alg, decoding, verify_until: row.verify_until });
        }
        if ctx.algorithm == Algorithm::HS256 {
            // Security: under HS256 the secret is the key, whatever the database says: it signs,
            // and verifies with no end.
            keys.insert(
                HS256_KID.into(),
                VerifyKey { alg: Algorithm::HS256, decoding: jsonwebtoken::DecodingKey::from_secret(ctx.secret), verify_until: None },
            );
            signing = Some(hs256_signing_key(ctx.secret));
            // The secret does not rotate: no key age to watch.
            current_since = None;
        }
        let published = jwks.len();
        // unwrap: a JSON value always serializes.
        let jwks = Bytes::from(serde_json::to_vec(&serde_json::json!({ "keys": jwks })).unwrap());
        KeySet { keys, signing, jwks, published, current_since, loaded }
    }

    /// The key a token's `kid` names. A token without `kid` was signed by a release before
    /// signing keys, always with the HS256 secret: it is read as naming that key (which
    /// verifies only while the HS256 key does).
    pub fn get(&self, kid: Option<&str>) -> Option<&VerifyKey> {
        self.keys.get(kid.unwrap_or(HS256_KID))
    }

    /// Whether a key still verifies at `now`: what a remembered token is checked against.
    pub fn accepts(&self, kid: &str, now: i64) -> bool {
        self.keys.get(kid).is_some_and(|k| k.verifies_at(now))
    }

    pub fn signing(&self) -> Option<&SigningKey> {
        self.signing.as_ref()
    }

    /// The JWKS document, rendered when the set was built.
    pub fn jwks(&self) -> Bytes {
        self.jwks.clone()
    }

    /// How many keys the JWKS holds.
    pub fn published(&self) -> usize {
        self.published
    }

    /// The kids of every key that verifies at `now` (for tests and the log).
    pub fn kids(&self, now: i64) -> Vec<String> {
        let mut kids: Vec<String> = self.keys.iter().filter(|(_, k)| k.verifies_at(now)).map(|(kid, _)| kid.clone()).collect();
        kids.sort();
        kids
    }
}

fn signing_key(ctx: &Context, row: &KeyRow) -> Option<SigningKey> {
    if row.alg == Algorithm::HS256 {
        return Some(hs256_signing_key(ctx.secret));
    }
    // Security: the opened private half is wiped from memory once parsed (the parsed key wipes
    // itself when the key set is dropped).
    let private = match ctx.sealer.open(&row.kid, row.alg.name(), &row.sealed_private) {
        Ok(private) => zeroize::Zeroizing::new(private),
        Err(e) => {
            log::error!("signing key {}: {e}; is JWT_SECRET the one the keys were made under?", row.kid);
            return None;
        }
    };
    match Signer::from_private(row.alg, &private) {
        Ok(signer) => Some(SigningKey { kid: row.kid.clone(), alg: row.alg, header: header(&row.kid, row.alg), signer }),
        Err(e) => {
            log::error!("signing key {}: {e}", row.kid);
            None
        }
    }
}

fn hs256_signing_key(secret: &[u8]) -> SigningKey {
    SigningKey {
        kid: HS256_KID.into(),
        alg: Algorithm::HS256,
        header: header(HS256_KID, Algorithm::HS256),
        signer: Signer::Hmac(secret.to_vec()),
    }
}

fn header(kid: &str, alg: Algorithm) -> String {
    let header = serde_json::json!({"alg": alg.name(), "typ": crate::tokens::access::ACCESS_TYP, "kid": kid});
    // unwrap: a JSON value always serializes.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap())
}

/// The key set every HTTP worker reads; the key worker replaces the whole set when it reloads.
#[derive(Clone)]
pub struct KeyRing(Arc<Ring>);

struct Ring {
    current: RwLock<Arc<KeySet>>,
    /// Bumped after each replacement: a thread's copy is current while it has the same number.
    generation: AtomicU64,
    /// Each thread's copy of the set, with the generation it was taken at. A bearer request
    /// then reads one atomic that only changes on a reload, instead of taking the lock and
    /// cloning the `Arc`: two writes to cache lines every worker shares.
    copies: PerThread<RefCell<(u64, Arc<KeySet>)>>,
}

impl KeyRing {
    pub fn new(set: KeySet) -> KeyRing {
        KeyRing(Arc::new(Ring { current: RwLock::new(Arc::new(set)), generation: AtomicU64::new(0), copies: PerThread::default() }))
    }

    pub fn get(&self) -> Arc<KeySet> {
        self.0.current.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// `f` of the current set, through this thread's copy. The copy is never older than the
    /// set of the generation read first: `replace` stores the set before it bumps the number.
    /// `f` must not call `with` itself.
    pub fn with<R>(&self, f: impl FnOnce(&KeySet) -> R) -> R {
        let generation = self.0.generation.load(Ordering::Acquire);
        let copy = self.0.copies.get_or(|| RefCell::new((generation, self.get())));
        if copy.borrow().0 != generation {
            *copy.borrow_mut() = (generation, self.get());
        }
        f(&copy.borrow().1)
    }

    pub fn replace(&self, set: KeySet) {
        *self.0.current.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(set);
        self.0.generation.fetch_add(1, Ordering::Release);
    }
}
