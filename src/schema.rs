//! The database schema: migrations at startup, retried in the background while PostgreSQL is
//! unreachable; they turn the `Schema` flag (`actors::user_repo::Schema`) ready.
//!
//! Reliability: an orchestrator starts replicas in any order and restarts a crashing one with
//! growing delays. So a replica whose database is not up yet starts anyway, answers 503 for
//! what needs the database, reports not-ready, and migrates as soon as it can. Only an error
//! that retrying cannot fix (a migration that fails, or one changed after it was applied)
//! stops startup.

use std::time::Duration;

use sqlx::migrate::MigrateError;

use crate::actors::user_repo::{Schema, UserStore, is_unavailable};

/// First and longest pause between migration attempts while the database is unreachable.
const FIRST_RETRY: Duration = Duration::from_millis(250);
const MAX_RETRY: Duration = Duration::from_secs(5);

/// Runs the migrations. When the database cannot be reached they are retried in the
/// background, with a pause that doubles up to `MAX_RETRY`, and the returned `Schema` turns
/// ready when they succeed. A migration error that is not about reaching the database is
/// returned at once: retrying would not fix it, and a crash-looping replica says so loudly.
pub async fn migrate(store: &UserStore) -> anyhow::Result<Schema> {
    let schema = Schema::default();
    match store.migrate().await {
        Ok(()) => {
            schema.mark_ready();
            return Ok(schema);
        }
        Err(e) if !transient(&e) => return Err(anyhow::Error::new(e).context("could not run database migrations")),
        Err(e) => log::warn!("database unreachable, starting not-ready; migrations will be retried: {e}"),
    }
    let (store, flag) = (store.clone(), schema.clone());
    actix_web::rt::spawn(async move {
        let mut pause = FIRST_RETRY;
        loop {
            tokio::time::sleep(pause).await;
            match store.migrate().await {
                Ok(()) => {
                    flag.mark_ready();
                    log::info!("database migrations applied; the database is ready");
                    return;
                }
                // Retried too: it may be a concurrent replica's half-finished attempt, and
                // readiness keeps this replica out of rotation meanwhile.
                Err(e) if !transient(&e) => log::error!("database migrations failed: {e}"),
                Err(e) => log::warn!("database still unreachable, retrying migrations in {} ms: {e}", pause.as_millis()),
            }
            pause = (pause * 2).min(MAX_RETRY);
        }
    });
    Ok(schema)
}

/// The database was away, not wrong.
fn transient(e: &MigrateError) -> bool {
    match e {
        MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _) => is_unavailable(e),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unreachable_database_is_retried() {
        assert!(transient(&MigrateError::Execute(sqlx::Error::PoolTimedOut)));
        assert!(transient(&MigrateError::ExecuteMigration(sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into()), 1)));
        assert!(!transient(&MigrateError::VersionMismatch(1)));
        assert!(!transient(&MigrateError::Execute(sqlx::Error::RowNotFound)));
    }
}
