//! The flows, run without any HTTP server: SQLite in memory for the users, the memory token
//! store, a cheap Argon2 configuration, and the hasher's count of the Argon2 runs it made.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::Actor;

use super::*;
use crate::actors::counters::{CounterBackend, MemoryCounters};
use crate::actors::token_store::{MemoryTokens, TokenBackend};
use crate::actors::user_repo::{Lookup, UserStore};
use crate::actors::{CounterStore, CounterStoreActor, TokenStoreActor, UserRepo};
use crate::config::{Argon2Config, Database, ThrottleConfig};
use crate::middleware::RequestId;
use crate::tokens::RefreshKey;

const PASSWORD: &str = "correct horse battery";
const SECRET: &[u8] = b"a test secret of at least thirty-two bytes";

/// Builds `Services` over embedded backends; the defaults throttle nothing.
struct Builder {
    argon2: Argon2Config,
    throttle: ThrottleConfig,
    grace: Duration,
    store: Option<UserStore>,
}

fn builder() -> Builder {
    Builder {
        argon2: Argon2Config { m_kib: 64, t: 1, p: 1 },
        throttle: ThrottleConfig { window: Duration::from_secs(60), login_per_ip: 0, register_per_ip: 0, per_account: 0 },
        grace: Duration::ZERO,
        store: None,
    }
}

impl Builder {
    fn argon2(mut self, m_kib: u32) -> Builder {
        self.argon2.m_kib = m_kib;
        self
    }

    fn throttle(mut self, login_per_ip: u32, per_account: u32) -> Builder {
        self.throttle.login_per_ip = login_per_ip;
        self.throttle.per_account = per_account;
        self
    }

    fn grace(mut self, grace: Duration) -> Builder {
        self.grace = grace;
        self
    }

    /// Shares the users of another `Services` (see `users_store`).
    fn users(mut self, store: UserStore) -> Builder {
        self.store = Some(store);
        self
    }

    async fn build(self) -> (Services, UserStore) {
        let timeout = Duration::from_secs(10);
        let store = match self.store {
            Some(store) => store,
            None => {
                let store = UserStore::connect_lazy(&Database::Sqlite("sqlite::memory:".into()), 1, timeout).unwrap();
                store.migrate().await.unwrap();
                store
            }
        };
        let backend = TokenBackend::Memory(Arc::new(MemoryTokens::new(Duration::from_secs(3600), self.grace, 1)));
        let tokens = TokenStore::new(TokenStoreActor::new(backend, RefreshKey::derive(SECRET)).start(), timeout);
        let counters = CounterStore::new(CounterStoreActor::new(CounterBackend::Memory(Arc::new(MemoryCounters::new()))).start(), timeout);
        let services = Services {
            hasher: Hasher::start(&self.argon2, 1, 16, 0),
            throttle: Throttle::new(counters, self.throttle),
            tokens,
            users: Users::new(UserRepo::new(store.clone()).start(), timeout),
            access: Arc::new(AccessTokens::hs256(SECRET, "gatehouse", "gatehouse", Duration::from_secs(900), Duration::ZERO)),
            password_policy: PasswordPolicy { deny_common: true },
            account: crate::account_store::AccountStore::new(
                store.clone(),
                ready_schema(),
                timeout,
                crate::tokens::AccountTokenKey::derive(SECRET),
            ),
            lifecycle: crate::config::AccountConfig {
                password_reset_ttl: Duration::from_secs(1800),
                email_verify_ttl: Duration::from_secs(86_400),
                require_verified_email: false,
                forgot_floor: Duration::ZERO,
            },
            revocations: crate::revocation::Revocations::local(Arc::new(crate::revocation::RevocationTable::new(
                Duration::from_secs(900),
                Duration::from_secs(60),
            ))),
            audit: {
                let schema = crate::actors::user_repo::Schema::default();
                schema.mark_ready();
                crate::audit::AuditLog::start(store.clone(), schema, Duration::from_secs(86_400))
            },
        };
        (services, store)
    }
}

