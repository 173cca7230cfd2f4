//! Fault injection: gatehouse replicas (the real binary) over their own PostgreSQL and Redis on
//! private loopback ports, which the tests crash, freeze and restart mid-traffic; the outcomes
//! are asserted from the clients' side. See docs/reliability.md.

mod bodies;
#[path = "../common/mod.rs"]
mod common;
mod consistency;
mod dependencies;
mod gatehouse;
mod mail;
mod overload;
mod pauses;
mod redis_deployments;
mod replicas;
mod revocation;
mod services;
mod shutdown;
mod slow_clients;

// The raw-HTTP helpers under the name the tests use.
use common::raw_http;
