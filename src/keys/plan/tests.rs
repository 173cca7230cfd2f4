//! The rotation rules over simulated time.

use super::*;

const LIFETIME: i64 = 100;
const AHEAD: i64 = 30;
const KEEP: i64 = 20;

fn policy(algorithm: Algorithm) -> Policy {
    Policy {
        algorithm,
        lifetime: Duration::from_secs(LIFETIME as u64),
        publish_ahead: Duration::from_secs(AHEAD as u64),
        keep_after_retire: Duration::from_secs(KEEP as u64),
    }
}

/// A predictable key maker: kids k1, k2, … created at the time the test sets.
struct Maker {
    count: usize,
    now: i64,
}

impl Maker {
    fn make(&mut self, alg: Algorithm) -> KeyRow {
        self.count += 1;
        KeyRow {
            kid: format!("k{}", self.count),
            alg,
            public_key: vec![1],
            sealed_private: vec![2],
            created_at: self.now,
            activated_at: None,
            retired_at: None,
            verify_until: None,
        }
    }
}

/// Applies a plan to the rows, as the store does.
fn apply(rows: &mut Vec<KeyRow>, plan: Plan) {
    for update in plan.updates {
        let row = rows.iter_mut().find(|r| r.kid == update.kid).unwrap();
        *row = update;
    }
    rows.extend(plan.inserts);
}

fn run(rows: &mut Vec<KeyRow>, maker: &mut Maker, policy: &Policy, now: i64, action: Action) -> Result<bool, PlanError> {
    maker.now = now;
    let plan = plan(rows, policy, now, &action, &mut |alg| maker.make(alg))?;
    let rotated = plan.rotated;
    apply(rows, plan);
    Ok(rotated)
}

fn current(rows: &[KeyRow]) -> Vec<&str> {
    rows.iter().filter(|r| r.is_current()).map(|r| r.kid.as_str()).collect()
}

fn next(rows: &[KeyRow]) -> Vec<&str> {
    rows.iter().filter(|r| r.is_next()).map(|r| r.kid.as_str()).collect()
}

#[test]
fn the_first_tick_makes_a_current_key_and_a_next_one() {
    let (mut rows, mut maker) = (Vec::new(), Maker { count: 0, now: 0 });
    assert!(run(&mut rows, &mut maker, &policy(Algorithm::EdDSA), 1000, Action::Tick).unwrap());
    assert_eq!(current(&rows), ["k1"]);
    assert_eq!(next(&rows), ["k2"]);
    assert!(!run(&mut rows, &mut maker, &policy(Algorithm::EdDSA), 1001, Action::Tick).unwrap(), "then nothing to do");
    assert_eq!(rows.len(), 2);
}

#[test]
fn a_key_signs_for_its_lifetime_then_the_next_one_takes_over_and_the_old_one_verifies_a_while() {
    let (mut rows, mut maker) = (Vec::new(), Maker { count: 0, now: 0 });
    let p = policy(Algorithm::EdDSA);
    run(&mut rows, &mut maker, &p, 0, Action::Tick).unwrap();
    assert!(!run(&mut rows, &mut maker, &p, LIFETIME - 1, Action::Tick).unwrap());
    assert!(run(&mut rows, &mut maker, &p, LIFETIME, Action::Tick).unwrap());
    assert_eq!(current(&rows), ["k2"]);
    assert_eq!(next(&rows), ["k3"]);
    let k1 = rows.iter().find(|r| r.kid == "k1").unwrap();
    assert_eq!((k1.retired_at, k1.verify_until), (Some(LIFETIME), Some(LIFETIME + KEEP)));
    assert!(k1.verifies_at(LIFETIME + KEEP - 1) && !k1.verifies_at(LIFETIME + KEEP));
}

#[test]
fn a_next_key_too_young_to_be_fetched_waits() {
    let (mut rows, mut maker) = (Vec::new(), Maker { count: 0, now: 0 });
    let mut p = policy(Algorithm::EdDSA);
    p.lifetime = Duration::from_secs(10);
    run(&mut rows, &mut maker, &p, 0, Action::Tick).unwrap();
    assert!(!run(&mut rows, &mut maker, &p, 10, Action::Tick).unwrap(), "due, but k2 is published for 10 s of 30");
    assert!(run(&mut rows, &mut maker, &p, AHEAD, Action::Tick).unwrap());
    assert_eq!(current(&rows), ["k2"]);
}

#[test]
fn rotate_now_promotes_at_once() {
    let (mut rows, mut maker) = (Vec::new(), Maker { count: 0, now: 0 });
    let p = policy(Algorithm::ES256);
    run(&mut rows, &mut maker, &p, 0, Action::Tick).unwrap();
    assert!(run(&mut rows, &mut maker, &p, 5, Action::RotateNow).unwrap());
    assert_eq!((current(&rows), next(&rows)), (vec!["k2"], vec!["k3"]));
    assert!(rows[0].verifies_at(5 + KEEP - 1), "a rotation is not a compromise: k1's tokens still verify");
}

