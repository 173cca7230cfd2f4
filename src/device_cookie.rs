//! The device cookie (OWASP, "Slow Down Online Guessing Attacks with Device Cookies"): a signed
//! note that this browser has logged into an account before, so that its login attempts are
//! counted apart from everyone else's and a lockout by strangers does not lock its owner out.

use std::time::Duration;

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, time};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jsonwebtoken::get_current_timestamp;
use rand::RngCore;
use uuid::Uuid;

use crate::config::Config;
use crate::cookie::CookieAttributes;

/// The version prefix of the value: a later format can be told apart and refused.
const VERSION: &str = "d1";
/// user id (16 bytes), nonce (16), issued-at in Unix seconds (8, big-endian).
const PAYLOAD_LEN: usize = 40;
const TAG_LEN: usize = 32;
/// How far ahead of this replica's clock another replica's may be when it issued a cookie.
const CLOCK_SKEW: u64 = 300;

/// What a valid device cookie says: the device called `nonce` logged into `user_id`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Device {
    pub user_id: Uuid,
    pub nonce: [u8; 16],
}

impl std::fmt::Debug for Device {
    // The nonce is half of what makes the cookie: it stays out of debug prints and logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device").field("user_id", &self.user_id).finish_non_exhaustive()
    }
}

/// Issues and checks device cookies. No `Debug`: it holds the signing key.
#[derive(Clone)]
pub struct DeviceCookie {
    name: String,
    key: [u8; 32],
    attributes: CookieAttributes,
    ttl: Duration,
}

impl DeviceCookie {
    /// Security: the key is derived from the service secret for this purpose only, so a device
    /// cookie's MAC can never pass for another value's, and every replica checks the cookies
    /// every other one issued.
    pub fn from_config(config: &Config, secret: &[u8]) -> DeviceCookie {
        DeviceCookie {
            name: Self::name_for(config),
            key: crate::secret::derive_key(secret, "device-cookie"),
            attributes: CookieAttributes::from_config(config),
            ttl: config.cookies.device_ttl,
        }
    }

    /// The cookie's name: the refresh cookie's with `-device` appended, so a `__Secure-` prefix
    /// carries over.
    pub fn name_for(config: &Config) -> String {
        format!("{}-device", config.cookies.name)
    }

