//! The registration flow: a new account and its first session.

use std::net::IpAddr;

use uuid::Uuid;

use super::{Services, Session};
use crate::actors::token_store::SessionMeta;
use crate::domain::{Email, Identifier, Username};
use crate::error::ApiError;
use crate::middleware::RequestId;
use crate::throttle::{Account, Action};

/// A registration as the client sent it, not yet validated. No `Debug`: it holds a password.
pub struct NewAccount {
    pub username: String,
    pub password: String,
    pub email: Option<String>,
    /// The client's `User-Agent`, recorded with the session (bounded and sanitised).
    pub user_agent: Option<String>,
}

/// Validates, throttles (per IP, then per name), hashes, stores the first refresh token, then
/// the user.
pub async fn register(services: &Services, rid: &RequestId, ip: IpAddr, account: NewAccount) -> Result<Session, ApiError> {
    let username = Username::parse(&account.username)?;
    let email = account.email.as_deref().map(Email::parse).transpose()?;
    let password = services.password_policy.parse_new(account.password)?;
    services.throttle.attempt_from(rid, Action::Register, ip).await?;
    // Security: counted on the canonical name, so compatibility spellings of one name (which
    // would all be refused as taken) share one counter.
    let name = Identifier::Username(username.clone());
    services.throttle.attempt_on(rid, Action::Register, Account::Named(&name)).await?;
    // Security: the password is hashed before the database is asked about the name, so a taken
    // name costs a caller the same Argon2 work as a free one.
    let hash = services.hasher.hash(password).await?;
    // The refresh token is stored before the user row: if the token store is down, nothing
    // has been written and the client can simply retry. A token stored for a registration that
    // then loses the name race is revoked at once (and would expire unused anyway).
    let id = Uuid::now_v7();
    services.can_sign()?;
    let refresh = services.tokens.issue(id, SessionMeta::new(ip, account.user_agent.as_deref())).await?.token;
    let user = match services.users.create(id, username, email, hash).await {
        Ok(user) => user,
        Err(e) => {
            if let Err(revoke) = services.tokens.revoke(refresh).await {
                log::warn!("could not revoke the token of a failed registration: {revoke} rid={rid}");
            }
            return Err(e);
        }
    };
    log::info!(target: "gatehouse::auth", "register user_id={} rid={rid}", user.id);
    super::email::welcome(services, rid, &user).await;
    services.session(user, refresh)
}
