//! Signing keys of access tokens: their algorithms, material and sealing, the rotation rules,
//! their table, the key set each replica holds, and the worker that rotates them.
//! See docs/signing-keys.md for the life of a key as operators and resource servers see it.

mod algorithm;
mod manager;
pub mod material;
pub mod plan;
mod seal;
mod set;
pub mod store;
mod worker;

pub use algorithm::Algorithm;
pub use manager::{KeyError, Keys, fresh_key};
pub use plan::{HS256_KID, KeyRow, PlanError, Policy};
pub use seal::{Sealer, UnsealError};
pub use set::{Context, KeyRing, KeySet, SigningKey, VerifyKey};
pub use store::MaintainError;
pub use worker::KeyWorker;
