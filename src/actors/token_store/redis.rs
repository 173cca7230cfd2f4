//! The Redis backend of the token store: one Lua script per operation, so each is atomic and
//! costs one round trip, and each touches the keys of one hash slot (see `layout`), so the same
//! scripts run on one node, behind Sentinels, and on a Redis Cluster. The records hold digests
//! only, never a token. The connections, and how a command is run on them, are `RedisPool`'s.

use std::time::Duration;

use redis::{RedisError, Script};
use uuid::Uuid;

use super::layout::{self, Record};
use super::{Revoked, Rotation, SessionInfo, SessionMeta};
use crate::actors::redis_pool::{PoolSettings, RedisPool};
use crate::error::ApiError;
use crate::tokens::{RefreshToken, TokenHash, session_id, user_id_of, user_tag};

pub struct RedisTokens {
    redis: RedisPool,
    ttl: Duration,
    grace: Duration,
    per_user: u32,
    scripts: Scripts,
}

/// The session scripts, each with the shared record layout prepended.
struct Scripts {
    issue: Script,
    rotate: Script,
    revoke: Script,
    end: Script,
    live: Script,
}

impl Scripts {
    fn new() -> Scripts {
        let with_layout = |body: &str| Script::new(&format!("{}\n{body}", include_str!("session.lua")));
        Scripts {
            issue: with_layout(include_str!("issue.lua")),
            rotate: with_layout(include_str!("rotate.lua")),
            revoke: with_layout(include_str!("revoke.lua")),
            end: with_layout(include_str!("end.lua")),
            live: Script::new(include_str!("live.lua")),
        }
    }
}

pub struct RedisSettings<'a> {
    /// The connections: deployment, prefix, pool size, timeout, `REDIS_WAIT_REPLICAS`.
    pub pool: PoolSettings<'a>,
    pub ttl: Duration,
    pub grace: Duration,
    /// `SESSIONS_PER_USER`.
    pub per_user: u32,
}

impl RedisTokens {
    /// Builds the connections without connecting: the service starts while Redis is down and
    /// connects when it comes up (readiness reports it meanwhile).
    pub fn new(s: RedisSettings<'_>) -> Result<RedisTokens, RedisError> {
        Ok(RedisTokens::over(RedisPool::new(s.pool)?, s.ttl, s.grace, s.per_user))
    }

    fn over(redis: RedisPool, ttl: Duration, grace: Duration, per_user: u32) -> RedisTokens {
        RedisTokens { redis, ttl, grace, per_user, scripts: Scripts::new() }
    }

    /// The same store over connections of the worker's own (see `RedisPool::for_worker`).
    pub fn for_worker(&self, share: usize) -> RedisTokens {
        RedisTokens::over(self.redis.for_worker(share), self.ttl, self.grace, self.per_user)
    }

    /// The connections this store uses, for the counter store to share and the pool gauges.
    pub fn pool(&self) -> &RedisPool {
        &self.redis
    }

    fn sessions_key(&self, tag: [u8; 8]) -> String {
        layout::sessions_key(self.redis.prefix(), tag)
    }

    fn live_key(&self, tag: [u8; 8]) -> String {
        layout::live_key(self.redis.prefix(), layout::bucket(tag))
    }

    fn ttl_ms(&self) -> u64 {
        self.ttl.as_millis() as u64
    }

    fn granule_ms(&self) -> u64 {
        layout::live_granule(self.ttl).as_millis() as u64
    }

    /// Stores a new session; returns the family ids of the sessions it ended (beyond
    /// `SESSIONS_PER_USER`, the least recently used).
    pub async fn store_new(&self, user_id: Uuid, token: &RefreshToken, meta: &SessionMeta) -> Result<Vec<String>, ApiError> {
        let tag = token.user_tag();
        let key = self.sessions_key(tag);
        let ended: Vec<Vec<u8>> = self
            .redis
            .with_conn(async |c| {
                self.scripts
                    .issue
                    .key(&key)
                    .key(self.live_key(tag))
                    .arg(&user_id.as_bytes()[..8])
                    .arg(&token.session_field()[..])
                    .arg(&token.hash().0[..])
                    .arg(self.ttl_ms())
                    .arg(self.per_user)
                    .arg(layout::encode_ip(&meta.ip))
                    .arg(layout::compress_user_agent(&meta.user_agent))
                    .arg(self.granule_ms())
                    .invoke_async(c)
                    .await
            })
            .await?;
        // Durability: a session that no replica holds yet would vanish with the primary; refused
        // as unavailable, the client logs in again.
        if !self.redis.replicated(&key).await {
            return Err(ApiError::Unavailable(crate::error::Dependency::TokenStore));
        }
        Ok(ended.iter().map(|field| session_id(tag, field)).collect())
    }

    /// `proven`: whether `presented` carries a valid tag (see `TokenBackend::rotate`).
    pub async fn rotate(&self, presented: &RefreshToken, successor: &RefreshToken, proven: bool) -> Result<Rotation, ApiError> {
        let tag = presented.user_tag();
        let key = self.sessions_key(tag);
        let reply: Vec<Vec<u8>> = self
            .redis
            .with_conn(async |c| {
                self.scripts
                    .rotate
                    .key(&key)
                    .key(self.live_key(tag))
                    .arg(&presented.session_field()[..])
                    .arg(&presented.hash().0[..])
                    .arg(&successor.hash().0[..])
                    .arg(&presented.seal(successor)[..])
                    .arg(self.ttl_ms())
                    .arg(self.grace.as_millis() as u64)
                    .arg(if proven { "1" } else { "0" })
                    .arg(self.granule_ms())
                    .invoke_async(c)
                    .await
            })
            .await?;
        let rotation = parse_rotation(tag, &reply);
        // Durability: a rotation no replica holds would be undone by a failover (the successor
        // unknown, the presented token current again). Refused as unavailable; the client's
        // retry with the same token is inside the grace window and gets the same successor.
        if matches!(rotation, Rotation::Rotated(_)) && !self.redis.replicated(&key).await {
            return Err(ApiError::Unavailable(crate::error::Dependency::TokenStore));
        }
        Ok(rotation)
    }

