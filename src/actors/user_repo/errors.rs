//! How a database error reaches the client: a conflict, a 503 or a logged 500.

use crate::error::{ApiError, Dependency};

/// Maps a driver error: unique violations to conflicts (by index name in PostgreSQL, by column
/// in SQLite's message), an unreachable database to a 503, anything else to a logged 500. The
/// driver's text only ever reaches the log.
pub(crate) fn db_error(e: sqlx::Error) -> ApiError {
    if let sqlx::Error::Database(db) = &e {
        let names = |needle: &str| db.constraint().is_some_and(|c| c.contains(needle)) || db.message().contains(needle);
        if db.is_unique_violation() {
            if names("username") {
                return ApiError::UsernameTaken;
            }
            if names("email") {
                return ApiError::EmailTaken;
            }
        }
    }
    if is_unavailable(&e) {
        log::warn!("user repository: database unavailable: {e}");
        return ApiError::Unavailable(Dependency::Database);
    }
    log::error!("user repository: database error: {e}");
    ApiError::Internal
}

/// The database is away (unreachable, restarting, out of connections, busy), not wrong: worth
/// a 503 and a retry. PostgreSQL SQLSTATE classes 08 (connection exception), 53 (insufficient
/// resources) and 57 (operator intervention, e.g. shutting down); SQLite's BUSY (5) and LOCKED (6).
pub(crate) fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            db.code().is_some_and(|c| c.starts_with("08") || c.starts_with("53") || c.starts_with("57") || c == "5" || c == "6")
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        _ => false,
    }
}