#[test]
fn an_emergency_retire_stops_verification_at_once_and_a_new_key_signs() {
    let (mut rows, mut maker) = (Vec::new(), Maker { count: 0, now: 0 });
    let p = policy(Algorithm::EdDSA);
    run(&mut rows, &mut maker, &p, 0, Action::Tick).unwrap();
    assert!(run(&mut rows, &mut maker, &p, 7, Action::RetireNow("k1".into())).unwrap());
    let k1 = rows.iter().find(|r| r.kid == "k1").unwrap();
    assert!(!k1.verifies_at(7));
    assert_eq!((current(&rows), next(&rows)), (vec!["k2"], vec!["k3"]));
    // Retiring the next key: it goes, and a new next one is made.
    assert!(!run(&mut rows, &mut maker, &p, 8, Action::RetireNow("k3".into())).unwrap());
    assert_eq!((current(&rows), next(&rows)), (vec!["k2"], vec!["k4"]));
    assert_eq!(run(&mut rows, &mut maker, &p, 9, Action::RetireNow("k1".into())), Err(PlanError::UnknownKid), "already gone");
    assert_eq!(run(&mut rows, &mut maker, &p, 9, Action::RetireNow("nope".into())), Err(PlanError::UnknownKid));
    assert_eq!(run(&mut rows, &mut maker, &p, 9, Action::RetireNow(HS256_KID.into())), Err(PlanError::SecretKey));
}

#[test]
fn switching_algorithms_keeps_the_old_keys_tokens_verifying() {
    let (mut rows, mut maker) = (Vec::new(), Maker { count: 0, now: 0 });
    // HS256 first: only the secret's row.
    run(&mut rows, &mut maker, &policy(Algorithm::HS256), 0, Action::Tick).unwrap();
    assert_eq!(current(&rows), [HS256_KID]);
    assert!(next(&rows).is_empty());
    // Switched to EdDSA: a key signs at once, the secret verifies for KEEP more.
    assert!(run(&mut rows, &mut maker, &policy(Algorithm::EdDSA), 10, Action::Tick).unwrap());
    assert_eq!(current(&rows), ["k1"]);
    let hs = rows.iter().find(|r| r.kid == HS256_KID).unwrap();
    assert_eq!(hs.verify_until, Some(10 + KEEP));
    // To ES256: the EdDSA next key never signed and goes at once; k1 verifies for KEEP more.
    run(&mut rows, &mut maker, &policy(Algorithm::ES256), 20, Action::Tick).unwrap();
    assert_eq!(rows.iter().find(|r| r.kid == "k2").unwrap().verify_until, Some(20));
    assert_eq!(rows.iter().find(|r| r.kid == "k1").unwrap().verify_until, Some(20 + KEEP));
    assert_eq!(rows.iter().find(|r| r.is_current()).unwrap().alg, Algorithm::ES256);
    // And back to HS256: the secret signs again, the ES256 key retires on schedule.
    assert!(run(&mut rows, &mut maker, &policy(Algorithm::HS256), 30, Action::Tick).unwrap());
    assert_eq!(current(&rows), [HS256_KID]);
    assert!(rows.iter().filter(|r| r.alg == Algorithm::ES256).all(|r| r.verify_until.is_some()));
    assert!(rows.iter().find(|r| r.alg == Algorithm::ES256 && r.activated_at.is_some()).unwrap().verifies_at(30 + KEEP - 1));
}

proptest::proptest! {
    /// Through any sequence of ticks and forced rotations, at any times: exactly one key is
    /// current and one is next; a key promoted on schedule was published `AHEAD` before; and
    /// every key that was current at some moment still verifies `KEEP` later.
    #[test]
    fn rotation_invariants_hold_through_any_history(steps in proptest::collection::vec((1i64..60, 0u8..10), 1..80)) {
        let (mut rows, mut maker) = (Vec::new(), Maker { count: 0, now: 0 });
        let p = policy(Algorithm::EdDSA);
        let mut now = 0;
        let mut signed_by: Vec<(i64, String)> = Vec::new();
        run(&mut rows, &mut maker, &p, now, Action::Tick).unwrap();
        for (step, what) in steps {
            now += step;
            let action = if what == 0 { Action::RotateNow } else { Action::Tick };
            let before: Vec<KeyRow> = rows.clone();
            run(&mut rows, &mut maker, &p, now, action.clone()).unwrap();
            proptest::prop_assert_eq!(current(&rows).len(), 1);
            proptest::prop_assert_eq!(next(&rows).len(), 1);
            let cur = rows.iter().find(|r| r.is_current()).unwrap();
            if action == Action::Tick && cur.activated_at == Some(now) && before.iter().any(|r| r.kid == cur.kid) {
                proptest::prop_assert!(cur.created_at + AHEAD <= now, "promoted after {} s of publication", now - cur.created_at);
            }
            signed_by.push((now, cur.kid.clone()));
            for (at, kid) in &signed_by {
                let key = rows.iter().find(|r| &r.kid == kid).unwrap();
                if now < at + KEEP {
                    proptest::prop_assert!(key.verifies_at(now), "{} signed at {} and is refused at {}", kid, at, now);
                }
            }
        }
    }
}
