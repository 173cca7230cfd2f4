//! Sessions and revocation: revocations published and received, how late a replica heard of
//! them, the revocation table's size, whether the revocation channel is subscribed, and replays;
//! and the admin API's actions.

pub const REVOCATIONS_PUBLISHED: &str = "gatehouse_revocations_published_total";
pub const REVOCATIONS_RECEIVED: &str = "gatehouse_revocations_received_total";
pub const REVOCATION_PUBLISH_FAILURES: &str = "gatehouse_revocation_publish_failures_total";
pub const REVOCATION_LAG: &str = "gatehouse_revocation_lag_seconds";
pub const REVOCATION_TABLE: &str = "gatehouse_revocation_table_entries";
pub const REVOCATION_SUBSCRIBED: &str = "gatehouse_revocation_subscribed";
pub const REVOCATION_REPLAYS: &str = "gatehouse_revocation_replays_total";
pub const REVOCATION_REPLAYED: &str = "gatehouse_revocations_replayed_total";
pub const REVOCATIONS_RECOVERED: &str = "gatehouse_revocations_recovered_total";
pub const ADMIN_ACTIONS: &str = "gatehouse_admin_actions_total";
pub const AUDIT_QUEUE: &str = "gatehouse_audit_queue_depth";
pub const AUDIT_FAILURES: &str = "gatehouse_audit_failures_total";
pub const REPLICATION_SHORT: &str = "gatehouse_session_replication_short_total";

/// Events waiting in the audit queue.
pub fn audit_queue(depth: usize) {
    metrics::gauge!(AUDIT_QUEUE).set(depth as f64);
}

/// Audit events lost: `dropped` (the queue was full), `write` (a batch failed), `prune`.
pub fn audit_failed(kind: &'static str, events: usize) {
    metrics::counter!(AUDIT_FAILURES, "kind" => kind).increment(events as u64);
}

/// The admin API's actions, the label of `ADMIN_ACTIONS`.
const ADMIN: &[&str] = &["disable", "enable", "end_sessions", "delete", "rotate_key", "retire_key"];

/// An operator's action through the admin API that changed something.
pub fn admin_action(action: &'static str) {
    metrics::counter!(ADMIN_ACTIONS, "action" => action).increment(1);
}

/// From a logout on one replica to its arrival on another over loopback: a few milliseconds;
/// the top buckets catch a replica that is far behind.
pub const LAG_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// The reasons sessions end, the label of `REVOCATIONS_PUBLISHED`.
const REASONS: &[&str] = &["logout", "logout_all", "ended", "reuse", "replaced", "disabled", "deleted", "admin"];

/// `count` sessions ended for `reason` (a `revocation::Reason` label).
pub fn revocations_published(reason: &'static str, count: usize) {
    metrics::counter!(REVOCATIONS_PUBLISHED, "reason" => reason).increment(count as u64);
}

/// What became of a revocation whose publication failed, the label of
/// `REVOCATION_PUBLISH_FAILURES`: `retried` (an attempt failed; it is tried again), `given_up`
/// (never published: the other replicas accept its tokens until they expire).
const PUBLISH_OUTCOMES: &[&str] = &["retried", "given_up"];

pub fn revocation_publish_failed(outcome: &'static str) {
    metrics::counter!(REVOCATION_PUBLISH_FAILURES, "outcome" => outcome).increment(1);
}

/// A revocation heard on the channel, `lag` seconds after it was published.
pub fn revocation_received(lag: f64) {
    metrics::counter!(REVOCATIONS_RECEIVED).increment(1);
    metrics::histogram!(REVOCATION_LAG).record(lag);
}

pub fn revocation_table_size(entries: usize) {
    metrics::gauge!(REVOCATION_TABLE).set(entries as f64);
}

/// A session change that fewer than `REDIS_WAIT_REPLICAS` replicas confirmed in time.
pub fn replication_short() {
    metrics::counter!(REPLICATION_SHORT).increment(1);
}

pub fn revocation_subscription(up: bool) {
    metrics::gauge!(REVOCATION_SUBSCRIBED).set(if up { 1.0 } else { 0.0 });
}

/// A (re)subscription replayed `entries` from the record.
pub fn revocation_replayed(entries: usize) {
    metrics::counter!(REVOCATION_REPLAYS).increment(1);
    metrics::counter!(REVOCATION_REPLAYED).increment(entries as u64);
}

/// A heartbeat's read of the record applied `entries` revocations the channel had not delivered
/// (yet): a channel that drops or holds up messages shows here.
pub fn revocations_recovered(entries: usize) {
    metrics::counter!(REVOCATIONS_RECOVERED).increment(entries as u64);
}

/// Every series at zero before anything happened (see `metrics::init_series`).
pub fn init_series() {
    for &reason in REASONS {
        metrics::counter!(REVOCATIONS_PUBLISHED, "reason" => reason).increment(0);
    }
    metrics::counter!(REVOCATIONS_RECEIVED).increment(0);
    for &outcome in PUBLISH_OUTCOMES {
        metrics::counter!(REVOCATION_PUBLISH_FAILURES, "outcome" => outcome).increment(0);
    }
    metrics::counter!(REPLICATION_SHORT).increment(0);
    metrics::counter!(REVOCATION_REPLAYS).increment(0);
    metrics::counter!(REVOCATION_REPLAYED).increment(0);
    metrics::counter!(REVOCATIONS_RECOVERED).increment(0);
    metrics::gauge!(REVOCATION_TABLE).set(0.0);
    for &action in ADMIN {
        metrics::counter!(ADMIN_ACTIONS, "action" => action).increment(0);
    }
    for kind in ["dropped", "write", "prune"] {
        metrics::counter!(AUDIT_FAILURES, "kind" => kind).increment(0);
    }
    metrics::gauge!(AUDIT_QUEUE).set(0.0);
}
