//! The SQLite dialect of the user store: its SQL text and row type. Ids and times are TEXT.

use sqlx::SqlitePool;
use uuid::Uuid;

use super::{Lookup, NewUser, UserRecord};

type Row = super::Row<String>;

pub async fn insert(pool: &SqlitePool, user: &NewUser) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO users (id, username, email, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")
        .bind(user.id.to_string())
        .bind(&user.username)
        .bind(&user.email)
        .bind(&user.password_hash)
        .bind(user.created_at)
        .execute(pool)
        .await
        .map(drop)
}

pub async fn find(pool: &SqlitePool, lookup: &Lookup) -> Result<Option<UserRecord>, sqlx::Error> {
    // `username` has NOCASE collation: `=` compares case-insensitively.
    let query = match lookup {
        Lookup::Username(name) => sqlx::query_as::<_, Row>(select_user_where!("username = ?1")).bind(name.clone()),
        Lookup::Email(email) => sqlx::query_as::<_, Row>(select_user_where!("email = lower(?1)")).bind(email.clone()),
        Lookup::Id(id) => sqlx::query_as::<_, Row>(select_user_where!("id = ?1")).bind(id.to_string()),
    };
    let Some(r) = query.fetch_optional(pool).await? else { return Ok(None) };
    let id = r.id.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(Some(r.into_record(id)))
}

pub async fn update_password_hash(pool: &SqlitePool, id: Uuid, hash: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_hash = ?2 WHERE id = ?1").bind(id.to_string()).bind(hash).execute(pool).await.map(drop)
}
