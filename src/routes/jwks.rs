//! `GET /.well-known/jwks.json`: the public keys that verify gatehouse's access tokens
//! (RFC 7517), for resource servers. Plain JSON, not the envelope: JOSE libraries read it as is.

use std::time::Duration;

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use actix_web::{HttpResponse, web};

use crate::error::ApiError;
use crate::keys::KeyRing;
use crate::routes::facts::Declared;

/// The key set the document comes from and how long a verifier may cache it.
#[derive(Clone)]
pub struct Jwks {
    pub ring: KeyRing,
    pub max_age: Duration,
}

/// `GET /.well-known/jwks.json`, declared.
pub struct Document;

impl Declared for Document {
    const ERRORS: &'static [&'static [ApiError]] = &[];
}

/// A JWK Set (RFC 7517 §5).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct JwkSet {
    /// Public keys: `{"kty": "OKP", "crv": "Ed25519", "x", "kid", "alg": "EdDSA", "use": "sig"}`
    /// or `{"kty": "EC", "crv": "P-256", "x", "y", "kid", "alg": "ES256", "use": "sig"}`; empty
    /// under HS256.
    keys: Vec<serde_json::Value>,
}

/// Served from the document rendered when the key set last changed: no serialization per
/// request. Security: only public halves are ever in it, and never the HS256 secret.
#[utoipa::path(get, path = "/.well-known/jwks.json", impl_for = Document, tag = "keys", responses(
    (status = 200, description = "the public keys that verify access tokens: the next key (published before it signs), the current one, and retired ones until the tokens they signed have expired; empty under HS256. Plain JSON (not the envelope), with `Cache-Control: public, max-age=JWKS_MAX_AGE`",
     body = JwkSet, content_type = "application/json")))]
pub async fn jwks(jwks: web::Data<Jwks>) -> HttpResponse {
    let mut response = HttpResponse::Ok().body(jwks.ring.get().jwks());
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    // unwrap: digits and ASCII words are a valid header value.
    headers.insert(CACHE_CONTROL, HeaderValue::from_str(&format!("public, max-age={}", jwks.max_age.as_secs())).unwrap());
    response
}
