//! Fault injection: gatehouse replicas (the real binary) over their own PostgreSQL and Redis on
//! private loopback ports, which the tests crash, freeze and restart mid-traffic; the outcomes
//! are asserted from the clients' side. See docs/reliability.md.

mod bodies;
mod consistency;
mod dependencies;
mod gatehouse;
mod overload;
#[path = "../common/raw_http.rs"]
mod raw_http;
mod replicas;
mod services;
mod shutdown;
mod slow_clients;
