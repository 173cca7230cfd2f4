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
    assert!(first.config.jwt_secret.is_none(), "the secret is generated, not configured");
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
