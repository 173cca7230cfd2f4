//! The refresh-token cookie: how it is set, cleared and read back; the attributes every cookie
//! of the service shares.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite as CookieSameSite, time};
use actix_web::http::header;

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
            secure: config.cookies.secure,
            same_site: match config.cookies.samesite {
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
            name: config.cookies.name.clone(),
            attributes: CookieAttributes::from_config(config),
            max_age: time::Duration::seconds(config.tokens.refresh_token_ttl.as_secs() as i64),
        }
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

    /// The refresh token the client sent, if it sent exactly one of the right shape.
    ///
    /// Security (cookie tossing): a page on a sibling subdomain can set a cookie of the same
    /// name for the parent domain, or for a longer path, and browsers then send both, in an
    /// order the attacker can influence. Reading the first one would let that planted value
    /// replace the user's session (or, being invalid, get the user's cookie cleared). So two or
    /// more cookies of this name are `AmbiguousRefreshToken`: nothing is rotated or revoked, and
    /// no clearing cookie is sent (it would delete the user's host-only cookie, not the planted
    /// one). The header is read here rather than through `HttpRequest::cookies`, which gives up
    /// on every cookie when one of them is not UTF-8, and names are compared both as sent and
    /// percent-decoded, since actix decodes them (`%6Awt` is another cookie to the browser).
    pub fn read(&self, req: &HttpRequest) -> Result<RefreshToken, ApiError> {
        let mut found = values_named(req, &self.name);
        let value = found.next().ok_or(ApiError::MissingRefreshToken)?;
        if found.next().is_some() {
            return Err(ApiError::AmbiguousRefreshToken);
        }
        // The cookie grammar allows a value in double quotes.
        let value = value.strip_prefix(b"\"").and_then(|v| v.strip_suffix(b"\"")).unwrap_or(value);
        if value.is_empty() {
            return Err(ApiError::MissingRefreshToken);
        }
        std::str::from_utf8(value).ok().and_then(RefreshToken::parse).ok_or(ApiError::InvalidRefreshToken)
    }
}

/// The values of every cookie called `name` in the request's `Cookie` headers, in order, read
/// from the raw bytes (see `RefreshCookie::read` for why not `HttpRequest::cookies`). A name
/// matches as sent and also percent-decoded, as actix would decode it.
pub fn values_named<'a>(req: &'a HttpRequest, name: &'a str) -> impl Iterator<Item = &'a [u8]> {
    req.headers().get_all(header::COOKIE).flat_map(|value| value.as_bytes().split(|b| *b == b';')).filter_map(move |pair| {
        let (sent, value) = pair.split_at(pair.iter().position(|b| *b == b'=')?);
        let sent = sent.trim_ascii();
        let ours = sent == name.as_bytes() || (sent.contains(&b'%') && percent_decoded(sent) == name.as_bytes());
        ours.then(|| value[1..].trim_ascii())
    })
}

/// `%XX` sequences decoded; anything else, a malformed `%` included, kept as it is.
fn percent_decoded(bytes: &[u8]) -> Vec<u8> {
    percent_encoding::percent_decode(bytes).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn cookie() -> RefreshCookie {
        RefreshCookie {
            name: "jwt".into(),
            attributes: CookieAttributes { secure: false, same_site: CookieSameSite::Lax },
            max_age: time::Duration::seconds(60),
        }
    }

    fn read(headers: &[&[u8]]) -> Result<RefreshToken, ApiError> {
        let mut req = TestRequest::default();
        for h in headers {
            req = req.append_header((header::COOKIE, header::HeaderValue::from_bytes(h).unwrap()));
        }
        cookie().read(&req.to_http_request())
    }

    fn token() -> String {
        crate::tokens::RefreshKey::derive(b"a service secret of enough length for a test").generate(uuid::Uuid::now_v7()).encode()
    }

    #[test]
    fn the_one_cookie_of_the_name_is_read_among_others() {
        let t = token();
        let got = read(&[format!("theme=dark; jwt={t}; lang=en").as_bytes()]).unwrap();
        assert_eq!(got.encode(), t);
        assert_eq!(read(&[format!("jwt=\"{t}\"").as_bytes()]).unwrap().encode(), t, "a quoted value");
        assert_eq!(read(&[b"other=\xff\xfe", format!("jwt={t}").as_bytes()]).unwrap().encode(), t, "another cookie that is not UTF-8");
        assert_eq!(read(&[format!("xjwt=a; jwtx=b; jwt={t}").as_bytes()]).unwrap().encode(), t, "names are compared whole");
    }

    #[test]
    fn no_cookie_or_an_empty_one_is_missing_and_a_bad_one_invalid() {
        assert!(matches!(read(&[]), Err(ApiError::MissingRefreshToken)));
        assert!(matches!(read(&[b"theme=dark"]), Err(ApiError::MissingRefreshToken)));
        assert!(matches!(read(&[b"jwt="]), Err(ApiError::MissingRefreshToken)));
        assert!(matches!(read(&[b"jwt=garbage"]), Err(ApiError::InvalidRefreshToken)));
        assert!(matches!(read(&[b"jwt=\xff"]), Err(ApiError::InvalidRefreshToken)));
    }

    #[test]
    fn two_cookies_of_the_name_are_ambiguous_whatever_their_values_or_order() {
        let (real, planted) = (token(), token());
        for headers in [
            vec![format!("jwt={planted}; jwt={real}")],
            vec![format!("jwt={real}; jwt={planted}")],
            vec![format!("jwt=; jwt={real}")],
            vec![format!("jwt={real}; jwt=garbage")],
            vec![format!("jwt={real}"), format!("jwt={planted}")],
            vec![format!("%6Awt={planted}; jwt={real}")],
            vec![format!("jwt={real}; j%77t=x")],
            vec![format!(" jwt = {real} ;jwt={real}")],
        ] {
            let headers: Vec<&[u8]> = headers.iter().map(|h| h.as_bytes()).collect();
            assert!(matches!(read(&headers), Err(ApiError::AmbiguousRefreshToken)), "{headers:?}");
        }
    }

    #[test]
    fn percent_decoding_keeps_what_is_not_an_escape() {
        assert_eq!(percent_decoded(b"%6Awt"), b"jwt");
        assert_eq!(percent_decoded(b"j%77%74"), b"jwt");
        assert_eq!(percent_decoded(b"%zz%4"), b"%zz%4");
        assert_eq!(percent_decoded(b"%"), b"%");
    }
}
