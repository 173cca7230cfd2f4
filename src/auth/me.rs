//! The `me` flow: the user an access token names.

use std::sync::Arc;

use uuid::Uuid;

use super::Services;
use crate::actors::user_repo::RenderedUser;
use crate::error::ApiError;

/// The user `user_id` (from a verified access token).
pub async fn me(services: &Services, user_id: Uuid) -> Result<Arc<RenderedUser>, ApiError> {
    // A token can outlive its user only if the user was removed out of band: treat it as invalid.
    services.users.find_by_id(user_id).await?.ok_or(ApiError::InvalidAccessToken)
}
