//! Behind trusted proxies: which client a request forwarded by a load balancer is counted as.
//!
//! The test client connects from 127.0.0.1, which each test trusts as its proxy, and writes the
//! `X-Forwarded-For` lines that proxy would send: the client's own lines first, then what the
//! proxy adds.

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, spawn_app_with};

/// `POST /auth/login` with these `X-Forwarded-For` lines, in this order.
async fn login_via(app: &TestApp, lines: &[&str], body: &Value) -> u16 {
    let mut request = app.client.post(app.url("/auth/login"));
    for line in lines {
        request = request.header("X-Forwarded-For", *line);
    }
    request.json(body).send().await.unwrap().status().as_u16()
}

async fn behind_a_proxy(per_ip: &str) -> TestApp {
    spawn_app_with(&[("THROTTLE_LOGIN_PER_IP", per_ip), ("THROTTLE_PER_ACCOUNT", "0"), ("TRUSTED_PROXIES", "127.0.0.1/32")]).await
}

#[actix_web::test]
async fn one_client_exhausting_its_login_limit_behind_a_proxy_locks_out_no_one_else() {
    let app = behind_a_proxy("3").await;
    let user = app.register_user().await;
    let wrong = json!({"username": user.username, "password": "a wrong guess"});
    let right = json!({"username": user.username, "password": PASSWORD});

    // The attacker, 203.0.113.66, behind HAProxy (`option forwardfor`: a line of its own, last),
    // writing whatever it likes in lines of its own and showing up with a port or IPv4-mapped.
    let attacker: [&[&str]; 3] =
        [&["198.51.100.10", "203.0.113.66"], &["198.51.100.11, 127.0.0.1", "203.0.113.66:40001"], &["", "[::ffff:203.0.113.66]:40002"]];
    for lines in attacker {
        assert_eq!(login_via(&app, lines, &wrong).await, 401, "{lines:?}");
    }
    assert_eq!(login_via(&app, &["198.51.100.12", "203.0.113.66"], &right).await, 429, "its fourth attempt is refused, whatever it claims");

    // Other clients keep their own counts: behind nginx (appended to the client's line) even
    // when that line names the attacker, behind an ALB with a port, behind Envoy over IPv6.
    assert_eq!(login_via(&app, &["203.0.113.66, 198.51.100.20:5555"], &right).await, 200);
    assert_eq!(login_via(&app, &["198.51.100.21:443"], &right).await, 200);
    assert_eq!(login_via(&app, &["203.0.113.66,2001:db8:5::1"], &right).await, 200);
    // And the proxy itself, for requests that name no client, was never the attacker's bucket.
    assert_eq!(login_via(&app, &[], &right).await, 200);
}

#[actix_web::test]
async fn ipv6_clients_behind_a_proxy_are_counted_by_their_64() {
    let app = behind_a_proxy("2").await;
    let user = app.register_user().await;
    let wrong = json!({"username": user.username, "password": "a wrong guess"});
    let right = json!({"username": user.username, "password": PASSWORD});
    assert_eq!(login_via(&app, &["[2001:db8:1:1::1]:1000"], &wrong).await, 401);
    assert_eq!(login_via(&app, &["2001:db8:1:1::2"], &wrong).await, 401);
    assert_eq!(login_via(&app, &["2001:db8:1:1:ffff::3"], &right).await, 429, "a new address in the same /64 is the same client");
    assert_eq!(login_via(&app, &["2001:db8:1:2::1"], &right).await, 200, "the next /64 is another client");
}
