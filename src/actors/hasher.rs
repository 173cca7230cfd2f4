//! `HasherActor`: Argon2id hashing and verification on a `SyncArbiter`, so password work runs on
//! its own OS threads and never blocks the async workers.

mod work_area;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix::{Actor, Addr, Handler, Message, SyncArbiter, SyncContext};
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, Version};
use work_area::WorkArea;

use crate::actors::ask;
use crate::config::Argon2Config;
use crate::domain::Password;
use crate::error::{ApiError, Dependency};

pub struct HasherActor {
    area: WorkArea,
    /// Argon2 verifications run, for the tests that count them.
    #[cfg(test)]
    verifications: usize,
}

impl Actor for HasherActor {
    type Context = SyncContext<Self>;
}

/// Hash a new password into a PHC string.
#[derive(Message)]
#[rtype(result = "Result<String, ApiError>")]
pub struct Hash(pub Password);

/// Check a password against a PHC string: its normalised form, then its raw form when that
/// differs and the normalised one does not match. One message, so one hasher thread and one
/// queue place, whether one or two Argon2 verifications run.
#[derive(Message)]
#[rtype(result = "Result<Verified, ApiError>")]
pub struct Verify {
    pub password: Password,
    pub phc: Arc<str>,
    /// `phc` is the dummy hash of an unknown user: do the same work, never match.
    pub dummy: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub matches: bool,
    /// The password matched, and the stored hash should be replaced by a hash of the normalised
    /// password with the configured parameters: it was made with weaker parameters, or from
    /// the password's raw (not normalised) form.
    pub needs_rehash: bool,
}

fn params(c: &Argon2Config) -> Params {
    // unwrap: Config::check refused parameters Argon2 does not accept.
    Params::new(c.m_kib, c.t, c.p, None).unwrap()
}

impl HasherActor {
    pub fn new(config: &Argon2Config) -> HasherActor {
        HasherActor {
            area: WorkArea::new(Argon2::new(Algorithm::Argon2id, Version::V0x13, params(config))),
            #[cfg(test)]
            verifications: 0,
        }
    }

    fn hash(&mut self, password: &Password) -> Result<String, ApiError> {
        self.area.hash(password.expose().as_bytes()).map_err(|e| {
            log::error!("argon2 hashing failed: {e}");
            ApiError::Internal
        })
    }

    /// One Argon2 verification.
    fn run_verify(&mut self, password: &str, phc: &PasswordHash) -> bool {
        #[cfg(test)]
        {
            self.verifications += 1;
        }
        self.area.verify(password.as_bytes(), phc)
    }

    fn verify(&mut self, password: &Password, phc: &str) -> Verified {
        let Ok(parsed) = PasswordHash::new(phc) else {
            log::error!("a stored password hash is not a valid PHC string");
            return Verified { matches: false, needs_rehash: false };
        };
        // The parameters come from the stored hash, so old hashes keep verifying after the
        // configuration is raised; `needs_rehash` tells the caller to upgrade them.
        let mut matches = self.run_verify(password.expose(), &parsed);
        // Reliability: a hash stored before passwords were normalised was made from the
        // password as it was typed; when the attempt's raw form differs and the normalised one
        // did not match, the raw form is tried, and a match there asks for a re-hash, which
        // hashes the normalised form (`Hash`), so the account moves to the normalised form at
        // its next successful login.
        let mut legacy = false;
        if !matches && let Some(raw) = password.legacy_form() {
            matches = self.run_verify(raw, &parsed);
            legacy = matches;
        }
        let weaker = match Params::try_from(&parsed) {
            Ok(stored) => {
                let wanted = self.area.params();
                parsed.algorithm.as_str() != "argon2id"
                    || stored.m_cost() < wanted.m_cost()
                    || stored.t_cost() < wanted.t_cost()
                    || stored.p_cost() < wanted.p_cost()
            }
            Err(_) => true,
        };
        Verified { matches, needs_rehash: matches && (weaker || legacy) }
    }

