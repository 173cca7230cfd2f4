//! Mail: what gatehouse sends (`Kind`), from templates an operator may replace (`templates`),
//! through SMTP or into `.eml` files (`transport`), by a background worker that drains the
//! outbox (`worker`; the outbox itself is in `account_store`). No request ever waits on a mail
//! server: requests only write the outbox.

pub mod templates;
pub mod transport;
pub mod worker;

pub use templates::Templates;
pub use transport::Transport;
pub use worker::{MailWorker, Mailer};

/// The kinds of mail, as stored in the outbox and named in metrics and template files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    PasswordReset,
    VerifyEmail,
    /// To the old address, once a new one is verified.
    EmailChanged,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::PasswordReset, Kind::VerifyEmail, Kind::EmailChanged];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::PasswordReset => "password_reset",
            Kind::VerifyEmail => "verify_email",
            Kind::EmailChanged => "email_changed",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// The SPA page a token of this kind is posted back from.
    pub fn page(self) -> Option<&'static str> {
        match self {
            Kind::PasswordReset => Some("/reset"),
            Kind::VerifyEmail => Some("/verify"),
            Kind::EmailChanged => None,
        }
    }
}
