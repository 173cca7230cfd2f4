//! `StoreArbiters`: the threads the user repository actors run on, apart from the HTTP workers.
//!
//! Reliability: a pooled PostgreSQL connection belongs to the runtime that opened it (its
//! socket is registered there). The PostgreSQL pool is shared by all HTTP workers, but on
//! SIGTERM each worker's runtime stops on its own, idle ones first; a connection one of them had
//! opened then broke under the requests the other workers were still finishing, which answered
//! 503 instead of completing. Repository actors on arbiters that live as long as the process
//! keep every connection alive until the end. One arbiter per HTTP worker keeps the parallelism
//! of per-worker actors. (The token store needs none of this: each worker has a Redis pool of
//! its own, used by its own requests only.)

use std::sync::atomic::{AtomicUsize, Ordering};

use actix::{Arbiter, ArbiterHandle};

pub struct StoreArbiters {
    handles: Vec<ArbiterHandle>,
    next: AtomicUsize,
}

impl StoreArbiters {
    /// Starts `n` arbiters; they stop with the actix `System`, after the HTTP server.
    pub fn start(n: usize) -> StoreArbiters {
        StoreArbiters { handles: (0..n.max(1)).map(|_| Arbiter::new().handle()).collect(), next: AtomicUsize::new(0) }
    }

    /// The arbiter for the next HTTP worker's store actors, round robin (a worker that
    /// restarts after a panic takes the next one).
    pub fn next(&self) -> &ArbiterHandle {
        &self.handles[self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len()]
    }
}
