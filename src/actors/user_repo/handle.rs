//! `Users`: the handle route handlers hold, with the schema gate and the user cache in front of
//! the actor.

use std::sync::Arc;
use std::time::Duration;

use actix::Addr;
use uuid::Uuid;

use super::actor::{CreateUser, DeleteUser, FindUser, Ping, SearchUsers, SetDisabled, UpdatePasswordHash};
use super::{Lookup, RenderedUser, Schema, Search, User, UserCache, UserRecord, UserRepo};
use crate::actors::ask;
use crate::domain::{Email, Username};
use crate::error::{ApiError, Dependency};

/// The handle route handlers hold.
#[derive(Clone)]
pub struct Users {
    addr: Addr<UserRepo>,
    timeout: Duration,
    schema: Option<Schema>,
    cache: Option<Arc<UserCache>>,
}

impl Users {
    pub fn new(addr: Addr<UserRepo>, timeout: Duration) -> Users {
        Users { addr, timeout, schema: None, cache: None }
    }

    /// Until `schema` is ready every call answers 503, readiness included.
    pub fn gated(mut self, schema: Schema) -> Users {
        self.schema = Some(schema);
        self
    }

    /// Serves `find_by_id` from `cache` (one for the process, entries kept per worker).
    pub fn cached(mut self, cache: Arc<UserCache>) -> Users {
        self.cache = Some(cache);
        self
    }

    fn schema_ready(&self) -> Result<(), ApiError> {
        self.schema.as_ref().map_or(Ok(()), Schema::check)
    }

    /// The user with this id, from the cache when it was read in the last `USER_CACHE_TTL`
    /// seconds: no database round trip and no mailbox hop. Only `/auth/me` uses it.
    pub async fn find_by_id(&self, id: Uuid) -> Result<Option<Arc<RenderedUser>>, ApiError> {
        if let Some(user) = self.cache.as_ref().and_then(|c| c.get(id)) {
            return Ok(Some(user));
        }
        let record = match self.find(Lookup::Id(id)).await {
            Ok(record) => record,
            // Reliability: a re-read that fails (the database slow or away for a moment) answers
            // with the entry it was to replace while that is within the TTL plus the re-read
            // bound, as the requests that waited for it were answered; past it, the failure.
            Err(e) => return self.cache.as_ref().and_then(|c| c.recent(id)).map(Some).ok_or(e),
        };
        let Some(record) = record else { return Ok(None) };
        let user = Arc::new(RenderedUser::new(record.user));
        if let Some(cache) = &self.cache {
            cache.put(user.clone());
        }
        Ok(Some(user))
    }

    pub async fn create(&self, id: Uuid, username: Username, email: Option<Email>, password_hash: String) -> Result<User, ApiError> {
        self.schema_ready()?;
        ask(&self.addr, CreateUser { id, username, email, password_hash }, self.timeout, Dependency::Database).await
    }

    pub async fn find(&self, lookup: Lookup) -> Result<Option<UserRecord>, ApiError> {
        self.schema_ready()?;
        ask(&self.addr, FindUser(lookup), self.timeout, Dependency::Database).await
    }

    pub async fn update_password_hash(&self, id: Uuid, password_hash: String) -> Result<(), ApiError> {
        self.schema_ready()?;
        ask(&self.addr, UpdatePasswordHash { id, password_hash }, self.timeout, Dependency::Database).await
    }

    pub async fn search(&self, search: Search) -> Result<Vec<UserRecord>, ApiError> {
        self.schema_ready()?;
        ask(&self.addr, SearchUsers(search), self.timeout, Dependency::Database).await
    }

    /// Disables or enables `id`; whether the user exists.
    pub async fn set_disabled(&self, id: Uuid, disabled: bool) -> Result<bool, ApiError> {
        self.schema_ready()?;
        ask(&self.addr, SetDisabled(id, disabled), self.timeout, Dependency::Database).await
    }

    /// Deletes the user and everything the user owns (`ON DELETE CASCADE`): whether a row went.
    /// The user leaves this process's cache at once (other replicas' within `USER_CACHE_TTL`).
    pub async fn delete(&self, id: Uuid) -> Result<bool, ApiError> {
        self.schema_ready()?;
        let deleted = ask(&self.addr, DeleteUser(id), self.timeout, Dependency::Database).await?;
        self.forget(id);
        Ok(deleted)
    }

    /// Drops a user from the cache, after a change to what `/auth/me` shows.
    pub fn forget(&self, id: Uuid) {
        if let Some(cache) = &self.cache {
            cache.forget(id);
        }
    }

    pub async fn ping(&self) -> Result<(), ApiError> {
        self.schema_ready()?;
        ask(&self.addr, Ping, self.timeout, Dependency::Database).await
    }
}
