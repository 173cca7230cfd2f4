//! The PostgreSQL dialect of the user store: its SQL text and row type.

use sqlx::PgPool;
use uuid::Uuid;

use super::{Lookup, NewUser, UserRecord};

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