    /// The unknown user's verification: never a match, at the cost of a wrong password.
    fn verify_dummy(&mut self, password: &Password, dummy_phc: &str) -> Verified {
        // Security: a wrong password for a known user costs one verification of the normalised
        // form, and a second of the raw form when the attempt has one (`verify`). This runs
        // exactly those, whatever they answer (even an attempt that happens to match the dummy
        // hash pays for both), so the number of Argon2 runs depends on the attempt alone, which
        // the caller knows anyway, and timing cannot tell "no such user" from "wrong password".
        // (A *right* password may cost one run less; its answer says so anyway.)
        match PasswordHash::new(dummy_phc) {
            Ok(parsed) => {
                std::hint::black_box(self.run_verify(password.expose(), &parsed));
                if let Some(raw) = password.legacy_form() {
                    std::hint::black_box(self.run_verify(raw, &parsed));
                }
            }
            Err(_) => log::error!("the dummy password hash is not a valid PHC string"),
        }
        Verified { matches: false, needs_rehash: false }
    }
}

impl Handler<Hash> for HasherActor {
    type Result = Result<String, ApiError>;
    fn handle(&mut self, msg: Hash, _: &mut SyncContext<Self>) -> Self::Result {
        let _busy = crate::metrics::HasherBusy::enter("hash");
        self.hash(&msg.0)
    }
}

impl Handler<Verify> for HasherActor {
    type Result = Result<Verified, ApiError>;
    fn handle(&mut self, msg: Verify, _: &mut SyncContext<Self>) -> Self::Result {
        let _busy = crate::metrics::HasherBusy::enter("verify");
        Ok(if msg.dummy { self.verify_dummy(&msg.password, &msg.phc) } else { self.verify(&msg.password, &msg.phc) })
    }
}

/// The handle route handlers use: a bounded queue in front of the hasher threads, a timeout,
/// and the dummy hash for unknown users.
#[derive(Clone)]
pub struct Hasher {
    addr: Addr<HasherActor>,
    waiting: Arc<AtomicUsize>,
    queue_limit: usize,
    timeout: Duration,
    dummy_phc: Arc<str>,
}

impl Hasher {
    /// Starts `threads` hasher threads at niceness `nice`. `threads` bounds how many Argon2
    /// computations (and how much Argon2 memory) run at once, whatever the number of concurrent
    /// logins.
    pub fn start(config: &Argon2Config, threads: usize, queue_limit: usize, nice: i32) -> Hasher {
        let actor_config = config.clone();
        let builder = || std::thread::Builder::new().name("gatehouse-hasher".into());
        let addr = SyncArbiter::start_with_thread_builder(threads, builder, move || {
            // The factory runs on the hasher thread itself (and again if the actor restarts).
            lower_priority(nice);
            HasherActor::new(&actor_config)
        });
        // Security: unknown users are verified against this hash, made with the configured
        // parameters, so "no such user" costs the same Argon2 work as "wrong password" and
        // cannot be told apart by timing.
        let dummy_phc: Arc<str> = HasherActor::new(config)
            .hash(&Password::parse_attempt("gatehouse-dummy-password".into()).expect("short literal"))
            .expect("argon2 hashes with validated parameters")
            .into();
        Hasher { addr, waiting: Arc::default(), queue_limit, timeout: Duration::from_secs(30), dummy_phc }
    }

    pub async fn hash(&self, password: Password) -> Result<String, ApiError> {
        let _slot = self.admit()?;
        ask(&self.addr, Hash(password), self.timeout, Dependency::Hasher).await
    }

    /// Verifies against `phc`, or against the dummy hash when there is no such user; the
    /// answer for a missing user is always "no match".
    pub async fn verify(&self, password: Password, phc: Option<Arc<str>>) -> Result<Verified, ApiError> {
        self.verify_admitted(self.admit()?, password, phc).await
    }

