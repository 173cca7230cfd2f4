//! `Keys`: what the key worker, the startup and (later) the admin API call: one maintenance
//! tick, a rotation now, an emergency retire now, and the reload of this replica's key set.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

use super::plan::{Action, KeyRow, Plan, Policy};
use super::set::{Context, KeySet};
use super::store::{self, MaintainError};
use super::{Algorithm, KeyRing, Sealer, material};
use crate::actors::user_repo::{Schema, UserStore};
use crate::metrics::keys as metrics;

#[derive(Clone)]
pub struct Keys {
    store: UserStore,
    schema: Schema,
    secret: Arc<[u8]>,
    sealer: Sealer,
    policy: Policy,
    ring: KeyRing,
    /// Bound on one maintenance or reload, so a stalled database never hangs the worker.
    timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the database schema is not in place yet")]
    NotReady,
    #[error("the database did not answer in time")]
    Timeout,
    #[error(transparent)]
    Maintain(#[from] MaintainError),
    #[error(transparent)]
    Load(#[from] sqlx::Error),
}

impl Keys {
    pub fn new(store: UserStore, schema: Schema, secret: &[u8], policy: Policy, timeout: Duration) -> Keys {
        let sealer = Sealer::new(secret);
        let secret: Arc<[u8]> = secret.into();
        let ring = KeyRing::new(KeySet::initial(&Context { algorithm: policy.algorithm, secret: &secret, sealer: &sealer }));
        metrics::lifetime(policy.lifetime);
        Keys { store, schema, secret, sealer, policy, ring, timeout }
    }

    /// The key set the access tokens read.
    pub fn ring(&self) -> KeyRing {
        self.ring.clone()
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// One tick of the worker: create, promote and retire on schedule, then reload.
    pub async fn tick(&self) -> Result<(), KeyError> {
        let result = self.maintain(Action::Tick).await.map(drop);
        // A replica whose maintenance failed (say, another replica held the lock past the
        // timeout) still picks up the keys the others made.
        let reloaded = self.reload().await;
        result.and(reloaded)
    }

    /// Promotes the next key now; the current one retires on schedule. Returns the new kid.
    pub async fn rotate_now(&self) -> Result<String, KeyError> {
        self.maintain(Action::RotateNow).await?;
        self.reload().await?;
        Ok(self.ring.get().signing().map(|k| k.kid.clone()).unwrap_or_default())
    }

    /// Retires a (compromised) key at once: tokens it signed are refused here now, and on every
    /// replica at its next reload (which the admin flow brings forward: see
    /// `Revocations::key_retired`).
    pub async fn retire_now(&self, kid: &str) -> Result<(), KeyError> {
        self.maintain(Action::RetireNow(kid.to_string())).await?;
        metrics::rotation("retired");
        log::warn!("signing key {kid} retired at once: the tokens it signed are refused");
        self.reload().await
    }

    async fn maintain(&self, action: Action) -> Result<Plan, KeyError> {
        if !self.schema.is_ready() {
            return Err(KeyError::NotReady);
        }
        let (sealer, now) = (self.sealer.clone(), chrono::Utc::now().timestamp());
        let mut new_key = move |alg: Algorithm| fresh_key(&sealer, alg, now);
        let result = crate::timeout::within(self.timeout, store::maintain(&self.store, &self.policy, now, &action, &mut new_key)).await;
        let plan = match result {
            Err(_) => Err(KeyError::Timeout),
            Ok(result) => result.map_err(KeyError::from),
        };
        match &plan {
            Ok(plan) if plan.rotated => {
                metrics::rotation("rotated");
                log::info!("signing keys rotated: {} new, {} changed", plan.inserts.len(), plan.updates.len());
            }
            Ok(plan) if !plan.is_empty() => log::info!("signing keys: {} new, {} changed", plan.inserts.len(), plan.updates.len()),
            Ok(_) => {}
            Err(KeyError::Maintain(MaintainError::Refused(_))) => {}
            Err(e) => {
                metrics::rotation("failed");
                log::warn!("signing key maintenance failed: {e}");
            }
        }
        plan
    }

    /// Reads the stored keys and replaces this replica's set.
    pub async fn reload(&self) -> Result<(), KeyError> {
        if !self.schema.is_ready() {
            return Err(KeyError::NotReady);
        }
        let rows = crate::timeout::within(self.timeout, store::load(&self.store)).await.map_err(|_| KeyError::Timeout)??;
        let now = chrono::Utc::now().timestamp();
        let set = KeySet::build(&self.context(), &rows, now, true);
        metrics::key_set(&set, now);
        self.ring.replace(set);
        Ok(())
    }

    fn context(&self) -> Context<'_> {
        Context { algorithm: self.policy.algorithm, secret: &self.secret, sealer: &self.sealer }
    }
}

/// A new key pair, its private half sealed; its kid 128 random bits (base64url), which say
/// nothing of the key.
pub fn fresh_key(sealer: &Sealer, alg: Algorithm, now: i64) -> KeyRow {
    let mut id = [0u8; 16];
    rand::rng().fill_bytes(&mut id);
    let kid = URL_SAFE_NO_PAD.encode(id);
    let (private, public_key) = material::generate(alg);
    // Security: the private half exists in clear only until it is sealed.
    let private = zeroize::Zeroizing::new(private);
    KeyRow {
        sealed_private: sealer.seal(&kid, alg.name(), &private),
        kid,
        alg,
        public_key,
        created_at: now,
        activated_at: None,
        retired_at: None,
        verify_until: None,
    }
}
