//! Every Redis script on a real Redis Cluster: each operation of the token store, the throttle
//! counters and the revocation record, for users spread over every node, runs without a
//! `CROSSSLOT` or "non local key" error, and `redis-cli --cluster check` stays clean. And a rule
//! a future script cannot break unnoticed: every key a script reads or writes comes from `KEYS`.
//!
//! Runs on the cluster of the suite's cluster pass when there is one (`REDIS_CLUSTER_NODES`),
//! else on one it starts for itself.

use std::sync::Arc;
use std::time::Duration;

use gatehouse::actors::counters::RedisCounters;
use gatehouse::actors::redis_pool::PoolSettings;
use gatehouse::actors::token_store::{RedisSettings, RedisTokens, Rotation, SessionMeta};
use gatehouse::config::RedisTarget;
use gatehouse::middleware::RequestId;
use gatehouse::revocation::{RECORD_SHARDS, Reason, RevocationTable, Revocations, record_key};
use uuid::Uuid;

use crate::common::redis_topology::Topology;

/// The suite's cluster, or a new one (kept alive by the returned handle).
fn cluster() -> (RedisTarget, Option<Topology>) {
    let nodes = std::env::var("REDIS_CLUSTER_NODES").ok();
    let (nodes, topology) = match nodes {
        Some(nodes) => (nodes, None),
        None => {
            let topology = Topology::start("cluster");
            (topology.var("REDIS_CLUSTER_NODES").expect("the cluster's nodes").to_string(), Some(topology))
        }
    };
    let nodes = nodes
        .split(',')
        .map(|n| {
            let (host, port) = n.rsplit_once(':').unwrap();
            (host.to_string(), port.parse().unwrap())
        })
        .collect();
    (RedisTarget::Cluster { nodes, url: None }, topology)
}

#[actix_web::test]
async fn every_script_runs_on_a_cluster_without_a_cross_slot_key() {
    let (target, _topology) = cluster();
    let prefix = format!("gh-test:{}:", Uuid::new_v4().simple());
    let settings = RedisSettings {
        pool: PoolSettings { target: &target, prefix: &prefix, max_connections: 2, timeout: Duration::from_secs(5), wait_replicas: 1 },
        ttl: Duration::from_secs(60),
        grace: Duration::from_secs(5),
        per_user: 2,
    };
    let store = Arc::new(RedisTokens::new(settings).unwrap());
    let key = crate::helpers::refresh_key();
    let meta = SessionMeta::new("2001:db8::7".parse().unwrap(), Some("cluster test"));
    // 300 users land in about 260 of the 1024 buckets, on every primary.
    let users: Vec<Uuid> = (0..300).map(|_| Uuid::now_v7()).collect();
    for user in &users {
        let (a, b, c) = (key.generate(*user), key.generate(*user), key.generate(*user));
        store.store_new(*user, &a, &meta).await.expect("issue");
        // Sessions are ordered by their last use, in milliseconds.
        tokio::time::sleep(Duration::from_millis(2)).await;
        store.store_new(*user, &b, &meta).await.expect("issue");
        // A third session beyond SESSIONS_PER_USER=2 ends the least recently used.
        assert_eq!(store.store_new(*user, &c, &meta).await.expect("issue"), vec![a.family()]);
        let b2 = key.successor(&b);
        assert_eq!(store.rotate(&b, &b2, true).await.expect("rotate"), Rotation::Rotated(*user));
        assert!(matches!(store.rotate(&b, &key.successor(&b), true).await.expect("grace"), Rotation::Grace { .. }));
        assert_eq!(store.rotate(&a, &key.successor(&a), true).await.expect("gone"), Rotation::Gone);
        assert_eq!(store.list(*user).await.expect("list").len(), 2);
        assert_eq!(store.end(*user, None, Some(&c.family())).await.expect("end others"), vec![b.family()]);
        assert_eq!(store.revoke(&c).await.expect("revoke"), gatehouse::actors::token_store::Revoked::Ended(*user));
    }
    let live = store.store_new(users[0], &key.generate(users[0]), &meta).await.map(|_| ());
    live.expect("issue");
    assert_eq!(store.sweep_and_count().await.expect("count"), 1);

    // Throttle counters: several per attempt, each its own slot.
    let counters = RedisCounters::new(store.pool().clone());
    for user in users.iter().take(50) {
        let names = [(format!("login:ip:{user}"), 5), (format!("login:account:{user}"), 5)];
        assert_eq!(counters.hit(&names, Duration::from_secs(60)).await.expect("hit"), None);
        counters.forget(&names[1].0).await.expect("forget");
    }

    // The revocation record, over its shards.
    let revocations =
        Revocations::shared(Arc::new(RevocationTable::new(Duration::from_secs(60), Duration::from_secs(1))), store.pool().clone());
    let rid = RequestId("cluster-test".into());
    for user in users.iter().take(64) {
        revocations.ended(&rid, *user, &[key.generate(*user).family()], Reason::Logout).await;
    }
    let mut recorded = 0;
    for shard in 0..RECORD_SHARDS {
        let shard_key = record_key(&prefix, shard);
        let n: usize =
            store.pool().with_conn(async |c| redis::cmd("ZCARD").arg(&shard_key).query_async(c).await).await.expect("read a shard");
        recorded += n;
    }
    assert_eq!(recorded, 64, "every revocation reached the record");

    let RedisTarget::Cluster { nodes, .. } = &target else { unreachable!() };
    let (host, port) = &nodes[0];
    let check = std::process::Command::new("redis-cli").args(["--cluster", "check", &format!("{host}:{port}")]).output().unwrap();
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(report.contains("All 16384 slots covered"), "{report}");
    assert!(!report.contains("[ERR]") && !report.contains("[WARNING]"), "{report}");
}

/// The scripts, as the files they are kept in.
const SCRIPTS: &[(&str, &str)] = &[
    ("session.lua", include_str!("../../src/actors/token_store/session.lua")),
    ("issue.lua", include_str!("../../src/actors/token_store/issue.lua")),
    ("rotate.lua", include_str!("../../src/actors/token_store/rotate.lua")),
    ("revoke.lua", include_str!("../../src/actors/token_store/revoke.lua")),
    ("end.lua", include_str!("../../src/actors/token_store/end.lua")),
    ("live.lua", include_str!("../../src/actors/token_store/live.lua")),
    ("throttle.lua", include_str!("../../src/actors/counters/throttle.lua")),
    ("record.lua", include_str!("../../src/revocation/record.lua")),
];

#[test]
fn every_key_a_script_touches_comes_from_keys() {
    // Commands without a key, or whose first argument is not one.
    let keyless = ["TIME", "PUBLISH"];
    for (file, source) in SCRIPTS {
        for call in source.split("redis.call(").skip(1) {
            let args: Vec<&str> = call.split([',', ')']).map(str::trim).collect();
            let command = args[0].trim_matches('\'').to_ascii_uppercase();
            if keyless.contains(&command.as_str()) {
                continue;
            }
            // `key` and `live` are session.lua's names for KEYS[1] and KEYS[2], passed in.
            let first = args.get(1).copied().unwrap_or("");
            assert!(
                first.starts_with("KEYS[") || (*file == "session.lua" && ["key", "live"].contains(&first)),
                "{file}: redis.call({command}, {first}, …) touches a key that is not in KEYS"
            );
        }
    }
}
