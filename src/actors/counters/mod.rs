//! `CounterStoreActor`: the throttle's fixed-window counters, apart from the refresh tokens.
//! Backed by Redis (over the token store's connections, so every replica shares the counts),
//! or by this process's memory in the embedded setup.

mod memory;
mod redis;

use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr, Context, Handler, Message, ResponseFuture};

pub use self::memory::MemoryCounters;
pub use self::redis::RedisCounters;
use crate::actors::ask;
use crate::error::{ApiError, Dependency};

/// Where the counters live.
#[derive(Clone)]
pub enum CounterBackend {
    Redis(Arc<RedisCounters>),
    Memory(Arc<MemoryCounters>),
}

impl CounterBackend {
    async fn hit(&self, counters: &[(String, u32)], window: Duration) -> Result<Option<Duration>, ApiError> {
        match self {
            CounterBackend::Redis(r) => r.hit(counters, window).await,
            CounterBackend::Memory(m) => Ok(m.hit(counters, window)),
        }
    }

    async fn forget(&self, counter: &str) -> Result<(), ApiError> {
        match self {
            CounterBackend::Redis(r) => r.forget(counter).await,
            CounterBackend::Memory(m) => {
                m.forget(counter);
                Ok(())
            }
        }
    }
}

pub struct CounterStoreActor {
    backend: CounterBackend,
}

impl CounterStoreActor {
    pub fn new(backend: CounterBackend) -> CounterStoreActor {
        CounterStoreActor { backend }
    }
}

impl Actor for CounterStoreActor {
    type Context = Context<Self>;
}

/// One attempt against throttle counters: `(name, limit)` pairs over one window.
#[derive(Message)]
#[rtype(result = "Result<Option<Duration>, ApiError>")]
pub struct Hit {
    pub counters: Vec<(String, u32)>,
    pub window: Duration,
}

#[derive(Message)]
#[rtype(result = "Result<(), ApiError>")]
pub struct Forget(pub String);

impl Handler<Hit> for CounterStoreActor {
    type Result = ResponseFuture<Result<Option<Duration>, ApiError>>;
    fn handle(&mut self, msg: Hit, _: &mut Context<Self>) -> Self::Result {
        let backend = self.backend.clone();
        Box::pin(async move { backend.hit(&msg.counters, msg.window).await })
    }
}

impl Handler<Forget> for CounterStoreActor {
    type Result = ResponseFuture<Result<(), ApiError>>;
    fn handle(&mut self, msg: Forget, _: &mut Context<Self>) -> Self::Result {
        let backend = self.backend.clone();
        Box::pin(async move { backend.forget(&msg.0).await })
    }
}

/// The handle the throttle holds.
///
/// The counters live in the token store's Redis, so an outage of it is reported (as a 503, in
/// the store metrics and in the log) as the token store's.
#[derive(Clone)]
pub struct CounterStore {
    addr: Addr<CounterStoreActor>,
    timeout: Duration,
}

impl CounterStore {
    pub fn new(addr: Addr<CounterStoreActor>, timeout: Duration) -> CounterStore {
        CounterStore { addr, timeout }
    }

    /// Counts an attempt against each `(counter, limit)`; `Some(wait)` when one is over its limit.
    pub async fn hit(&self, counters: Vec<(String, u32)>, window: Duration) -> Result<Option<Duration>, ApiError> {
        ask(&self.addr, Hit { counters, window }, self.timeout, Dependency::TokenStore).await
    }

    pub async fn forget(&self, counter: String) -> Result<(), ApiError> {
        ask(&self.addr, Forget(counter), self.timeout, Dependency::TokenStore).await
    }
}
