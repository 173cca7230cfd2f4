//! The `/auth` routes.

mod delete_me;
mod email;
mod login;
mod logout;
mod me;
mod password;
mod refresh;
mod register;
mod session;
mod sessions;

pub use delete_me::{DeleteMe, delete_me};
pub use email::{ChangeEmail, ResendVerification, VerifyEmail, change_email, resend_verification, verify_email};
pub use login::{Login, login};
pub use logout::{Logout, logout};
pub use me::{Me, MeAlias, me};
pub use password::{ChangePassword, ForgotPassword, ResetPassword, change_password, forgot_password, reset_password};
pub use refresh::{Refresh, RefreshAccessToken, refresh};
pub use register::{Register, register};
pub use sessions::{EndSession, EndedContent, LogoutAll, Sessions, end_session, list_sessions, logout_all};

/// The client's `User-Agent`, when it is text (the store bounds and sanitises it).
fn user_agent(req: &actix_web::HttpRequest) -> Option<String> {
    req.headers().get(actix_web::http::header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string)
}
