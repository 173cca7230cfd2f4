//! The variables' defaults, checks and error messages.

use std::net::IpAddr;

use super::*;

fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Config::from_map(&map)
}

const SECRET: (&str, &str) = ("JWT_SECRET", "vLa00q66yVlBaJt62MidNXm1MUofIAcB0dxFuOuc+Qpd");

#[test]
fn defaults_apply_when_only_the_secret_is_set() {
    let c = config(&[SECRET]).unwrap();
    assert_eq!(c.http.port, 3001);
    assert_eq!(c.cookies.name, "jwt");
    assert_eq!(c.tokens.access_token_ttl, Duration::from_secs(300));
    assert_eq!(c.tokens.refresh_token_ttl, Duration::from_secs(172_800));
    assert_eq!(c.cookies.device_ttl, Duration::from_secs(31_536_000));
    assert_eq!((c.argon2.m_kib, c.argon2.t, c.argon2.p), (19_456, 2, 1));
}

#[test]
fn production_without_a_secret_fails_naming_the_variable() {
    let err = config(&[("GATEHOUSE_ENV", "production")]).unwrap_err().to_string();
    assert!(err.contains("JWT_SECRET"), "{err}");
    let err = config(&[("DATABASE_URL", "postgres://db/gatehouse")]).unwrap_err().to_string();
    assert!(err.contains("JWT_SECRET"), "a PostgreSQL URL means production: {err}");
}

#[test]
fn nothing_set_means_the_embedded_development_setup() {
    let c = config(&[]).unwrap();
    assert_eq!(c.mode, Mode::Development);
    assert_eq!(c.stores.database, Database::Sqlite("sqlite://data/gatehouse.db".into()));
    assert_eq!(c.stores.token_store, TokenStoreKind::Memory);
    let c = config(&[("DATA_DIR", "/var/lib/gh"), ("DATABASE_URL", "sqlite::memory:")]).unwrap();
    assert_eq!(c.stores.database, Database::Sqlite("sqlite::memory:".into()));
}

#[test]
fn urls_select_the_engines_and_bad_ones_are_named_without_their_password() {
    let c = config(&[SECRET, ("DATABASE_URL", "postgres://u:pw@db/gh"), ("REDIS_URL", "redis://cache:6379")]).unwrap();
    assert_eq!(c.stores.database, Database::Postgres("postgres://u:pw@db/gh".into()));
    assert_eq!(c.stores.token_store, TokenStoreKind::Redis(RedisTarget::Node { url: "redis://cache:6379".into() }));
    let err = config(&[SECRET, ("DATABASE_URL", "mysql://u:hunter2@db/gh")]).unwrap_err().to_string();
    assert!(err.contains("DATABASE_URL") && !err.contains("hunter2"), "{err}");
}

#[test]
fn a_short_secret_is_refused() {
    let err = config(&[("JWT_SECRET", "short")]).unwrap_err().to_string();
    assert!(err.contains("JWT_SECRET") && err.contains("32"), "{err}");
}

#[test]
fn a_made_up_secret_is_refused_in_production_only() {
    for weak in ["test-secret-test-secret-test-secret-0123", "0123456789abcdef0123456789abcdef", &"x".repeat(64)] {
        let err = config(&[("GATEHOUSE_ENV", "production"), ("JWT_SECRET", weak)]).unwrap_err().to_string();
        assert!(err.contains("JWT_SECRET") && err.contains("openssl rand -base64 48"), "{err}");
        assert!(!err.contains(weak), "the message never repeats the secret: {err}");
        let dev = config(&[("GATEHOUSE_ENV", "development"), ("JWT_SECRET", weak)]).unwrap();
        assert_eq!(dev.tokens.jwt_secret.as_deref(), Some(weak.as_bytes()), "development warns and goes on");
    }
    assert!(config(&[("GATEHOUSE_ENV", "production"), SECRET]).is_ok());
}

#[test]
fn development_mode_runs_without_a_secret() {
    let c = config(&[("GATEHOUSE_ENV", "development")]).unwrap();
    assert!(c.tokens.jwt_secret.is_none());
}

#[test]
fn a_bad_value_names_its_variable() {
    for (name, value) in [
        ("PORT", "http"),
        ("ACCESS_TOKEN_TTL", "-1"),
        ("COOKIE_SAMESITE", "sometimes"),
        ("HASHER_THREADS", "0"),
        ("HASHER_NICE", "-5"),
        ("HASHER_NICE", "20"),
        ("ARGON2_M_KIB", "1"),
        ("DEVICE_COOKIE_TTL", "0"),
        ("DEVICE_COOKIE_TTL", "34560001"),
    ] {
        let err = config(&[SECRET, (name, value)]).unwrap_err().to_string();
        assert!(err.contains(name), "{name}: {err}");
    }
}

