//! `Password`: length bounds and a list of common passwords (no composition rules, as NIST
//! SP 800-63B advises), and a wrapper that never prints.

use std::collections::HashSet;
use std::sync::OnceLock;

use super::ValidationError;

/// A password in clear, on its way to the hasher. `Debug` is redacted so it cannot reach a log.
#[derive(Clone)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

const MIN_CHARS: usize = 8;
/// Security: an upper bound keeps Argon2's input bounded; 128 characters leaves room for
/// passphrases and password managers.
const MAX_CHARS: usize = 128;

impl Password {
    /// For a new password (register): the length rules apply.
    pub fn parse_new(raw: String) -> Result<Password, ValidationError> {
        let len = raw.chars().count();
        if len < MIN_CHARS {
            return Err(ValidationError::PasswordTooShort);
        }
        if len > MAX_CHARS {
            return Err(ValidationError::PasswordTooLong);
        }
        Ok(Password(raw))
    }

    /// For a login attempt: any password up to the maximum is checked against the hash, so old
    /// accounts are never locked out by a rule that changed; only the upper bound protects
    /// the hasher.
    pub fn parse_attempt(raw: String) -> Result<Password, ValidationError> {
        if raw.chars().count() > MAX_CHARS {
            return Err(ValidationError::PasswordTooLong);
        }
        Ok(Password(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Among the 10,000 most common passwords, compared case-insensitively.
    pub fn is_common(&self) -> bool {
        common_passwords().contains(self.0.to_lowercase().as_str())
    }
}

/// What a new password must satisfy beyond its length.
#[derive(Debug, Clone, Copy)]
pub struct PasswordPolicy {
    /// Security: refuse the passwords attackers try first (NIST SP 800-63B §5.1.1.2; OWASP
    /// ASVS 6.2.4). Checked for new passwords only, so existing accounts keep logging in.
    pub deny_common: bool,
}

impl PasswordPolicy {
    pub fn parse_new(self, raw: String) -> Result<Password, ValidationError> {
        let password = Password::parse_new(raw)?;
        if self.deny_common && password.is_common() {
            return Err(ValidationError::PasswordTooCommon);
        }
        Ok(password)
    }
}

fn common_passwords() -> &'static HashSet<&'static str> {
    static LIST: OnceLock<HashSet<&'static str>> = OnceLock::new();
    LIST.get_or_init(|| {
        include_str!("common_passwords.txt").lines().filter(|l| !l.starts_with('#') && !l.is_empty()).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_for_new_passwords() {
        assert_eq!(Password::parse_new("1234567".into()).unwrap_err(), ValidationError::PasswordTooShort);
        assert!(Password::parse_new("fishcake".into()).is_ok());
        assert!(Password::parse_new("é".repeat(128)).is_ok());
        assert_eq!(Password::parse_new("a".repeat(129)).unwrap_err(), ValidationError::PasswordTooLong);
    }

    #[test]
    fn login_attempts_only_have_an_upper_bound() {
        assert!(Password::parse_attempt("short".into()).is_ok());
        assert!(Password::parse_attempt("a".repeat(129)).is_err());
    }

    #[test]
    fn the_list_holds_ten_thousand_passwords() {
        assert_eq!(common_passwords().len(), 10_000);
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        let policy = PasswordPolicy { deny_common: true };
        for common in ["password", "PASSWORD", "12345678", "baseball", "fishcake"] {
            assert_eq!(policy.parse_new(common.into()).unwrap_err(), ValidationError::PasswordTooCommon, "{common}");
        }
        assert!(policy.parse_new("correct horse battery".into()).is_ok());
        assert!(PasswordPolicy { deny_common: false }.parse_new("password".into()).is_ok());
    }

    #[test]
    fn a_password_never_prints() {
        let p = Password::parse_new("hunter2hunter2".into()).unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
