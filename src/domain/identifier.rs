//! `Identifier`: the account a login names, in the canonical form the user lookup uses.

use super::{Email, Username, ValidationError};

/// What a login names its account by. A username wins when both are given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identifier {
    Username(Username),
    Email(Email),
    /// A name or address that does not parse, so no account can have it: the login skips the
    /// database but, like every unknown user, still pays for a dummy verification. Holds its
    /// kind and the text trimmed and lower-cased.
    Unregistrable(String),
}

impl Identifier {
    pub fn parse(username: Option<&str>, email: Option<&str>) -> Result<Identifier, ValidationError> {
        Ok(match (username, email) {
            (Some(name), _) => Username::parse(name)
                .map_or_else(|_| Identifier::Unregistrable(format!("username:{}", name.trim().to_lowercase())), Identifier::Username),
            (None, Some(email)) => Email::parse(email)
                .map_or_else(|_| Identifier::Unregistrable(format!("email:{}", email.trim().to_lowercase())), Identifier::Email),
            (None, None) => return Err(ValidationError::MissingIdentifier),
        })
    }

    /// One string per identity: every spelling that reaches the same account by this identifier
    /// gives the same string.
    ///
    /// Security: it is built from the parsed value (NFKC-folded, then lower-cased, since names
    /// are unique case-insensitively), never from the text as typed, so a compatibility spelling
    /// (`ｊｏｈｎ`, `𝐣𝐨𝐡𝐧`, `ⓙⓞⓗⓝ`) is the same identity as `john`. The kinds are tagged, so no
    /// username, email or unparseable text can stand for another.
    pub fn canonical(&self) -> String {
        match self {
            Identifier::Username(name) => format!("username:{}", name.as_str().to_lowercase()),
            Identifier::Email(email) => format!("email:{}", email.as_str()),
            Identifier::Unregistrable(folded) => format!("unregistrable:{folded}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compatibility_spellings_and_case_are_one_identity() {
        let plain = Identifier::parse(Some("john"), None).unwrap().canonical();
        for spelling in ["JOHN", " John ", "ｊｏｈｎ", "𝐣𝐨𝐡𝐧", "𝗃𝗈𝗁𝗇", "ⓙⓞⓗⓝ"] {
            assert_eq!(Identifier::parse(Some(spelling), None).unwrap().canonical(), plain, "{spelling}");
        }
    }

    #[test]
    fn a_username_wins_over_an_email_and_one_of_them_is_required() {
        assert!(matches!(Identifier::parse(Some("john"), Some("j@example.com")), Ok(Identifier::Username(_))));
        assert!(matches!(Identifier::parse(None, Some("J@Example.com ")), Ok(Identifier::Email(e)) if e.as_str() == "j@example.com"));
        assert_eq!(Identifier::parse(None, None), Err(ValidationError::MissingIdentifier));
    }

    #[test]
    fn kinds_never_share_an_identity() {
        let as_name = Identifier::parse(Some("a@b"), None).unwrap();
        let as_email = Identifier::parse(None, Some("a@b")).unwrap();
        assert!(matches!(as_name, Identifier::Unregistrable(_)));
        assert_ne!(as_name.canonical(), as_email.canonical());
        assert_ne!(
            Identifier::parse(Some("alice"), None).unwrap().canonical(),
            Identifier::Unregistrable("username:alice".into()).canonical()
        );
    }
}
