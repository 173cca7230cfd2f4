//! gatehouse: an authentication service. Argon2id passwords, short-lived JWT access tokens,
//! rotating refresh tokens in an HttpOnly cookie; the work is done by actors.

pub mod account_store;
pub mod actors;
pub mod admin;
pub mod audit;
pub mod auth;
pub mod body_deadline;
pub mod bounded;
pub mod client;
pub mod config;
pub mod connections;
pub mod cookie;
pub mod device_cookie;
pub mod domain;
pub mod envelope;
pub mod error;
pub mod extract;
pub mod healthcheck;
pub mod keys;
pub mod mail;
pub mod metrics;
pub mod middleware;
pub mod per_thread;
pub mod revocation;
pub mod routes;
pub mod schema;
pub mod secret;
pub mod startup;
pub mod state;
pub mod store_arbiters;
pub mod telemetry;
pub mod throttle;
pub mod timeout;
pub mod tokens;
