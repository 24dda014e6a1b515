//! Workspace-level tests live in `tests/`: the dependency boundaries between the crates and, later,
//! end-to-end tests over real HTTP between the example services.
