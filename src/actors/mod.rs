//! The actors that do the work, and the typed handles route handlers call them through.
//!
//! Handlers never see an `Addr` or a `MailboxError`: each handle adds a timeout and turns a
//! dead or stuck actor into a 503 for the dependency it stands for.

pub mod counters;
pub mod hasher;
pub mod redis_pool;
pub mod token_store;
pub mod user_repo;
pub mod workers;

use std::time::Duration;

use actix::{Actor, Addr, Handler, Message, dev::ToEnvelope};

use crate::error::{ApiError, Dependency};

pub use counters::{CounterStore, CounterStoreActor};
pub use hasher::{Hasher, HasherActor};
pub use token_store::{RotateOutcome, TokenStore, TokenStoreActor};
pub use user_repo::{User, UserRecord, UserRepo, Users};

/// Sends `msg` and waits at most `timeout` for the reply.
pub(crate) async fn ask<A, M, T>(addr: &Addr<A>, msg: M, timeout: Duration, dependency: Dependency) -> Result<T, ApiError>
where
    A: Actor + Handler<M>,
    A::Context: ToEnvelope<A, M>,
    M: Message<Result = Result<T, ApiError>> + Send + 'static,
    T: Send + 'static,
{
    let started = std::time::Instant::now();
    let result = match crate::timeout::within(timeout, addr.send(msg)).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(mailbox)) => {
            log::error!("{} actor unreachable: {mailbox}", dependency.name());
            Err(ApiError::Unavailable(dependency))
        }
        Err(_) => {
            log::warn!("{} did not answer within {} ms", dependency.name(), timeout.as_millis());
            Err(ApiError::Unavailable(dependency))
        }
    };
    crate::metrics::store::observe::<M, T>(dependency, started.elapsed(), &result);
    result
}