    /// `verify` for a job admitted beforehand (see `admit`); the place is released when the
    /// verification ends.
    ///
    /// Reliability: one login holds one place, even when its attempt has a raw form and two
    /// Argon2 verifications run: both run in the one `Verify` on one hasher thread, one after
    /// the other, so `HASHER_THREADS` still bounds Argon2's concurrency and memory, and a place
    /// still stands for one login waiting or running (such a login holds its thread twice as
    /// long).
    pub async fn verify_admitted(&self, _slot: Slot, password: Password, phc: Option<Arc<str>>) -> Result<Verified, ApiError> {
        let (phc, dummy) = match phc {
            Some(phc) => (phc, false),
            None => (self.dummy_phc.clone(), true),
        };
        ask(&self.addr, Verify { password, phc, dummy }, self.timeout, Dependency::Hasher).await
    }

    /// Jobs admitted and not yet finished (queued or running).
    pub fn in_flight(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Counts the job in before it is queued; past the limit the request is shed at once with
    /// a 503 rather than left to wait behind a storm of logins.
    ///
    /// A caller may admit a job before preparing it (a login, before looking its user up), so
    /// that a request the hasher has no room for is shed before it costs anything else.
    pub fn admit(&self) -> Result<Slot, ApiError> {
        let before = self.waiting.fetch_add(1, Ordering::AcqRel);
        let slot = Slot(self.waiting.clone());
        if before >= self.queue_limit {
            return Err(ApiError::Overloaded { retry_after: Duration::from_secs(1) });
        }
        crate::metrics::hasher_queue(before + 1);
        Ok(slot)
    }
}

/// Lowers the calling thread's scheduling priority (Linux niceness is per thread).
///
/// Argon2 is all CPU, and with `HASHER_THREADS` = cores a login storm would take every core
/// from the HTTP workers: token checks and refreshes would queue behind password hashes. At a
/// higher niceness the scheduler gives the workers the CPU whenever they want it and the hashers
/// everything left over, so a storm slows logins down (they queue, bounded by `HASHER_QUEUE`)
/// instead of everything else. On an idle machine a niced thread runs as fast as any other.
fn lower_priority(nice: i32) {
    if nice == 0 {
        return;
    }
    // SAFETY: setpriority only reads its integer arguments; `who` = 0 is the calling thread.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) };
    if rc != 0 {
        log::warn!("could not lower the hasher threads' priority: {}", std::io::Error::last_os_error());
    }
}

/// Releases an admitted job's place when the request finishes or is cancelled.
pub struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        let now = self.0.fetch_sub(1, Ordering::AcqRel) - 1;
        crate::metrics::hasher_queue(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Argon2Config {
        Argon2Config { m_kib: 64, t: 1, p: 1 }
    }

    fn pw(s: &str) -> Password {
        Password::parse_attempt(s.into()).unwrap()
    }

    #[test]
    fn hashes_are_argon2id_phc_strings_that_verify() {
        let mut actor = HasherActor::new(&cheap());
        let phc = actor.hash(&pw("correct horse")).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        assert!(actor.verify(&pw("correct horse"), &phc).matches);
        assert!(!actor.verify(&pw("wrong horse"), &phc).matches);
    }

    #[test]
    fn a_hash_weaker_than_the_configuration_asks_for_a_rehash() {
        let old = HasherActor::new(&cheap()).hash(&pw("correct horse")).unwrap();
        let mut stronger = HasherActor::new(&Argon2Config { m_kib: 128, t: 1, p: 1 });
        assert_eq!(stronger.verify(&pw("correct horse"), &old), Verified { matches: true, needs_rehash: true });
        assert!(!HasherActor::new(&cheap()).verify(&pw("correct horse"), &old).needs_rehash);
    }

    /// A hash made the way gatehouse hashed before passwords were normalised: of the raw form.
    fn legacy_hash(actor: &mut HasherActor, raw: &str) -> String {
        actor.area.hash(raw.as_bytes()).unwrap()
    }

    #[test]
    fn a_hash_of_the_raw_form_verifies_and_asks_for_a_rehash_of_the_normalised_form() {
        let mut actor = HasherActor::new(&cheap());
        let decomposed = "cafe\u{301} au lait";
        let legacy = legacy_hash(&mut actor, decomposed);
        assert_eq!(actor.verify(&pw(decomposed), &legacy), Verified { matches: true, needs_rehash: true });
        // The composed form is its own normalised form and has no raw form to fall back on.
        assert!(!actor.verify(&pw("caf\u{e9} au lait"), &legacy).matches);
        assert!(!actor.verify(&pw("cafe\u{301} au laid"), &legacy).matches);

        let rehashed = actor.hash(&pw(decomposed)).unwrap();
        assert!(
            actor.area.verify("caf\u{e9} au lait".as_bytes(), &PasswordHash::new(&rehashed).unwrap()),
            "the re-hash is of the normalised form"
        );
        for typed in [decomposed, "caf\u{e9} au lait"] {
            assert_eq!(actor.verify(&pw(typed), &rehashed), Verified { matches: true, needs_rehash: false }, "{typed:?}");
        }
    }

    #[test]
    fn a_hash_of_the_normalised_form_verifies_without_a_rehash() {
        let mut actor = HasherActor::new(&cheap());
        let phc = actor.hash(&Password::parse_new("ｆｉｓｈ ｃａｋｅ 42".into()).unwrap()).unwrap();
        for typed in ["ｆｉｓｈ ｃａｋｅ 42", "fish cake 42", "ｆｉｓｈ cake 42"] {
            actor.verifications = 0;
            assert_eq!(actor.verify(&pw(typed), &phc), Verified { matches: true, needs_rehash: false }, "{typed:?}");
            assert_eq!(actor.verifications, 1, "a normalised match needs no second run");
        }
    }

    #[test]
    fn an_unknown_user_costs_the_argon2_runs_of_a_wrong_password() {
        let mut actor = HasherActor::new(&cheap());
        let stored = actor.hash(&pw("the real password")).unwrap();
        let dummy = actor.hash(&pw("gatehouse-dummy-password")).unwrap();
        // ASCII, composed, decomposed, fullwidth, and one that normalises to the dummy password.
        for attempt in ["wrong password", "caf\u{e9}", "cafe\u{301}", "ｗｒｏｎｇ", "ｇａｔｅｈｏｕｓｅ-dummy-password"] {
            actor.verifications = 0;
            assert!(!actor.verify(&pw(attempt), &stored).matches);
            let wrong = actor.verifications;
            actor.verifications = 0;
            assert_eq!(actor.verify_dummy(&pw(attempt), &dummy), Verified { matches: false, needs_rehash: false });
            assert_eq!(actor.verifications, wrong, "{attempt:?}");
            assert_eq!(wrong, if pw(attempt).legacy_form().is_some() { 2 } else { 1 }, "{attempt:?}");
        }
    }

    #[test]
    fn a_corrupt_stored_hash_never_matches() {
        assert!(!HasherActor::new(&cheap()).verify(&pw("x"), "not a phc string").matches);
    }

    #[actix_web::test]
    async fn unknown_users_never_match_and_the_queue_sheds_past_its_limit() {
        let hasher = Hasher::start(&cheap(), 1, 2, 10);
        let phc: Arc<str> = hasher.hash(pw("password1")).await.unwrap().into();
        assert!(hasher.verify(pw("password1"), Some(phc)).await.unwrap().matches);
        assert!(!hasher.verify(pw("gatehouse-dummy-password"), None).await.unwrap().matches);

        // An attempt with a raw form (two verifications) holds one place, and leaves none held.
        let legacy: Arc<str> = HasherActor::new(&cheap()).area.hash("cafe\u{301} cre\u{300}me".as_bytes()).unwrap().into();
        let slot = hasher.admit().unwrap();
        assert_eq!(hasher.in_flight(), 1);
        let verified = hasher.verify_admitted(slot, pw("cafe\u{301} cre\u{300}me"), Some(legacy)).await.unwrap();
        assert_eq!(verified, Verified { matches: true, needs_rehash: true });
        assert_eq!(hasher.in_flight(), 0);
        assert!(!hasher.verify(pw("gatehouse-dummy-passwor\u{ff44}"), None).await.unwrap().matches, "normalises to the dummy's password");

        let held: Vec<_> = (0..2).map(|_| hasher.admit().unwrap()).collect();
        assert!(matches!(hasher.verify(pw("x"), None).await, Err(ApiError::Overloaded { .. })));
        drop(held);
        assert_eq!(hasher.in_flight(), 0);
    }
}
