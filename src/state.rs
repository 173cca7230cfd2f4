//! `AppState`: what every route handler may use, built once per HTTP worker.

use std::sync::Arc;

use crate::actors::{Hasher, TokenStore, Users};
use crate::config::IpNet;
use crate::cookie::RefreshCookie;
use crate::device_cookie::DeviceCookie;
use crate::domain::PasswordPolicy;
use crate::throttle::Throttle;
use crate::tokens::AccessTokens;

pub struct AppState {
    pub hasher: Hasher,
    pub tokens: TokenStore,
    pub users: Users,
    pub access: Arc<AccessTokens>,
    pub cookie: RefreshCookie,
    pub device: DeviceCookie,
    pub throttle: Throttle,
    pub password_policy: PasswordPolicy,
    pub cors_origins: Arc<[String]>,
    pub trusted_proxies: Arc<[IpNet]>,
}
