//! The `UserRepo` actor and its messages: one per operation, each run on the store's pool.

use actix::{Actor, Context, Handler, Message, ResponseFuture};
use chrono::{SubsecRound, Utc};
use uuid::Uuid;

use super::errors::db_error;
use super::{Lookup, NewUser, Search, User, UserRecord, UserStore};
use crate::domain::{Email, Username};
use crate::error::ApiError;

pub struct UserRepo {
    store: UserStore,
}

impl UserRepo {
    pub fn new(store: UserStore) -> UserRepo {
        UserRepo { store }
    }
}

impl Actor for UserRepo {
    type Context = Context<Self>;
}

#[derive(Message)]
#[rtype(result = "Result<User, ApiError>")]
pub struct CreateUser {
    pub id: Uuid,
    pub username: Username,
    pub email: Option<Email>,
    pub password_hash: String,
}

#[derive(Message)]
#[rtype(result = "Result<Option<UserRecord>, ApiError>")]
pub struct FindUser(pub Lookup);

#[derive(Message)]
#[rtype(result = "Result<(), ApiError>")]
pub struct UpdatePasswordHash {
    pub id: Uuid,
    pub password_hash: String,
}

/// Deletes a user and, by `ON DELETE CASCADE`, everything the user owns; answers whether a row
/// went.
#[derive(Message)]
#[rtype(result = "Result<bool, ApiError>")]
pub struct DeleteUser(pub Uuid);

#[derive(Message)]
#[rtype(result = "Result<(), ApiError>")]
pub struct Ping;

#[derive(Message)]
#[rtype(result = "Result<Vec<UserRecord>, ApiError>")]
pub struct SearchUsers(pub Search);

/// Disables (`true`) or enables a user; replies whether the user exists.
#[derive(Message)]
#[rtype(result = "Result<bool, ApiError>")]
pub struct SetDisabled(pub Uuid, pub bool);

impl Handler<SearchUsers> for UserRepo {
    type Result = ResponseFuture<Result<Vec<UserRecord>, ApiError>>;
    fn handle(&mut self, msg: SearchUsers, _: &mut Context<Self>) -> Self::Result {
        let store = self.store.clone();
        Box::pin(async move { store.search(&msg.0).await.map_err(db_error) })
    }
}

impl Handler<SetDisabled> for UserRepo {
    type Result = ResponseFuture<Result<bool, ApiError>>;
    fn handle(&mut self, msg: SetDisabled, _: &mut Context<Self>) -> Self::Result {
        let store = self.store.clone();
        Box::pin(async move { store.set_disabled(msg.0, msg.1).await.map_err(db_error) })
    }
}

impl Handler<DeleteUser> for UserRepo {
    type Result = ResponseFuture<Result<bool, ApiError>>;
    fn handle(&mut self, msg: DeleteUser, _: &mut Context<Self>) -> Self::Result {
        let store = self.store.clone();
        Box::pin(async move { store.delete(msg.0).await.map_err(db_error) })
    }
}

impl Handler<CreateUser> for UserRepo {
    type Result = ResponseFuture<Result<User, ApiError>>;
    fn handle(&mut self, msg: CreateUser, _: &mut Context<Self>) -> Self::Result {
        let store = self.store.clone();
        Box::pin(async move {
            let row = NewUser {
                id: msg.id,
                username: msg.username.as_str().to_string(),
                email: msg.email.map(|e| e.as_str().to_string()),
                password_hash: msg.password_hash,
                created_at: Utc::now().trunc_subsecs(6),
            };
            store.insert(&row).await.map_err(db_error)?;
            Ok(User { id: row.id, username: row.username, email: row.email, email_verified: false, created_at: row.created_at })
        })
    }
}

impl Handler<FindUser> for UserRepo {
    type Result = ResponseFuture<Result<Option<UserRecord>, ApiError>>;
    fn handle(&mut self, msg: FindUser, _: &mut Context<Self>) -> Self::Result {
        let store = self.store.clone();
        Box::pin(async move { store.find(&msg.0).await.map_err(db_error) })
    }
}

impl Handler<UpdatePasswordHash> for UserRepo {
    type Result = ResponseFuture<Result<(), ApiError>>;
    fn handle(&mut self, msg: UpdatePasswordHash, _: &mut Context<Self>) -> Self::Result {
        let store = self.store.clone();
        Box::pin(async move { store.update_password_hash(msg.id, &msg.password_hash).await.map_err(db_error) })
    }
}

impl Handler<Ping> for UserRepo {
    type Result = ResponseFuture<Result<(), ApiError>>;
    fn handle(&mut self, _: Ping, _: &mut Context<Self>) -> Self::Result {
        let store = self.store.clone();
        Box::pin(async move { store.ping().await.map_err(db_error) })
    }
}
