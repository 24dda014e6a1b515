//! The tool configuration service (TCS): decides from layered sources which tools are enabled
//! in an environment, explains every disabled tool and shows where each value came from,
//! without ever showing a secret value.
//!
//! **Status: skeleton.** Nothing is exported yet.
