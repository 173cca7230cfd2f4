//! `Email`: a pragmatic shape check (one `@`, a dotted domain, no spaces), at most 254 characters.

use super::ValidationError;

/// An email address, trimmed and lower-cased: one spelling per address, so uniqueness and
/// lookup are case-insensitive on every engine. No mail is ever sent, so no stricter RFC 5321
/// parsing is attempted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

const MAX_LEN: usize = 254;

impl Email {
    pub fn parse(raw: &str) -> Result<Email, ValidationError> {
        let s = raw.trim();
        if s.chars().count() > MAX_LEN {
            return Err(ValidationError::EmailTooLong);
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err(ValidationError::EmailInvalid);
        };
        let plain =
            |part: &str| !part.is_empty() && part.chars().all(|c| !c.is_whitespace() && !c.is_control() && !"@<>()[]\\,;:\"".contains(c));
        let domain_ok = plain(domain)
            && domain.contains('.')
            && domain.split('.').all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'));
        if !plain(local) || local.len() > 64 || !domain_ok {
            return Err(ValidationError::EmailInvalid);
        }
        Ok(Email(s.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ordinary_addresses_are_accepted() {
        for ok in ["johndoe@gmail.com", "a.b+tag@sub.example.org", " x@y.io "] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in ["", "plain", "@example.com", "a@", "a@b", "a@@b.com", "a b@c.com", "a@b..com", "a@-b.com", "<a>@b.com", "a@b\n.com"] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn addresses_are_lower_cased() {
        assert_eq!(Email::parse("John.Doe@GMAIL.com").unwrap().as_str(), "john.doe@gmail.com");
    }

    #[test]
    fn overlong_addresses_are_refused() {
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(ValidationError::EmailTooLong));
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,300}") {
            let _ = Email::parse(&s);
        }
    }
}
