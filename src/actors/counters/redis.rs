//! The Redis backend of the counter store: `throttle:{name}` keys under the configured prefix,
//! counted by one Lua script so an attempt is counted and judged atomically, in one round trip.

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
        let wait_ms: u64 = self
            .redis
            .with_conn(async |c| {
                let mut call = self.throttle.prepare_invoke();
                for (name, _) in counters {
                    call.key(self.redis.key("throttle", name));
                }
                call.arg(window.as_millis() as u64);
                for (_, limit) in counters {
                    call.arg(*limit);
                }
                call.invoke_async(c).await
            })
            .await?;
        Ok((wait_ms > 0).then(|| Duration::from_millis(wait_ms)))
    }

    /// Forgets a counter (a successful login clears its account's failures).
    pub async fn forget(&self, counter: &str) -> Result<(), ApiError> {
        let key = self.redis.key("throttle", counter);
        self.redis.with_conn(async |c| redis::cmd("DEL").arg(&key).query_async::<i64>(c).await).await.map(drop)
    }
}
