//! Keywords found through a punctuation byte they contain (`ghp_`, `glpat-`, `hvs.`, `Q~`,
//! `AKIA`): a SIMD comparison of every sixteen bytes with those bytes, and a table lookup at
//! each occurrence, instead of a place in the Teddy searchers.
//!
//! PERF: every Teddy group is one more pass over every line at ~3 instructions a byte
//! (docs/benchmarks.md), and the ~200 keywords of the catalogue needed five. About half of
//! them hold `_`, `-`, `.`, `K` or `~` after their first byte. Log text has few of these bytes,
//! and fewer still after the byte a keyword puts before them (`p_` of `ghp_`, `t-` of `glpat-`),
//! so the keywords are looked up by that pair of bytes at each occurrence: one pass (~1.3
//! instructions a byte) and a lookup per occurrence (~22) cost about one Teddy scan on an
//! access line and take two out of every scan.
//! Two-byte keywords (`SK`, `Q~`, `s.`), which would weaken every Teddy fingerprint, are found
//! the same way.
//!
//! The comparisons come from `wide` (SSE2 on x86-64, NEON on aarch64, plain Rust elsewhere):
//! the workspace forbids `unsafe`, and the standard library's SIMD is not stable.

use wide::u8x16;

use crate::{prefilter::add_rules, rule_set::RuleSet};

/// The bytes keywords are anchored on: punctuation that token prefixes end with, and `K` and
/// `~`, rare in log text, for the AWS and Twilio prefixes and Azure AD secrets.
const ANCHOR_BYTES: [u8; 5] = *b"_-.K~";

/// Where a keyword is anchored: the first anchor byte after its first byte whose byte before
/// is no anchor byte (so that the pair is part of the keyword, and a row of `-----` or `___` in
/// a log line, a lookup per byte, finds no entry to compare). `None` for keywords the Teddy
/// searchers find, such as `token`.
pub(crate) fn anchor_of(keyword: &str) -> Option<usize> {
    let bytes = keyword.as_bytes();
    (1..bytes.len())
        .find(|&at| ANCHOR_BYTES.contains(&bytes[at]) && !ANCHOR_BYTES.contains(&bytes[at - 1]))
}

/// An anchored keyword and the rules it triggers.
#[derive(Debug)]
struct Entry {
    keyword: &'static [u8],
    /// The position of the anchor byte in `keyword`, at least 1.
    anchor: usize,
    /// Rules that run whenever the keyword occurs.
    rules: RuleSet,
    /// Name-keyed rules: they run only when a separator follows
    /// (`prefilter::separator_follows`).
    named: RuleSet,
}

/// The anchored keywords, indexed by their anchor byte and the byte before it.
#[derive(Debug)]
pub(crate) struct Anchored {
    /// Each anchor byte in all sixteen lanes, for the comparisons of [`Anchored::scan`].
    lanes: [u8x16; ANCHOR_BYTES.len()],
    /// For each byte value, its position in [`ANCHOR_BYTES`]; `u8::MAX` for others.
    slot: [u8; 256],
    /// `entries[starts[k]..starts[k + 1]]` are the keywords of key `k = slot * 256 + before`.
    starts: Vec<u32>,

    entries: Vec<Entry>,
}

