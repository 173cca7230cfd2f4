//! The `signing_keys` table on either engine: reading every key, and applying a rotation plan
//! in one transaction under a lock, so that with several replicas exactly one of them makes
//! each change (the others, waiting on the lock, then read the keys it made and find nothing to
//! do).
//!
//! The SQL text is the same on both engines (times are integers, keys are bytes); only the lock
//! differs: PostgreSQL's transaction-scoped advisory lock, SQLite's `BEGIN IMMEDIATE` (the
//! database's write lock, taken before the first read).

use sqlx::Row as _;

use super::Algorithm;
use super::plan::{Action, KeyRow, Plan, PlanError, Policy, plan};
use crate::actors::user_repo::UserStore;

/// The advisory lock's key: "gatehouse signing keys", an arbitrary constant of this table.
const ADVISORY_LOCK: i64 = 0x6761_7465_6b65_7973;

const SELECT: &str =
    "SELECT kid, algorithm, public_key, sealed_private, created_at, activated_at, retired_at, verify_until FROM signing_keys";
const INSERT: &str = "INSERT INTO signing_keys (kid, algorithm, public_key, sealed_private, created_at, activated_at, retired_at, verify_until) \
                      VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const UPDATE: &str = "UPDATE signing_keys SET activated_at = $2, retired_at = $3, verify_until = $4 WHERE kid = $1";

/// Why a maintenance did not happen.
#[derive(Debug, thiserror::Error)]
pub enum MaintainError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Refused(#[from] PlanError),
}

macro_rules! rows_from {
    ($rows:expr) => {
        $rows
            .into_iter()
            .filter_map(|row| {
                let read = || -> Result<(String, KeyRow), sqlx::Error> {
                    let algorithm: String = row.try_get("algorithm")?;
                    // A placeholder algorithm for a name this release does not know: see below.
                    let alg = algorithm.parse::<Algorithm>().unwrap_or(Algorithm::HS256);
                    Ok((
                        algorithm,
                        KeyRow {
                            kid: row.try_get("kid")?,
                            alg,
                            public_key: row.try_get("public_key")?,
                            sealed_private: row.try_get("sealed_private")?,
                            created_at: row.try_get("created_at")?,
                            activated_at: row.try_get("activated_at")?,
                            retired_at: row.try_get("retired_at")?,
                            verify_until: row.try_get("verify_until")?,
                        },
                    ))
                };
                match read() {
                    Ok((algorithm, key)) if algorithm.parse::<Algorithm>().is_err() => {
                        log::error!("signing key {} has an unknown algorithm {algorithm:?}; ignored", key.kid);
                        None
                    }
                    Ok((_, key)) => Some(key),
                    Err(e) => {
                        log::error!("a signing key row could not be read: {e}; ignored");
                        None
                    }
                }
            })
            .collect::<Vec<KeyRow>>()
    };
}

macro_rules! apply {
    ($tx:expr, $plan:expr) => {{
        for key in &$plan.inserts {
            sqlx::query(INSERT)
                .bind(&key.kid)
                .bind(key.alg.name())
                .bind(&key.public_key)
                .bind(&key.sealed_private)
                .bind(key.created_at)
                .bind(key.activated_at)
                .bind(key.retired_at)
                .bind(key.verify_until)
                .execute(&mut *$tx)
                .await?;
        }
        for key in &$plan.updates {
            sqlx::query(UPDATE)
                .bind(&key.kid)
                .bind(key.activated_at)
                .bind(key.retired_at)
                .bind(key.verify_until)
                .execute(&mut *$tx)
                .await?;
        }
    }};
}

/// Every stored key, whatever its state.
pub async fn load(store: &UserStore) -> Result<Vec<KeyRow>, sqlx::Error> {
    Ok(match store {
        UserStore::Postgres(pool) => rows_from!(sqlx::query(SELECT).fetch_all(pool).await?),
        UserStore::Sqlite(pool) => rows_from!(sqlx::query(SELECT).fetch_all(pool).await?),
    })
}

/// Plans `action` over the keys as they are under the lock, and applies the plan in the same
/// transaction.
pub async fn maintain(
    store: &UserStore,
    policy: &Policy,
    now: i64,
    action: &Action,
    new_key: &mut (dyn FnMut(Algorithm) -> KeyRow + Send),
) -> Result<Plan, MaintainError> {
    match store {
        UserStore::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            // Reliability: the lock is held until commit or rollback, and released by the
            // server if this process dies holding it.
            sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(ADVISORY_LOCK).execute(&mut *tx).await?;
            let rows = rows_from!(sqlx::query(SELECT).fetch_all(&mut *tx).await?);
            let plan = plan(&rows, policy, now, action, new_key)?;
            apply!(tx, plan);
            tx.commit().await?;
            Ok(plan)
        }
        UserStore::Sqlite(pool) => {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            let rows = rows_from!(sqlx::query(SELECT).fetch_all(&mut *tx).await?);
            let plan = plan(&rows, policy, now, action, new_key)?;
            apply!(tx, plan);
            tx.commit().await?;
            Ok(plan)
        }
    }
}
