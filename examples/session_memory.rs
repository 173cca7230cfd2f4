//! Redis memory per live session: 100,000 sessions issued, then each rotated once, through the
//! service's own scripts, on a Redis that holds nothing else (`scripts/session-memory` starts
//! one of each deployment and runs this against it). Memory is Redis's `used_memory`, summed
//! over the primaries; a replica holds a copy of the same size.
//!
//! The Redis deployment comes from the service's own variables (`REDIS_URL`, or
//! `REDIS_SENTINELS` with `REDIS_SENTINEL_MASTER`, or `REDIS_CLUSTER_NODES`);
//! `SESSIONS` changes the count. The sessions carry a common desktop browser's user agent
//! (111 characters; `USER_AGENT` changes it) and an IPv4 address, as most sessions do.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse::actors::redis_pool::{PoolSettings, node_client};
use gatehouse::actors::token_store::{RedisSettings, RedisTokens, SessionMeta};
use gatehouse::config::{Config, RedisTarget, TokenStoreKind};
use gatehouse::tokens::RefreshKey;
use uuid::Uuid;

const USER_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

/// `used_memory` summed over the primaries of `target`.
async fn used_memory(target: &RedisTarget) -> u64 {
    let nodes = match target {
        RedisTarget::Cluster { nodes, .. } => nodes.len(),
        _ => 1,
    };
    let mut total = 0;
    for n in 0..nodes {
        let client = node_client(target, n).await.expect("a Redis node");
        let mut conn = client.get_multiplexed_async_connection().await.expect("connect");
        let role: Vec<redis::Value> = redis::cmd("ROLE").query_async(&mut conn).await.expect("ROLE");
        if !matches!(role.first(), Some(redis::Value::BulkString(r)) if r == b"master") {
            continue;
        }
        let info: String = redis::cmd("INFO").arg("memory").query_async(&mut conn).await.expect("INFO");
        let used = info.lines().find_map(|l| l.strip_prefix("used_memory:")).expect("used_memory").trim();
        total += used.parse::<u64>().expect("a number");
    }
    total
}

#[tokio::main]
async fn main() {
    let sessions: usize = std::env::var("SESSIONS").ok().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let mut vars: std::collections::HashMap<String, String> = std::env::vars().collect();
    vars.insert("JWT_SECRET".into(), "a measurement secret, long enough: 7fK2pQ9zX4vB8nM1".into());
    let config = Config::from_map(&vars).expect("valid settings");
    let TokenStoreKind::Redis(target) = config.stores.token_store else {
        panic!("name a Redis deployment: REDIS_URL, REDIS_SENTINELS + REDIS_SENTINEL_MASTER, or REDIS_CLUSTER_NODES");
    };
    let prefix = format!("mem:{}:", &Uuid::new_v4().simple().to_string()[..6]);
    let store = Arc::new(
        RedisTokens::new(RedisSettings {
            pool: PoolSettings { target: &target, prefix: &prefix, max_connections: 4, timeout: Duration::from_secs(10), wait_replicas: 0 },
            ttl: config.tokens.refresh_token_ttl,
            grace: config.tokens.refresh_reuse_grace,
            per_user: 1,
        })
        .expect("a Redis deployment"),
    );
    let key = RefreshKey::derive(b"a measurement secret, long enough to derive keys");
    let user_agent = std::env::var("USER_AGENT").unwrap_or_else(|_| USER_AGENT.to_string());
    let meta = SessionMeta::new("203.0.113.7".parse().unwrap(), Some(&user_agent));
    let before = used_memory(&target).await;
    let started = Instant::now();
    let tokens: Vec<_> = (0..sessions).map(|_| Uuid::now_v7()).map(|user| (user, key.generate(user))).collect();
    for chunk in tokens.chunks(256) {
        futures_util::future::try_join_all(chunk.iter().map(|(user, token)| store.store_new(*user, token, &meta))).await.expect("issue");
    }
    let issued = used_memory(&target).await.saturating_sub(before);
    for chunk in tokens.chunks(256) {
        let successors: Vec<_> = chunk.iter().map(|(_, token)| key.successor(token)).collect();
        let rotations = chunk.iter().zip(&successors).map(|((_, token), next)| store.rotate(token, next, true));
        futures_util::future::try_join_all(rotations).await.expect("rotate");
    }
    let rotated = used_memory(&target).await.saturating_sub(before);
    let live = store.sweep_and_count().await.expect("count");
    assert_eq!(live, sessions as u64, "every session is live and counted once");
    let per = |bytes: u64| bytes as f64 / sessions as f64;
    println!(
        "deployment: {} ({sessions} sessions, user agent of {} characters, {:.1} s)",
        target.kind(),
        meta.user_agent.len(),
        started.elapsed().as_secs_f64()
    );
    println!("after issue:    {:>6.0} bytes per session", per(issued));
    println!("after rotation: {:>6.0} bytes per session", per(rotated));
    println!("sessions per GiB: {:.0}", (1u64 << 30) as f64 / per(rotated));
}
