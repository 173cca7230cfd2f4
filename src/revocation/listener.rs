//! `RevocationListener`: the background actor that feeds this replica's `RevocationTable` from
//! Redis: the revocation channel (pub/sub) for speed, the record (sorted sets kept for one
//! window) so that nothing is missed. After a Sentinel failover it subscribes on the new
//! primary; on a cluster, on the seed nodes in turn, passing over one that is down.
//!
//! Reliability: on every (re)subscription it first subscribes, then replays the record (the
//! whole of it the first time, what was recorded since the newest entry read after that), and
//! only then trusts its table again (`in_touch`): a revocation published while it was away is in
//! the record, one published during the replay arrives on the channel. While subscribed it
//! sends a heartbeat every `REVOCATION_HEARTBEAT_MS`, beside the channel: a PING on the
//! subscription (a killed or frozen connection does not answer) and, at the same time, a read of
//! the record's newest entries (whatever the channel dropped or holds up). It runs on a thread of
//! its own (see `startup`). A heartbeat that fails ends the
//! subscription: the table is out of touch (`lost`, the metric and a log line say so) and fails
//! open for `REVOCATION_FAIL_OPEN` at most while the listener reconnects.

use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, AsyncContext, Context, WrapFuture};
use futures_util::StreamExt;
use redis::{RedisError, RedisResult};

use super::{RECORD_SHARDS, Revocation, RevocationTable, channel, record_key};
use crate::actors::redis_pool::{Conn, RedisPool, node_client};
use crate::config::RedisTarget;
use crate::keys::Keys;

/// Entries re-read by each heartbeat before the newest one seen: room for replicas' clocks and
/// for entries recorded out of order by concurrent scripts.
const OVERLAP_MS: i64 = 5_000;

/// The listener's bound on Redis, in dependency timeouts. No client waits on the listener, and
/// replacing a subscription is what costs (what is published meanwhile waits for the replay), so
/// a Redis slow to answer under load is waited for, not taken for gone: only a connection silent
/// for this long is replaced.
const PATIENCE: u32 = 4;

/// The pause between two reads of the record while one fails, within the patience.
const REREAD: Duration = Duration::from_millis(50);

pub struct ListenerSettings {
    /// Where to subscribe: the node, the primary the Sentinels name, or a cluster's seed nodes
    /// in turn.
    pub target: RedisTarget,
    /// Where the record is read.
    pub pool: RedisPool,
    pub prefix: String,
    pub heartbeat: Duration,
    /// Bound on connecting and on each command.
    pub timeout: Duration,
    /// This replica's signing keys, reloaded when another replica retires a key at once.
    pub keys: Keys,
}

pub struct RevocationListener {
    settings: Arc<ListenerSettings>,
    table: Arc<RevocationTable>,
}

impl RevocationListener {
    /// The table starts out of touch: until the first replay it only fails open.
    pub fn new(settings: ListenerSettings, table: Arc<RevocationTable>) -> RevocationListener {
        table.lost(now_ms());
        RevocationListener { settings: Arc::new(settings), table }
    }
}

