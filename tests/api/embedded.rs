//! The embedded default (SQLite in the data directory, refresh tokens in memory): what survives
//! a restart.

use std::path::Path;

use serde_json::json;

use crate::helpers::{PASSWORD, data_dir, start, test_vars};

#[actix_web::test]
async fn users_and_the_generated_secret_survive_a_restart() {
    let dir = data_dir();
    let mut vars = test_vars();
    vars.remove("JWT_SECRET");
    vars.insert("DATA_DIR".into(), dir.clone());

    let first = start(vars.clone()).await;
    assert!(first.config.tokens.jwt_secret.is_none(), "the secret is generated, not configured");
    let user = first.register_user().await;
    first.server.stop(true).await;
    assert!(Path::new(&dir).join("gatehouse.db").exists());
    assert!(Path::new(&dir).join("jwt_secret").exists());

    let second = start(vars).await;
    assert_eq!(second.me(&user.access_token).await.status(), 200, "tokens signed before the restart still verify");
    let login = second.login(&json!({"username": user.username, "password": PASSWORD})).await;
    assert_eq!(login.status(), 200, "the user is still there");
    // Refresh tokens lived in memory: the session the first process knew is gone.
    assert_eq!(second.refresh(&user.refresh).await.status(), 401);
}

#[actix_web::test]
async fn a_throwaway_in_memory_database_works() {
    let mut vars = test_vars();
    vars.insert("DATA_DIR".into(), data_dir());
    vars.insert("DATABASE_URL".into(), "sqlite::memory:".into());
    let app = start(vars).await;
    let user = app.register_user().await;
    assert_eq!(app.me(&user.access_token).await.status(), 200);
    assert_eq!(app.login(&json!({"email": user.email, "password": PASSWORD})).await.status(), 200);
}

/// The permission bits of a file.
#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

#[cfg(unix)]
#[actix_web::test]
async fn the_database_and_its_wal_and_shm_files_are_owner_only_wherever_they_live() {
    use std::os::unix::fs::PermissionsExt;
    // In DATA_DIR (the default), in a directory of its own outside it, and in an existing
    // directory open to everyone where an earlier database was left readable by all.
    let (inside, outside, shared) = (data_dir(), data_dir(), data_dir());
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
    let old = Path::new(&shared).join("users.db");
    std::fs::write(&old, b"").unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
    let cases = [
        (None, Path::new(&inside).join("gatehouse.db")),
        (Some(format!("sqlite://{outside}/nested/users.db")), Path::new(&outside).join("nested/users.db")),
        (Some(format!("sqlite:{}", old.display())), old.clone()),
    ];
    for (url, db) in cases {
        let mut vars = test_vars();
        vars.insert("DATA_DIR".into(), inside.clone());
        if let Some(url) = &url {
            vars.insert("DATABASE_URL".into(), url.clone());
        }
        let app = start(vars).await;
        app.register_user().await;
        for suffix in ["", "-wal", "-shm"] {
            let file = Path::new(&format!("{}{suffix}", db.display())).to_path_buf();
            assert_eq!(mode(&file), 0o600, "{} is owner-only", file.display());
        }
        app.server.stop(true).await;
    }
    assert_eq!(mode(&Path::new(&outside).join("nested")), 0o700, "a directory it creates is owner-only");
}
