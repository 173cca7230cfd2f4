//! What a route is: its method, path and success response (`#[utoipa::path]` on the handler),
//! the listener that serves it, the failures it may answer with and the outcome counter it
//! feeds, declared once beside the handler and read by the route tables, the OpenAPI documents
//! and the request metrics.

use std::time::Duration;

use actix_web::http::Method;
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::{RefOr, schema::Schema};

use crate::error::{ApiError, Dependency};
use crate::metrics::auth::Counter;

/// A route's declaration: `#[utoipa::path(impl_for = ...)]` on the handler gives the method, the
/// path and the success response; this trait, implemented beside it, the rest.
///
/// `Tags` and `SchemaReferences` are the (hidden) traits utoipa's own `#[derive(OpenApi)]` reads
/// to collect an operation's tag and body schemas; the document is assembled from the table
/// instead of that derive, so that the table is the one list of routes. A utoipa upgrade that
/// changes them fails to compile here, not silently.
pub trait Declared: utoipa::Path + utoipa::__dev::Tags<'static> + utoipa::__dev::SchemaReferences {
    /// The failures this route may answer with, in groups, beyond `EVERY_ROUTE`.
    const ERRORS: &'static [&'static [ApiError]];
    /// The outcome counter the request middleware records this route's answers in.
    const COUNTER: Option<Counter> = None;
    /// The listener that serves it: the public port unless it says otherwise.
    const LISTENER: &'static Listener = &PUBLIC;
}

/// A listener, as its routes' answers and its document see it: what any request there may be
/// answered with besides its route's own failures, and the answers no operation makes.
pub struct Listener {
    /// The setting that names its address.
    pub setting: &'static str,
    pub every_route: &'static [ApiError],
    pub unrouted: &'static [ApiError],
}

/// The public port (`PORT`): the connection limit and the refusal of encoded bodies apply to
/// every request, and CORS preflights are answered.
pub const PUBLIC: Listener = Listener { setting: "PORT", every_route: EVERY_ROUTE, unrouted: UNROUTED };

/// The management listener (`METRICS_ADDR`): no middleware, no CORS; an unknown path is 404 and
/// a method a path does not serve 405, as on the public port.
pub const MANAGEMENT: Listener =
    Listener { setting: "METRICS_ADDR", every_route: &[], unrouted: &[ApiError::NotFound, ApiError::MethodNotAllowed] };

/// Every request, on every route, may be one connection too many for its client, and is refused
/// when it carries a Content-Encoding.
pub const EVERY_ROUTE: &[ApiError] = &[ApiError::TooManyConnections, ApiError::UnsupportedContentEncoding];

/// The framework's rejections of a JSON body (the limit is an example: the document cannot know
/// the configured one).
pub const JSON_BODY: &[ApiError] = &[
    ApiError::InvalidJson(String::new()),
    ApiError::RequestTimeout,
    ApiError::PayloadTooLarge { limit: 16_384 },
    ApiError::UnsupportedMediaType,
];

/// Routes that take `CheckedOrigin`.
pub const ORIGIN_CHECKED: &[ApiError] = &[ApiError::OriginNotAllowed];

/// Routes that count attempts and admit work to the hasher.
pub const THROTTLED: &[ApiError] =
    &[ApiError::RateLimited { retry_after: Duration::from_secs(60) }, ApiError::Overloaded { retry_after: Duration::from_secs(1) }];

/// Routes that take a bearer access token (`AuthenticatedUser`): a missing, malformed, expired
/// or revoked token, or a replica out of touch with revocations past `REVOCATION_FAIL_OPEN`.
pub const BEARER: &[ApiError] = &[
    ApiError::MissingAccessToken,
    ApiError::InvalidAccessToken,
    ApiError::ExpiredAccessToken,
    ApiError::SessionRevoked,
    ApiError::Unavailable(Dependency::TokenStore),
];

/// Routes that need every store: the user repository, the token store and the hasher.
pub const ALL_STORES: &[ApiError] = &[
    ApiError::Unavailable(Dependency::Database),
    ApiError::Unavailable(Dependency::TokenStore),
    ApiError::Unavailable(Dependency::Hasher),
    ApiError::Internal,
];

/// Answers that belong to no operation, since no documented method and path makes them: an
/// unknown path, a method the path does not serve, a refused CORS preflight (`OPTIONS`). The
/// document lists them once, under `components.responses`.
pub const UNROUTED: &[ApiError] = &[ApiError::NotFound, ApiError::MethodNotAllowed, ApiError::CorsPreflightRejected];