/// A schema flag already up: the store here was migrated before the flows run.
fn ready_schema() -> crate::actors::user_repo::Schema {
    let schema = crate::actors::user_repo::Schema::default();
    schema.mark_ready();
    schema
}

fn rid() -> RequestId {
    RequestId("flow-test".into())
}

const IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));

async fn sign_up(services: &Services, username: &str) -> Session {
    let account = NewAccount { username: username.into(), password: PASSWORD.into(), email: None, user_agent: None };
    register(services, &rid(), IP, account).await.unwrap()
}

async fn log_in(services: &Services, username: &str, password: &str) -> Result<Session, ApiError> {
    let credentials = Credentials { password: password.into(), username: Some(username.into()), email: None, user_agent: None };
    login(services, &rid(), IP, None, credentials).await
}

#[actix_web::test]
async fn a_registered_user_logs_in_and_gets_a_working_session() {
    let (services, _) = builder().build().await;
    let registered = sign_up(&services, "alice").await;
    let session = log_in(&services, "alice", PASSWORD).await.unwrap();
    assert_eq!(session.user.id, registered.user.id);
    assert_eq!(services.access.verify_subject(&session.access.token).unwrap().sub, registered.user.id);
    assert!(matches!(log_in(&services, "alice", "a wrong password").await, Err(ApiError::InvalidCredentials)));
    assert_eq!(me(&services, registered.user.id).await.unwrap().user.username, "alice");
}

#[actix_web::test]
async fn a_throttled_login_runs_no_argon2() {
    let (services, _) = builder().throttle(3, 2).build().await;
    sign_up(&services, "alice").await;
    let before = services.hasher.verifications();
    for _ in 0..2 {
        assert!(matches!(log_in(&services, "alice", "a wrong password").await, Err(ApiError::InvalidCredentials)));
    }
    assert_eq!(services.hasher.verifications(), before + 2, "one run per wrong ASCII password");
    // The third is over the account's limit, the fourth over the IP's: neither reaches Argon2,
    // the right password included, and neither keeps a place in the hasher's queue.
    for password in ["a wrong password", PASSWORD] {
        assert!(matches!(log_in(&services, "alice", password).await, Err(ApiError::RateLimited { .. })));
    }
    assert_eq!(services.hasher.verifications(), before + 2, "a throttled login runs no Argon2");
    assert_eq!(services.hasher.in_flight(), 0);
}

#[actix_web::test]
async fn an_unknown_user_costs_the_argon2_runs_of_a_wrong_password() {
    let (services, _) = builder().build().await;
    sign_up(&services, "alice").await;
    // ASCII (one run), and a decomposed attempt that also has a raw form (two runs).
    for attempt in ["a wrong password", "cafe\u{301} au lait"] {
        let runs = |username: &'static str| {
            let services = services.clone();
            async move {
                let before = services.hasher.verifications();
                assert!(matches!(log_in(&services, username, attempt).await, Err(ApiError::InvalidCredentials)), "{username}");
                services.hasher.verifications() - before
            }
        };
        let wrong = runs("alice").await;
        let expected = if crate::domain::Password::parse_attempt(attempt.into()).unwrap().legacy_form().is_some() { 2 } else { 1 };
        assert_eq!(wrong, expected, "{attempt:?}");
        // No such user; and a name that could never have been registered (skips the database).
        assert_eq!(runs("nobody").await, wrong, "{attempt:?}");
        assert_eq!(runs("x").await, wrong, "{attempt:?}");
    }
}

