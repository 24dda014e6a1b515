//! A set of rules, by position among a redactor's enabled rules.

/// Words of the bitset. PERF: a fixed array of words stays `Copy` and allocation-free, and a
/// union is a few ORs, so the prefilter's per-keyword bookkeeping costs what the former single
/// `u128` cost while the catalogue grows past 128 rules.
const WORDS: usize = 4;

/// The most rules a [`RuleSet`] holds (the catalogue is checked against it by a test).
#[cfg(test)]
pub(crate) const CAPACITY: usize = WORDS * 64;

/// A set of rule indices below [`CAPACITY`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RuleSet([u64; WORDS]);

impl RuleSet {
    pub(crate) fn insert(&mut self, index: usize) {
        self.0[index / 64] |= 1 << (index % 64);
    }

    pub(crate) fn remove(&mut self, index: usize) {
        self.0[index / 64] &= !(1 << (index % 64));
    }

    pub(crate) fn contains(self, index: usize) -> bool {
        self.0[index / 64] & (1 << (index % 64)) != 0
    }

    pub(crate) fn union(&mut self, other: Self) {
        for (word, other) in self.0.iter_mut().zip(other.0) {
            *word |= other;
        }
    }

    pub(crate) fn is_empty(self) -> bool {
        self.0.iter().all(|word| *word == 0)
    }

    /// The indices in increasing order.
    pub(crate) fn iter(self) -> impl Iterator<Item = usize> {
        self.0
            .into_iter()
            .enumerate()
            .flat_map(|(word_index, word)| {
                let mut bits = word;
                std::iter::from_fn(move || {
                    if bits == 0 {
                        return None;
                    }
                    let index = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    Some(word_index * 64 + index)
                })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_sets_iterate_in_order_across_words() {
        let mut set = RuleSet::default();
        for i in [3, 0, 127, 64, 200, CAPACITY - 1] {
            set.insert(i);
        }
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            [0, 3, 64, 127, 200, CAPACITY - 1]
        );
        set.remove(64);
        assert!(!set.contains(64) && set.contains(200));
        let mut other = RuleSet::default();
        other.insert(130);
        set.union(other);
        assert!(set.contains(130));
        assert!(RuleSet::default().is_empty() && !set.is_empty());
    }
}