/// One route's facts, as the route table and the document read them.
pub struct Facts {
    pub method: Method,
    pub http_method: HttpMethod,
    pub path: String,
    pub operation: Operation,
    pub schemas: Vec<(String, RefOr<Schema>)>,
    pub errors: Vec<&'static ApiError>,
    pub counter: Option<Counter>,
    pub listener: &'static Listener,
}

impl Facts {
    pub fn of<R: Declared>() -> Facts {
        let methods = R::methods();
        assert_eq!(methods.len(), 1, "{}: a route serves one method", R::path());
        let http_method = methods[0].clone();
        let mut operation = R::operation();
        // A handler's doc comment is written for readers of the code (it names internals); what
        // the document says comes from the attribute's descriptions.
        operation.summary = None;
        operation.description = None;
        if operation.tags.is_none() {
            operation.tags = Some(R::tags().into_iter().map(str::to_string).collect());
        }
        let mut schemas = Vec::new();
        R::schemas(&mut schemas);
        let errors = R::ERRORS.iter().flat_map(|group| group.iter()).chain(R::LISTENER.every_route).collect();
        Facts {
            method: method_of(&http_method),
            http_method,
            path: R::path(),
            operation,
            schemas,
            errors,
            counter: R::COUNTER,
            listener: R::LISTENER,
        }
    }
}

fn method_of(method: &HttpMethod) -> Method {
    match method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Trace => Method::TRACE,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use actix_web::ResponseError;

    use super::*;

    /// Each listener's document and the facts of its routes.
    fn documents() -> [(serde_json::Value, Vec<Facts>, &'static Listener); 2] {
        use crate::routes::{admin, openapi, table};
        [(openapi::document(), table(), &PUBLIC), (openapi::admin_document(), admin::table(), &MANAGEMENT)]
    }

    #[test]
    fn every_declared_failure_is_listed_in_the_document_under_its_status() {
        for (doc, table, listener) in documents() {
            every_failure_is_listed(&doc, &table, listener);
        }
    }

    fn every_failure_is_listed(doc: &serde_json::Value, table: &[Facts], listener: &Listener) {
        for facts in table {
            let responses = &doc["paths"][&facts.path][facts.method.as_str().to_lowercase()]["responses"];
            for error in &facts.errors {
                let status = error.status_code().as_u16().to_string();
                let codes = &responses[&status]["content"]["application/json"]["schema"]["properties"]["content"]["properties"]["error_code"]
                    ["enum"];
                let listed = codes.as_array().is_some_and(|codes| codes.iter().any(|c| c == error.code()));
                assert!(listed, "{} {} declares {} {} but the document does not list it", facts.method, facts.path, status, error.code());
            }
        }
        for error in listener.unrouted.iter().chain(listener.every_route) {
            assert_eq!(
                doc["components"]["responses"][error.code()]["content"]["application/json"]["schema"]["properties"]["status"]["const"],
                error.status_code().as_u16()
            );
        }
    }

    #[test]
    fn no_two_routes_share_a_method_and_path_or_an_operation_id() {
        for (_, table, _) in documents() {
            let routes: HashSet<_> = table.iter().map(|f| (f.method.clone(), f.path.clone())).collect();
            let ids: HashSet<_> = table.iter().map(|f| f.operation.operation_id.clone()).collect();
            assert_eq!(routes.len(), table.len());
            assert_eq!(ids.len(), table.len());
        }
    }

    #[test]
    fn each_listener_serves_the_routes_that_declare_it() {
        for (_, table, listener) in documents() {
            for facts in table {
                assert_eq!(facts.listener.setting, listener.setting, "{} {} is in another listener's table", facts.method, facts.path);
                // The admin API's paths are the management listener's, and only its.
                assert_eq!(facts.path.starts_with("/admin/"), listener.setting == MANAGEMENT.setting, "{} {}", facts.method, facts.path);
            }
        }
    }

    #[test]
    fn the_routes_that_take_the_refresh_cookie_document_the_origin_check() {
        let doc = crate::routes::openapi::document();
        for (method, path) in [
            ("post", "/auth/register"),
            ("post", "/auth/login"),
            ("post", "/auth/refresh"),
            ("get", "/auth/refreshAccessToken"),
            ("post", "/auth/logout"),
        ] {
            let codes = &doc["paths"][path][method]["responses"]["403"]["content"]["application/json"]["schema"]["properties"]["content"]["properties"]
                ["error_code"]["enum"];
            assert!(codes.as_array().is_some_and(|c| c.contains(&serde_json::json!("ORIGIN_NOT_ALLOWED"))), "{method} {path}: {codes}");
        }
    }
}
