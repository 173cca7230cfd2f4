//! API tests: the real server on port 0, each test with its own PostgreSQL database and Redis
//! key prefix. One binary, one module per endpoint.

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
#[path = "../common/raw_http.rs"]
mod raw_http;
mod refresh;
mod register;
mod secrets;
mod slow_clients;
mod throttle;
mod thunder_client;