impl Anchored {
    /// The table of `keywords` (each with its rules and name-keyed rules); keywords without an
    /// [`anchor_of`] are left out.
    pub(crate) fn new(keywords: Vec<(&'static str, RuleSet, RuleSet)>) -> Self {
        let mut slot = [u8::MAX; 256];
        for (index, byte) in (0_u8..).zip(ANCHOR_BYTES) {
            slot[usize::from(byte)] = index;
        }
        let mut entries: Vec<(usize, Entry)> = keywords
            .into_iter()
            .filter_map(|(keyword, rules, named)| {
                let anchor = anchor_of(keyword)?;
                let bytes = keyword.as_bytes();
                let key = usize::from(slot[usize::from(bytes[anchor])]) * 256
                    + usize::from(bytes[anchor - 1]);
                Some((
                    key,
                    Entry {
                        keyword: bytes,
                        anchor,
                        rules,
                        named,
                    },
                ))
            })
            .collect();
        entries.sort_by_key(|(key, _)| *key);
        let mut starts = vec![0_u32; ANCHOR_BYTES.len() * 256 + 1];
        for (key, _) in &entries {
            starts[key + 1] += 1;
        }
        for key in 1..starts.len() {
            starts[key] += starts[key - 1];
        }
        Self {
            lanes: ANCHOR_BYTES.map(u8x16::splat),
            slot,
            starts,

            entries: entries.into_iter().map(|(_, entry)| entry).collect(),
        }
    }

    /// Adds to `candidates` the rules of every anchored keyword in `text`.
    ///
    /// PERF: sixteen bytes at a time, compared with every anchor byte at once, give a bit mask
    /// of the anchor bytes' positions (~12 instructions per 16 bytes), four such masks one
    /// 64-bit word; each position then costs a table lookup, and only a non-empty entry a
    /// comparison. `memchr3` and `memchr2` iterators, tried first, cost ~100 instructions per
    /// occurrence in restarts, and a log line holds about ten (`request_id`, UUIDs). Words of
    /// 64 bytes rather than single chunks halve the mispredicted branches (callgrind's branch
    /// simulation: a chunk without an anchor byte is a branch the predictor cannot learn).
    pub(crate) fn scan(&self, text: &[u8], candidates: &mut RuleSet) {
        // An anchor byte right after another one anchors nothing ([`anchor_of`] never picks
        // one), so only the first of a run (`-----`, `___`) is looked up; `after_anchor` carries
        // the last bit of a block into the next one.
        let (blocks, rest) = text.as_chunks::<64>();
        let mut after_anchor = 0;
        for (index, block) in blocks.iter().enumerate() {
            let found = self.positions(block);
            let positions = found & !(found << 1 | after_anchor);
            after_anchor = found >> 63;
            self.visit(text, index * 64, positions, candidates);
        }
        if rest.is_empty() {
            return;
        }
        match text.last_chunk::<64>() {
            // The last 64 bytes again, without the positions already seen, rather than a copy.
            // The first position not seen has the byte before it in the block.
            Some(last) => {
                let seen = 64 - rest.len();
                let found = self.positions(last);
                let positions = found & !(found << 1) & (u64::MAX << seen);
                self.visit(text, text.len() - 64, positions, candidates);
            }
            None => {
                // Zero bytes are no anchor byte, so the padding finds nothing.
                let mut block = [0_u8; 64];
                block[..rest.len()].copy_from_slice(rest);
                let found = self.positions(&block);
                self.visit(text, 0, found & !(found << 1), candidates);
            }
        }
    }

    /// The positions of anchor bytes in `block`, one bit each.
    #[inline(always)]
    fn positions(&self, block: &[u8; 64]) -> u64 {
        let (chunks, _) = block.as_chunks::<16>();
        let mut positions = 0;
        for (index, chunk) in chunks.iter().enumerate() {
            let chunk = u8x16::new(*chunk);
            let mut found = u8x16::ZERO;
            for lane in self.lanes {
                found |= chunk.simd_eq(lane);
            }
            positions |= u64::from(found.to_bitmask()) << (index * 16);
        }
        positions
    }

    /// The keywords anchored at the `positions` of the block at `offset`.
    #[inline(always)]
    fn visit(&self, text: &[u8], offset: usize, mut positions: u64, candidates: &mut RuleSet) {
        while positions != 0 {
            let position = offset + positions.trailing_zeros() as usize;
            positions &= positions - 1;
            // The anchor byte and the byte before it: a key, and almost always no keyword.
            if position > 0 {
                let key = self.key(text[position], text[position - 1]);
                if self.starts[key] != self.starts[key + 1] {
                    self.check(text, position, key, candidates);
                }
            }
        }
    }

    fn key(&self, anchor: u8, before: u8) -> usize {
        usize::from(self.slot[usize::from(anchor)]) * 256 + usize::from(before)
    }

    /// The keywords of `key` anchored at `text[position]`.
    #[inline(always)]
    fn check(&self, text: &[u8], position: usize, key: usize, candidates: &mut RuleSet) {
        let entries = &self.entries[self.starts[key] as usize..self.starts[key + 1] as usize];
        for entry in entries {
            let Some(from) = position.checked_sub(entry.anchor) else {
                continue;
            };
            let to = from + entry.keyword.len();
            // The first byte first: most entries fail there, without a `memcmp` call.
            if text.get(from) == entry.keyword.first() && text.get(from..to) == Some(entry.keyword)
            {
                add_rules(candidates, entry.rules, entry.named, text, to);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(index: usize) -> RuleSet {
        let mut set = RuleSet::default();
        set.insert(index);
        set
    }

    fn found(anchored: &Anchored, text: &str) -> RuleSet {
        let mut candidates = RuleSet::default();
        anchored.scan(text.as_bytes(), &mut candidates);
        candidates
    }

    #[test]
    fn keywords_are_anchored_on_their_first_anchor_byte_after_the_first() {
        assert_eq!(anchor_of("ghp_"), Some(3));
        assert_eq!(anchor_of("-----BEGIN"), None);
        assert_eq!(anchor_of("AGE-SECRET-KEY-1"), Some(3));
        assert_eq!(anchor_of("AKIA"), Some(1));
        assert_eq!(anchor_of("s."), Some(1));
        assert_eq!(anchor_of("_mmk"), None);
        assert_eq!(anchor_of("token"), None);
    }

    #[test]
    fn anchored_keywords_are_found_anywhere_and_only_whole() {
        let anchored = Anchored::new(vec![
            ("ghp_", rules(0), RuleSet::default()),
            ("s.", rules(1), RuleSet::default()),
            ("glpat-", rules(2), RuleSet::default()),
            ("Q~", rules(3), RuleSet::default()),
        ]);
        assert_eq!(found(&anchored, "ghp_abc"), rules(0));
        assert_eq!(found(&anchored, "x hvs.abc s.abc"), rules(1));
        assert_eq!(found(&anchored, "at the end: glpat-"), rules(2));
        assert_eq!(found(&anchored, "Q~"), rules(3));
        // Across the 64-byte blocks, and in the rest after the last one.
        let mut both = rules(0);
        both.union(rules(2));
        for (before, between) in [(0, 0), (14, 15), (62, 1), (63, 60), (70, 100)] {
            let long = format!("{}ghp_{}glpat-x", "x".repeat(before), "y".repeat(between));
            assert_eq!(found(&anchored, &long), both, "{long}");
            // After a run of anchor bytes, also across a block's end.
            let long = format!("{}ghp_{}glpat-x", "-".repeat(before), "_".repeat(between));
            assert_eq!(found(&anchored, &long), both, "{long}");
        }
        for clean in [
            "",
            "_",
            "hp_abc gp_abc",
            "lpat- gpat-",
            "2026-11-22T00:12:34.567Z request_id=550e8400-e29b",
            "~ ~~ Q",
            "a line of more than sixteen bytes with no anchored keyword in it at all: hp_ gl-",
        ] {
            assert!(found(&anchored, clean).is_empty(), "{clean}");
        }
    }

    #[test]
    fn name_keyed_anchored_keywords_need_a_separator() {
        let anchored = Anchored::new(vec![("api_key", RuleSet::default(), rules(4))]);
        assert_eq!(found(&anchored, "api_key=abc"), rules(4));
        assert!(found(&anchored, "the api_key is rotated").is_empty());
    }
}
