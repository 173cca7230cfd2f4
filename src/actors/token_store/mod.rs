//! `TokenStoreActor`: sessions (refresh-token families), up to `SESSIONS_PER_USER` per user:
//! issue (beyond the limit, the least recently used session ends; with the default of one, a
//! login replaces the old session), rotate (atomic, with reuse detection and a grace window for
//! concurrent tabs), revoke, end by id, list. Backed by Redis, or by this process's memory in
//! the embedded setup.

pub mod layout;
mod memory;
mod redis;
mod session;

use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr, Context, Handler, Message, ResponseFuture};
use uuid::Uuid;

pub use self::memory::MemoryTokens;
pub use self::redis::{RedisSettings, RedisTokens};
pub use self::session::{SessionInfo, SessionMeta};
use crate::actors::ask;
use crate::error::{ApiError, Dependency};
use crate::tokens::{RefreshKey, RefreshToken, TokenHash};

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
    /// A token this service issued (its tag proves it) of a session that is no longer in the
    /// store: ended or expired. Refused like `Invalid`; its session id can be revoked again
    /// (see `auth::refresh`).
    Ended { sid: String },
}

/// What a logout with a presented token did.
#[derive(Debug, PartialEq, Eq)]
pub enum Revoked {
    /// It ended the user's session.
    Ended(Uuid),
    /// There is no such session (ended or expired). With a token this service issued, the
    /// session id can be revoked again: the end may have happened in a call that timed out.
    Gone,
    /// A session lives on, and this token may not end it.
    Kept,
}

/// What a backend decided about a presented token, before the successor is handed out.
#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    Rotated(Uuid),
    /// The immediate predecessor inside the grace window: the current token, sealed under the
    /// presented one, and the current token's hash to check the opened seal against.
    Grace {
        user_id: Uuid,
        sealed: Vec<u8>,
        current_hash: TokenHash,
    },
    Reused(Uuid),
    Invalid,
    /// No such session: ended or expired.
    Gone,
}

impl Rotation {
    /// A grace answer is trusted only if the seal opens, with the presented token, to the
    /// family's current token.
    fn outcome(self, key: &RefreshKey, presented: &RefreshToken, successor: RefreshToken, proven: bool) -> RotateOutcome {
        match self {
            Rotation::Rotated(user_id) => RotateOutcome::Rotated { user_id, token: successor },
            Rotation::Grace { user_id, sealed, current_hash } => match key.unseal(presented, &sealed) {
                Some(current) if current.hash() == current_hash => RotateOutcome::Grace { user_id, token: current },
                _ => RotateOutcome::Invalid,
            },
            Rotation::Reused(user_id) => RotateOutcome::Reused { user_id },
            Rotation::Invalid => RotateOutcome::Invalid,
            // Security: only a token with a valid tag (made here, for this family) may have its
            // session id revoked again; a guess of the family id changes nothing.
            Rotation::Gone if proven => RotateOutcome::Ended { sid: presented.family() },
            Rotation::Gone => RotateOutcome::Invalid,
        }
    }
}

