//! `KeyWorker`: the key-rotation worker, one per replica. Each tick maintains the stored keys
//! under the lock (`store::maintain`) and reloads this replica's key set, so every replica
//! picks up a new key within one interval (`SIGNING_KEY_REFRESH`).

use std::time::Duration;

use actix::{Actor, ActorFutureExt, AsyncContext, Context, WrapFuture};

use super::Keys;

/// While the keys were never read (the database away at startup), a tick is retried this soon.
const RETRY: Duration = Duration::from_millis(250);

pub struct KeyWorker {
    keys: Keys,
    interval: Duration,
}

impl KeyWorker {
    pub fn new(keys: Keys, interval: Duration) -> KeyWorker {
        KeyWorker { keys, interval }
    }

    fn run_tick(&mut self, ctx: &mut Context<Self>) {
        let keys = self.keys.clone();
        ctx.spawn(
            async move {
                if let Err(e) = keys.tick().await {
                    log::warn!("signing key tick: {e}");
                    crate::metrics::worker_error("keys");
                }
            }
            .into_actor(self)
            .map(|_, worker: &mut Self, ctx: &mut Context<Self>| worker.retry_unless_loaded(ctx)),
        );
    }

    /// While this replica never read the keys, the next try comes sooner than the interval.
    fn retry_unless_loaded(&self, ctx: &mut Context<Self>) {
        if !self.keys.ring().get().loaded {
            ctx.run_later(RETRY.min(self.interval), Self::run_tick);
        }
    }
}

impl Actor for KeyWorker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // The startup ran the first tick (`startup`); when it could not, retry soon.
        self.retry_unless_loaded(ctx);
        ctx.run_interval(self.interval, Self::run_tick);
    }
}
