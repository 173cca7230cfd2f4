//! The session flows of a signed-in user: list their sessions, end one, end them all. Each
//! ended session's access tokens are revoked on every replica.

use uuid::Uuid;

use super::Services;
use crate::actors::token_store::SessionInfo;
use crate::audit::Kind;
use crate::error::ApiError;
use crate::middleware::RequestId;
use crate::revocation::Reason;
use crate::tokens::Subject;

/// The caller's live sessions, most recently used first, the one of their token marked.
pub async fn sessions(services: &Services, caller: &Subject) -> Result<Vec<SessionInfo>, ApiError> {
    let current = caller.sid_hex();
    let mut sessions = services.tokens.list(caller.sub).await?;
    for s in &mut sessions {
        s.current = current.as_deref() == Some(s.id.as_str());
    }
    Ok(sessions)
}

/// Ends the caller's session `id`.
///
/// Security: the store looks the id up among the caller's own sessions only, so another user's
/// session id answers exactly like an unknown one (`SESSION_NOT_FOUND`): nothing tells that it
/// exists, and nothing of it changes.
pub async fn end_session(services: &Services, rid: &RequestId, caller: &Subject, id: &str) -> Result<(), ApiError> {
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
        return Err(ApiError::SessionNotFound);
    }
    let ended = services.tokens.end(caller.sub, Some(id.to_string())).await?;
    if ended.is_empty() {
        return Err(ApiError::SessionNotFound);
    }
    log::info!(target: "gatehouse::auth", "session ended user_id={} rid={rid}", caller.sub);
    services.revocations.ended(rid, caller.sub, &ended, Reason::Ended).await;
    services.audit.record(rid, Kind::SessionEnded, Some(caller.sub), None);
    Ok(())
}

/// Ends every session of the caller (theirs included); returns how many ended.
pub async fn logout_all(services: &Services, rid: &RequestId, user_id: Uuid) -> Result<usize, ApiError> {
    let ended = services.tokens.end(user_id, None).await?;
    log::info!(target: "gatehouse::auth", "logout everywhere user_id={user_id} sessions={} rid={rid}", ended.len());
    services.revocations.all_ended(rid, user_id, &ended, Reason::LogoutAll).await;
    services.audit.record(rid, Kind::LogoutAll, Some(user_id), None);
    Ok(ended.len())
}
