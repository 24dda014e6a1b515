//! Workspace-level tests live in `tests/`: the dependency boundaries of DESIGN.md and, later,
//! end-to-end tests over real HTTP between the example services.
