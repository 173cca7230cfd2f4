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
}

impl Actor for HasherActor {
    type Context = SyncContext<Self>;
}

/// Hash a new password into a PHC string.
#[derive(Message)]
#[rtype(result = "Result<String, ApiError>")]
pub struct Hash(pub Password);

/// Check a password against a PHC string.
#[derive(Message)]
#[rtype(result = "Result<Verified, ApiError>")]
pub struct Verify {
    pub password: Password,
    pub phc: Arc<str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub matches: bool,
    /// The stored hash was made with weaker parameters than the configured ones.
    pub needs_rehash: bool,
}

fn params(c: &Argon2Config) -> Params {
    // unwrap: Config::check refused parameters Argon2 does not accept.
    Params::new(c.m_kib, c.t, c.p, None).unwrap()
}

impl HasherActor {
    pub fn new(config: &Argon2Config) -> HasherActor {
        HasherActor { area: WorkArea::new(Argon2::new(Algorithm::Argon2id, Version::V0x13, params(config))) }
    }

    fn hash(&mut self, password: &Password) -> Result<String, ApiError> {
        self.area.hash(password.expose().as_bytes()).map_err(|e| {
            log::error!("argon2 hashing failed: {e}");
            ApiError::Internal
        })
    }

    fn verify(&mut self, password: &Password, phc: &str) -> Verified {
        let Ok(parsed) = PasswordHash::new(phc) else {
            log::error!("a stored password hash is not a valid PHC string");
            return Verified { matches: false, needs_rehash: false };
        };
        // The parameters come from the stored hash, so old hashes keep verifying after the
        // configuration is raised; `needs_rehash` tells the caller to upgrade them.
        let matches = self.area.verify(password.expose().as_bytes(), &parsed);
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
        Verified { matches, needs_rehash: matches && weaker }
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
        Ok(self.verify(&msg.password, &msg.phc))
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
    pub async fn verify_admitted(&self, _slot: Slot, password: Password, phc: Option<Arc<str>>) -> Result<Verified, ApiError> {
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| self.dummy_phc.clone());
        let verified = ask(&self.addr, Verify { password, phc }, self.timeout, Dependency::Hasher).await?;
        Ok(if known { verified } else { Verified { matches: false, needs_rehash: false } })
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

        let held: Vec<_> = (0..2).map(|_| hasher.admit().unwrap()).collect();
        assert!(matches!(hasher.verify(pw("x"), None).await, Err(ApiError::Overloaded { .. })));
        drop(held);
        assert_eq!(hasher.in_flight(), 0);
    }
}
