//! `POST /auth/password/forgot` takes the same time for a known and an unknown address.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::spawn_app_with_mail;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Requests alternate between the two addresses, so that the machine's noise falls on both
/// alike; the medians are compared as a ratio, never against an absolute time.
#[actix_web::test]
async fn forgot_answers_a_known_and_an_unknown_address_in_the_same_time() {
    let (app, _mail) =
        spawn_app_with_mail(&[("FORGOT_FLOOR_MS", "250"), ("THROTTLE_PER_ACCOUNT", "0"), ("THROTTLE_REGISTER_PER_IP", "0")]).await;
    let user = app.register_user().await;
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..16 {
        for (email, samples) in [(user.email.clone(), &mut known), (format!("nobody-{i}@example.com"), &mut unknown)] {
            let started = Instant::now();
            let resp = app.post_json("/auth/password/forgot", &json!({"email": email})).await;
            samples.push(started.elapsed());
            assert_eq!(resp.status(), 202);
        }
    }
    let (known, unknown) = (median(known), median(unknown));
    let ratio = known.as_secs_f64() / unknown.as_secs_f64();
    println!("forgot medians: known {known:?}, unknown {unknown:?}, ratio {ratio:.3}");
    assert!((0.9..=1.1).contains(&ratio), "known {known:?} vs unknown {unknown:?}");
}
