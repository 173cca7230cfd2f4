//! The logout flow: ends the presented refresh token's session, and with it its access tokens.

use super::Services;
use crate::actors::token_store::Revoked;
use crate::audit::Kind;
use crate::error::ApiError;
use crate::middleware::RequestId;
use crate::revocation::Reason;
use crate::tokens::RefreshToken;

/// Idempotent: without a token (`presented` is the error reading the cookie gave), or with a
/// token that is no longer valid, the logout succeeds all the same. Only a store failure fails
/// it (so the client can retry and the session does not live on unseen), and so does more than
/// one refresh cookie (`AMBIGUOUS_REFRESH_TOKEN`, nothing revoked: see `RefreshCookie::read`; a
/// planted cookie must not be able to end the user's session).
pub async fn logout(services: &Services, rid: &RequestId, presented: Result<RefreshToken, ApiError>) -> Result<(), ApiError> {
    match presented {
        Ok(token) => match services.tokens.revoke(token.clone()).await? {
            Revoked::Ended(user_id) => {
                log::info!(target: "gatehouse::auth", "logout user_id={user_id} rid={rid}");
                services.revocations.ended(rid, user_id, &[token.family()], Reason::Logout).await;
                services.audit.record(rid, Kind::Logout, Some(user_id), None);
            }
            // A retried logout whose first attempt timed out after Redis ended the session: that
            // attempt published nothing, so this one does.
            Revoked::Gone => {
                log::info!(target: "gatehouse::auth", "logout of a session that had already ended rid={rid}");
                services.revocations.ended_earlier(rid, token.family(), Reason::Logout).await;
            }
            Revoked::Kept => log::info!(target: "gatehouse::auth", "logout with a token that was not live rid={rid}"),
        },
        Err(e @ ApiError::AmbiguousRefreshToken) => {
            log::warn!(target: "gatehouse::auth", "logout refused: more than one refresh cookie rid={rid}");
            return Err(e);
        }
        Err(_) => {}
    }
    Ok(())
}
