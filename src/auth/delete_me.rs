//! The account deletion flow: the user, and everything the user owns, gone.

use uuid::Uuid;

use super::Services;
use super::account::{Caller, confirm_password, end_sessions};
use crate::error::ApiError;
use crate::middleware::RequestId;

/// Deletes the signed-in user once the password is checked. The sessions end first, so a
/// failure half-way leaves an account that still exists, never sessions of one that does not;
/// the row's deletion takes the user's tokens and queued mail with it (`ON DELETE CASCADE`).
pub async fn delete_me(services: &Services, rid: &RequestId, user_id: Uuid, password: String) -> Result<(), ApiError> {
    confirm_password(services, rid, user_id, password).await?;
    end_sessions(services, rid, user_id, Caller::Leaves).await?;
    services.users.delete(user_id).await?;
    log::info!(target: "gatehouse::auth", "account deleted user_id={user_id} rid={rid}");
    // The trail outlives the account (no foreign key): who left, and when.
    services.audit.record(rid, crate::audit::Kind::AccountDeleted, Some(user_id), None);
    Ok(())
}
