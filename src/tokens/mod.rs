//! The two tokens: a short-lived signed access token (JWT) and a long-lived opaque refresh token.

pub mod access;
pub mod account;
pub mod refresh;
pub mod verified;

pub use access::{AccessClaims, AccessTokenError, AccessTokens};
pub use account::AccountTokenKey;
pub use refresh::{RefreshKey, RefreshToken, TokenHash, session_id, user_id_of, user_tag};
pub use verified::Subject;
