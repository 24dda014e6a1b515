//! Criterion benches for Stanchion live in `benches/`; this library is empty on purpose so the
//! package has a target that `cargo test --workspace` can build. Run the benches with
//! `cargo bench -p stanchion-benches`.
