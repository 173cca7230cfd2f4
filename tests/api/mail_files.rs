//! Without `SMTP_URL`, mail is written as `.eml` files under `DATA_DIR/outbox/`.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::mail::token;
use crate::helpers::spawn_app_with;

#[actix_web::test]
async fn without_an_smtp_url_mail_lands_in_eml_files_with_a_working_link() {
    let app = spawn_app_with(&[("MAIL_POLL_INTERVAL_MS", "50"), ("FORGOT_FLOOR_MS", "1")]).await;
    let outbox = app.config.stores.data_dir.join("outbox");
    let user = app.register_user().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let message = loop {
        let files: Vec<_> = std::fs::read_dir(&outbox).map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect()).unwrap_or_default();
        if let Some(file) = files.iter().find(|p| p.extension().is_some_and(|e| e == "eml")) {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                assert_eq!(std::fs::metadata(file).unwrap().permissions().mode() & 0o077, 0, "owner-only");
            }
            break std::fs::read_to_string(file).unwrap();
        }
        assert!(Instant::now() < deadline, "no .eml file in {}", outbox.display());
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(message.contains(&format!("To: {}", user.email)), "{message}");
    let resp = app.post_json("/auth/email/verify", &json!({"token": token(&message, "/verify")})).await;
    assert_eq!(resp.status(), 200);
}