    /// A device cookie for a login (or registration) of `user_id` that just succeeded, with a
    /// fresh random nonce: every successful login starts a new device counter.
    pub fn issue(&self, user_id: Uuid) -> Cookie<'static> {
        let mut nonce = [0u8; 16];
        rand::rng().fill_bytes(&mut nonce);
        let value = self.sign(&Device { user_id, nonce }, get_current_timestamp());
        self.attributes.build(&self.name, value, time::Duration::seconds(self.ttl.as_secs() as i64))
    }

    /// The device the request's cookie names, when the cookie is there, well-formed, signed
    /// with this service's key and not expired; anything else counts as no cookie at all.
    pub fn read(&self, req: &HttpRequest) -> Option<Device> {
        // The first cookie of the name, read as the refresh cookie is: one sibling cookie that is
        // not UTF-8 must not hide it (its owner would meet the anonymous lockout).
        let value = crate::cookie::values_named(req, &self.name).next()?;
        self.verify(std::str::from_utf8(value).ok()?, get_current_timestamp())
    }

    fn sign(&self, device: &Device, issued_at: u64) -> String {
        let mut payload = [0u8; PAYLOAD_LEN];
        payload[..16].copy_from_slice(device.user_id.as_bytes());
        payload[16..32].copy_from_slice(&device.nonce);
        payload[32..].copy_from_slice(&issued_at.to_be_bytes());
        let tag = self.mac(&payload).finalize().into_bytes();
        format!("{VERSION}.{}.{}", URL_SAFE_NO_PAD.encode(payload), URL_SAFE_NO_PAD.encode(tag))
    }

    fn verify(&self, value: &str, now: u64) -> Option<Device> {
        let mut parts = value.split('.');
        let (version, payload, tag) = (parts.next()?, parts.next()?, parts.next()?);
        // Security: lengths are checked before decoding, so junk costs no more than a comparison.
        if version != VERSION || parts.next().is_some() || payload.len() > 64 || tag.len() > 64 {
            return None;
        }
        let payload: [u8; PAYLOAD_LEN] = URL_SAFE_NO_PAD.decode(payload).ok()?.try_into().ok()?;
        let tag: [u8; TAG_LEN] = URL_SAFE_NO_PAD.decode(tag).ok()?.try_into().ok()?;
        // Security: `verify_slice` compares in constant time, so the time of a refusal tells a
        // forger nothing about how much of the tag was right. Nothing in the payload is read
        // before its MAC has passed.
        self.mac(&payload).verify_slice(&tag).ok()?;
        // unwrap: the ranges are fixed slices of a fixed-size array.
        let issued_at = u64::from_be_bytes(payload[32..].try_into().unwrap());
        if issued_at > now.saturating_add(CLOCK_SKEW) || now > issued_at.saturating_add(self.ttl.as_secs()) {
            return None;
        }
        // unwrap: as above.
        Some(Device { user_id: Uuid::from_bytes(payload[..16].try_into().unwrap()), nonce: payload[16..32].try_into().unwrap() })
    }

    fn mac(&self, payload: &[u8]) -> Hmac<sha2::Sha256> {
        // unwrap: HMAC accepts a key of any length.
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&self.key).unwrap();
        mac.update(VERSION.as_bytes());
        mac.update(payload);
        mac
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use proptest::prelude::*;

    const NOW: u64 = 1_800_000_000;
    const DAY: u64 = 24 * 3600;

    fn cookies(secret: &str) -> DeviceCookie {
        let vars = HashMap::from([("JWT_SECRET".to_string(), secret.to_string())]);
        DeviceCookie::from_config(&Config::from_map(&vars).unwrap(), secret.as_bytes())
    }

    fn device() -> Device {
        Device { user_id: Uuid::now_v7(), nonce: *b"0123456789abcdef" }
    }

    #[test]
    fn a_signed_cookie_verifies_to_its_device() {
        let c = cookies("one secret of enough length for the tests");
        let d = device();
        assert_eq!(c.verify(&c.sign(&d, NOW), NOW + 30 * DAY), Some(d));
    }

    #[test]
    fn an_issued_cookie_carries_the_refresh_cookies_attributes_and_a_fresh_nonce() {
        let c = cookies("one secret of enough length for the tests");
        let (a, b) = (c.issue(Uuid::nil()), c.issue(Uuid::nil()));
        assert_eq!(a.name(), "jwt-device");
        assert_eq!((a.http_only(), a.path(), a.max_age()), (Some(true), Some("/auth"), Some(time::Duration::seconds(365 * DAY as i64))));
        assert_eq!(a.same_site(), Some(actix_web::cookie::SameSite::Lax));
        let (da, db) = (c.verify(a.value(), get_current_timestamp()).unwrap(), c.verify(b.value(), get_current_timestamp()).unwrap());
        assert_eq!((da.user_id, db.user_id), (Uuid::nil(), Uuid::nil()));
        assert_ne!(da.nonce, db.nonce);
    }

    #[test]
    fn any_changed_character_is_refused() {
        let c = cookies("one secret of enough length for the tests");
        let value = c.sign(&device(), NOW);
        for i in 0..value.len() {
            let mut bytes = value.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            assert_eq!(c.verify(&tampered, NOW), None, "position {i}");
        }
        assert_eq!(c.verify(&format!("{value}.x"), NOW), None);
        assert_eq!(c.verify(&value[..value.len() - 1], NOW), None);
    }

    #[test]
    fn a_cookie_signed_under_another_secret_is_refused() {
        let ours = cookies("one secret of enough length for the tests");
        let theirs = cookies("another secret of enough length for them");
        assert_eq!(ours.verify(&theirs.sign(&device(), NOW), NOW), None);
    }

    #[test]
    fn an_expired_or_future_cookie_is_refused() {
        let c = cookies("one secret of enough length for the tests");
        let value = c.sign(&device(), NOW);
        assert!(c.verify(&value, NOW + 365 * DAY).is_some(), "the last second of its lifetime");
        assert_eq!(c.verify(&value, NOW + 365 * DAY + 1), None);
        assert!(c.verify(&value, NOW - CLOCK_SKEW).is_some(), "a replica a little behind");
        assert_eq!(c.verify(&value, NOW - CLOCK_SKEW - 1), None);
    }

    #[test]
    fn the_nonce_never_prints() {
        let d = device();
        assert!(!format!("{d:?}").contains("0123"));
    }

    proptest! {
        #[test]
        fn junk_never_verifies_and_never_panics(s in "\\PC{0,120}", tail in "[A-Za-z0-9_-]{0,90}") {
            let c = cookies("one secret of enough length for the tests");
            prop_assert_eq!(c.verify(&s, NOW), None);
            prop_assert_eq!(c.verify(&format!("d1.{tail}"), NOW), None);
            prop_assert_eq!(c.verify(&format!("d1.{tail}.{tail}"), NOW), None);
        }
    }
}
