//! Timing of every call to the token store and the user repository, as the route handlers see
//! it (mailbox wait included), with the failures that were the dependency's fault.

use std::time::Duration;

use crate::error::{ApiError, Dependency};

/// Records one actor call. The operation is the message type's name (`Issue`, `Rotate`,
/// `FindUser`, …): a fixed set. The hasher has its own Argon2 metrics and is not recorded here.
pub fn observe<M, T>(dependency: Dependency, elapsed: Duration, result: &Result<T, ApiError>) {
    let store = match dependency {
        Dependency::Database => "user_repo",
        Dependency::TokenStore => "token_store",
        Dependency::Hasher => return,
    };
    let error = match result {
        Err(ApiError::Unavailable(_)) => Some("unavailable"),
        Err(ApiError::Internal) => Some("internal"),
        // Conflicts and the like are answers, not failures of the store.
        _ => None,
    };
    super::store_operation(store, operation_name::<M>(), elapsed, error);
}

/// `gatehouse::actors::token_store::Rotate` → `Rotate`.
fn operation_name<M>() -> &'static str {
    let full = std::any::type_name::<M>();
    full.rsplit("::").next().unwrap_or(full)
}

#[cfg(test)]
mod tests {
    #[test]
    fn operations_are_named_by_their_message_type() {
        assert_eq!(super::operation_name::<crate::actors::token_store::Rotate>(), "Rotate");
    }
}
