//! The PostgreSQL dialect of the user store: its SQL text and row type.

use sqlx::PgPool;
use uuid::Uuid;

use super::{Lookup, NewUser, Search, UserRecord};

type Row = super::Row<Uuid>;

pub async fn insert(pool: &PgPool, user: &NewUser) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO users (id, username, email, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(user.id)
        .bind(&user.username)
        .bind(&user.email)
        .bind(&user.password_hash)
        .bind(user.created_at)
        .execute(pool)
        .await
        .map(drop)
}

pub async fn find(pool: &PgPool, lookup: &Lookup) -> Result<Option<UserRecord>, sqlx::Error> {
    let query = match lookup {
        Lookup::Username(name) => sqlx::query_as::<_, Row>(select_user_where!("lower(username) = lower($1)")).bind(name.clone()),
        Lookup::Email(email) => sqlx::query_as::<_, Row>(select_user_where!("lower(email) = lower($1)")).bind(email.clone()),
        Lookup::Id(id) => sqlx::query_as::<_, Row>(select_user_where!("id = $1")).bind(*id),
    };
    Ok(query.fetch_optional(pool).await?.map(|r| {
        let id = r.id;
        r.into_record(id)
    }))
}

pub async fn update_password_hash(pool: &PgPool, id: Uuid, hash: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1").bind(id).bind(hash).execute(pool).await.map(drop)
}

pub async fn search(pool: &PgPool, search: &Search) -> Result<Vec<UserRecord>, sqlx::Error> {
    let rows = sqlx::query_as::<_, Row>(select_user_where!(
        "(lower(username) LIKE $1 ESCAPE '\\' OR lower(email) LIKE $1 ESCAPE '\\') AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3"
    ))
    .bind(search.pattern())
    .bind(search.after)
    .bind(i64::from(search.limit))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let id = r.id;
            r.into_record(id)
        })
        .collect())
}

pub async fn set_disabled(pool: &PgPool, id: Uuid, disabled: bool) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE users SET disabled = $2 WHERE id = $1").bind(id).bind(disabled).execute(pool).await?;
    Ok(done.rows_affected() > 0)
}

pub async fn delete(pool: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(pool).await?.rows_affected() > 0)
}
