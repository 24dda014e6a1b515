//! Example agent service (skeleton).
//!
//! **What it does today:** nothing but exit; the agent (`POST /v1/chat` on `AGENT_ADDR`)
//! arrives with the end-to-end issue, and the backend does not call it yet.

fn main() {}
