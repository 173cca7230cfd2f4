//! `TokenStoreActor`: refresh tokens, one per user: issue (a login replaces the old one),
//! rotate (atomic, with reuse detection and a grace window for concurrent tabs), revoke; and
//! the throttle counters. Backed by Redis, or by this process's memory in the embedded setup.

mod memory;
mod redis;

use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr, Context, Handler, Message, ResponseFuture};
use uuid::Uuid;

pub use self::memory::MemoryTokens;
pub use self::redis::{RedisSettings, RedisTokens};
use crate::actors::ask;
use crate::error::{ApiError, Dependency};
use crate::tokens::{RefreshKey, RefreshToken};

/// What presenting a refresh token led to.
#[derive(Debug, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The token was current; here is its successor.
    Rotated { user_id: Uuid, token: RefreshToken },
    /// The token had just been rotated by a concurrent request (another tab); here is the
    /// current token, the same one that request received.
    Grace { user_id: Uuid, token: RefreshToken },
    /// The token was an older generation: a replay. The family is now revoked.
    Reused { user_id: Uuid },
    /// Unknown, expired, revoked, or replaced by a newer login; or a token of a live family
    /// that is neither its current nor its previous one and proves nothing (see `rotate`).
    Invalid,
}

/// What a backend decided about a presented token, before the successor is handed out.
#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    Rotated(Uuid),
    /// The immediate predecessor inside the grace window: the current token, sealed under the
    /// presented one, and the current token's hash to check the opened seal against.
    Grace {
        user_id: Uuid,
        sealed: String,
        current_hash: String,
    },
    Reused(Uuid),
    Invalid,
}

impl Rotation {
    /// A grace answer is trusted only if the seal opens, with the presented token, to the
    /// family's current token.
    fn outcome(self, presented: &RefreshToken, successor: RefreshToken) -> RotateOutcome {
        match self {
            Rotation::Rotated(user_id) => RotateOutcome::Rotated { user_id, token: successor },
            Rotation::Grace { user_id, sealed, current_hash } => match presented.unseal(&sealed) {
                Some(current) if current.hash().0 == current_hash => RotateOutcome::Grace { user_id, token: current },
                _ => RotateOutcome::Invalid,
            },
            Rotation::Reused(user_id) => RotateOutcome::Reused { user_id },
            Rotation::Invalid => RotateOutcome::Invalid,
        }
    }
}

/// Where refresh tokens and throttle counters live: the one seam between the store's callers
/// and its engines. Token generation, sealing and the reading of outcomes happen here, once.
#[derive(Clone)]
pub enum TokenBackend {
    Redis(Arc<RedisTokens>),
    Memory(Arc<MemoryTokens>),
}

impl TokenBackend {
    /// The backend one of `workers` HTTP workers uses, made on that worker's thread: Redis over
    /// a pool of the worker's own (see `RedisTokens::for_worker`); the in-memory store is the
    /// one store of the process, shared.
    pub fn for_worker(&self, workers: usize) -> TokenBackend {
        match self {
            TokenBackend::Redis(r) => TokenBackend::Redis(Arc::new(r.for_worker(workers))),
            TokenBackend::Memory(_) => self.clone(),
        }
    }

    pub fn engine(&self) -> &'static str {
        match self {
            TokenBackend::Redis(_) => "Redis",
            TokenBackend::Memory(_) => "memory",
        }
    }

    async fn issue(&self, key: &RefreshKey, user_id: Uuid) -> Result<RefreshToken, ApiError> {
        let token = key.generate();
        match self {
            TokenBackend::Redis(r) => r.store_new(user_id, &token).await?,
            TokenBackend::Memory(m) => m.store_new(user_id, &token),
        }
        Ok(token)
    }

    /// Security: the family id is not secret, so a token that is neither the family's current
    /// nor its previous one may be anybody's guess. It is a replay (and revokes the family) only
    /// if its tag proves it was issued for that family (`RefreshKey::proves`, one HMAC); a token
    /// without a valid tag is `Invalid` and changes nothing. (The exact predecessor after its
    /// grace is a replay with or without a tag: matching a stored hash is proof enough.) Tokens
    /// issued before tags existed still rotate, since they match the stored current hash
    /// exactly, and their successors carry tags.
    async fn rotate(&self, key: &RefreshKey, presented: &RefreshToken) -> Result<RotateOutcome, ApiError> {
        let successor = key.successor(presented);
        let proven = key.proves(presented);
        let rotation = match self {
            TokenBackend::Redis(r) => r.rotate(presented, &successor, proven).await?,
            TokenBackend::Memory(m) => m.rotate(presented, &successor, proven),
        };
        Ok(rotation.outcome(presented, successor))
    }

    async fn revoke(&self, token: &RefreshToken) -> Result<Option<Uuid>, ApiError> {
        match self {
            TokenBackend::Redis(r) => r.revoke(token).await,
            TokenBackend::Memory(m) => Ok(m.revoke(token)),
        }
    }

    /// Drops what has expired and counts the users holding a live refresh token.
    pub async fn sweep_and_count(&self) -> Result<u64, ApiError> {
        match self {
            TokenBackend::Redis(r) => r.sweep_and_count().await,
            TokenBackend::Memory(m) => Ok(m.sweep_and_count(std::time::Instant::now())),
        }
    }

    pub async fn ping(&self) -> Result<(), ApiError> {
        match self {
            TokenBackend::Redis(r) => r.ping().await,
            TokenBackend::Memory(_) => Ok(()),
        }
    }

    async fn hit(&self, counters: &[(String, u32)], window: Duration) -> Result<Option<Duration>, ApiError> {
        match self {
            TokenBackend::Redis(r) => r.hit(counters, window).await,
            TokenBackend::Memory(m) => Ok(m.hit(counters, window)),
        }
    }

    async fn forget(&self, counter: &str) -> Result<(), ApiError> {
        match self {
            TokenBackend::Redis(r) => r.forget(counter).await,
            TokenBackend::Memory(m) => {
                m.forget(counter);
                Ok(())
            }
        }
    }
}