#[actix_web::test]
async fn a_weaker_stored_hash_is_rehashed_after_a_successful_login() {
    let (weak, store) = builder().argon2(64).build().await;
    sign_up(&weak, "alice").await;
    let stored = || async { weak.users.find(Lookup::Username("alice".into())).await.unwrap().unwrap().password_hash };
    assert!(stored().await.contains("m=64,"));

    let (stronger, _) = builder().argon2(128).users(store).build().await;
    log_in(&stronger, "alice", PASSWORD).await.unwrap();
    // The upgrade runs in the background: poll for it, with a generous deadline.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !stored().await.contains("m=128,") {
        assert!(Instant::now() < deadline, "the hash was not upgraded");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(stored().await.starts_with("$argon2id$v=19$m=128,t=1,p=1$"));
    log_in(&stronger, "alice", PASSWORD).await.unwrap();
}

#[actix_web::test]
async fn a_refresh_rotates_and_a_replay_revokes_the_family() {
    let (services, _) = builder().build().await;
    let first = sign_up(&services, "alice").await.refresh;
    let Ok(Refresh::Rotated { refresh: second, access }) = refresh(&services, &rid(), Ok(first.clone())).await else {
        panic!("a current token rotates");
    };
    assert!(second != first);
    assert!(services.access.verify_subject(&access.token).is_ok());
    // Without a grace window, presenting the first token again is a replay: refused, and the
    // family is revoked, so the token it was rotated into is dead too.
    assert!(matches!(refresh(&services, &rid(), Ok(first)).await, Ok(Refresh::Refused(ApiError::RefreshTokenReused))));
    assert!(matches!(refresh(&services, &rid(), Ok(second)).await, Ok(Refresh::Refused(ApiError::InvalidRefreshToken))));
}

#[actix_web::test]
async fn a_refresh_replayed_within_the_grace_window_gets_the_same_successor() {
    let (services, _) = builder().grace(Duration::from_secs(60)).build().await;
    let first = sign_up(&services, "alice").await.refresh;
    let Ok(Refresh::Rotated { refresh: second, .. }) = refresh(&services, &rid(), Ok(first.clone())).await else { panic!() };
    let Ok(Refresh::Rotated { refresh: again, .. }) = refresh(&services, &rid(), Ok(first)).await else { panic!() };
    assert!(again == second, "a concurrent tab gets the token the first request got");
}

#[actix_web::test]
async fn a_refresh_without_a_token_is_refused_and_more_than_one_cookie_is_an_error() {
    let (services, _) = builder().build().await;
    assert!(matches!(
        refresh(&services, &rid(), Err(ApiError::MissingRefreshToken)).await,
        Ok(Refresh::Refused(ApiError::MissingRefreshToken))
    ));
    assert!(matches!(refresh(&services, &rid(), Err(ApiError::AmbiguousRefreshToken)).await, Err(ApiError::AmbiguousRefreshToken)));
}

#[actix_web::test]
async fn logout_is_idempotent() {
    let (services, _) = builder().build().await;
    let token = sign_up(&services, "alice").await.refresh;
    logout(&services, &rid(), Ok(token.clone())).await.unwrap();
    logout(&services, &rid(), Ok(token.clone())).await.unwrap();
    logout(&services, &rid(), Err(ApiError::MissingRefreshToken)).await.unwrap();
    assert!(matches!(refresh(&services, &rid(), Ok(token)).await, Ok(Refresh::Refused(ApiError::InvalidRefreshToken))));
    assert!(matches!(logout(&services, &rid(), Err(ApiError::AmbiguousRefreshToken)).await, Err(ApiError::AmbiguousRefreshToken)));
}

/// The token a queued mail carries, as the mail worker would derive it.
async fn mailed_token(services: &Services) -> String {
    let claimed = services.account.claim(Duration::from_secs(60)).await.unwrap().expect("a queued mail");
    services.account.key().token(claimed.token_id.expect("a mail with a link"))
}

