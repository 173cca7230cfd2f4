//! `Password`: NFKC normalisation, length bounds and a list of common passwords (no composition
//! rules, as NIST SP 800-63B advises), and a wrapper that never prints.

use std::collections::HashSet;
use std::sync::OnceLock;

use unicode_normalization::UnicodeNormalization;

use super::ValidationError;

/// A password in clear, on its way to the hasher: its NFKC form, and for a login attempt whose
/// form as sent differs from it, that raw form too (see `legacy_form`). `Debug` is redacted so
/// neither can reach a log.
#[derive(Clone)]
pub struct Password {
    normalised: String,
    legacy: Option<String>,
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

const MIN_CHARS: usize = 8;
/// Security: an upper bound keeps Argon2's input bounded; 128 characters leaves room for
/// passphrases and password managers.
const MAX_CHARS: usize = 128;

/// Security: the NFKC form of `raw` (NIST SP 800-63B §5.1.1.2), so that the same password typed
/// on two keyboards is one password: "café" with a precomposed "é" (U+00E9) or as "e" + U+0301,
/// fullwidth "ｐａｓｓ" or "pass", a no-break space or a space. Everything else is kept as sent
/// (case, spaces, punctuation). The length bounds count the normalised characters.
///
/// Reliability: normalising stops soon after the bound (a run of combining marks is buffered
/// whole; the body limit bounds it), so an oversized password costs little more to refuse than
/// a maximal one.
fn normalise(raw: &str) -> Result<String, ValidationError> {
    let normalised: String = raw.nfkc().take(MAX_CHARS + 1).collect();
    if normalised.chars().count() > MAX_CHARS {
        return Err(ValidationError::PasswordTooLong);
    }
    Ok(normalised)
}

impl Password {
    /// For a new password (register): normalised, then the length rules apply.
    pub fn parse_new(raw: String) -> Result<Password, ValidationError> {
        let normalised = normalise(&raw)?;
        if normalised.chars().count() < MIN_CHARS {
            return Err(ValidationError::PasswordTooShort);
        }
        Ok(Password { normalised, legacy: None })
    }

    /// For a login attempt: any password up to the maximum is checked against the hash, so old
    /// accounts are never locked out by a rule that changed; only the upper bound protects
    /// the hasher.
    ///
    /// Reliability: hashes stored before passwords were normalised are of the password as it
    /// was sent, so an attempt whose raw form differs from its normalised form keeps the raw
    /// form as well, for the hasher to try when the normalised one does not match. Only a raw
    /// form within the bound can have been hashed (registration and login refused longer ones
    /// before), so a longer one is not kept and Argon2's input stays bounded.
    pub fn parse_attempt(raw: String) -> Result<Password, ValidationError> {
        let normalised = normalise(&raw)?;
        let legacy = (raw != normalised && raw.chars().count() <= MAX_CHARS).then_some(raw);
        Ok(Password { normalised, legacy })
    }

    /// The normalised form: what is hashed, and what is verified first.
    pub fn expose(&self) -> &str {
        &self.normalised
    }

    /// The form as sent, when it differs from the normalised one (login attempts only): what a
    /// hash made before normalisation was made from.
    pub fn legacy_form(&self) -> Option<&str> {
        self.legacy.as_deref()
    }

    /// Among the 10,000 most common passwords, once the differences that cost a guesser nothing
    /// are folded away (see `denylist_form`).
    pub fn is_common(&self) -> bool {
        common_passwords().contains(denylist_form(&self.normalised).as_str())
    }
}

/// Security: the form compared with the list: the NFKC form (fullwidth "ｐａｓｓｗｏｒｄ" is
/// "password"), lowercased, and without any whitespace: trimmed at the ends *and* removed inside.
/// No entry of the list contains whitespace (a test checks), so "password ", " password" or
/// "pass word" can only be a trivial variant of an entry, and guessing tools try exactly these.
/// The price is that a phrase made of a listed word split by spaces ("i love you") is refused
/// too, which is right: it is guessed as early as the word. A real passphrase is unaffected
/// ("correct horse battery" folds to "correcthorsebattery", in no list).
fn denylist_form(normalised: &str) -> String {
    normalised.to_lowercase().chars().filter(|c| !c.is_whitespace()).collect()
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
    LIST.get_or_init(|| include_str!("common_passwords.txt").lines().filter(|l| !l.starts_with('#') && !l.is_empty()).collect())
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
        let attempt = Password::parse_attempt("ｈｕｎｔｅｒ2".into()).unwrap();
        assert!(!format!("{attempt:?}").contains("hunter") && !format!("{attempt:?}").contains("ｈｕｎ"));
    }

