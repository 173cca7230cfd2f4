//! The Redis backend of the counter store: `throttle:<name>` keys under the configured prefix,
//! counted by one Lua script so an attempt is counted and judged atomically. Each counter is its
//! own key, in its own hash slot on a cluster: an attempt counted against several (the client's
//! address and the account) runs the script once per counter, concurrently (one round trip on a
//! multiplexed connection).

use std::time::Duration;

use redis::Script;

use crate::actors::redis_pool::RedisPool;
use crate::error::ApiError;

pub struct RedisCounters {
    redis: RedisPool,
    throttle: Script,
}

impl RedisCounters {
    /// Counters over `redis`: the token store's pool, shared.
    pub fn new(redis: RedisPool) -> RedisCounters {
        RedisCounters { redis, throttle: Script::new(include_str!("throttle.lua")) }
    }

    /// Counts an attempt against each `(counter, limit)`; `Some(wait)` when one is over its limit.
    pub async fn hit(&self, counters: &[(String, u32)], window: Duration) -> Result<Option<Duration>, ApiError> {
        let window_ms = window.as_millis() as u64;
        let waits = futures_util::future::try_join_all(counters.iter().filter(|(_, limit)| *limit > 0).map(|(name, limit)| {
            let key = self.redis.key("throttle", name);
            self.redis.with_conn(async move |c| self.throttle.key(&key).arg(window_ms).arg(*limit).invoke_async::<u64>(c).await)
        }))
        .await?;
        let wait_ms = waits.into_iter().max().unwrap_or(0);
        Ok((wait_ms > 0).then(|| Duration::from_millis(wait_ms)))
    }

    /// Forgets a counter (a successful login clears its account's failures).
    pub async fn forget(&self, counter: &str) -> Result<(), ApiError> {
        let key = self.redis.key("throttle", counter);
        self.redis.with_conn(async |c| redis::cmd("DEL").arg(&key).query_async::<i64>(c).await).await.map(drop)
    }
}
