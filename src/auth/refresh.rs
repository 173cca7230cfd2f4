//! The refresh flow: rotates the presented refresh token and signs a new access token.

use super::{AccessToken, Services};
use crate::actors::RotateOutcome;
use crate::audit::Kind;
use crate::error::ApiError;
use crate::middleware::RequestId;
use crate::revocation::Reason;
use crate::tokens::RefreshToken;

/// What a refresh led to, short of a failure that leaves the client's cookie as it is.
pub enum Refresh {
    /// The token was current (or had just been rotated by a concurrent request): `refresh`
    /// replaces it.
    Rotated { refresh: RefreshToken, access: AccessToken },
    /// No usable token: missing, malformed, invalid, or a replay (which revoked its family).
    /// The client should forget its token: the error is the answer.
    Refused(ApiError),
}

/// `presented` is the token the client presented, or the error reading it gave.
///
/// An `Err` answer leaves the client's token alone: the token store failed (the token may still
/// be good), or more than one refresh cookie came (`AMBIGUOUS_REFRESH_TOKEN`; see
/// `RefreshCookie::read`: clearing would delete the user's own cookie and leave the planted one).
pub async fn refresh(services: &Services, rid: &RequestId, presented: Result<RefreshToken, ApiError>) -> Result<Refresh, ApiError> {
    let presented = match presented {
        Ok(token) => token,
        Err(e @ ApiError::AmbiguousRefreshToken) => {
            log::warn!(target: "gatehouse::auth", "refresh refused: more than one refresh cookie rid={rid}");
            crate::metrics::refresh_outcome("ambiguous");
            return Err(e);
        }
        Err(e) => {
            crate::metrics::refresh_outcome(if matches!(e, ApiError::MissingRefreshToken) { "missing" } else { "invalid" });
            return Ok(Refresh::Refused(e));
        }
    };
    // A failure of the store or of signing is the service's, counted here with the rest.
    let failed = |_: &ApiError| crate::metrics::refresh_outcome("error");
    services.can_sign().inspect_err(failed)?;
    let sid = presented.family();
    let (user_id, refresh) = match services.tokens.rotate(presented).await.inspect_err(failed)? {
        RotateOutcome::Rotated { user_id, token } => {
            log::info!(target: "gatehouse::auth", "refresh rotated user_id={user_id} rid={rid}");
            crate::metrics::refresh_outcome("rotated");
            (user_id, token)
        }
        RotateOutcome::Grace { user_id, token } => {
            log::info!(target: "gatehouse::auth", "refresh within reuse grace user_id={user_id} rid={rid}");
            crate::metrics::refresh_outcome("grace");
            (user_id, token)
        }
        RotateOutcome::Reused { user_id } => {
            log::warn!(target: "gatehouse::auth", "refresh token reuse detected, session revoked user_id={user_id} rid={rid}");
            crate::metrics::refresh_outcome("reused");
            services.revocations.ended(rid, user_id, &[sid], Reason::Reuse).await;
            services.audit.record(rid, Kind::RefreshReuse, Some(user_id), None);
            return Ok(Refresh::Refused(ApiError::RefreshTokenReused));
        }
        RotateOutcome::Ended { sid } => {
            log::info!(target: "gatehouse::auth", "refresh refused: the session has ended rid={rid}");
            crate::metrics::refresh_outcome("invalid");
            services.revocations.ended_earlier(rid, sid, Reason::Ended).await;
            return Ok(Refresh::Refused(ApiError::InvalidRefreshToken));
        }
        RotateOutcome::Invalid => {
            log::info!(target: "gatehouse::auth", "refresh refused: invalid token rid={rid}");
            crate::metrics::refresh_outcome("invalid");
            return Ok(Refresh::Refused(ApiError::InvalidRefreshToken));
        }
    };
    Ok(Refresh::Rotated { access: services.access_token(user_id, &sid).inspect_err(failed)?, refresh })
}
