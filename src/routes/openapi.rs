//! `GET /openapi.json`: the OpenAPI 3.1 document, generated from the code.
//!
//! Bodies are the schemas of the very types the handlers serialise (`ToSchema` derives on
//! `Envelope`, `User`, the request and session types, `Readiness`); the error responses of each
//! operation are rendered from `ApiError` itself (status, `error_code`, `error_type`, message),
//! so a renamed code or a changed status shows up here without anyone editing this file. The
//! operations below are declarations only: a test checks that each one is routed, and CI runs
//! schemathesis against the live service with this document.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::auth::{AccessTokenBody, LoginRequest, RegisterRequest, SessionBody};
use super::health::{Checks, Readiness};
use crate::actors::User;
use crate::domain::ValidationError;
use crate::envelope::Envelope;
use crate::error::{ApiError, Dependency};

/// Usernames as `Username::parse` accepts them (3 to 32 characters): ASCII letters and digits,
/// `.`, `_`, `-` and single inner spaces, a letter or digit at each end.
pub const USERNAME_PATTERN: &str = "^[A-Za-z0-9]([A-Za-z0-9._-]| [A-Za-z0-9._-])*[A-Za-z0-9]$";
/// A subset of what `Email::parse` accepts, plain enough for every client to check.
pub const EMAIL_PATTERN: &str =
    "^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9]([A-Za-z0-9-]{0,30}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,30}[A-Za-z0-9])?)+$";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "gatehouse",
        description = "An authentication service: Argon2id passwords, short-lived JWT access tokens, rotating refresh tokens in an HttpOnly cookie. Every JSON response wears the envelope `{success, status, content}`; failures carry `content: {error_code, message, error_type}`, and each operation lists the `error_code`s it may answer with."
    ),
    paths(ping, register, login, refresh, refresh_access_token, logout, me, me_alias, live, ready, openapi_document),
    components(schemas(User, Checks, Readiness)),
    modifiers(&BearerAuth),
    tags((name = "auth", description = "register, log in, refresh, log out, who am I"), (name = "ops", description = "ping, health, this document"))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// `content` of `POST /auth/logout`.
#[derive(Serialize, ToSchema)]
struct LogoutContent {
    message: String,
}

/// `content` of `GET /auth/me`.
#[derive(Serialize, ToSchema)]
struct MeContent {
    user: User,
}

/// `content` of `GET /health/live`.
#[derive(Serialize, ToSchema)]
struct LiveContent {
    status: String,
}

#[utoipa::path(get, path = "/", tag = "ops", responses((status = 200, description = "the ping: `content` is `\"server is OK\"`", body = Envelope<String>)))]
#[allow(dead_code)]
fn ping() {}

#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, description = "registered and logged in; sets the refresh cookie, and the device cookie", body = Envelope<SessionBody>, headers(("set-cookie" = String, description = "the refresh cookie `jwt=…; HttpOnly; Path=/auth; SameSite=…; Max-Age=…`, and the device cookie `jwt-device=…` with the same attributes")))))]
#[allow(dead_code)]
fn register() {}

#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, description = "logged in (by `username` or `email`); sets the refresh cookie, replacing the user's previous session, and the device cookie", body = Envelope<SessionBody>, headers(("set-cookie" = String, description = "the refresh cookie `jwt=…; HttpOnly; Path=/auth; SameSite=…; Max-Age=…`, and the device cookie `jwt-device=…` with the same attributes")))))]
#[allow(dead_code)]
fn login() {}

#[utoipa::path(post, path = "/auth/refresh", tag = "auth", params(("jwt" = Option<String>, Cookie, description = "the refresh token; more than one cookie of this name is refused (`AMBIGUOUS_REFRESH_TOKEN`) and changes nothing")),
    responses((status = 200, description = "a new access token; the refresh cookie is rotated", body = Envelope<AccessTokenBody>, headers(("set-cookie" = String, description = "the refresh cookie: `jwt=…; HttpOnly; Path=/auth; SameSite=…; Max-Age=…`")))))]
