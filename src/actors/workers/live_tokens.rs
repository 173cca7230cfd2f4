//! `LiveTokensWorker`: on an interval, sweeps the token store's live set and counts the users
//! holding a live refresh token, into a gauge.
//!
//! The count comes from the store's sorted set of live users (`ZREMRANGEBYSCORE` + `ZCARD`,
//! O(log n)), never from a scan of the keyspace, and it runs here, off the request path.

use std::time::Duration;

use actix::{Actor, AsyncContext, Context, WrapFuture};

use crate::actors::token_store::TokenBackend;
use crate::metrics;

/// One tick: sweep and count; `None` when the store did not answer. Bounded by the store's own
/// timeout, so a tick never hangs.
pub async fn tick(tokens: &TokenBackend) -> Option<u64> {
    match tokens.sweep_and_count().await {
        Ok(n) => {
            metrics::live_refresh_tokens(n);
            Some(n)
        }
        Err(e) => {
            log::warn!("live token count failed: {e}");
            metrics::worker_error("live_tokens");
            None
        }
    }
}

pub struct LiveTokensWorker {
    tokens: TokenBackend,
    interval: Duration,
}

impl LiveTokensWorker {
    pub fn new(tokens: TokenBackend, interval: Duration) -> LiveTokensWorker {
        LiveTokensWorker { tokens, interval }
    }

    fn run_tick(&mut self, ctx: &mut Context<Self>) {
        let tokens = self.tokens.clone();
        ctx.spawn(
            async move {
                tick(&tokens).await;
            }
            .into_actor(self),
        );
    }
}

impl Actor for LiveTokensWorker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.run_tick(ctx);
        ctx.run_interval(self.interval, Self::run_tick);
    }
}
