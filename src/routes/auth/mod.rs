//! The `/auth` routes.

mod login;
mod logout;
mod me;
mod refresh;
mod register;
mod session;

pub use login::{Login, login};
pub use logout::{Logout, logout};
pub use me::{Me, MeAlias, me};
pub use refresh::{Refresh, RefreshAccessToken, refresh};
pub use register::{Register, register};
