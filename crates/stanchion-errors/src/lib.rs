//! Error taxonomy (in progress).
