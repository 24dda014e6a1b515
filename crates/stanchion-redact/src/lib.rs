//! One redaction engine for secrets and chosen PII in log lines, tracing output and CLI output.
//!
//! **Status: skeleton.** Nothing is exported yet.
