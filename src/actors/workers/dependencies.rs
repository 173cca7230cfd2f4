//! `DependenciesWorker`: on an interval, pings the stores and samples the connection pools, into
//! gauges, so operators see a store go down or a pool run dry before requests fail.

use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, AsyncContext, Context, WrapFuture};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::actors::Users;
use crate::actors::redis_pool::RedisPool;
use crate::actors::token_store::TokenBackend;
use crate::actors::user_repo::UserStore;
use crate::metrics;

/// A connection pool whose connections are reported.
pub enum PoolProbe {
    Database(UserStore),
    Redis(RedisPool),
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

/// Which stores answered in one tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TickReport {
    pub database_up: bool,
    pub token_store_up: bool,
}

/// One tick: ping both stores, sample the pools. Each ping is bounded by the stores' own
/// timeouts, so a tick never hangs.
pub async fn tick(probes: &Probes) -> TickReport {
    let (token_store, database) = futures_util::future::join(probes.tokens.ping(), probes.users.ping()).await;
    let report = TickReport { database_up: database.is_ok(), token_store_up: token_store.is_ok() };
    metrics::dependency_up("token_store", report.token_store_up);
    metrics::dependency_up("database", report.database_up);
    for pool in &probes.pools {
        match pool {
            PoolProbe::Database(store) => {
                let (engine, size, idle, max) = store.pool_state();
                metrics::pool_connections(engine, idle, size.saturating_sub(idle), max);
            }
            PoolProbe::Redis(pool) => {
                let (size, idle, max) = pool.pool_state();
                metrics::pool_connections("redis", idle, size.saturating_sub(idle), max);
            }
        }
    }
    if let Some(handle) = &probes.exporter {
        handle.run_upkeep();
    }
    report
}

pub struct DependenciesWorker {
    probes: Arc<Probes>,
    interval: Duration,
}

impl DependenciesWorker {
    pub fn new(probes: Probes, interval: Duration) -> DependenciesWorker {
        DependenciesWorker { probes: Arc::new(probes), interval }
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

impl Actor for DependenciesWorker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.run_tick(ctx);
        ctx.run_interval(self.interval, Self::run_tick);
    }
}
