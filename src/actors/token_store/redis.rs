//! The Redis backend of the token store: one Lua script per operation, so each is atomic and
//! costs one round trip.
//!
//! Keys, under the configured prefix: `{u:<tag>}:sessions` is a hash of a user's sessions, one
//! field per family id, each a JSON record `{uid, cur, prev, at, sealed, created, seen, exp, ip,
//! ua}` (hashes only, never a token); `<tag>` is the user's slot tag (`tokens::user_tag`), which
//! every family id of theirs starts with, so a presented token names its hash without a lookup
//! and every script touches one key of one user (one Redis Cluster slot) plus `live`, a sorted
//! set of user ids by expiry that the live-token worker counts. Sessions expire inside the hash
//! (their `exp`, checked on every read); the hash itself expires with the last of them. The
//! connections, and how a command is run on them, are `RedisPool`'s.

use std::time::Duration;

use redis::{RedisError, Script};
use uuid::Uuid;

use super::{Revoked, Rotation, SessionInfo, SessionMeta};
use crate::actors::redis_pool::RedisPool;
use crate::error::ApiError;
use crate::tokens::{RefreshToken, user_tag};

pub struct RedisTokens {
    redis: RedisPool,
    ttl: Duration,
    grace: Duration,
    per_user: u32,
    issue: Script,
    rotate: Script,
    revoke: Script,
    end: Script,
    live: Script,
}

pub struct RedisSettings<'a> {
    pub url: &'a str,
    pub prefix: &'a str,
    pub max_connections: u32,
    pub timeout: Duration,
    pub ttl: Duration,
    pub grace: Duration,
    /// `SESSIONS_PER_USER`.
    pub per_user: u32,
}

/// A session as its JSON record holds it (the fields a listing needs).
#[derive(serde::Deserialize)]
struct Record {
    uid: String,
    created: i64,
    seen: i64,
    exp: i64,
    #[serde(default)]
    ip: String,
    #[serde(default)]
    ua: String,
}

impl RedisTokens {
    /// Builds the pool without connecting: the service starts while Redis is down and
    /// connects when it comes up (readiness reports it meanwhile).
    pub fn new(s: RedisSettings<'_>) -> Result<RedisTokens, RedisError> {
        Ok(RedisTokens::over(RedisPool::new(s.url, s.prefix, s.max_connections, s.timeout)?, s.ttl, s.grace, s.per_user))
    }

    fn over(redis: RedisPool, ttl: Duration, grace: Duration, per_user: u32) -> RedisTokens {
        RedisTokens {
            redis,
            ttl,
            grace,
            per_user,
            issue: Script::new(include_str!("issue.lua")),
            rotate: Script::new(include_str!("rotate.lua")),
            revoke: Script::new(include_str!("revoke.lua")),
            end: Script::new(include_str!("end.lua")),
            live: Script::new(include_str!("live.lua")),
        }
    }

    /// The same store over a pool of the worker's own (see `RedisPool::for_worker`).
    pub fn for_worker(&self, share: usize) -> RedisTokens {
        RedisTokens::over(self.redis.for_worker(share), self.ttl, self.grace, self.per_user)
    }

    /// The sorted set of users holding a live refresh token, with their expiry.
    fn live_key(&self) -> String {
        format!("{}live", self.redis.prefix())
    }

    /// The hash of the sessions of the users whose slot tag is `tag`.
    fn sessions_key(&self, tag: &str) -> String {
        format!("{}{{u:{tag}}}:sessions", self.redis.prefix())
    }

    /// The connections this store uses, for the counter store to share and the pool gauges.
    pub fn pool(&self) -> &RedisPool {
        &self.redis
    }

    fn ttl_ms(&self) -> u64 {
        self.ttl.as_millis() as u64
    }

    /// Stores a new session; returns the family ids of the sessions it ended (beyond
    /// `SESSIONS_PER_USER`, the least recently used).
    pub async fn store_new(&self, user_id: Uuid, token: &RefreshToken, meta: &SessionMeta) -> Result<Vec<String>, ApiError> {
        let uid = user_id.to_string();
        self.redis
            .with_conn(async |c| {
                self.issue
                    .key(self.sessions_key(&token.user_tag()))
                    .key(self.live_key())
                    .arg(&uid)
                    .arg(token.family())
                    .arg(&token.hash().0)
                    .arg(self.ttl_ms())
                    .arg(self.per_user)
                    .arg(&meta.ip)
                    .arg(&meta.user_agent)
                    .invoke_async(c)
                    .await
            })
            .await
    }

