//! The codes the backend and the agent add to the base taxonomy, in one reviewable declaration.

use stanchion_errors::{Taxonomy, TaxonomyError};

stanchion_errors::error_codes! {
    /// Codes shared by the example backend and agent on top of the base taxonomy. The backend
    /// relays the `forwardable` ones from the agent as they are (see
    /// `stanchion_errors::ProxyPolicy`); the others become an upstream code.
    pub const SHARED_CODES;

    /// The caller's subscription plan does not include the requested feature (the backend's
    /// training plans on the `free` plan).
    SUBSCRIPTION_PLAN_LIMIT = 403, "Your subscription plan does not include this feature.";

    /// The caller used every query their plan allows in the current window; `Retry-After`
    /// says when the window resets. Forwardable: the agent counts queries, and the backend
    /// passes the answer on unchanged.
    SUBSCRIPTION_QUERY_LIMIT = 429, "You have reached the query limit of your plan. Try again later.",
        retryable, forwardable;

    /// The agent could not connect to its model provider (a third party). Not forwardable:
    /// the backend's callers see `UPSTREAM_ERROR`, since the provider is not theirs to know.
    MODEL_PROVIDER_CONNECT_FAILED = 502, "The model provider could not be reached.",
        retryable;
}

/// The base taxonomy plus [`SHARED_CODES`].
///
/// # Errors
///
/// When a shared code collides with another code (a reviewer's mistake caught at start and by
/// this crate's tests).
pub fn shared_taxonomy() -> Result<Taxonomy, TaxonomyError> {
    Taxonomy::builder().extend(SHARED_CODES).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_codes_merge_with_the_base_taxonomy() {
        let taxonomy = shared_taxonomy().expect("no duplicates");
        let limit = taxonomy.get("SUBSCRIPTION_QUERY_LIMIT").expect("declared");
        assert_eq!(limit.status(), 429);
        assert!(limit.is_forwardable() && limit.is_retryable());
        assert!(
            !taxonomy
                .get("SUBSCRIPTION_PLAN_LIMIT")
                .expect("declared")
                .is_forwardable()
        );
        assert!(
            !taxonomy
                .get("MODEL_PROVIDER_CONNECT_FAILED")
                .expect("declared")
                .is_forwardable()
        );
        assert!(taxonomy.get("NOT_FOUND").is_some());
    }

    /// A code that disappears or changes status breaks clients: the lock beside the manifest
    /// pins them (regenerate on purpose with `STANCHION_BLESS=1`).
    #[test]
    fn shared_codes_match_their_lock() {
        let taxonomy = Taxonomy::builder()
            .extend(SHARED_CODES)
            .build()
            .expect("no duplicates");
        taxonomy.assert_lock_holds(concat!(env!("CARGO_MANIFEST_DIR"), "/error-codes.lock"));
    }

    /// Reviewers read the services' codes (the base ones and the shared extension) in one
    /// generated table, kept current like the base table.
    #[test]
    fn the_reviewer_table_of_the_shared_codes_is_fresh() {
        let taxonomy = Taxonomy::builder()
            .extend(SHARED_CODES)
            .build()
            .expect("no duplicates");
        taxonomy.assert_docs_fresh(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../docs/error-codes-services.md"
            ),
            "Error codes (the example services: base taxonomy and shared extension)",
        );
    }
}
