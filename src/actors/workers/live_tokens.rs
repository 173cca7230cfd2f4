//! `LiveTokensWorker`: on an interval, sweeps the token store's live set and counts the users
//! holding a live refresh token, pings the stores, and samples the connection pools, into gauges.
//!
//! The count comes from the store's sorted set of live users (`ZREMRANGEBYSCORE` + `ZCARD`,
//! O(log n)), never from a scan of the keyspace, and it runs here, off the request path.

use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, AsyncContext, Context, WrapFuture};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::actors::Users;
use crate::actors::token_store::{RedisTokens, TokenBackend};
use crate::actors::user_repo::UserStore;
use crate::metrics;

/// A connection pool whose connections are reported, with its configured maximum.
pub enum PoolProbe {
    Database(UserStore),
    Redis { tokens: Arc<RedisTokens>, max: u32 },
}

/// What a tick looks at.
pub struct Probes {
    pub tokens: TokenBackend,
    pub users: Users,
    pub pools: Vec<PoolProbe>,
    /// The exporter's handle, when metrics are exported: its upkeep drains histogram buffers
    /// even when nothing scrapes.
    pub exporter: Option<PrometheusHandle>,
}

/// What one tick saw; `None` where the store did not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TickReport {
    pub live_tokens: Option<u64>,
    pub database_up: bool,
    pub token_store_up: bool,
}

/// One tick: sweep and count, ping, sample the pools. Each call is bounded by the stores' own
/// timeouts, so a tick never hangs.
pub async fn tick(probes: &Probes) -> TickReport {
    let (count, database) = futures_util::future::join(probes.tokens.sweep_and_count(), probes.users.ping()).await;
    let live_tokens = match count {
        Ok(n) => {
            metrics::live_refresh_tokens(n);
            Some(n)
        }
        Err(e) => {
            log::warn!("live token count failed: {e}");
            metrics::worker_error("live_tokens");
            None
        }
    };
    // A successful sweep is a round trip to the token store: it stands for its ping.
    let token_store_up = live_tokens.is_some();
    metrics::dependency_up("token_store", token_store_up);
    metrics::dependency_up("database", database.is_ok());
    for pool in &probes.pools {
        match pool {
            PoolProbe::Database(store) => {
                let (engine, size, idle, max) = store.pool_state();
                metrics::pool_connections(engine, idle, size.saturating_sub(idle), max);
            }
            PoolProbe::Redis { tokens, max } => {
                let (size, idle) = tokens.pool_state();
                metrics::pool_connections("redis", idle, size.saturating_sub(idle), *max);
            }
        }
    }
    if let Some(handle) = &probes.exporter {
        handle.run_upkeep();
    }
    TickReport { live_tokens, database_up: database.is_ok(), token_store_up }
}

pub struct LiveTokensWorker {
    probes: Arc<Probes>,
    interval: Duration,
}

impl LiveTokensWorker {
    pub fn new(probes: Probes, interval: Duration) -> LiveTokensWorker {
        LiveTokensWorker { probes: Arc::new(probes), interval }
    }

    fn run_tick(&mut self, ctx: &mut Context<Self>) {
        let probes = self.probes.clone();
        ctx.spawn(
            async move {
                tick(&probes).await;
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
