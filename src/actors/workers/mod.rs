//! Background workers: periodic jobs run as actors, each with its tick as a plain function that
//! tests drive directly.

pub mod dependencies;
pub mod live_tokens;

pub use dependencies::{DependenciesWorker, PoolProbe, Probes, TickReport};
pub use live_tokens::LiveTokensWorker;
