//! Domain types parsed from untrusted input: once a value exists, it is valid.

mod email;
mod identifier;
mod password;
mod username;

pub use email::Email;
pub use identifier::Identifier;
pub use password::{Password, PasswordPolicy};
pub use username::Username;

/// Why an input was refused. Each variant is a stable `error_code` with a message for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("username must be 3 to 32 characters long")]
    UsernameLength,
    #[error(
        "username may contain only letters a-z, digits, single spaces, '.', '_' and '-', and must start and end with a letter or digit"
    )]
    UsernameCharacters,
    #[error("email must look like name@example.com")]
    EmailInvalid,
    #[error("email must be at most 254 characters long")]
    EmailTooLong,
    #[error("password must be at least 8 characters long")]
    PasswordTooShort,
    #[error("password must be at most 128 characters long")]
    PasswordTooLong,
    #[error("this password is among the most common ones and easy to guess; choose another")]
    PasswordTooCommon,
    #[error("log in with a username or an email, and a password")]
    MissingIdentifier,
}

impl ValidationError {
    pub fn code(self) -> &'static str {
        match self {
            ValidationError::UsernameLength => "INVALID_USERNAME_LENGTH",
            ValidationError::UsernameCharacters => "INVALID_USERNAME_CHARACTERS",
            ValidationError::EmailInvalid => "INVALID_EMAIL",
            ValidationError::EmailTooLong => "EMAIL_TOO_LONG",
            ValidationError::PasswordTooShort => "PASSWORD_TOO_SHORT",
            ValidationError::PasswordTooLong => "PASSWORD_TOO_LONG",
            ValidationError::PasswordTooCommon => "PASSWORD_TOO_COMMON",
            ValidationError::MissingIdentifier => "MISSING_IDENTIFIER",
        }
    }
}
