//! The SQLite dialect of the user store: its SQL text and row type, and its files on disk. Ids
//! and times are TEXT.

use std::path::Path;

use anyhow::Context as _;
use sqlx::SqlitePool;
use uuid::Uuid;

use super::{Lookup, NewUser, Search, UserRecord};

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

pub async fn search(pool: &SqlitePool, search: &Search) -> Result<Vec<UserRecord>, sqlx::Error> {
    // SQLite's LIKE folds ASCII case; ids are UUID text, whose order is the UUIDs' order.
    let rows = sqlx::query_as::<_, Row>(select_user_where!(
        "(username LIKE ?1 ESCAPE '\\' OR email LIKE ?1 ESCAPE '\\') AND (?2 IS NULL OR id > ?2) ORDER BY id LIMIT ?3"
    ))
    .bind(search.pattern())
    .bind(search.after.map(|id| id.to_string()))
    .bind(i64::from(search.limit))
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            let id = r.id.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            Ok(r.into_record(id))
        })
        .collect()
}

pub async fn set_disabled(pool: &SqlitePool, id: Uuid, disabled: bool) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE users SET disabled = ?2 WHERE id = ?1").bind(id.to_string()).bind(disabled).execute(pool).await?;
    Ok(done.rows_affected() > 0)
}

pub async fn delete(pool: &SqlitePool, id: Uuid) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM users WHERE id = ?1").bind(id.to_string()).execute(pool).await?.rows_affected() > 0)
}

/// Security: the database holds password hashes, so it is owner-only wherever it lives, not only
/// inside `DATA_DIR`. Its directory is created 0700 when missing; the file is created 0600
/// before SQLite opens it, and SQLite gives the `-wal`, `-shm` and `-journal` files it creates
/// the database file's permission bits, so they are 0600 too. An existing database (and any of
/// those files an earlier run left) is tightened to its owner's bits; when that fails (a file
/// of another user) the service still starts and says so at warn.
pub fn create_private_files(path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::secret::create_private_dir(dir)?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("cannot create the database file {}", path.display())),
        }
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            let file = Path::new(&file);
            let Ok(mode) = std::fs::metadata(file).map(|m| m.permissions().mode() & 0o777) else { continue };
            if mode & 0o077 == 0 {
                continue;
            }
            match std::fs::set_permissions(file, std::fs::Permissions::from_mode(mode & 0o700)) {
                Ok(()) => log::warn!("{} was open to other users: made it owner-only", file.display()),
                Err(e) => log::warn!("{} holds password hashes and is open to other users; could not change that: {e}", file.display()),
            }
        }
    }
    Ok(())
}
