//! Outcomes of logins, registrations and logouts (a refresh's are counted by its flow), read from the finished response by
//! the request middleware, so every early return of a handler is counted the same way. Which
//! counter a route feeds is one of its declared facts (`routes::facts::Declared::COUNTER`),
//! carried to the middleware as the resource's data: no route strings are matched here.

use actix_web::dev::ServiceResponse;

use crate::error::ApiError;

/// The outcome counter a route's requests are recorded in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    Logins,
    Registrations,
    Logouts,
}

/// `success`, `failure` (wrong credentials), `conflict` (name or email taken), `throttled`,
/// `shed` (hasher queue full), `error` (a dependency or the service failed) or `rejected`
/// (a malformed or invalid request).
pub fn outcome<B>(res: &ServiceResponse<B>) -> &'static str {
    let status = res.status();
    if status.is_success() {
        return "success";
    }
    match res.response().error().and_then(|e| e.as_error::<ApiError>()) {
        Some(ApiError::InvalidCredentials) => "failure",
        Some(ApiError::UsernameTaken | ApiError::EmailTaken) => "conflict",
        Some(ApiError::RateLimited { .. }) => "throttled",
        Some(ApiError::Overloaded { .. }) => "shed",
        _ if status.is_server_error() => "error",
        _ => "rejected",
    }
}

/// Counts the outcome in the route's counter, if it has one.
pub fn record<B>(counter: Option<Counter>, res: &ServiceResponse<B>) {
    let name = match counter {
        None => return,
        Some(Counter::Logins) => super::LOGINS,
        Some(Counter::Registrations) => super::REGISTRATIONS,
        Some(Counter::Logouts) => super::LOGOUTS,
    };
    metrics::counter!(name, "outcome" => outcome(res)).increment(1);
}