/// Where refresh tokens live: the one seam between the store's callers
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

    async fn issue(&self, key: &RefreshKey, user_id: Uuid, meta: &SessionMeta) -> Result<Issued, ApiError> {
        let token = key.generate(user_id);
        let ended = match self {
            TokenBackend::Redis(r) => r.store_new(user_id, &token, meta).await?,
            TokenBackend::Memory(m) => m.store_new(user_id, &token, meta),
        };
        Ok(Issued { token, ended })
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
        Ok(rotation.outcome(key, presented, successor, proven))
    }

    async fn revoke(&self, key: &RefreshKey, token: &RefreshToken) -> Result<Revoked, ApiError> {
        let revoked = match self {
            TokenBackend::Redis(r) => r.revoke(token).await?,
            TokenBackend::Memory(m) => m.revoke(token),
        };
        // Security: `Gone` lets the caller revoke the session id again; only for a token this
        // service made for that family (a valid tag), never for a guess of the family id.
        Ok(match revoked {
            Revoked::Gone if !key.proves(token) => Revoked::Kept,
            other => other,
        })
    }

    async fn end(&self, user_id: Uuid, family: Option<&str>, keep: Option<&str>) -> Result<Vec<String>, ApiError> {
        match self {
            TokenBackend::Redis(r) => r.end(user_id, family, keep).await,
            TokenBackend::Memory(m) => Ok(m.end(user_id, family, keep)),
        }
    }

    async fn list(&self, user_id: Uuid) -> Result<Vec<SessionInfo>, ApiError> {
        match self {
            TokenBackend::Redis(r) => r.list(user_id).await,
            TokenBackend::Memory(m) => Ok(m.list(user_id)),
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

/// A session just started, and the sessions its start ended (their family ids).
pub struct Issued {
    pub token: RefreshToken,
    pub ended: Vec<String>,
}

#[derive(Message)]
#[rtype(result = "Result<Issued, ApiError>")]
pub struct Issue(pub Uuid, pub SessionMeta);

/// Ends one session of a user by its id, or all of them (`None`) but the one kept (`keep`).
#[derive(Message)]
#[rtype(result = "Result<Vec<String>, ApiError>")]
pub struct End {
    pub user_id: Uuid,
    pub family: Option<String>,
    pub keep: Option<String>,
}

#[derive(Message)]
#[rtype(result = "Result<Vec<SessionInfo>, ApiError>")]
pub struct List(pub Uuid);

#[derive(Message)]
#[rtype(result = "Result<RotateOutcome, ApiError>")]
pub struct Rotate(pub RefreshToken);

#[derive(Message)]
#[rtype(result = "Result<Revoked, ApiError>")]
pub struct Revoke(pub RefreshToken);

#[derive(Message)]
#[rtype(result = "Result<(), ApiError>")]
pub struct Ping;

impl Handler<Issue> for TokenStoreActor {
    type Result = ResponseFuture<Result<Issued, ApiError>>;
    fn handle(&mut self, msg: Issue, _: &mut Context<Self>) -> Self::Result {
        let (backend, key) = (self.backend.clone(), self.key.clone());
        Box::pin(async move { backend.issue(&key, msg.0, &msg.1).await })
    }
}

impl Handler<End> for TokenStoreActor {
    type Result = ResponseFuture<Result<Vec<String>, ApiError>>;
    fn handle(&mut self, msg: End, _: &mut Context<Self>) -> Self::Result {
        let backend = self.backend.clone();
        Box::pin(async move { backend.end(msg.user_id, msg.family.as_deref(), msg.keep.as_deref()).await })
    }
}

impl Handler<List> for TokenStoreActor {
    type Result = ResponseFuture<Result<Vec<SessionInfo>, ApiError>>;
    fn handle(&mut self, msg: List, _: &mut Context<Self>) -> Self::Result {
        let backend = self.backend.clone();
        Box::pin(async move { backend.list(msg.0).await })
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
    type Result = ResponseFuture<Result<Revoked, ApiError>>;
    fn handle(&mut self, msg: Revoke, _: &mut Context<Self>) -> Self::Result {
        let (backend, key) = (self.backend.clone(), self.key.clone());
        Box::pin(async move { backend.revoke(&key, &msg.0).await })
    }
}

impl Handler<Ping> for TokenStoreActor {
    type Result = ResponseFuture<Result<(), ApiError>>;
    fn handle(&mut self, _: Ping, _: &mut Context<Self>) -> Self::Result {
        let backend = self.backend.clone();
        Box::pin(async move { backend.ping().await })
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

    pub async fn issue(&self, user_id: Uuid, meta: SessionMeta) -> Result<Issued, ApiError> {
        ask(&self.addr, Issue(user_id, meta), self.timeout, Dependency::TokenStore).await
    }

    /// Ends the session `family` of `user_id`, or all of theirs; the family ids it ended.
    pub async fn end(&self, user_id: Uuid, family: Option<String>) -> Result<Vec<String>, ApiError> {
        ask(&self.addr, End { user_id, family, keep: None }, self.timeout, Dependency::TokenStore).await
    }

    /// Ends every session of `user_id` but `keep` (a password change keeps the caller's); the
    /// family ids it ended.
    pub async fn end_others(&self, user_id: Uuid, keep: String) -> Result<Vec<String>, ApiError> {
        ask(&self.addr, End { user_id, family: None, keep: Some(keep) }, self.timeout, Dependency::TokenStore).await
    }

    pub async fn list(&self, user_id: Uuid) -> Result<Vec<SessionInfo>, ApiError> {
        ask(&self.addr, List(user_id), self.timeout, Dependency::TokenStore).await
    }

    pub async fn rotate(&self, token: RefreshToken) -> Result<RotateOutcome, ApiError> {
        ask(&self.addr, Rotate(token), self.timeout, Dependency::TokenStore).await
    }

    pub async fn revoke(&self, token: RefreshToken) -> Result<Revoked, ApiError> {
        ask(&self.addr, Revoke(token), self.timeout, Dependency::TokenStore).await
    }

    pub async fn ping(&self) -> Result<(), ApiError> {
        ask(&self.addr, Ping, self.timeout, Dependency::TokenStore).await
    }
}
