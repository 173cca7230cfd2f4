//! The Redis backend of the token store: one Lua script per operation, so each is atomic and
//! costs one round trip.
//!
//! Keys, under the configured prefix: `fam:{family}` is a hash `{uid, cur, prev, at, sealed}`
//! (hashes only), `user:{uid}` names the user's one live family, and `live` is a sorted set of
//! user ids by expiry that the live-token worker counts. Every key expires with the token. The
//! connections, and how a command is run on them, are `RedisPool`'s.

use std::time::Duration;

use redis::{RedisError, Script};
use uuid::Uuid;

use super::Rotation;
use crate::actors::redis_pool::RedisPool;
use crate::error::ApiError;
use crate::tokens::RefreshToken;

pub struct RedisTokens {
    redis: RedisPool,
    ttl: Duration,
    grace: Duration,
    issue: Script,
    rotate: Script,
    revoke: Script,
    live: Script,
}

pub struct RedisSettings<'a> {
    pub url: &'a str,
    pub prefix: &'a str,
    pub max_connections: u32,
    pub timeout: Duration,
    pub ttl: Duration,
    pub grace: Duration,
}

impl RedisTokens {
    /// Builds the pool without connecting: the service starts while Redis is down and
    /// connects when it comes up (readiness reports it meanwhile).
    pub fn new(s: RedisSettings<'_>) -> Result<RedisTokens, RedisError> {
        Ok(RedisTokens::over(RedisPool::new(s.url, s.prefix, s.max_connections, s.timeout)?, s.ttl, s.grace))
    }

    fn over(redis: RedisPool, ttl: Duration, grace: Duration) -> RedisTokens {
        RedisTokens {
            redis,
            ttl,
            grace,
            issue: Script::new(include_str!("issue.lua")),
            rotate: Script::new(include_str!("rotate.lua")),
            revoke: Script::new(include_str!("revoke.lua")),
            live: Script::new(include_str!("live.lua")),
        }
    }

    /// The same store over a pool of the worker's own (see `RedisPool::for_worker`).
    pub fn for_worker(&self, share: usize) -> RedisTokens {
        RedisTokens::over(self.redis.for_worker(share), self.ttl, self.grace)
    }

    /// The sorted set of users holding a live refresh token, with their expiry.
    fn live_key(&self) -> String {
        format!("{}live", self.redis.prefix())
    }

    /// The connections this store uses, for the counter store to share and the pool gauges.
    pub fn pool(&self) -> &RedisPool {
        &self.redis
    }

    fn key(&self, kind: &str, id: &str) -> String {
        self.redis.key(kind, id)
    }

    fn ttl_ms(&self) -> u64 {
        self.ttl.as_millis() as u64
    }

    pub async fn store_new(&self, user_id: Uuid, token: &RefreshToken) -> Result<(), ApiError> {
        let uid = user_id.to_string();
        let family = token.family();
        let hash = token.hash();
        self.redis
            .with_conn(async |c| {
                self.issue
                    .key(self.key("user", &uid))
                    .key(self.key("fam", &family))
                    .key(self.live_key())
                    .arg(&uid)
                    .arg(&family)
                    .arg(&hash.0)
                    .arg(self.ttl_ms())
                    .arg(self.redis.prefix())
                    .invoke_async::<i64>(c)
                    .await
            })
            .await
            .map(drop)
    }

    /// `proven`: whether `presented` carries a valid tag (see `TokenBackend::rotate`).
    pub async fn rotate(&self, presented: &RefreshToken, successor: &RefreshToken, proven: bool) -> Result<Rotation, ApiError> {
        let family = presented.family();
        let reply: Vec<String> = self
            .redis
            .with_conn(async |c| {
                self.rotate
                    .key(self.key("fam", &family))
                    .key(self.live_key())
                    .arg(&family)
                    .arg(&presented.hash().0)
                    .arg(&successor.hash().0)
                    .arg(presented.seal(successor))
                    .arg(self.ttl_ms())
                    .arg(self.grace.as_millis() as u64)
                    .arg(self.redis.prefix())
                    .arg(if proven { "1" } else { "0" })
                    .invoke_async(c)
                    .await
            })
            .await?;
        Ok(parse_rotation(&reply))
    }

    pub async fn revoke(&self, presented: &RefreshToken) -> Result<Option<Uuid>, ApiError> {
        let family = presented.family();
        let uid: Option<String> = self
            .redis
            .with_conn(async |c| {
                self.revoke
                    .key(self.key("fam", &family))
                    .key(self.live_key())
                    .arg(&family)
                    .arg(&presented.hash().0)
                    .arg(self.redis.prefix())
                    .invoke_async(c)
                    .await
            })
            .await?;
        Ok(uid.and_then(|u| u.parse().ok()))
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
        _ => Rotation::Invalid,
    }
}
