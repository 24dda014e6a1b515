//! How many values each rule redacted: counts only, never values.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::rules::RULES;

/// The rule id of values found through [`crate::Redactor::register_secret`].
pub const REGISTERED_RULE_ID: &str = "registered-secret";
/// The rule id of values longer than the size limit, redacted whole.
pub const OVERSIZED_RULE_ID: &str = "oversized";

/// How many values one rule has redacted since the redactor was built.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuleCount {
    /// The rule id (a catalogue id, [`REGISTERED_RULE_ID`] or [`OVERSIZED_RULE_ID`]).
    pub rule: &'static str,
    /// Redacted values so far.
    pub count: u64,
}

/// One counter per catalogue rule (by catalogue index), then registered secrets, then
/// oversized values. Shared by all clones of a redactor; relaxed atomics, since a count is a
/// statistic and orders nothing.
#[derive(Debug)]
pub(crate) struct Counters(Box<[AtomicU64]>);

impl Counters {
    pub(crate) const REGISTERED: usize = usize::MAX - 1;
    pub(crate) const OVERSIZED: usize = usize::MAX;

    pub(crate) fn new() -> Self {
        Self((0..RULES.len() + 2).map(|_| AtomicU64::new(0)).collect())
    }

    /// The slot of a catalogue index or of [`Counters::REGISTERED`] / [`Counters::OVERSIZED`].
    fn slot(index: usize) -> usize {
        match index {
            Self::REGISTERED => RULES.len(),
            Self::OVERSIZED => RULES.len() + 1,
            index => index,
        }
    }

    pub(crate) fn add(&self, index: usize) {
        if let Some(counter) = self.0.get(Self::slot(index)) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn get(&self, index: usize) -> u64 {
        self.0
            .get(Self::slot(index))
            .map_or(0, |counter| counter.load(Ordering::Relaxed))
    }

    /// The counts of the given catalogue rules, then of registered and oversized values.
    pub(crate) fn report(
        &self,
        rules: impl Iterator<Item = (&'static str, usize)>,
    ) -> Vec<RuleCount> {
        let mut counts: Vec<RuleCount> = rules
            .map(|(rule, index)| RuleCount {
                rule,
                count: self.get(index),
            })
            .collect();
        counts.push(RuleCount {
            rule: REGISTERED_RULE_ID,
            count: self.get(Self::REGISTERED),
        });
        counts.push(RuleCount {
            rule: OVERSIZED_RULE_ID,
            count: self.get(Self::OVERSIZED),
        });
        counts
    }

    pub(crate) fn total(&self) -> u64 {
        self.0.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}
