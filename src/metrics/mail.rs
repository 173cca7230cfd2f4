//! Mail metrics: messages queued, sent, failed (one attempt) and given up, by kind; the outbox's
//! depth, its oldest waiting message's age, and the given-up messages it keeps.

use std::time::Duration;

use crate::account_store::OutboxDepth;
use crate::mail::Kind;

pub const QUEUED: &str = "gatehouse_mail_queued_total";
pub const SENT: &str = "gatehouse_mail_sent_total";
pub const FAILED: &str = "gatehouse_mail_failed_total";
pub const GIVEN_UP: &str = "gatehouse_mail_given_up_total";
pub const OUTBOX_DEPTH: &str = "gatehouse_mail_outbox_depth";
pub const OUTBOX_OLDEST_AGE: &str = "gatehouse_mail_outbox_oldest_age_seconds";
pub const OUTBOX_GIVEN_UP: &str = "gatehouse_mail_outbox_given_up";
pub const SEND_DURATION: &str = "gatehouse_mail_send_duration_seconds";

pub fn queued(kind: Kind) {
    metrics::counter!(QUEUED, "kind" => kind.as_str()).increment(1);
}

pub fn sent(kind: Kind, took: Duration) {
    metrics::counter!(SENT, "kind" => kind.as_str()).increment(1);
    metrics::histogram!(SEND_DURATION).record(took.as_secs_f64());
}

pub fn failed(kind: Kind) {
    metrics::counter!(FAILED, "kind" => kind.as_str()).increment(1);
}

pub fn given_up(kind: Kind) {
    metrics::counter!(GIVEN_UP, "kind" => kind.as_str()).increment(1);
}

pub fn outbox(depth: OutboxDepth) {
    metrics::gauge!(OUTBOX_DEPTH).set(depth.waiting as f64);
    metrics::gauge!(OUTBOX_OLDEST_AGE).set(depth.oldest_age.as_secs_f64());
    metrics::gauge!(OUTBOX_GIVEN_UP).set(depth.given_up as f64);
}

/// Every series at zero from the start (see `metrics::init_series`).
pub fn init_series() {
    for kind in Kind::ALL {
        for name in [QUEUED, SENT, FAILED, GIVEN_UP] {
            metrics::counter!(name, "kind" => kind.as_str()).increment(0);
        }
    }
    outbox(OutboxDepth::default());
}
