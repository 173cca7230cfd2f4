//! `POST /auth/logout`.

use crate::helpers::{assert_cookie_attributes, assert_error, body, refresh_cookie, spawn_app};

#[actix_web::test]
async fn logout_revokes_the_refresh_token_and_clears_the_cookie() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let resp = app.logout(&user.refresh).await;
    assert_eq!(resp.status(), 200);
    let cleared = refresh_cookie(&resp).expect("cleared cookie");
    assert_eq!(cleared.value, "");
    assert_cookie_attributes(&cleared);
    assert!(cleared.has("Max-Age=0"));
    assert_eq!(body(resp).await["success"], true);
    assert_error(app.refresh(&user.refresh).await, 401, "INVALID_REFRESH_TOKEN").await;
}

#[actix_web::test]
async fn logout_with_the_predecessor_inside_the_grace_window_ends_the_session_too() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    let current = refresh_cookie(&app.refresh(&user.refresh).await).unwrap().value;
    assert_eq!(app.logout(&user.refresh).await.status(), 200);
    assert_error(app.refresh(&current).await, 401, "INVALID_REFRESH_TOKEN").await;
}

#[actix_web::test]
async fn logout_is_idempotent() {
    let app = spawn_app().await;
    let user = app.register_user().await;
    assert_eq!(app.logout(&user.refresh).await.status(), 200);
    assert_eq!(app.logout(&user.refresh).await.status(), 200);
    let resp = app.client.post(app.url("/auth/logout")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(refresh_cookie(&resp).is_some());
}