pub struct TokenStoreActor {
    backend: TokenBackend,
    /// Tags the tokens issued here and checks the tags of those presented.
    key: RefreshKey,
}

impl TokenStoreActor {
    pub fn new(backend: TokenBackend, key: RefreshKey) -> TokenStoreActor {
        TokenStoreActor { backend, key }
    }
}

impl Actor for TokenStoreActor {
    type Context = Context<Self>;
}

#[derive(Message)]
#[rtype(result = "Result<RefreshToken, ApiError>")]
pub struct Issue(pub Uuid);

#[derive(Message)]
#[rtype(result = "Result<RotateOutcome, ApiError>")]
pub struct Rotate(pub RefreshToken);

#[derive(Message)]
#[rtype(result = "Result<Option<Uuid>, ApiError>")]
pub struct Revoke(pub RefreshToken);

#[derive(Message)]
#[rtype(result = "Result<(), ApiError>")]
pub struct Ping;

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

impl Handler<Issue> for TokenStoreActor {
    type Result = ResponseFuture<Result<RefreshToken, ApiError>>;
    fn handle(&mut self, msg: Issue, _: &mut Context<Self>) -> Self::Result {
        let (backend, key) = (self.backend.clone(), self.key.clone());
        Box::pin(async move { backend.issue(&key, msg.0).await })
    }
}

impl Handler<Rotate> for TokenStoreActor {
    type Result = ResponseFuture<Result<RotateOutcome, ApiError>>;
    fn handle(&mut self, msg: Rotate, _: &mut Context<Self>) -> Self::Result {
        let (backend, key) = (self.backend.clone(), self.key.clone());
        Box::pin(async move { backend.rotate(&key, &msg.0).await })
    }
}

impl Handler<Revoke> for TokenStoreActor {
    type Result = ResponseFuture<Result<Option<Uuid>, ApiError>>;
    fn handle(&mut self, msg: Revoke, _: &mut Context<Self>) -> Self::Result {
        let backend = self.backend.clone();
        Box::pin(async move { backend.revoke(&msg.0).await })
    }
}

impl Handler<Ping> for TokenStoreActor {
    type Result = ResponseFuture<Result<(), ApiError>>;
    fn handle(&mut self, _: Ping, _: &mut Context<Self>) -> Self::Result {
        let backend = self.backend.clone();
        Box::pin(async move { backend.ping().await })
    }
}

impl Handler<Hit> for TokenStoreActor {
    type Result = ResponseFuture<Result<Option<Duration>, ApiError>>;
    fn handle(&mut self, msg: Hit, _: &mut Context<Self>) -> Self::Result {
        let backend = self.backend.clone();
        Box::pin(async move { backend.hit(&msg.counters, msg.window).await })
    }
}

impl Handler<Forget> for TokenStoreActor {
    type Result = ResponseFuture<Result<(), ApiError>>;
    fn handle(&mut self, msg: Forget, _: &mut Context<Self>) -> Self::Result {
        let backend = self.backend.clone();
        Box::pin(async move { backend.forget(&msg.0).await })
    }
}

/// The handle route handlers hold.
#[derive(Clone)]
pub struct TokenStore {
    addr: Addr<TokenStoreActor>,
    timeout: Duration,
}

impl TokenStore {
    pub fn new(addr: Addr<TokenStoreActor>, timeout: Duration) -> TokenStore {
        TokenStore { addr, timeout }
    }

    pub async fn issue(&self, user_id: Uuid) -> Result<RefreshToken, ApiError> {
        ask(&self.addr, Issue(user_id), self.timeout, Dependency::TokenStore).await
    }

    pub async fn rotate(&self, token: RefreshToken) -> Result<RotateOutcome, ApiError> {
        ask(&self.addr, Rotate(token), self.timeout, Dependency::TokenStore).await
    }

    pub async fn revoke(&self, token: RefreshToken) -> Result<Option<Uuid>, ApiError> {
        ask(&self.addr, Revoke(token), self.timeout, Dependency::TokenStore).await
    }

    pub async fn ping(&self) -> Result<(), ApiError> {
        ask(&self.addr, Ping, self.timeout, Dependency::TokenStore).await
    }

    pub async fn hit(&self, counters: Vec<(String, u32)>, window: Duration) -> Result<Option<Duration>, ApiError> {
        ask(&self.addr, Hit { counters, window }, self.timeout, Dependency::TokenStore).await
    }

    pub async fn forget(&self, counter: String) -> Result<(), ApiError> {
        ask(&self.addr, Forget(counter), self.timeout, Dependency::TokenStore).await
    }
}
