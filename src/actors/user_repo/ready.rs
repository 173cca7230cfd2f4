//! `Schema`: whether the database's migrations have run (see `crate::schema`), the flag that
//! gates the user repository and readiness.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{ApiError, Dependency};

/// Whether the migrations have run. Cheap to clone; every clone sees the same flag.
#[derive(Clone, Debug, Default)]
pub struct Schema(Arc<AtomicBool>);

impl Schema {
    /// The migrations have run: every clone turns ready.
    pub(crate) fn mark_ready(&self) {
        self.0.store(true, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    /// What a request that needs the database gets before the schema is in place.
    pub fn check(&self) -> Result<(), ApiError> {
        if self.is_ready() { Ok(()) } else { Err(ApiError::Unavailable(Dependency::Database)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_schema_answers_503_for_the_database() {
        let pending = Schema::default();
        assert!(matches!(pending.check(), Err(ApiError::Unavailable(Dependency::Database))));
        let seen_elsewhere = pending.clone();
        pending.mark_ready();
        assert!(seen_elsewhere.check().is_ok());
        assert!(seen_elsewhere.is_ready());
    }
}
