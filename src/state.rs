//! `AppState`: what every route handler may use, built once per HTTP worker: the `Services`
//! the flows run on, and what only HTTP needs (cookies, CORS origins, trusted proxies).

use std::sync::Arc;

use crate::auth::Services;
use crate::config::IpNet;
use crate::cookie::RefreshCookie;
use crate::device_cookie::DeviceCookie;

pub struct AppState {
    pub services: Services,
    pub cookie: RefreshCookie,
    pub device: DeviceCookie,
    pub cors_origins: Arc<[String]>,
    pub trusted_proxies: Arc<[IpNet]>,
}
