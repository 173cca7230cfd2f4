//! Signing-key metrics: the current key's age against its lifetime, the keys published, the
//! rotations and their outcome, and access tokens refused by reason.

use std::time::Duration;

use crate::keys::KeySet;

pub const KEY_AGE: &str = "gatehouse_signing_key_age_seconds";
pub const KEY_LIFETIME: &str = "gatehouse_signing_key_lifetime_seconds";
pub const KEYS_PUBLISHED: &str = "gatehouse_signing_keys_published";
pub const KEY_ROTATIONS: &str = "gatehouse_signing_key_rotations_total";
pub const TOKEN_REFUSALS: &str = "gatehouse_access_token_refusals_total";

/// Every outcome of `KEY_ROTATIONS`, created at zero so that `rate()` sees the first one.
pub const ROTATION_OUTCOMES: [&str; 3] = ["rotated", "retired", "failed"];
/// Every reason of `TOKEN_REFUSALS`.
pub const REFUSAL_REASONS: [&str; 4] = ["unknown_kid", "bad_signature", "expired", "invalid"];

/// The configured `SIGNING_KEY_LIFETIME`, for the alert on a stuck worker; creates the
/// counters at zero.
pub fn lifetime(lifetime: Duration) {
    metrics::gauge!(KEY_LIFETIME).set(lifetime.as_secs_f64());
    for outcome in ROTATION_OUTCOMES {
        metrics::counter!(KEY_ROTATIONS, "outcome" => outcome).increment(0);
    }
    for reason in REFUSAL_REASONS {
        metrics::counter!(TOKEN_REFUSALS, "reason" => reason).increment(0);
    }
}

/// The gauges of a freshly loaded key set.
pub fn key_set(set: &KeySet, now: i64) {
    // Zero under HS256 (the secret does not rotate), so the stuck-worker alert stays quiet.
    let age = set.current_since.map_or(0, |since| now.saturating_sub(since).max(0));
    metrics::gauge!(KEY_AGE).set(age as f64);
    metrics::gauge!(KEYS_PUBLISHED).set(set.published() as f64);
}

/// `rotated` (a key became current), `retired` (an emergency retire) or `failed`.
pub fn rotation(outcome: &'static str) {
    metrics::counter!(KEY_ROTATIONS, "outcome" => outcome).increment(1);
}

/// An access token refused: `unknown_kid`, `bad_signature`, `expired` or `invalid` (anything
/// else: malformed, a forbidden header, another issuer…).
pub fn refused(reason: &'static str) {
    metrics::counter!(TOKEN_REFUSALS, "reason" => reason).increment(1);
}
