//! The `audit_events` table on both engines: a batch insert, the reads, the pruning.

use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::{AuditEvent, Event};
use crate::actors::user_repo::UserStore;

/// An `audit_events` row as both engines read it (ids and the user id as their own types).
#[derive(sqlx::FromRow)]
pub struct EventRow<U> {
    id: i64,
    at: DateTime<Utc>,
    kind: String,
    user_id: Option<U>,
    actor: String,
    ip: Option<String>,
    request_id: Option<String>,
}

impl<U> EventRow<U> {
    fn into_event(self, user_id: Option<Uuid>) -> AuditEvent {
        AuditEvent { id: self.id, at: self.at, kind: self.kind, user_id, actor: self.actor, ip: self.ip, request_id: self.request_id }
    }
}

/// Writes a batch in one statement.
pub async fn insert(store: &UserStore, batch: &[Event]) -> Result<(), sqlx::Error> {
    if batch.is_empty() {
        return Ok(());
    }
    match store {
        UserStore::Postgres(pool) => {
            let mut q = QueryBuilder::new("INSERT INTO audit_events (at, kind, user_id, actor, ip, request_id) ");
            q.push_values(batch, |mut b, e| {
                b.push_bind(e.at)
                    .push_bind(e.kind.label())
                    .push_bind(e.user_id)
                    .push_bind(e.kind.actor())
                    .push_bind(e.ip.map(|ip| ip.to_string()))
                    .push_bind(e.request_id.clone());
            });
            q.build().execute(pool).await.map(drop)
        }
        UserStore::Sqlite(pool) => {
            let mut q = QueryBuilder::new("INSERT INTO audit_events (at, kind, user_id, actor, ip, request_id) ");
            q.push_values(batch, |mut b, e| {
                b.push_bind(e.at)
                    .push_bind(e.kind.label())
                    .push_bind(e.user_id.map(|u| u.to_string()))
                    .push_bind(e.kind.actor())
                    .push_bind(e.ip.map(|ip| ip.to_string()))
                    .push_bind(e.request_id.clone());
            });
            q.build().execute(pool).await.map(drop)
        }
    }
}

const SELECT: &str = "SELECT id, at, kind, user_id, actor, ip, request_id FROM audit_events WHERE ";

/// The newest first, of `user_id` or of everyone, with ids below `before`.
pub async fn events(store: &UserStore, user_id: Option<Uuid>, limit: u32, before: Option<i64>) -> Result<Vec<AuditEvent>, sqlx::Error> {
    let before = before.unwrap_or(i64::MAX);
    match store {
        UserStore::Postgres(pool) => {
            let mut q = QueryBuilder::new(SELECT);
            q.push("id < ").push_bind(before);
            if let Some(u) = user_id {
                q.push(" AND user_id = ").push_bind(u);
            }
            q.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(limit));
            let rows: Vec<EventRow<Uuid>> = q.build_query_as().fetch_all(pool).await?;
            Ok(rows
                .into_iter()
                .map(|r| {
                    let u = r.user_id;
                    r.into_event(u)
                })
                .collect())
        }
        UserStore::Sqlite(pool) => {
            let mut q = QueryBuilder::new(SELECT);
            q.push("id < ").push_bind(before);
            if let Some(u) = user_id {
                q.push(" AND user_id = ").push_bind(u.to_string());
            }
            q.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(limit));
            let rows: Vec<EventRow<String>> = q.build_query_as().fetch_all(pool).await?;
            Ok(rows
                .into_iter()
                .map(|r| {
                    let u = r.user_id.as_deref().and_then(|u| u.parse().ok());
                    r.into_event(u)
                })
                .collect())
        }
    }
}

/// Deletes the events older than `cutoff`; how many went.
pub async fn prune(store: &UserStore, cutoff: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    match store {
        UserStore::Postgres(pool) => {
            Ok(sqlx::query("DELETE FROM audit_events WHERE at < $1").bind(cutoff).execute(pool).await?.rows_affected())
        }
        UserStore::Sqlite(pool) => {
            Ok(sqlx::query("DELETE FROM audit_events WHERE at < ?1").bind(cutoff).execute(pool).await?.rows_affected())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::audit::Kind;
    use crate::config::Database;

    fn event(days_ago: i64, kind: Kind, user_id: Option<Uuid>) -> Event {
        Event { at: Utc::now() - chrono::Duration::days(days_ago), kind, user_id, ip: None, request_id: "rid".into() }
    }

    #[actix_web::test]
    async fn events_past_the_retention_are_pruned_and_the_rest_read_newest_first() {
        let store = UserStore::connect_lazy(&Database::Sqlite("sqlite::memory:".into()), 1, Duration::from_secs(5)).unwrap();
        store.migrate().await.unwrap();
        let user = Uuid::now_v7();
        let batch = [event(100, Kind::LoginFailed, Some(user)), event(10, Kind::LoginSucceeded, Some(user)), event(1, Kind::Logout, None)];
        insert(&store, &batch).await.unwrap();
        assert_eq!(prune(&store, Utc::now() - chrono::Duration::days(90)).await.unwrap(), 1);
        let all = events(&store, None, 10, None).await.unwrap();
        assert_eq!(all.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["logout", "login_succeeded"]);
        let theirs = events(&store, Some(user), 10, None).await.unwrap();
        assert_eq!(theirs.len(), 1);
        assert_eq!(theirs[0].user_id, Some(user));
        assert!(events(&store, None, 10, Some(theirs[0].id)).await.unwrap().is_empty(), "nothing older than the cursor");
    }
}
