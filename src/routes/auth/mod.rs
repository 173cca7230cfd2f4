//! The `/auth` routes.

mod login;
mod logout;
mod me;
mod refresh;
mod register;
mod session;

pub use login::{LoginRequest, login};
pub use logout::logout;
pub use me::me;
pub use refresh::refresh;
pub use register::{RegisterRequest, register};
pub use session::{AccessTokenBody, SessionBody};