#[allow(dead_code)]
fn refresh() {}

#[utoipa::path(get, path = "/auth/refreshAccessToken", tag = "auth", params(("jwt" = Option<String>, Cookie, description = "the refresh token; more than one cookie of this name is refused (`AMBIGUOUS_REFRESH_TOKEN`) and changes nothing")),
    responses((status = 200, description = "the same as `POST /auth/refresh` (the original demo's name)", body = Envelope<AccessTokenBody>, headers(("set-cookie" = String, description = "the refresh cookie: `jwt=…; HttpOnly; Path=/auth; SameSite=…; Max-Age=…`")))))]
#[allow(dead_code)]
fn refresh_access_token() {}

#[utoipa::path(post, path = "/auth/logout", tag = "auth", params(("jwt" = Option<String>, Cookie, description = "the refresh token; more than one cookie of this name is refused (`AMBIGUOUS_REFRESH_TOKEN`) and changes nothing")),
    responses((status = 200, description = "the refresh token is revoked (if it was live) and the cookie cleared; idempotent", body = Envelope<LogoutContent>, headers(("set-cookie" = String, description = "the refresh cookie: `jwt=…; HttpOnly; Path=/auth; SameSite=…; Max-Age=…`")))))]
#[allow(dead_code)]
fn logout() {}

#[utoipa::path(get, path = "/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "the user named by the bearer access token", body = Envelope<MeContent>)))]
#[allow(dead_code)]
fn me() {}

#[utoipa::path(get, path = "/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "the same as `GET /auth/me`", body = Envelope<MeContent>)))]
#[allow(dead_code)]
fn me_alias() {}

#[utoipa::path(get, path = "/health/live", tag = "ops", responses((status = 200, description = "the process serves", body = Envelope<LiveContent>)))]
#[allow(dead_code)]
fn live() {}

#[utoipa::path(get, path = "/health/ready", tag = "ops", responses(
    (status = 200, description = "PostgreSQL and Redis answer", body = Envelope<Readiness>),
    (status = 503, description = "a dependency is down: `checks` names it; `content` also carries `error_code: SERVICE_UNAVAILABLE`", body = Envelope<Readiness>)))]
#[allow(dead_code)]
fn ready() {}

#[utoipa::path(get, path = "/openapi.json", tag = "ops", responses((status = 200, description = "this document (not in the envelope: it is read by tools)", content_type = "application/json", body = Object)))]
#[allow(dead_code)]
fn openapi_document() {}

