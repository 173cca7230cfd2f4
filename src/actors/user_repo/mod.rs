//! `UserRepo`: users in PostgreSQL or the embedded SQLite database, through sqlx. Uniqueness is
//! decided by the database's unique indexes, never by a read-then-write that two concurrent
//! registrations could both pass.

/// sqlx takes `&'static str`: the dialects' lookups share their column list at compile time.
macro_rules! select_user_where {
    ($clause:literal) => {
        concat!("SELECT id, username, email, email_verified, created_at, password_hash, disabled FROM users WHERE ", $clause)
    };
}

mod actor;
mod cache;
mod errors;
mod handle;
mod model;
mod postgres;
mod ready;
mod sqlite;
mod store;

pub use actor::{CreateUser, DeleteUser, FindUser, Ping, SearchUsers, SetDisabled, UpdatePasswordHash, UserRepo};
pub use cache::UserCache;
pub(crate) use errors::{db_error, is_unavailable};
pub use handle::Users;
use model::Row;
pub use model::{Lookup, NewUser, RenderedUser, Search, User, UserRecord};
pub use ready::Schema;
pub use store::UserStore;
