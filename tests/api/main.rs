//! API tests: the real server on port 0, each test with its own PostgreSQL database and Redis
//! key prefix. One binary, one module per endpoint.

mod admin;
mod cluster_scripts;
#[path = "../common/mod.rs"]
mod common;
mod compressed_bodies;
mod dashboards;
mod delete_me;
mod demo_client;
mod device_cookie;
mod email_verification;
mod embedded;
mod forged_tokens;
mod forgot_timing;
mod health;
mod helpers;
mod hostile_input;
mod http_layer;
mod keys;
mod login;
mod logout;
mod mail_files;
mod me;
mod metrics;
mod openapi;
mod origin;
mod password_change;
mod password_reset;
mod passwords;
mod ping;
mod proxies;
mod refresh;
mod register;
mod resource_server;
mod secrets;
mod sessions;
mod slow_clients;
mod throttle;
mod thunder_client;

// The raw-HTTP helpers under the name the tests use.
use common::raw_http;
