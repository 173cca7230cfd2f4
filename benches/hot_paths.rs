//! Criterion micro-benchmarks of the pure functions on every request's path: access tokens
//! (sign, verify), refresh tokens (generate, check the tag, hash, the successor and its seal) and
//! the envelope.
//!
//!   cargo bench --bench hot_paths

use std::hint::black_box;
use std::time::Duration;

use actix_web::ResponseError;
use actix_web::http::StatusCode;
use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse::actors::User;
use gatehouse::actors::user_repo::RenderedUser;
use gatehouse::envelope::success;
use gatehouse::error::ApiError;
use gatehouse::revocation::{Revocation, RevocationTable};
use gatehouse::tokens::{AccessTokens, RefreshKey, RefreshToken};
use serde::Serialize;
use uuid::Uuid;

const SECRET: &[u8] = b"2Pq7w/G/Tf4s+R97X/guqXtUJSFGQXTWSduNiL9Qh8gk";

fn access_tokens(c: &mut Criterion) {
    let tokens = AccessTokens::hs256(SECRET, "gatehouse", "gatehouse", Duration::from_secs(300), Duration::from_secs(5));
    let user = Uuid::now_v7();
    let sid = "0123456789abcdef0123456789abcdef";
    let token = tokens.sign(user, sid).unwrap();
    c.bench_function("access token sign", |b| b.iter(|| tokens.sign(black_box(user), sid).unwrap()));
    c.bench_function("access token verify", |b| b.iter(|| tokens.verify(black_box(&token)).unwrap()));
    c.bench_function("access token verify, seen before (bearer path)", |b| b.iter(|| tokens.verify_subject(black_box(&token)).unwrap()));
    // The revocation check every bearer request adds, against a table of 100,000 ended sessions.
    let table = RevocationTable::new(Duration::from_secs(305), Duration::from_secs(60));
    let now = chrono::Utc::now().timestamp();
    for i in 0..100_000u128 {
        table.apply(&Revocation::Session(format!("{:032x}", i << 64)), now);
    }
    let subject = tokens.verify_subject(&token).unwrap();
    let now_ms = now * 1000;
    // A token this thread found not revoked since the table last changed is answered from the
    // thread's memory; the first check of a token (or any after a revocation) reads the table.
    c.bench_function("revocation check (100,000 entries), a token seen before", |b| {
        b.iter(|| table.check(black_box(subject.sid), subject.sub, subject.iat, || now_ms).unwrap())
    });
    let mut iat = subject.iat;
    c.bench_function("revocation check (100,000 entries), a token not seen before", |b| {
        b.iter(|| {
            iat += 1;
            table.check(black_box(subject.sid), subject.sub, iat, || now_ms).unwrap()
        })
    });
}

fn refresh_tokens(c: &mut Criterion) {
    let key = RefreshKey::derive(SECRET);
    let user = Uuid::now_v7();
    let token = key.generate(user);
    let cookie = token.encode();
    c.bench_function("refresh token generate", |b| b.iter(|| key.generate(black_box(user))));
    c.bench_function("refresh token proof check", |b| b.iter(|| key.proves(black_box(&token))));
    c.bench_function("refresh token hash", |b| b.iter(|| black_box(&token).hash()));
    c.bench_function("refresh token parse (cookie)", |b| b.iter(|| RefreshToken::parse(black_box(&cookie)).unwrap()));
    c.bench_function("refresh token successor and seal", |b| {
        b.iter(|| {
            let next = key.successor(black_box(&token));
            token.seal(&next)
        })
    });
}

/// The shape `/auth/me` answers with: the user's JSON, rendered when it was read.
#[derive(Serialize)]
struct MeBody<'a> {
    user: &'a serde_json::value::RawValue,
}

fn envelope(c: &mut Criterion) {
    let user = User {
        id: Uuid::now_v7(),
        username: "John Doe".into(),
        email: Some("john@example.com".into()),
        email_verified: true,
        created_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
    };
    let user = RenderedUser::new(user);
    c.bench_function("envelope: success with a user", |b| b.iter(|| success(StatusCode::OK, MeBody { user: black_box(&user.json) })));
    c.bench_function("envelope: error", |b| b.iter(|| black_box(ApiError::InvalidAccessToken).error_response()));
}

criterion_group!(benches, access_tokens, refresh_tokens, envelope);
criterion_main!(benches);
