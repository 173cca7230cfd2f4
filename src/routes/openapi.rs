//! `GET /openapi.json`: the OpenAPI 3.1 document of the public port, assembled from its route
//! table; and the admin API's, from the admin routes' (`GET /admin/openapi.json`, on the
//! management listener).
//!
//! Each operation comes from its route's declaration beside the handler (`#[utoipa::path]` for
//! the method, path and success body; `facts::Declared::ERRORS` for its failures), so the
//! document, the routes served and the metrics read one source. Bodies are the schemas of the
//! very types the handlers serialise (`ToSchema` derives on `Envelope`, `User`, the request and
//! session types, `Readiness`); the error responses of each operation are rendered from
//! `ApiError` itself (status, `error_code`, `error_type`, message), so a renamed code or a
//! changed status shows up here without anyone editing this file. What stays here: the
//! assembly, the rendering of error responses and the input rules JSON Schema can say. CI runs
//! schemathesis against the live service with this document.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use actix_web::{HttpResponse, ResponseError};
use serde_json::{Value, json};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::facts::{self, Declared};
use super::health::{Checks, Readiness};
use crate::actors::User;
use crate::error::ApiError;

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
        description = "An authentication service: Argon2id passwords, short-lived JWT access tokens, rotating refresh tokens in an HttpOnly cookie. Every JSON response wears the envelope `{success, status, content}`; failures carry `content: {error_code, message, error_type}`, and each operation lists the `error_code`s it may answer with. Answers no operation makes (an unknown path: `NOT_FOUND`; a method the path does not serve: `METHOD_NOT_ALLOWED`, with `Allow`; a refused CORS preflight: `CORS_PREFLIGHT_REJECTED`) are listed once, under `components.responses`, with those any request may get on any path (`TOO_MANY_CONNECTIONS`, `UNSUPPORTED_CONTENT_ENCODING`)."
    ),
    components(schemas(User, Checks, Readiness)),
    modifiers(&BearerAuth),
    tags((name = "auth", description = "register, log in, refresh, log out, who am I"), (name = "sessions", description = "the signed-in user's sessions: list, end one, log out everywhere"), (name = "account", description = "change or reset a password, verify or change an email, delete the account"), (name = "ops", description = "ping, health, this document"), (name = "keys", description = "the public keys that verify access tokens"))
)]
struct ApiDoc;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "gatehouse admin API",
        description = "The administration of a gatehouse deployment, served on its management listener (`METRICS_ADDR`) only, and only when `ADMIN_TOKEN` is set: find users, see one with their sessions, disable, enable or delete an account, end its sessions, read the audit trail, rotate or retire a signing key. Every request carries `Authorization: Bearer <ADMIN_TOKEN>`. Every answer wears the envelope `{success, status, content}`; failures carry `content: {error_code, message, error_type}`, and each operation lists the `error_code`s it may answer with. An unknown path (`NOT_FOUND`) and a method the path does not serve (`METHOD_NOT_ALLOWED`, with `Allow`) are listed once, under `components.responses`."
    ),
    modifiers(&AdminAuth),
    tags((name = "admin", description = "users, their sessions and the audit trail; the signing keys"))
)]
struct AdminDoc;

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

/// The admin token: a bearer token that is no JWT.
struct AdminAuth;

impl Modify for AdminAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("`ADMIN_TOKEN`")).build();
        components.add_security_scheme("admin", SecurityScheme::Http(scheme));
    }
}

/// `GET /openapi.json`, declared.
pub struct Document;

impl Declared for Document {
    const ERRORS: &'static [&'static [ApiError]] = &[];
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
    if errors.iter().any(|e| e.retry_after().is_some()) {
        response["headers"] = json!({"retry-after": {"description": "seconds to wait before retrying", "schema": {"type": "string"}}});
    }
    response
}

/// The public port's document as served: the operations of the route table, each with the
/// failures it declares, and once, the answers no operation makes and those of any path
/// (`facts::PUBLIC`).
pub fn document() -> Value {
    let mut doc = assemble(ApiDoc::openapi(), &super::table(), &facts::PUBLIC);
    constrain(&mut doc);
    doc
}

/// The admin API's document, as `GET /admin/openapi.json` serves it: the admin routes' operations
/// (`facts::MANAGEMENT`).
pub fn admin_document() -> Value {
    assemble(AdminDoc::openapi(), &super::admin::table(), &facts::MANAGEMENT)
}

/// `api` with the operations of `table`, each with the failures it declares, and once, the
/// answers `listener` makes to any request or to none.
fn assemble(mut api: utoipa::openapi::OpenApi, table: &[facts::Facts], listener: &facts::Listener) -> Value {
    let components = api.components.get_or_insert_with(Default::default);
    for facts in table {
        components.schemas.extend(facts.schemas.iter().cloned());
        api.paths.add_path_operation(&facts.path, vec![facts.http_method.clone()], facts.operation.clone());
    }
    // unwrap: the generated document is plain data and always serialises.
    let mut doc = serde_json::to_value(api).unwrap();
    for facts in table {
        let method = facts.method.as_str().to_lowercase();
        let mut by_status: BTreeMap<u16, Vec<&ApiError>> = BTreeMap::new();
        for &e in &facts.errors {
            by_status.entry(e.status_code().as_u16()).or_default().push(e);
        }
        for (status, errors) in by_status {
            doc["paths"][&facts.path][&method]["responses"][status.to_string()] = error_response(status, &errors);
        }
    }
    // Any path, routed or not, may be answered with these: they are listed once too.
    for e in listener.unrouted.iter().chain(listener.every_route) {
        doc["components"]["responses"][e.code()] = error_response(e.status_code().as_u16(), &[e]);
    }
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
        ("LoginRequest", "email", email.clone()),
        ("ForgotPasswordRequest", "email", email.clone()),
        ("ChangeEmailRequest", "email", email),
        ("ChangeEmailRequest", "password", json!({"maxLength": 128})),
        ("DeleteMeRequest", "password", json!({"maxLength": 128})),
        ("ChangePasswordRequest", "current_password", json!({"maxLength": 128})),
        ("ChangePasswordRequest", "new_password", json!({"minLength": 8, "maxLength": 128, "example": "a brand new passphrase"})),
        ("ResetPasswordRequest", "password", json!({"minLength": 8, "maxLength": 128, "example": "a brand new passphrase"})),
        // The shape of a mailed token: 32 bytes in base64url (any other is refused unread).
        ("ResetPasswordRequest", "token", json!({"pattern": "^[A-Za-z0-9_-]{43}$"})),
        ("VerifyEmailRequest", "token", json!({"pattern": "^[A-Za-z0-9_-]{43}$"})),
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

#[utoipa::path(get, path = "/openapi.json", impl_for = Document, operation_id = "openapi_document", tag = "ops", responses((status = 200, description = "this document (not in the envelope: it is read by tools)", content_type = "application/json", body = Object)))]
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
