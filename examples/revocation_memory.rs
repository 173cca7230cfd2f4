//! The memory of the revocation table at 100,000 revocations within one window: the resident
//! size of this process before and after filling a table, read from /proc (Linux).
//!
//! `cargo run --example revocation_memory` (the size does not depend on the build profile; the
//! time of a check does: add `--release` for that)

use std::time::{Duration, Instant};

use gatehouse::revocation::{Revocation, RevocationTable};
use uuid::Uuid;

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux /proc");
    // unwrap: statm's second field is the resident page count.
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn main() {
    const ENTRIES: usize = 100_000;
    let now = chrono::Utc::now().timestamp();
    let sids: Vec<String> = (0..ENTRIES).map(|_| Uuid::new_v4().simple().to_string()).collect();
    let table = RevocationTable::new(Duration::from_secs(305), Duration::from_secs(60));
    let before = resident_bytes();
    let started = Instant::now();
    for sid in &sids {
        table.apply(&Revocation::Session(sid.clone()), now);
    }
    let filled = started.elapsed();
    let after = resident_bytes();
    assert_eq!(table.len(), ENTRIES);
    let user = Uuid::now_v7();
    // Tokens carry the session id as a number: parsed once, as a verified token has it.
    let keys: Vec<u128> = sids.iter().map(|sid| u128::from_str_radix(sid, 16).unwrap()).collect();
    let checks = 1_000_000;
    let started = Instant::now();
    for i in 0..checks {
        let _ = table.check(Some(keys[i % ENTRIES]), user, now, || now * 1000);
    }
    let per_check = started.elapsed() / checks as u32;
    let grown = after.saturating_sub(before);
    println!(
        "{ENTRIES} revocations: resident size grew by {:.1} MiB ({} bytes per entry); filled in {filled:?}; a check costs {per_check:?}",
        grown as f64 / (1024.0 * 1024.0),
        grown / ENTRIES as u64
    );
}
