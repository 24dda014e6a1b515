//! The public, read-only view of the catalogue.

use std::fmt;

use crate::rules::{Category, RULES, RuleDef};

/// What one rule of the catalogue is, for `--help`, docs and metrics.
#[derive(Clone, Copy)]
pub struct RuleInfo {
    def: &'static RuleDef,
}

impl fmt::Debug for RuleInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleInfo")
            .field("id", &self.def.id)
            .field("category", &self.def.category)
            .field("default_enabled", &self.def.default_enabled)
            .finish()
    }
}

impl RuleInfo {
    /// The stable id, as printed in markers (`[REDACTED:<id>]`) and counters.
    pub fn id(&self) -> &'static str {
        self.def.id
    }
    /// One line saying what the rule finds.
    pub fn description(&self) -> &'static str {
        self.def.description
    }
    /// The kind of secret.
    pub fn category(&self) -> Category {
        self.def.category
    }
    /// Whether [`crate::Redactor::new`] enables the rule (PII rules are opt-in).
    pub fn default_enabled(&self) -> bool {
        self.def.default_enabled
    }
    /// The regex (syntax of the `regex` crate).
    pub fn pattern(&self) -> &'static str {
        self.def.pattern
    }
    /// The case-sensitive literals, one of which must occur before the regex runs; empty for
    /// rules gated by a single byte or run on every line.
    pub fn keywords(&self) -> &'static [&'static str] {
        self.def.keywords
    }
}

/// Every rule of the catalogue, in the order the engine applies them.
pub fn rules() -> impl ExactSizeIterator<Item = RuleInfo> {
    RULES.iter().map(|def| RuleInfo { def })
}
