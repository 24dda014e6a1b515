//! Prometheus durations (`30s`, `5m`, `6h`, `3d`), whole units only.

use std::fmt;

/// A duration in whole seconds, written the way Prometheus reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(u64);

impl Duration {
    /// `seconds` seconds.
    pub const fn from_secs(seconds: u64) -> Self {
        Self(seconds)
    }

    /// The length in seconds.
    pub const fn as_secs(self) -> u64 {
        self.0
    }

    /// Parses `<n><unit>` with unit `s`, `m`, `h` or `d` and `n` > 0.
    pub fn parse(text: &str) -> Option<Self> {
        let unit = text.chars().last()?;
        let number: u64 = text[..text.len() - unit.len_utf8()].parse().ok()?;
        let factor = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return None,
        };
        (number > 0).then(|| Self(number * factor))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        if s.is_multiple_of(86_400) {
            write!(f, "{}d", s / 86_400)
        } else if s.is_multiple_of(3600) {
            write!(f, "{}h", s / 3600)
        } else if s.is_multiple_of(60) {
            write!(f, "{}m", s / 60)
        } else {
            write!(f, "{s}s")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_the_largest_whole_unit() {
        for (text, secs, shown) in [
            ("90s", 90, "90s"),
            ("120s", 120, "2m"),
            ("3d", 259_200, "3d"),
        ] {
            let duration = Duration::parse(text).unwrap();
            assert_eq!(duration.as_secs(), secs);
            assert_eq!(duration.to_string(), shown);
        }
        for bad in ["", "5", "0m", "1.5h", "5w", "-1s", "m"] {
            assert_eq!(Duration::parse(bad), None, "{bad}");
        }
    }
}
