//! `AuditWorker`: the background actor that drains the audit queue into `audit_events` in
//! batches (a batch at most every `FLUSH` or as soon as `BATCH` events wait), and prunes the
//! events older than `AUDIT_RETENTION_DAYS` once an hour (and at start).

use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, AsyncContext, Context, WrapFuture};
use chrono::Utc;
use tokio::sync::mpsc;

use super::{Event, Progress, insert, prune};
use crate::actors::user_repo::{Schema, UserStore};

const BATCH: usize = 256;
const FLUSH: Duration = Duration::from_millis(50);
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

pub struct AuditWorker {
    queue: Option<mpsc::Receiver<Event>>,
    store: UserStore,
    schema: Schema,
    retention: Duration,
    progress: Arc<Progress>,
}

impl AuditWorker {
    pub fn new(
        queue: mpsc::Receiver<Event>,
        store: UserStore,
        schema: Schema,
        retention: Duration,
        progress: Arc<Progress>,
    ) -> AuditWorker {
        AuditWorker { queue: Some(queue), store, schema, retention, progress }
    }
}

impl Actor for AuditWorker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let Some(queue) = self.queue.take() else { return };
        let (store, schema) = (self.store.clone(), self.schema.clone());
        ctx.spawn(drain(queue, store.clone(), schema.clone(), self.progress.clone()).into_actor(self));
        let retention = chrono::Duration::from_std(self.retention).unwrap_or(chrono::Duration::days(90));
        ctx.spawn(prune_tick(store.clone(), schema.clone(), retention).into_actor(self));
        ctx.run_interval(PRUNE_EVERY, move |act, ctx| {
            ctx.spawn(prune_tick(store.clone(), schema.clone(), retention).into_actor(act));
        });
    }
}

/// Deletes what is older than the retention (the body of the hourly tick).
async fn prune_tick(store: UserStore, schema: Schema, retention: chrono::Duration) {
    if schema.check().is_err() {
        return;
    }
    match prune(&store, Utc::now() - retention).await {
        Ok(0) => {}
        Ok(n) => log::info!(target: "gatehouse::audit", "{n} audit events past their retention pruned"),
        Err(e) => {
            crate::metrics::sessions::audit_failed("prune", 1);
            log::warn!(target: "gatehouse::audit", "pruning the audit trail failed: {e}");
        }
    }
}

/// Writes one batch (the body of the drain loop, callable directly); failures are counted and
/// logged, and the batch is dropped: the audit trail never holds up requests or memory.
pub async fn flush_batch(store: &UserStore, batch: &[Event]) -> bool {
    match insert(store, batch).await {
        Ok(()) => true,
        Err(e) => {
            crate::metrics::sessions::audit_failed("write", batch.len());
            log::error!(target: "gatehouse::audit", "writing {} audit events failed: {e}", batch.len());
            false
        }
    }
}

async fn drain(mut queue: mpsc::Receiver<Event>, store: UserStore, schema: Schema, progress: Arc<Progress>) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let Some(first) = queue.recv().await else { return };
        batch.push(first);
        // The rest of the batch is collected once, after `FLUSH` (at once when a full batch is
        // already waiting), rather than by waking for each event: a busy service's logins would
        // otherwise wake this thread, and take a core from the hashers, once each.
        if queue.len() < BATCH - 1 {
            tokio::time::sleep(FLUSH).await;
        }
        while batch.len() < BATCH {
            match queue.try_recv() {
                Ok(e) => batch.push(e),
                Err(_) => break,
            }
        }
        // Before the migrations have run, the table may not exist yet: wait for it.
        while schema.check().is_err() {
            tokio::time::sleep(FLUSH).await;
        }
        flush_batch(&store, &batch).await;
        progress.settled(batch.len());
        batch.clear();
        crate::metrics::sessions::audit_queue(queue.len());
    }
}