/// The failures each operation may answer with. Framework rejections of a JSON body (400, 408,
/// 413, 415) apply to the operations that read one; `TOO_MANY_CONNECTIONS` (429) and
/// `UNSUPPORTED_CONTENT_ENCODING` (415) to every operation.
fn errors(method: &str, path: &str) -> Vec<ApiError> {
    let body = [
        ApiError::InvalidJson(String::new()),
        ApiError::RequestTimeout,
        ApiError::PayloadTooLarge { limit: 16_384 },
        ApiError::UnsupportedMediaType,
    ];
    let throttled =
        [ApiError::RateLimited { retry_after: Duration::from_secs(60) }, ApiError::Overloaded { retry_after: Duration::from_secs(1) }];
    let unavailable = |dependencies: &[Dependency]| {
        dependencies.iter().map(|d| ApiError::Unavailable(*d)).chain([ApiError::Internal]).collect::<Vec<_>>()
    };
    let invalid = |codes: &[ValidationError]| codes.iter().map(|v| ApiError::Validation(*v)).collect::<Vec<_>>();
    let all_stores = [Dependency::Database, Dependency::TokenStore, Dependency::Hasher];
    let lists: Vec<Vec<ApiError>> = match (method, path) {
        ("post", "/auth/register") => vec![
            body.into(),
            invalid(&[
                ValidationError::UsernameLength,
                ValidationError::UsernameCharacters,
                ValidationError::EmailInvalid,
                ValidationError::EmailTooLong,
                ValidationError::PasswordTooShort,
                ValidationError::PasswordTooLong,
                ValidationError::PasswordTooCommon,
            ]),
            vec![ApiError::UsernameTaken, ApiError::EmailTaken],
            throttled.into(),
            unavailable(&all_stores),
        ],
        ("post", "/auth/login") => vec![
            body.into(),
            invalid(&[ValidationError::PasswordTooLong, ValidationError::MissingIdentifier]),
            vec![ApiError::InvalidCredentials],
            throttled.into(),
            unavailable(&all_stores),
        ],
        ("post", "/auth/refresh") | ("get", "/auth/refreshAccessToken") => vec![
            vec![
                ApiError::AmbiguousRefreshToken,
                ApiError::MissingRefreshToken,
                ApiError::InvalidRefreshToken,
                ApiError::RefreshTokenReused,
            ],
            unavailable(&[Dependency::TokenStore]),
        ],
        ("post", "/auth/logout") => vec![vec![ApiError::AmbiguousRefreshToken], unavailable(&[Dependency::TokenStore])],
        ("get", "/auth/me" | "/me") => vec![
            vec![ApiError::MissingAccessToken, ApiError::InvalidAccessToken, ApiError::ExpiredAccessToken],
            unavailable(&[Dependency::Database]),
        ],
        _ => vec![],
    };
    // Every request, on every route, may be one connection too many for its client, and is
    // refused when it carries a Content-Encoding.
    lists.into_iter().flatten().chain([ApiError::TooManyConnections, ApiError::UnsupportedContentEncoding]).collect()
}

/// The response for one status of one operation: the error envelope, its `error_code` limited
/// to the codes listed, each with an example.
fn error_response(status: u16, errors: &[&ApiError]) -> Value {
    let mut codes: Vec<&str> = errors.iter().map(|e| e.code()).collect();
    codes.dedup();
    let mut types: Vec<&str> = errors.iter().map(|e| e.error_type()).collect();
    types.sort_unstable();
    types.dedup();
    let examples: BTreeMap<String, Value> = errors
        .iter()
        .map(|e| {
            let example = json!({"success": false, "status": status, "content": {"error_code": e.code(), "message": e.message(), "error_type": e.error_type()}});
            (e.code().to_string(), json!({"value": example}))
        })
        .collect();
    let description = codes.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ");
    let mut response = json!({
        "description": description,
        "content": {"application/json": {
            "schema": {
                "type": "object",
                "required": ["success", "status", "content"],
                "properties": {
                    "success": {"const": false},
                    "status": {"const": status},
                    "content": {
                        "type": "object",
                        "required": ["error_code", "message", "error_type"],
                        "properties": {
                            "error_code": {"enum": codes},
                            "message": {"type": "string"},
                            "error_type": {"enum": types}
                        }
                    }
                }
            },
            "examples": examples
        }}
    });
    if errors.iter().any(|e| {
        matches!(e, ApiError::RateLimited { .. } | ApiError::TooManyConnections | ApiError::Overloaded { .. } | ApiError::Unavailable(_))
    }) {
        response["headers"] = json!({"retry-after": {"description": "seconds to wait before retrying", "schema": {"type": "string"}}});
    }
    response
}

