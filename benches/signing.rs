//! Criterion: signing and verifying an access token with each algorithm (a key kept parsed in
//! memory, as the service does), and the verified-token table's hit that keeps the signature
//! off `/auth/me`'s path.
//!
//!   cargo bench --bench signing

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse::keys::{Algorithm, Context, KeyRing, KeySet, Sealer, fresh_key};
use gatehouse::tokens::AccessTokens;

/// A session id as tokens carry it (32 hex digits).
const SID: &str = "00112233445566778899aabbccddeeff";
use uuid::Uuid;

const SECRET: &[u8] = b"2Pq7w/G/Tf4s+R97X/guqXtUJSFGQXTWSduNiL9Qh8gk";

fn tokens(alg: Algorithm) -> AccessTokens {
    let sealer = Sealer::new(SECRET);
    let now = chrono::Utc::now().timestamp();
    let rows = match alg {
        Algorithm::HS256 => vec![],
        alg => {
            let mut key = fresh_key(&sealer, alg, now);
            key.activated_at = Some(now);
            vec![key]
        }
    };
    let set = KeySet::build(&Context { algorithm: alg, secret: SECRET, sealer: &sealer }, &rows, now, true);
    AccessTokens::new(KeyRing::new(set), "gatehouse", "gatehouse", Duration::from_secs(300), Duration::from_secs(5))
}

fn sign_and_verify(c: &mut Criterion) {
    for alg in [Algorithm::EdDSA, Algorithm::ES256, Algorithm::HS256] {
        let tokens = tokens(alg);
        let user = Uuid::now_v7();
        let token = tokens.sign(user, SID).unwrap();
        c.bench_function(&format!("{alg} sign"), |b| b.iter(|| tokens.sign(black_box(user), SID).unwrap()));
        c.bench_function(&format!("{alg} verify"), |b| b.iter(|| tokens.verify(black_box(&token)).unwrap()));
        c.bench_function(&format!("{alg} verify, seen before (bearer path)"), |b| {
            b.iter(|| tokens.verify_subject(black_box(&token)).unwrap())
        });
    }
}

criterion_group!(benches, sign_and_verify);
criterion_main!(benches);