impl Actor for RevocationListener {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let (settings, table) = (self.settings.clone(), self.table.clone());
        ctx.spawn(listen(settings, table).into_actor(self));
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Subscribes, and subscribes again whenever the subscription is lost, for ever.
async fn listen(settings: Arc<ListenerSettings>, table: Arc<RevocationTable>) {
    let mut backoff = Duration::from_millis(100);
    // The latest expiry read from the record so far (`None`: nothing read yet).
    let mut newest = None;
    for attempt in 0.. {
        let began = std::time::Instant::now();
        let result = subscribed(&settings, &table, attempt, &mut newest).await;
        // A subscription that worked for a heartbeat at least is followed at once by the next,
        // and starts the backoff over: every moment out of touch is a moment of failing open.
        // Failed attempts in a row, or a Redis that closes every subscription at once, wait,
        // doubling the backoff.
        let worked = table.is_in_touch() && began.elapsed() >= settings.heartbeat;
        table.lost(now_ms());
        crate::metrics::sessions::revocation_subscription(false);
        match result {
            Err(e) => log::warn!("revocation channel lost, revocations may be missed until it is back: {e}"),
            Ok(()) => log::warn!("revocation channel closed by Redis, resubscribing"),
        }
        if worked {
            backoff = Duration::from_millis(100);
            continue;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

fn timed_out() -> RedisError {
    RedisError::from(std::io::Error::new(std::io::ErrorKind::TimedOut, "Redis did not answer in time"))
}

async fn within<T>(limit: Duration, work: impl Future<Output = RedisResult<T>>) -> RedisResult<T> {
    crate::timeout::within(limit, work).await.unwrap_or_else(|_| Err(timed_out()))
}

/// One subscription, the `attempt`th: returns when it ends (`Ok` when Redis closed it).
/// `newest` is the latest expiry read from the record, kept from one subscription to the next.
async fn subscribed(settings: &ListenerSettings, table: &RevocationTable, attempt: usize, newest: &mut Option<i64>) -> RedisResult<()> {
    let limit = settings.timeout * PATIENCE;
    let switches = settings.pool.primary_switches();
    let client = within(limit, node_client(&settings.target, attempt)).await?;
    let (mut sink, mut stream) = within(limit, client.get_async_pubsub()).await?.split();
    within(limit, sink.subscribe(channel(&settings.prefix))).await?;
    // The first replay reads the whole record. A later one reads only what was recorded since
    // the newest entry read before (with the heartbeat's overlap): every entry is kept for the
    // same window, so one recorded later expires later, and the table holds the older ones. A
    // resubscription after a blip so costs a few entries, not the whole record, whose size
    // grows with the revocations of a whole window.
    let (replayed, _) = replay_within(limit, settings, newest, table).await?;
    table.in_touch();
    crate::metrics::sessions::revocation_subscription(true);
    crate::metrics::sessions::revocation_replayed(replayed);
    log::info!("revocation channel subscribed; {replayed} revocations replayed from the record");
    let mut heartbeat = tokio::time::interval(settings.heartbeat);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The heartbeat runs beside the channel, never in its way: a PING that a busy Redis or a
    // stalled machine answers late holds no revocation back. Its read of the record does not
    // wait for the PING either (it goes over the pool's connections): a message the subscription
    // holds up is read from the record within a heartbeat, while the PING decides whether the
    // subscription is replaced.
    let heartbeats = async move {
        loop {
            heartbeat.tick().await;
            // The Sentinels named another primary: subscribe there (the record's replay covers
            // whatever was published in between).
            if settings.pool.primary_switches() != switches {
                return Ok(());
            }
            let (_, (_, recovered)) =
                futures_util::try_join!(within(limit, sink.ping::<redis::Value>()), replay_within(limit, settings, newest, table))?;
            if recovered > 0 {
                crate::metrics::sessions::revocations_recovered(recovered);
                log::info!("{recovered} revocations read from the record before the channel delivered them");
            }
        }
    };
    tokio::pin!(heartbeats);
    loop {
        tokio::select! {
            // Messages first: those already delivered are applied before a failed heartbeat ends
            // the subscription, rather than left for the replay.
            biased;
            message = stream.next() => {
                let Some(message) = message else { return Ok(()) };
                let payload: String = message.get_payload().unwrap_or_default();
                receive(&payload, settings, table);
            }
            ended = &mut heartbeats => return ended,
        }
    }
}

/// A message from the channel: `<Unix ms published>|<revocation>`.
fn receive(payload: &str, settings: &ListenerSettings, table: &RevocationTable) {
    let Some((published, encoded)) = payload.split_once('|') else { return };
    let Some(revocation) = Revocation::decode(encoded) else { return };
    let now = now_ms();
    table.apply(&revocation, now / 1000);
    key_retired(settings, &revocation);
    if let Ok(published) = published.parse::<i64>() {
        crate::metrics::sessions::revocation_received((now - published).max(0) as f64 / 1000.0);
    }
}

/// Security: a key another replica retired at once is refused here as soon as this replica
/// hears of it, not at its next scheduled reload (`SIGNING_KEY_REFRESH`): its keys are reloaded
/// from the database, which the retiring replica changed before it published. The reload runs
/// beside the listener, so no revocation waits on the database; a set that already refuses the
/// key (reloaded, or the entry read again from the record) is left as it is. A reload that fails
/// leaves the key to the key worker's next one, as before.
fn key_retired(settings: &ListenerSettings, revocation: &Revocation) {
    let Revocation::KeyRetired(kid) = revocation else { return };
    if !settings.keys.ring().get().accepts(kid, chrono::Utc::now().timestamp()) {
        return;
    }
    let (keys, kid) = (settings.keys.clone(), kid.clone());
    actix_web::rt::spawn(async move {
        match keys.reload().await {
            Ok(()) => log::warn!("signing key {kid} retired on another replica: keys reloaded, the tokens it signed are refused here too"),
            Err(e) => log::warn!("signing key {kid} retired on another replica, but the keys could not be reloaded: {e}"),
        }
    });
}

/// `replay`, read again while it fails (each read is bounded by the pool's dependency timeout),
/// for `limit` at most.
async fn replay_within(
    limit: Duration,
    settings: &ListenerSettings,
    newest: &mut Option<i64>,
    table: &RevocationTable,
) -> RedisResult<(usize, usize)> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        match replay(settings, newest, table).await {
            Err(e) if std::time::Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(REREAD).await,
            done => return done,
        }
    }
}

/// Applies the entries of every shard of the record expiring after `newest` less the overlap
/// (`None`: every live one), and moves `newest` to the latest expiry read; returns how many
/// entries there were, and how many of them the table did not hold yet.
async fn replay(settings: &ListenerSettings, newest: &mut Option<i64>, table: &RevocationTable) -> RedisResult<(usize, usize)> {
    let now = now_ms();
    let min = newest.map_or(now, |n| n - OVERLAP_MS).max(now);
    let reads = (0..RECORD_SHARDS).map(|shard| {
        let key = record_key(&settings.prefix, shard);
        settings.pool.with_conn(async move |c: &mut Conn| {
            redis::cmd("ZRANGEBYSCORE").arg(&key).arg(min).arg("+inf").arg("WITHSCORES").query_async::<Vec<(String, i64)>>(c).await
        })
    });
    let shards = futures_util::future::try_join_all(reads).await.map_err(|e| RedisError::from(std::io::Error::other(e.to_string())))?;
    let (mut count, mut news) = (0, 0);
    for (encoded, expires) in shards.iter().flatten() {
        let Some(revocation) = Revocation::decode(encoded) else { continue };
        if table.apply_until(&revocation, expires / 1000, now / 1000) {
            news += 1;
        }
        key_retired(settings, &revocation);
        *newest = Some(newest.map_or(*expires, |n| n.max(*expires)));
        count += 1;
    }
    Ok((count, news))
}