/// The document as served.
pub fn document() -> Value {
    // unwrap: the generated document is plain data and always serialises.
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
    let paths: Vec<(String, String)> = doc["paths"]
        .as_object()
        .into_iter()
        .flat_map(|paths| {
            paths
                .iter()
                .flat_map(|(path, ops)| ops.as_object().into_iter().flat_map(move |o| o.keys().map(move |m| (path.clone(), m.clone()))))
        })
        .collect();
    for (path, method) in paths {
        let errors = errors(&method, &path);
        let mut by_status: BTreeMap<u16, Vec<&ApiError>> = BTreeMap::new();
        for e in &errors {
            by_status.entry(e.status_code().as_u16()).or_default().push(e);
        }
        for (status, errors) in by_status {
            doc["paths"][&path][&method]["responses"][status.to_string()] = error_response(status, &errors);
        }
    }
    constrain(&mut doc);
    doc
}

/// The input rules of the domain types, where JSON Schema can say them.
fn constrain(doc: &mut Value) {
    let schemas = &mut doc["components"]["schemas"];
    let username = json!({"minLength": 3, "maxLength": 32, "pattern": USERNAME_PATTERN, "example": "John Doe"});
    let email = json!({"maxLength": 254, "pattern": EMAIL_PATTERN, "example": "johndoe@gmail.com"});
    for (schema, field, rules) in [
        ("RegisterRequest", "username", username),
        ("RegisterRequest", "password", json!({"minLength": 8, "maxLength": 128, "example": "correct horse battery"})),
        ("RegisterRequest", "email", email.clone()),
        ("LoginRequest", "password", json!({"maxLength": 128})),
        ("LoginRequest", "email", email),
    ] {
        if let (Some(target), Some(rules)) = (schemas[schema]["properties"][field].as_object_mut(), rules.as_object()) {
            target.extend(rules.clone());
        }
    }
    // A login names its user by `username` or by `email` (MISSING_IDENTIFIER otherwise).
    schemas["LoginRequest"]["anyOf"] = json!([
        {"required": ["username"], "properties": {"username": {"type": "string"}}},
        {"required": ["email"], "properties": {"email": {"type": "string"}}}
    ]);
}

pub async fn openapi_json() -> HttpResponse {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let body = DOCUMENT.get_or_init(|| document().to_string());
    HttpResponse::Ok().content_type("application/json").body(body.as_str())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::{Email, Username};

    /// Strings matching a pattern of the document (proptest's generator takes no anchors).
    fn unanchored(pattern: &str) -> proptest::string::RegexGeneratorStrategy<String> {
        proptest::string::string_regex(pattern.trim_start_matches('^').trim_end_matches('$')).unwrap()
    }

    proptest! {
        #[test]
        fn every_username_the_document_allows_is_accepted(name in unanchored(USERNAME_PATTERN)) {
            prop_assume!((3..=32).contains(&name.chars().count()));
            prop_assert!(Username::parse(&name).is_ok(), "{name:?}");
        }

        #[test]
        fn every_email_the_document_allows_is_accepted(email in unanchored(EMAIL_PATTERN)) {
            prop_assume!(email.len() <= 254);
            prop_assert!(Email::parse(&email).is_ok(), "{email:?}");
        }
    }

    #[test]
    fn each_error_response_lists_codes_rendered_by_api_error() {
        let doc = document();
        let login = &doc["paths"]["/auth/login"]["post"]["responses"];
        assert_eq!(
            login["401"]["content"]["application/json"]["schema"]["properties"]["content"]["properties"]["error_code"]["enum"],
            json!(["INVALID_CREDENTIALS"])
        );
        let example = &login["401"]["content"]["application/json"]["examples"]["INVALID_CREDENTIALS"]["value"];
        let rendered = ApiError::InvalidCredentials.error_response();
        assert_eq!(example["status"], rendered.status().as_u16());
        assert_eq!(example["content"]["message"], ApiError::InvalidCredentials.message());
        let register = &doc["paths"]["/auth/register"]["post"]["responses"];
        assert!(register["422"]["description"].as_str().unwrap().contains("PASSWORD_TOO_SHORT"));
        assert!(register["422"]["description"].as_str().unwrap().contains("PASSWORD_TOO_COMMON"));
        assert_eq!(doc["openapi"], "3.1.0");
    }
}