#[actix_web::test]
async fn a_reset_from_the_outbox_sets_the_password_once_and_ends_the_old_session() {
    let (services, _) = builder().build().await;
    let account =
        NewAccount { username: "carol".into(), password: PASSWORD.into(), email: Some("carol@example.com".into()), user_agent: None };
    let registered = register(&services, &rid(), IP, account).await.unwrap();
    assert!(!registered.user.email_verified);
    let _verification = mailed_token(&services).await;
    forgot(&services, &rid(), IP, "Carol@Example.com".into()).await.unwrap();
    let token = mailed_token(&services).await;

    let reset = PasswordReset { token: token.clone(), password: "a brand new passphrase".into(), user_agent: None };
    let session = reset_password(&services, &rid(), IP, reset).await.unwrap();
    assert_eq!(session.user.id, registered.user.id);
    assert!(session.user.email_verified, "the mailbox was proven");
    assert!(matches!(
        services.tokens.rotate(registered.refresh).await,
        Ok(crate::actors::RotateOutcome::Invalid | crate::actors::RotateOutcome::Ended { .. })
    ));
    assert!(log_in(&services, "carol", "a brand new passphrase").await.is_ok());

    let again = PasswordReset { token, password: "yet another passphrase".into(), user_agent: None };
    assert!(matches!(reset_password(&services, &rid(), IP, again).await, Err(ApiError::InvalidAccountToken)));
}

#[actix_web::test]
async fn forgot_for_an_unknown_address_queues_nothing() {
    let (services, _) = builder().build().await;
    forgot(&services, &rid(), IP, "nobody@example.com".into()).await.unwrap();
    assert!(services.account.claim(Duration::from_secs(60)).await.unwrap().is_none());
    assert_eq!(services.account.depth().await.unwrap().waiting, 0);
}

/// A session ended in the store whose revocation was never published: what a logout leaves
/// behind when Redis did the work but the answer was lost (a timeout).
async fn ended_unpublished(services: &Services) -> (Session, crate::tokens::Subject) {
    let session = sign_up(services, "alice").await;
    let subject = services.access.verify_subject(&session.access.token).unwrap();
    assert!(matches!(services.tokens.revoke(session.refresh.clone()).await, Ok(crate::actors::token_store::Revoked::Ended(_))));
    assert!(services.revocations.check(&subject).is_ok(), "nothing was published yet");
    (session, subject)
}

#[actix_web::test]
async fn a_retried_logout_of_a_session_that_already_ended_publishes_its_revocation() {
    let (services, _) = builder().build().await;
    let (session, subject) = ended_unpublished(&services).await;
    logout(&services, &rid(), Ok(session.refresh)).await.unwrap();
    assert!(matches!(services.revocations.check(&subject), Err(ApiError::SessionRevoked)));
}

#[actix_web::test]
async fn a_retried_refresh_of_a_session_that_already_ended_publishes_its_revocation() {
    let (services, _) = builder().build().await;
    let (session, subject) = ended_unpublished(&services).await;
    assert!(matches!(refresh(&services, &rid(), Ok(session.refresh)).await, Ok(Refresh::Refused(ApiError::InvalidRefreshToken))));
    assert!(matches!(services.revocations.check(&subject), Err(ApiError::SessionRevoked)));
}

#[actix_web::test]
async fn a_made_up_token_of_an_ended_session_publishes_nothing() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (services, _) = builder().build().await;
    let (session, subject) = ended_unpublished(&services).await;
    // The family id (the session id) kept, the rest made up: no valid tag.
    let mut bytes = URL_SAFE_NO_PAD.decode(session.refresh.encode()).unwrap();
    bytes[16..].fill(7);
    let made_up = RefreshToken::parse(&URL_SAFE_NO_PAD.encode(bytes)).unwrap();
    assert_eq!(made_up.family(), session.refresh.family());
    logout(&services, &rid(), Ok(made_up.clone())).await.unwrap();
    assert!(matches!(refresh(&services, &rid(), Ok(made_up)).await, Ok(Refresh::Refused(ApiError::InvalidRefreshToken))));
    assert!(services.revocations.check(&subject).is_ok(), "a guess of the session id revokes nothing");
}