    #[test]
    fn composed_decomposed_and_fullwidth_forms_are_one_password() {
        let composed = Password::parse_new("caf\u{e9} au lait".into()).unwrap();
        let decomposed = Password::parse_new("cafe\u{301} au lait".into()).unwrap();
        assert_eq!(composed.expose(), "café au lait");
        assert_eq!(decomposed.expose(), composed.expose());
        assert_eq!(Password::parse_new("ｆｉｓｈ\u{a0}ｃａｋｅ".into()).unwrap().expose(), "fish cake");
        assert_eq!(
            Password::parse_new("Fish\u{2163}Cake".into()).unwrap().expose(),
            "FishIVCake",
            "compatibility forms are folded, case is kept"
        );
        assert_eq!(Password::parse_new(" spaces  kept ".into()).unwrap().expose(), " spaces  kept ");
    }

    #[test]
    fn the_length_rules_count_normalised_characters() {
        // 128 accented letters typed as 256 code points are 128 characters.
        assert!(Password::parse_new("e\u{301}".repeat(128)).is_ok());
        assert!(Password::parse_attempt("e\u{301}".repeat(128)).is_ok());
        // Four accented letters typed as eight code points are four characters.
        assert_eq!(Password::parse_new("e\u{301}".repeat(4)).unwrap_err(), ValidationError::PasswordTooShort);
        // One ligature of 18 characters under NFKC (U+FDFA) makes eight of them too long.
        assert_eq!(Password::parse_new("\u{fdfa}".repeat(8)).unwrap_err(), ValidationError::PasswordTooLong);
        assert_eq!(Password::parse_attempt("\u{fdfa}".repeat(8)).unwrap_err(), ValidationError::PasswordTooLong);
    }

    #[test]
    fn an_attempt_keeps_its_raw_form_only_when_normalising_changed_it() {
        assert_eq!(Password::parse_attempt("plain ascii".into()).unwrap().legacy_form(), None);
        assert_eq!(Password::parse_attempt("caf\u{e9}".into()).unwrap().legacy_form(), None, "already NFKC");
        let decomposed = Password::parse_attempt("cafe\u{301}".into()).unwrap();
        assert_eq!(decomposed.expose(), "caf\u{e9}");
        assert_eq!(decomposed.legacy_form(), Some("cafe\u{301}"));
        // A raw form past the bound was never accepted before, so it cannot have been hashed.
        let long = Password::parse_attempt("e\u{301}".repeat(100)).unwrap();
        assert_eq!(long.expose(), "\u{e9}".repeat(100));
        assert_eq!(long.legacy_form(), None);
        assert_eq!(
            Password::parse_new("cafe\u{301} au lait".into()).unwrap().legacy_form(),
            None,
            "a new password is only ever normalised"
        );
    }

    #[test]
    fn trivial_variants_of_common_passwords_are_refused() {
        let policy = PasswordPolicy { deny_common: true };
        for variant in [
            "password ",
            " password",
            "\tpassword\n",
            "pass word",
            "ｐａｓｓｗｏｒｄ",
            "ｐａｓｓｗｏｒｄ１",
            "PassWord",
            "ＰＡＳＳＷＯＲＤ",
            "password\u{3000}",
            "i love you",
        ] {
            assert_eq!(policy.parse_new(variant.into()).unwrap_err(), ValidationError::PasswordTooCommon, "{variant:?}");
        }
        assert!(policy.parse_new("password is not my password".into()).is_ok());
        assert!(policy.parse_new("café au lait".into()).is_ok());
    }

    #[test]
    fn no_listed_password_contains_whitespace_or_capitals() {
        // `denylist_form` removes whitespace and lowercases: an entry with either could never match.
        assert!(common_passwords().iter().all(|p| !p.chars().any(|c| c.is_whitespace() || c.is_uppercase())));
    }

    proptest::proptest! {
        #[test]
        fn canonically_equivalent_inputs_make_the_same_password(s in "\\PC{0,40}") {
            let nfc: String = s.nfc().collect();
            let nfd: String = s.nfd().collect();
            let normalised = |raw: String| Password::parse_attempt(raw).map(|p| p.expose().to_string());
            let (a, b) = (normalised(nfc), normalised(nfd));
            proptest::prop_assert_eq!(&a, &b);
            if let Ok(a) = a {
                let again: String = a.nfkc().collect();
                proptest::prop_assert_eq!(again, a, "normalising is idempotent");
            }
        }
    }
}
