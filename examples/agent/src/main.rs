//! Example agent (skeleton; the full service arrives with the end-to-end issue).

fn main() {}
