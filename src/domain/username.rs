//! `Username`: NFKC-normalised, a small ASCII alphabet, 3 to 32 characters.

use unicode_normalization::UnicodeNormalization;

use super::ValidationError;

/// A username as stored and shown. Uniqueness is case-insensitive (the database compares
/// `lower(username)`), the spelling the user chose is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

const MIN_CHARS: usize = 3;
const MAX_CHARS: usize = 32;

impl Username {
    /// Security: NFKC folds compatibility forms (fullwidth `Ｊｏｈｎ`, ligatures) onto their plain
    /// spelling, and the ASCII-only alphabet that follows leaves no room for confusables such as
    /// a Cyrillic `а` posing as a Latin `a`. Spaces are allowed inside (the original demo's
    /// users are called "John Doe") but not doubled or at the ends.
    pub fn parse(raw: &str) -> Result<Username, ValidationError> {
        let normalized: String = raw.trim().nfkc().collect();
        let len = normalized.chars().count();
        if !(MIN_CHARS..=MAX_CHARS).contains(&len) {
            return Err(ValidationError::UsernameLength);
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-');
        let edges_ok =
            normalized.starts_with(|c: char| c.is_ascii_alphanumeric()) && normalized.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !normalized.chars().all(allowed) || !edges_ok || normalized.contains("  ") {
            return Err(ValidationError::UsernameCharacters);
        }
        Ok(Username(normalized))
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
    fn the_demo_username_is_accepted() {
        assert_eq!(Username::parse("John Doe").unwrap().as_str(), "John Doe");
    }

    #[test]
    fn surrounding_whitespace_is_trimmed() {
        assert_eq!(Username::parse("  alice  ").unwrap().as_str(), "alice");
    }

    #[test]
    fn fullwidth_letters_fold_to_ascii() {
        assert_eq!(Username::parse("Ｊｏｈｎ").unwrap().as_str(), "John");
    }

    #[test]
    fn confusables_and_markup_are_refused() {
        for bad in ["jоhn" /* Cyrillic о */, "a<b>c", "bob'; DROP TABLE users;--", "a\u{0}b", "a\nb", "eve  x", ".bob", "bob-"] {
            assert_eq!(Username::parse(bad), Err(ValidationError::UsernameCharacters), "{bad:?}");
        }
    }

    #[test]
    fn length_bounds_are_enforced() {
        assert_eq!(Username::parse("ab"), Err(ValidationError::UsernameLength));
        assert!(Username::parse("abc").is_ok());
        assert!(Username::parse(&"a".repeat(32)).is_ok());
        assert_eq!(Username::parse(&"a".repeat(33)), Err(ValidationError::UsernameLength));
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_accepted_names_are_plain_ascii(s in "\\PC{0,64}") {
            if let Ok(name) = Username::parse(&s) {
                prop_assert!(name.as_str().is_ascii());
                prop_assert!((3..=32).contains(&name.as_str().len()));
            }
        }
    }
}