#[test]
fn connection_bounds_default_and_refuse_nonsense() {
    let c = config(&[SECRET]).unwrap();
    assert_eq!((c.http.body_read_timeout, c.http.max_connections_per_ip, c.http.max_connections), (Duration::from_secs(10), 64, None));
    let c = config(&[SECRET, ("MAX_CONNECTIONS_PER_IP", "0"), ("MAX_CONNECTIONS", "5000")]).unwrap();
    assert_eq!((c.http.max_connections_per_ip, c.http.max_connections), (0, Some(5000)));
    for (name, value) in
        [("BODY_READ_TIMEOUT", "0"), ("BODY_READ_TIMEOUT", "soon"), ("MAX_CONNECTIONS", "0"), ("MAX_CONNECTIONS_PER_IP", "-1")]
    {
        let err = config(&[SECRET, (name, value)]).unwrap_err().to_string();
        assert!(err.contains(name), "{name}={value}: {err}");
    }
}

#[test]
fn trusted_proxies_parse_as_addresses_or_blocks() {
    let c = config(&[SECRET, ("TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7, ::1")]).unwrap();
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert!(c.http.trusted_proxies[0].contains(ip("10.200.3.4")));
    assert!(!c.http.trusted_proxies[0].contains(ip("11.0.0.1")));
    assert!(c.http.trusted_proxies[1].contains(ip("192.168.1.7")));
    assert!(!c.http.trusted_proxies[1].contains(ip("192.168.1.8")));
    assert!(c.http.trusted_proxies[2].contains(ip("::1")));
    assert!(c.http.trusted_proxies[0].contains(ip("::ffff:10.1.2.3")), "IPv4-mapped IPv6 peers match IPv4 blocks");
    let err = config(&[SECRET, ("TRUSTED_PROXIES", "10.0.0.0/33")]).unwrap_err().to_string();
    assert!(err.contains("TRUSTED_PROXIES"), "{err}");
}

#[test]
fn cookie_prefixes_are_checked() {
    let err = config(&[SECRET, ("COOKIE_NAME", "__Host-session"), ("COOKIE_SECURE", "true")]).unwrap_err().to_string();
    assert!(err.contains("COOKIE_NAME") && err.contains("__Secure-"), "{err}");
    assert!(config(&[SECRET, ("COOKIE_NAME", "__Secure-session")]).is_err());
    assert!(config(&[SECRET, ("COOKIE_NAME", "__Secure-session"), ("COOKIE_SECURE", "true")]).is_ok());
}

#[test]
fn samesite_none_requires_secure() {
    assert!(config(&[SECRET, ("COOKIE_SAMESITE", "None")]).is_err());
    assert!(config(&[SECRET, ("COOKIE_SAMESITE", "None"), ("COOKIE_SECURE", "true")]).is_ok());
}

#[test]
fn the_secret_never_prints() {
    let c = config(&[SECRET]).unwrap();
    assert!(!format!("{c:?}").contains(SECRET.1));
}

#[test]
fn signing_defaults_to_eddsa_and_each_bad_value_names_its_variable() {
    let c = config(&[SECRET]).unwrap();
    assert_eq!(c.signing.algorithm, crate::keys::Algorithm::EdDSA);
    assert_eq!(
        (c.signing.key_lifetime, c.signing.jwks_max_age, c.signing.key_refresh),
        (Duration::from_secs(2_592_000), Duration::from_secs(300), Duration::from_secs(60))
    );
    let policy = c.signing.policy(&c.tokens);
    assert_eq!(policy.publish_ahead, Duration::from_secs(360), "JWKS_MAX_AGE + SIGNING_KEY_REFRESH");
    assert_eq!(policy.keep_after_retire, Duration::from_secs(365), "SIGNING_KEY_REFRESH + ACCESS_TOKEN_TTL + JWT_LEEWAY");
    assert_eq!(config(&[SECRET, ("JWT_ALGORITHM", "ES256")]).unwrap().signing.algorithm, crate::keys::Algorithm::ES256);
    for (name, value) in [
        ("JWT_ALGORITHM", "RS256"),
        ("JWT_ALGORITHM", "eddsa"),
        ("JWT_ALGORITHM", "none"),
        ("SIGNING_KEY_LIFETIME", "0"),
        ("SIGNING_KEY_REFRESH", "0"),
        ("JWKS_MAX_AGE", "-1"),
    ] {
        let err = config(&[SECRET, (name, value)]).unwrap_err().to_string();
        assert!(err.contains(name), "{name}={value}: {err}");
    }
}