    pub async fn revoke(&self, presented: &RefreshToken) -> Result<Revoked, ApiError> {
        let tag = presented.user_tag();
        let key = self.sessions_key(tag);
        let reply: Vec<Vec<u8>> = self
            .redis
            .with_conn(async |c| {
                self.scripts
                    .revoke
                    .key(&key)
                    .key(self.live_key(tag))
                    .arg(&presented.session_field()[..])
                    .arg(&presented.hash().0[..])
                    .arg(self.granule_ms())
                    .invoke_async(c)
                    .await
            })
            .await?;
        let revoked = match (reply.first().map(Vec::as_slice), reply.get(1).and_then(|u| user_id_of(u, tag))) {
            (Some(b"ended"), Some(user_id)) => Revoked::Ended(user_id),
            (Some(b"gone"), _) => Revoked::Gone,
            _ => Revoked::Kept,
        };
        // An end is answered even if no replica confirms it in time: it is published to every
        // replica's revocation table either way, and refusing it would skip that.
        if matches!(revoked, Revoked::Ended(_)) {
            self.redis.replicated(&key).await;
        }
        Ok(revoked)
    }

    /// Ends one session of `user_id` (`Some(family id)`) or all of them but `keep`; returns the
    /// family ids of the sessions it ended.
    pub async fn end(&self, user_id: Uuid, family: Option<&str>, keep: Option<&str>) -> Result<Vec<String>, ApiError> {
        let tag = user_tag(user_id);
        let field = match family {
            // An id that cannot be one of this user's sessions ends nothing.
            Some(sid) => match layout::field_of(tag, sid) {
                Some(field) => field,
                None => return Ok(Vec::new()),
            },
            None => Vec::new(),
        };
        let keep = keep.and_then(|sid| layout::field_of(tag, sid)).unwrap_or_default();
        let key = self.sessions_key(tag);
        let ended: Vec<Vec<u8>> = self
            .redis
            .with_conn(async |c| {
                self.scripts
                    .end
                    .key(&key)
                    .key(self.live_key(tag))
                    .arg(&user_id.as_bytes()[..8])
                    .arg(&field)
                    .arg(&keep)
                    .arg(self.granule_ms())
                    .invoke_async(c)
                    .await
            })
            .await?;
        if !ended.is_empty() {
            self.redis.replicated(&key).await;
        }
        Ok(ended.iter().map(|field| session_id(tag, field)).collect())
    }

    /// The live sessions of `user_id`, most recently used first.
    pub async fn list(&self, user_id: Uuid) -> Result<Vec<SessionInfo>, ApiError> {
        let tag = user_tag(user_id);
        let key = self.sessions_key(tag);
        let blob: Option<Vec<u8>> = self.redis.with_conn(async |c| redis::cmd("GET").arg(&key).query_async(c).await).await?;
        let blob = blob.unwrap_or_default();
        let now = chrono::Utc::now().timestamp_millis();
        let mut sessions: Vec<SessionInfo> = layout::entries(&blob)
            .into_iter()
            .filter_map(|(field, raw)| {
                let r = Record::decode(tag, raw)?;
                (r.user_id == user_id && r.expires > now)
                    .then(|| SessionInfo::from_millis(session_id(tag, field), r.created, r.seen, r.ip, r.user_agent))
            })
            .collect();
        sessions.sort_by_key(|s| std::cmp::Reverse(s.last_refreshed_at));
        Ok(sessions)
    }

    /// Counts the users holding a live refresh token, over every bucket's histogram (see
    /// `layout::live_granule` for how close the count is), dropping the granules that ended.
    /// The buckets are read 64 at a time: a multiplexed connection pipelines them.
    pub async fn sweep_and_count(&self) -> Result<u64, ApiError> {
        let prefix = self.redis.prefix();
        let mut total = 0;
        let buckets: Vec<u16> = (0..layout::BUCKETS).collect();
        for chunk in buckets.chunks(64) {
            let counts = futures_util::future::try_join_all(chunk.iter().map(|b| {
                let key = layout::live_key(prefix, *b);
                async move { self.redis.with_conn(async |c| self.scripts.live.key(&key).invoke_async::<u64>(c).await).await }
            }))
            .await?;
            total += counts.iter().sum::<u64>();
        }
        Ok(total)
    }

    pub async fn ping(&self) -> Result<(), ApiError> {
        self.redis.ping().await
    }
}

/// Reads the rotate script's reply for a token of the users tagged `tag`.
fn parse_rotation(tag: [u8; 8], reply: &[Vec<u8>]) -> Rotation {
    let user = reply.get(1).and_then(|u| user_id_of(u, tag));
    match (reply.first().map(Vec::as_slice), user) {
        (Some(b"rotated"), Some(user_id)) => Rotation::Rotated(user_id),
        (Some(b"grace"), Some(user_id)) => match (reply.get(2), reply.get(3).and_then(|h| <[u8; 16]>::try_from(h.as_slice()).ok())) {
            (Some(sealed), Some(current)) => Rotation::Grace { user_id, sealed: sealed.clone(), current_hash: TokenHash(current) },
            _ => Rotation::Invalid,
        },
        (Some(b"reused"), Some(user_id)) => Rotation::Reused(user_id),
        (Some(b"gone"), _) => Rotation::Gone,
        _ => Rotation::Invalid,
    }
}
