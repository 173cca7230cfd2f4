//! Outcomes of logins, registrations and logouts, read from the finished response by the
//! request middleware, so every early return of a handler is counted the same way.

use actix_web::dev::ServiceResponse;

use crate::error::ApiError;

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

/// Counts the outcome when the route is login, register or logout, and a refresh that failed
/// with a 5xx (the refresh handler counts the outcomes it decides itself).
pub fn record<B>(route: &str, res: &ServiceResponse<B>) {
    match route {
        "/auth/refresh" | "/auth/refreshAccessToken" if res.status().is_server_error() => super::refresh_outcome("error"),
        _ => super::auth_outcome(route, outcome(res)),
    }
}
