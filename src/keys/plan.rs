//! The rotation rules, as a pure function of the stored keys, the policy and the time: what to
//! insert and what to change. The worker applies the plan under a lock (see `store`), so the
//! rules are tested here without a database, and with any sequence of times.
//!
//! A key's life: created and published as *next* (in the JWKS, signing nothing); promoted to
//! *current* once the current key has signed for `SIGNING_KEY_LIFETIME` and the next key has
//! been published for `publish_ahead` (`JWKS_MAX_AGE` plus the replicas' refresh interval, so
//! every verifier has had the chance to fetch it); then *retired*, still verifying and
//! published for `keep_after_retire` (the refresh interval, `ACCESS_TOKEN_TTL` and `JWT_LEEWAY`:
//! a replica may sign with it until its next refresh, and those tokens live a TTL); then gone.

use std::time::Duration;

use super::Algorithm;

/// The kid of the HS256 key: JWT_SECRET itself, never stored, only its times.
pub const HS256_KID: &str = "hs256";

/// One stored key. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    pub kid: String,
    pub alg: Algorithm,
    pub public_key: Vec<u8>,
    pub sealed_private: Vec<u8>,
    pub created_at: i64,
    /// When it became current; `None` while it is the next key.
    pub activated_at: Option<i64>,
    /// When it stopped signing.
    pub retired_at: Option<i64>,
    /// When it stops verifying (and leaves the JWKS); `None`: not yet decided.
    pub verify_until: Option<i64>,
}

impl KeyRow {
    pub fn verifies_at(&self, now: i64) -> bool {
        self.verify_until.is_none_or(|until| now < until)
    }

    pub fn is_current(&self) -> bool {
        self.activated_at.is_some() && self.retired_at.is_none()
    }

    pub fn is_next(&self) -> bool {
        self.activated_at.is_none() && self.retired_at.is_none()
    }
}

/// The timings of rotation, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub algorithm: Algorithm,
    pub lifetime: Duration,
    pub publish_ahead: Duration,
    pub keep_after_retire: Duration,
}

/// What the worker was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The periodic check: create, promote and retire on schedule.
    Tick,
    /// Promote the next key now, whatever the current key's age.
    RotateNow,
    /// A compromised key: it stops verifying at once (tokens it signed are refused); when it
    /// was current, the next key takes over at once.
    RetireNow(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("no verifying key has this kid")]
    UnknownKid,
    #[error("the HS256 key is JWT_SECRET: change the secret instead")]
    SecretKey,
}

/// The changes to make: rows to insert and rows to update (by kid, the whole new state).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub inserts: Vec<KeyRow>,
    pub updates: Vec<KeyRow>,
    /// Whether a key became current (a rotation happened).
    pub rotated: bool,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.inserts.is_empty() && self.updates.is_empty()
    }
}

/// The plan for `action` at `now` over `rows`. `new_key` makes a fresh key of an algorithm
/// (created at `now`, next): random in the service, predictable in tests.
pub fn plan(
    rows: &[KeyRow],
    policy: &Policy,
    now: i64,
    action: &Action,
    new_key: &mut dyn FnMut(Algorithm) -> KeyRow,
) -> Result<Plan, PlanError> {
    let mut keys: Vec<KeyRow> = rows.to_vec();
    let before = keys.clone();
    let secs = |d: Duration| d.as_secs() as i64;
    let keep = now + secs(policy.keep_after_retire);
    let mut rotated = false;
    let mut forced = matches!(action, Action::RotateNow);

    if let Action::RetireNow(kid) = action {
        if kid == HS256_KID {
            return Err(PlanError::SecretKey);
        }
        let key = keys.iter_mut().find(|k| &k.kid == kid && k.verifies_at(now)).ok_or(PlanError::UnknownKid)?;
        forced = key.is_current();
        key.retired_at.get_or_insert(now);
        key.verify_until = Some(now);
    }

    if policy.algorithm == Algorithm::HS256 {
        // The secret signs; asymmetric keys stop: a current one retires on schedule (its tokens
        // verify until they expire), a next one that never signed goes at once.
        for key in keys.iter_mut().filter(|k| k.alg.is_asymmetric()) {
            if key.is_current() {
                key.retired_at = Some(now);
                key.verify_until = Some(keep);
            } else if key.is_next() {
                key.retired_at = Some(now);
                key.verify_until = Some(now);
            }
        }
        match keys.iter_mut().find(|k| k.kid == HS256_KID) {
            Some(hs) if hs.is_current() => {}
            Some(hs) => {
                (hs.activated_at, hs.retired_at, hs.verify_until) = (Some(now), None, None);
                rotated = true;
            }
            None => {
                keys.push(hs256_row(now));
                rotated = true;
            }
        }
        return Ok(diff(&before, keys, rotated));
    }

    // Next keys of another algorithm never signed: they go at once.
    for key in keys.iter_mut().filter(|k| k.is_next() && k.alg != policy.algorithm) {
        key.retired_at = Some(now);
        key.verify_until = Some(now);
    }
    let current = keys.iter().position(KeyRow::is_current);
    let next = keys.iter().position(|k| k.is_next() && k.alg == policy.algorithm);
    let promote = match current.map(|i| &keys[i]) {
        // First start, or the current key was retired in an emergency, or the algorithm was
        // switched: a key of the configured algorithm signs at once (the next one if there is
        // one, else a new one). Verifiers meet its kid before their next fetch of the JWKS and
        // fetch it then (every maintained JOSE library refetches on an unknown kid).
        None => true,
        Some(c) if c.alg != policy.algorithm => true,
        Some(_) if forced => true,
        Some(c) => {
            let due = c.activated_at.unwrap_or(now) + secs(policy.lifetime) <= now;
            let published = next.is_some_and(|n| keys[n].created_at + secs(policy.publish_ahead) <= now);
            due && published
        }
    };
    if promote {
        if let Some(c) = current {
            let c = &mut keys[c];
            c.retired_at = Some(now);
            // A key retired in an emergency keeps its immediate end.
            c.verify_until = Some(c.verify_until.map_or(keep, |until| until.min(keep)));
        }
        let n = match next {
            Some(n) => n,
            None => {
                keys.push(new_key(policy.algorithm));
                keys.len() - 1
            }
        };
        keys[n].activated_at = Some(now);
        rotated = true;
    }
    if !keys.iter().any(|k| k.is_next() && k.alg == policy.algorithm) {
        keys.push(new_key(policy.algorithm));
    }
    Ok(diff(&before, keys, rotated))
}

/// The HS256 key's row: current from `now`.
fn hs256_row(now: i64) -> KeyRow {
    KeyRow {
        kid: HS256_KID.into(),
        alg: Algorithm::HS256,
        public_key: Vec::new(),
        sealed_private: Vec::new(),
        created_at: now,
        activated_at: Some(now),
        retired_at: None,
        verify_until: None,
    }
}

fn diff(before: &[KeyRow], after: Vec<KeyRow>, rotated: bool) -> Plan {
    let mut plan = Plan { rotated, ..Plan::default() };
    for key in after {
        match before.iter().find(|b| b.kid == key.kid) {
            None => plan.inserts.push(key),
            Some(old) if *old != key => plan.updates.push(key),
            Some(_) => {}
        }
    }
    plan
}

#[cfg(test)]
mod tests;
