//! The refresh-token cookie: how it is set, cleared and read back; the attributes every cookie
//! of the service shares.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite as CookieSameSite, time};

use crate::config::{Config, SameSite};
use crate::error::ApiError;
use crate::tokens::RefreshToken;

/// Only the `/auth` routes ever see the refresh token (or the device cookie).
const COOKIE_PATH: &str = "/auth";

/// The attributes every cookie of the service carries (the refresh and the device cookie).
#[derive(Debug, Clone, Copy)]
pub struct CookieAttributes {
    secure: bool,
    same_site: CookieSameSite,
}

impl CookieAttributes {
    pub fn from_config(config: &Config) -> CookieAttributes {
        CookieAttributes {
            secure: config.cookie_secure,
            same_site: match config.cookie_samesite {
                SameSite::Strict => CookieSameSite::Strict,
                SameSite::Lax => CookieSameSite::Lax,
                SameSite::None => CookieSameSite::None,
            },
        }
    }

    /// Security: `HttpOnly` keeps the value away from page scripts (XSS cannot read it),
    /// `Path=/auth` keeps it off every other request, `SameSite` limits cross-site sends, and
    /// `Secure` (configurable, required for `SameSite=None` and `__Host-` names) keeps it off
    /// plain http. No `Domain`: the cookie stays host-only. Every cookie set here, the rotated
    /// and the cleared one included, carries all of these.
    pub fn build(self, name: &str, value: String, max_age: time::Duration) -> Cookie<'static> {
        Cookie::build(name.to_string(), value)
            .http_only(true)
            .secure(self.secure)
            .same_site(self.same_site)
            .path(COOKIE_PATH)
            .max_age(max_age)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct RefreshCookie {
    name: String,
    attributes: CookieAttributes,
    max_age: time::Duration,
}

impl RefreshCookie {
    pub fn from_config(config: &Config) -> RefreshCookie {
        RefreshCookie {
            name: config.cookie_name.clone(),
            attributes: CookieAttributes::from_config(config),
            max_age: time::Duration::seconds(config.refresh_token_ttl.as_secs() as i64),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn build(&self, value: String, max_age: time::Duration) -> Cookie<'static> {
        self.attributes.build(&self.name, value, max_age)
    }

    pub fn set(&self, token: &RefreshToken) -> Cookie<'static> {
        self.build(token.encode(), self.max_age)
    }

    /// An expired, empty cookie with the same attributes: browsers delete the stored one.
    pub fn clear(&self) -> Cookie<'static> {
        let mut cookie = self.build(String::new(), time::Duration::ZERO);
        cookie.set_expires(time::OffsetDateTime::UNIX_EPOCH);
        cookie
    }

    /// The refresh token the client sent, if it sent one of the right shape.
    pub fn read(&self, req: &HttpRequest) -> Result<RefreshToken, ApiError> {
        let cookie = req.cookie(&self.name).ok_or(ApiError::MissingRefreshToken)?;
        if cookie.value().is_empty() {
            return Err(ApiError::MissingRefreshToken);
        }
        RefreshToken::parse(cookie.value()).ok_or(ApiError::InvalidRefreshToken)
    }
}
