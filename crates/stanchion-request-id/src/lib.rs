//! One request, one ID: accepted (when valid and trusted) or generated at the edge, carried in
//! a tracing span, echoed in every response and propagated to the next hop.
//!
//! **Status: skeleton.** Nothing is exported yet.
