//! A real resource server that is not gatehouse: `tests/resource_server/server.mjs`, built on
//! `jose` from npm and given only the JWKS URL, accepts gatehouse's access tokens across
//! rotations and refuses forged and expired ones. The test installs `jose` when it is missing
//! (`npm ci`), and fails rather than skips when Node.js is not there.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::common::free_port;
use crate::helpers::{TEST_SECRET, spawn_app_with};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/resource_server");

/// The Node.js process, killed when the test ends however it ends.
struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Installs `jose` from the lock file when it is not there yet.
fn install() {
    if std::path::Path::new(DIR).join("node_modules/jose/package.json").exists() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(DIR)
        .status()
        .expect("npm runs (Node.js is required by this test: scripts/test installs it)");
    assert!(status.success(), "npm ci failed in {DIR}");
}

fn start(jwks_url: &str) -> (Node, String) {
    install();
    let port = free_port();
    let mut child = Command::new("node")
        .args(["server.mjs", jwks_url, &port.to_string(), "gatehouse", "gatehouse"])
        .current_dir(DIR)
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs (Node.js is required by this test: scripts/test installs it)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "listening", "the resource server started");
    (Node(child), format!("http://127.0.0.1:{port}/protected"))
}

async fn ask(client: &reqwest::Client, url: &str, token: &str) -> (u16, Value) {
    let resp = client.get(url).bearer_auth(token).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn kid_of(token: &str) -> String {
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_string()
}

#[actix_web::test]
async fn a_jose_resource_server_accepts_tokens_across_rotations_and_refuses_forged_or_expired_ones() {
    let app = spawn_app_with(&[("SIGNING_KEY_REFRESH", "1"), ("JWKS_MAX_AGE", "1"), ("ACCESS_TOKEN_TTL", "4"), ("JWT_LEEWAY", "0")]).await;
    let (_node, url) = start(&app.url("/.well-known/jwks.json"));
    let client = reqwest::Client::new();
    let user = app.register_user().await;

    let (status, body) = ask(&client, &url, &user.access_token).await;
    assert_eq!((status, body["sub"].as_str()), (200, Some(user.user_id.as_str())), "{body}");

    // A rotation: the next key, which the resource server fetched with the first JWKS, signs.
    let mut refresh = user.refresh.clone();
    let mut tokens = vec![user.access_token.clone()];
    for rotation in 1..=2 {
        let kid = app.keys.rotate_now().await.unwrap();
        let resp = app.refresh(&refresh).await;
        assert_eq!(resp.status(), 200);
        refresh = app.refresh_cookie(&resp).unwrap().value;
        let token = crate::helpers::body(resp).await["content"]["access_token"].as_str().unwrap().to_string();
        assert_eq!(kid_of(&token), kid, "rotation {rotation}");
        // After the second rotation the key is one the resource server has not fetched yet: it
        // fetches the JWKS again on meeting the kid (after its one-second cooldown).
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, body) = ask(&client, &url, &token).await;
            if status == 200 {
                assert_eq!(body["kid"].as_str(), Some(kid.as_str()));
                break;
            }
            assert!(Instant::now() < deadline, "rotation {rotation}: the resource server refuses the new key's token: {body}");
            actix_web::rt::time::sleep(Duration::from_millis(200)).await;
        }
        for (i, earlier) in tokens.iter().enumerate() {
            let (status, body) = ask(&client, &url, earlier).await;
            let exp = crate::helpers::body_of_token(earlier)["exp"].as_i64().unwrap();
            if chrono::Utc::now().timestamp() + 1 < exp {
                assert_eq!(status, 200, "rotation {rotation}: token {i}, signed before it, still verifies: {body}");
            }
        }
        tokens.push(token);
    }

    // Forgeries: a changed payload, a key of another deployment under the current kid, HS256
    // with the service's own secret, and alg none.
    let current = tokens.last().unwrap().clone();
    let parts: Vec<&str> = current.split('.').collect();
    let mut claims = crate::helpers::body_of_token(&current);
    claims["sub"] = json!(uuid::Uuid::now_v7());
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    let tampered = format!("{}.{}.{}", parts[0], b64(&claims), parts[2]);
    let elsewhere = {
        use ed25519_dalek::Signer;
        let key = ed25519_dalek::SigningKey::from_bytes(&rand::random::<[u8; 32]>());
        let input = format!("{}.{}", parts[0], parts[1]);
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes()).to_bytes()))
    };
    let hs256 = {
        use hmac::{Hmac, Mac};
        let input = format!("{}.{}", b64(&json!({"alg": "HS256", "typ": "at+jwt", "kid": kid_of(&current)})), parts[1]);
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(TEST_SECRET.as_bytes()).unwrap();
        mac.update(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    };
    let none = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "at+jwt", "kid": kid_of(&current)})), parts[1]);
    for (what, token) in
        [("tampered", &tampered), ("another deployment's key", &elsewhere), ("HS256 with the secret", &hs256), ("alg none", &none)]
    {
        let (status, body) = ask(&client, &url, token).await;
        assert_eq!(status, 401, "{what}: {body}");
    }
    assert_eq!(ask(&client, &url, &current).await.0, 200, "the honest token they were made from");

    // Expiry: the first token's lifetime ends.
    let exp = crate::helpers::body_of_token(&tokens[0])["exp"].as_i64().unwrap();
    while chrono::Utc::now().timestamp() <= exp {
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, body) = ask(&client, &url, &tokens[0]).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("ERR_JWT_EXPIRED")), "{body}");
}
