//! API tests: the real server on port 0, each test with its own PostgreSQL database and Redis
//! key prefix. One binary, one module per endpoint.

mod admin;
#[path = "../common/mod.rs"]
mod common;
mod compressed_bodies;
mod dashboards;
mod demo_client;
mod device_cookie;
mod embedded;
mod forged_tokens;
mod health;
mod helpers;
mod hostile_input;
mod http_layer;
mod login;
mod logout;
mod me;
mod metrics;
mod openapi;
mod origin;
mod passwords;
mod ping;
mod proxies;
mod refresh;
mod register;
mod secrets;
mod sessions;
mod slow_clients;
mod throttle;
mod thunder_client;

// The raw-HTTP helpers under the name the tests use.
use common::raw_http;
