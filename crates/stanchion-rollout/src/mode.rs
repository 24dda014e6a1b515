//! The one vocabulary of rollout modes: `off`, `shadow`, `enforced`.

use std::{fmt, str::FromStr};

/// The words [`RolloutMode`] accepts, in rollout order.
pub const ACCEPTED_MODES: [&str; 3] = ["off", "shadow", "enforced"];

/// Where a hardening change stands in its rollout.
///
/// The same three words everywhere a mode is read (every flag, every service), so a runbook
/// step reads the same for all of them: `off` → `shadow` → `enforced`, and back. Not
/// `#[non_exhaustive]`: the three words are the design, so a `match` over them is complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RolloutMode {
    /// The check does not run: the behaviour from before the change (the rollback lever's
    /// last step).
    Off,
    /// The check runs and its decision is counted and logged, but the old action is taken:
    /// see what enforcing would change before it does.
    Shadow,
    /// The check runs and its decision is acted upon.
    Enforced,
}

impl RolloutMode {
    /// Every mode, in rollout order (the state set a mode gauge publishes).
    pub const ALL: [Self; 3] = [Self::Off, Self::Shadow, Self::Enforced];

    /// The mode's word, as parsed.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Shadow => "shadow",
            Self::Enforced => "enforced",
        }
    }

    /// Parses one of [`ACCEPTED_MODES`], ignoring surrounding blanks and ASCII case.
    ///
    /// # Errors
    ///
    /// Any other word, including the empty string and near misses such as `enforce` or
    /// `audit` (a near miss accepted silently is a lever that does not do what it says).
    pub fn parse(text: &str) -> Result<Self, ParseModeError> {
        let word = text.trim();
        Self::ALL
            .into_iter()
            .find(|mode| mode.as_str().eq_ignore_ascii_case(word))
            .ok_or_else(|| ParseModeError::new(word))
    }
}

impl fmt::Display for RolloutMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RolloutMode {
    type Err = ParseModeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

/// A word that is not a rollout mode. The message quotes the word (capped and stripped of
/// control characters: it may come from a hand-edited file) and names the accepted ones.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} is not a rollout mode; use off, shadow or enforced", self.quoted())]
pub struct ParseModeError {
    word: String,
}

/// The longest part of a refused word an error message repeats.
const MAX_QUOTED: usize = 32;

impl ParseModeError {
    fn new(word: &str) -> Self {
        // SECURITY: a mode word never holds a secret, but a misplaced line might (a value
        // pasted on the wrong key): repeat only a short, printable prefix.
        let word = word
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_QUOTED)
            .collect();
        Self { word }
    }

    /// The refused word (capped, control characters removed).
    pub fn word(&self) -> &str {
        &self.word
    }

    fn quoted(&self) -> String {
        if self.word.is_empty() {
            "an empty value".to_owned()
        } else {
            format!("`{}`", self.word)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_words_parse_and_print_back() {
        for mode in RolloutMode::ALL {
            assert_eq!(RolloutMode::parse(mode.as_str()), Ok(mode));
            assert_eq!(mode.to_string(), mode.as_str());
        }
        assert_eq!(" Shadow\n".parse(), Ok(RolloutMode::Shadow));
        assert_eq!(
            ACCEPTED_MODES,
            RolloutMode::ALL.map(RolloutMode::as_str),
            "the list in messages is the list parsed"
        );
    }

    #[test]
    fn near_misses_are_refused_naming_the_accepted_words() {
        for word in [
            "enforce",
            "audit",
            "on",
            "true",
            "disabled",
            "",
            "shadow mode",
        ] {
            let error = RolloutMode::parse(word).expect_err(word);
            let message = error.to_string();
            assert!(message.contains("use off, shadow or enforced"), "{message}");
        }
        assert_eq!(
            RolloutMode::parse("enforce").unwrap_err().to_string(),
            "`enforce` is not a rollout mode; use off, shadow or enforced"
        );
        assert_eq!(
            RolloutMode::parse("  ").unwrap_err().to_string(),
            "an empty value is not a rollout mode; use off, shadow or enforced"
        );
    }

    #[test]
    fn a_refused_word_is_capped_and_printable() {
        let long = format!("sk_live_{}\u{1b}[2J", "x".repeat(100));
        let error = RolloutMode::parse(&long).unwrap_err();
        assert_eq!(error.word().chars().count(), MAX_QUOTED);
        assert!(!error.to_string().contains('\u{1b}'));
    }
}