#[test]
fn mail_and_account_settings_have_defaults_and_bad_ones_are_named() {
    let c = config(&[SECRET]).unwrap();
    assert!(c.mail.smtp_url.is_none(), "no SMTP_URL: .eml files");
    assert_eq!(c.mail.app_url, "http://localhost:5173");
    assert_eq!(c.account.password_reset_ttl, Duration::from_secs(1800));
    assert!(!c.account.require_verified_email);
    let c = config(&[SECRET, ("APP_URL", "https://app.example.com/"), ("SMTP_URL", "smtps://u:p@mail.example.com:465")]).unwrap();
    assert_eq!(c.mail.app_url, "https://app.example.com", "no trailing slash");
    assert_eq!(c.mail.smtp_url.as_deref(), Some("smtps://u:p@mail.example.com:465"));

    let err = config(&[SECRET, ("SMTP_URL", "http://user:hunter2@mail.example.com")]).unwrap_err().to_string();
    assert!(err.contains("SMTP_URL") && !err.contains("hunter2"), "{err}");
    for (name, value) in
        [("MAIL_FROM", "not an address"), ("APP_URL", "app.example.com"), ("MAIL_MAX_ATTEMPTS", "0"), ("PASSWORD_RESET_TTL", "0")]
    {
        let err = config(&[SECRET, (name, value)]).unwrap_err().to_string();
        assert!(err.contains(name), "{name}: {err}");
    }
}

#[test]
fn a_redis_cluster_or_sentinels_are_chosen_by_their_own_variables() {
    let c = config(&[("REDIS_CLUSTER_NODES", "10.0.0.1:7000, 10.0.0.2:7001,[::1]:7002")]).unwrap();
    let nodes = vec![("10.0.0.1".to_string(), 7000), ("10.0.0.2".to_string(), 7001), ("::1".to_string(), 7002)];
    assert_eq!(c.stores.token_store, TokenStoreKind::Redis(RedisTarget::Cluster { nodes, url: None }));
    let c =
        config(&[("REDIS_SENTINELS", "s1:26379,s2:26379"), ("REDIS_SENTINEL_MASTER", "main"), ("REDIS_URL", "redis://:pw@x/2")]).unwrap();
    let TokenStoreKind::Redis(RedisTarget::Sentinel { sentinels, master, url }) = c.stores.token_store else { panic!("sentinels") };
    assert_eq!((sentinels.len(), master.as_str(), url.as_deref()), (2, "main", Some("redis://:pw@x/2")));
}

#[test]
fn conflicting_or_incomplete_redis_deployments_stop_start_up_naming_the_variables() {
    // The variables set, and the names the error must mention.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: &[Case] = &[
        (
            &[("REDIS_CLUSTER_NODES", "a:1"), ("REDIS_SENTINELS", "b:2"), ("REDIS_SENTINEL_MASTER", "m")],
            &["REDIS_CLUSTER_NODES", "REDIS_SENTINELS"],
        ),
        (&[("REDIS_CLUSTER_NODES", "a:1"), ("REDIS_SENTINEL_MASTER", "m")], &["REDIS_CLUSTER_NODES", "REDIS_SENTINEL_MASTER"]),
        (&[("REDIS_SENTINELS", "b:2")], &["REDIS_SENTINEL_MASTER"]),
        (&[("REDIS_SENTINEL_MASTER", "m")], &["REDIS_SENTINELS"]),
        (&[("REDIS_CLUSTER_NODES", "a:1"), ("REDIS_URL", "redis://a/3")], &["REDIS_URL", "REDIS_CLUSTER_NODES"]),
        (&[("REDIS_CLUSTER_NODES", "a")], &["REDIS_CLUSTER_NODES"]),
        (&[("REDIS_SENTINELS", "b:x"), ("REDIS_SENTINEL_MASTER", "m")], &["REDIS_SENTINELS"]),
    ];
    for (vars, named) in cases {
        let err = config(vars).unwrap_err().to_string();
        assert!(named.iter().all(|n| err.contains(n)), "{vars:?}: {err}");
    }
}