    /// `proven`: whether `presented` carries a valid tag (see `TokenBackend::rotate`).
    pub async fn rotate(&self, presented: &RefreshToken, successor: &RefreshToken, proven: bool) -> Result<Rotation, ApiError> {
        let reply: Vec<String> = self
            .redis
            .with_conn(async |c| {
                self.rotate
                    .key(self.sessions_key(&presented.user_tag()))
                    .key(self.live_key())
                    .arg(presented.family())
                    .arg(&presented.hash().0)
                    .arg(&successor.hash().0)
                    .arg(presented.seal(successor))
                    .arg(self.ttl_ms())
                    .arg(self.grace.as_millis() as u64)
                    .arg(if proven { "1" } else { "0" })
                    .invoke_async(c)
                    .await
            })
            .await?;
        Ok(parse_rotation(&reply))
    }

    pub async fn revoke(&self, presented: &RefreshToken) -> Result<Revoked, ApiError> {
        let reply: Vec<String> = self
            .redis
            .with_conn(async |c| {
                self.revoke
                    .key(self.sessions_key(&presented.user_tag()))
                    .key(self.live_key())
                    .arg(presented.family())
                    .arg(&presented.hash().0)
                    .invoke_async(c)
                    .await
            })
            .await?;
        Ok(match (reply.first().map(String::as_str), reply.get(1).and_then(|u| u.parse().ok())) {
            (Some("ended"), Some(user_id)) => Revoked::Ended(user_id),
            (Some("gone"), _) => Revoked::Gone,
            _ => Revoked::Kept,
        })
    }

    /// Ends one session of `user_id` (`Some(family id)`) or all of them but `keep`; returns the
    /// family ids of the sessions it ended.
    pub async fn end(&self, user_id: Uuid, family: Option<&str>, keep: Option<&str>) -> Result<Vec<String>, ApiError> {
        self.redis
            .with_conn(async |c| {
                self.end
                    .key(self.sessions_key(&user_tag(user_id)))
                    .key(self.live_key())
                    .arg(user_id.to_string())
                    .arg(family.unwrap_or(""))
                    .arg(keep.unwrap_or(""))
                    .invoke_async(c)
                    .await
            })
            .await
    }

    /// The live sessions of `user_id`, most recently used first.
    pub async fn list(&self, user_id: Uuid) -> Result<Vec<SessionInfo>, ApiError> {
        let key = self.sessions_key(&user_tag(user_id));
        let fields: Vec<(String, String)> = self.redis.with_conn(async |c| redis::cmd("HGETALL").arg(&key).query_async(c).await).await?;
        let now = chrono::Utc::now().timestamp_millis();
        let uid = user_id.to_string();
        let mut sessions: Vec<SessionInfo> = fields
            .into_iter()
            .filter_map(|(id, raw)| {
                let r: Record = serde_json::from_str(&raw).ok()?;
                (r.uid == uid && r.exp > now).then(|| SessionInfo::from_millis(id, r.created, r.seen, r.ip, r.ua))
            })
            .collect();
        sessions.sort_by_key(|s| std::cmp::Reverse(s.last_refreshed_at));
        Ok(sessions)
    }

    /// Removes expired entries from the live set and counts the users with a live token.
    pub async fn sweep_and_count(&self) -> Result<u64, ApiError> {
        self.redis.with_conn(async |c| self.live.key(self.live_key()).invoke_async(c).await).await
    }

    pub async fn ping(&self) -> Result<(), ApiError> {
        self.redis.ping().await
    }
}

/// Reads the rotate script's reply.
fn parse_rotation(reply: &[String]) -> Rotation {
    let user = reply.get(1).and_then(|u| u.parse::<Uuid>().ok());
    match (reply.first().map(String::as_str), user) {
        (Some("rotated"), Some(user_id)) => Rotation::Rotated(user_id),
        (Some("grace"), Some(user_id)) => match (reply.get(2), reply.get(3)) {
            (Some(sealed), Some(current_hash)) => Rotation::Grace { user_id, sealed: sealed.clone(), current_hash: current_hash.clone() },
            _ => Rotation::Invalid,
        },
        (Some("reused"), Some(user_id)) => Rotation::Reused(user_id),
        (Some("gone"), _) => Rotation::Gone,
        _ => Rotation::Invalid,
    }
}
