//! Checksums that keep PII rules from redacting look-alikes (order numbers, version strings).

/// Whether the digits of `text` (spaces and dashes ignored) are 13 to 19 digits passing the
/// Luhn check.
pub(crate) fn luhn(text: &str) -> bool {
    let digits: Vec<u32> = text.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) || digits.iter().all(|d| *d == digits[0]) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Whether `text` (spaces ignored) is an IBAN with a valid mod-97 checksum.
pub(crate) fn iban(text: &str) -> bool {
    let compact: Vec<u8> = text.bytes().filter(|b| *b != b' ').collect();
    if !(15..=34).contains(&compact.len()) {
        return false;
    }
    let (head, tail) = compact.split_at(4);
    let mut remainder: u32 = 0;
    for &byte in tail.iter().chain(head) {
        let value = match byte {
            b'0'..=b'9' => u32::from(byte - b'0'),
            b'A'..=b'Z' => u32::from(byte - b'A') + 10,
            _ => return false,
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    remainder == 1
}

/// Whether `text` parses as an IPv4 or IPv6 address.
pub(crate) fn ip(text: &str) -> bool {
    text.parse::<std::net::IpAddr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_test_card_numbers_and_rejects_others() {
        assert!(luhn("4111 1111 1111 1111"));
        assert!(luhn("5555-5555-5555-4444"));
        assert!(!luhn("4111 1111 1111 1112"));
        assert!(!luhn("0000 0000 0000 0000"));
        assert!(!luhn("123456"));
    }

    #[test]
    fn iban_checks_mod_97() {
        assert!(iban("GB82 WEST 1234 5698 7654 32"));
        assert!(iban("DE89370400440532013000"));
        assert!(!iban("GB82 WEST 1234 5698 7654 33"));
    }

    #[test]
    fn ip_uses_the_standard_parser() {
        assert!(ip("10.0.0.1"));
        assert!(ip("2001:db8::1"));
        assert!(!ip("999.1.1.1"));
        assert!(!ip("12:30:45"));
    }
}

/// The Shannon entropy of `text`, in bits per byte.
pub(crate) fn shannon_entropy(text: &str) -> f32 {
    let mut counts = [0u32; 256];
    for byte in text.bytes() {
        counts[usize::from(byte)] += 1;
    }
    let len = text.len() as f32;
    counts
        .iter()
        .filter(|count| **count > 0)
        .map(|count| {
            let p = *count as f32 / len;
            -p * p.log2()
        })
        .sum()
}

/// Whether the token at `start..end` of `text` stands alone: no ASCII letter or digit right
/// before or after it, so it is not the middle of a longer identifier or base64 blob.
pub(crate) fn stands_alone(text: &str, start: usize, end: usize) -> bool {
    let bytes = text.as_bytes();
    let before = start
        .checked_sub(1)
        .and_then(|i| bytes.get(i))
        .is_some_and(u8::is_ascii_alphanumeric);
    let after = bytes.get(end).is_some_and(u8::is_ascii_alphanumeric);
    !before && !after
}

/// Whether a token of letters and digits looks random rather than like a word or an
/// identifier: it holds a digit, or at least a quarter of its bytes are capitals and a quarter
/// small letters. A random base62 string of 24 characters has no digit once in ~70 draws and
/// then about twelve capitals, while `AcceptanceTimeoutSeconds`, `makeKubeConfigController`
/// and `THISSTRINGISALLUPPERCASE` have three or none.
pub(crate) fn looks_random(token: &str) -> bool {
    let quarter = token.len() / 4;
    token.bytes().any(|b| b.is_ascii_digit())
        || (token.bytes().filter(u8::is_ascii_uppercase).count() >= quarter
            && token.bytes().filter(u8::is_ascii_lowercase).count() >= quarter)
}

/// Whether a value under a provider-naming key looks like a credential: 8 bytes or more, not a
/// plain word (a word after `target:` in a text log is prose), not a URL (an endpoint), and
/// not a placeholder (entropy below `min_entropy`).
pub(crate) fn credential_shaped(value: &str, min_entropy: f32) -> bool {
    value.len() >= 8
        && !value.bytes().all(|b| b.is_ascii_alphabetic())
        && !value.contains("://")
        && shannon_entropy(value) >= min_entropy
}

#[cfg(test)]
mod token_tests {
    use super::*;

    #[test]
    fn entropy_tells_placeholders_from_random_tokens() {
        assert!(shannon_entropy(&format!("ghp_{}", "x".repeat(36))) < 1.0);
        assert!(shannon_entropy("glpat-XXXXXXXXXXX-XXXXXXXX") < 2.0);
        assert!(shannon_entropy("xoxb-263594206564-FGqddMF8t08v8N7Oq4i57vs1") > 4.0);
        assert_eq!(shannon_entropy(""), 0.0);
    }

    #[test]
    fn credentials_are_told_from_prose_and_placeholders() {
        assert!(credential_shaped("ajvxdvvkhy9hgx3ud67r13owg", 2.3));
        assert!(credential_shaped("cafebabe:deadbeef", 2.3));
        assert!(!credential_shaped("verified", 2.3));
        assert!(!credential_shaped("k1", 2.3));
        assert!(!credential_shaped(
            "aaaaaaaaaa1111111111bbbbbbbbbb2222222222",
            2.3
        ));
        assert!(!credential_shaped("https://api.example.com/v1", 2.3));
    }

    #[test]
    fn random_tokens_are_told_from_identifiers() {
        assert!(looks_random("s.a52v3g375urvaa5tk8hxl6ue"));
        assert!(looks_random("s.ZCxEcfaMpgSoHQeRkzGsjWzb"));
        assert!(!looks_random("s.AcceptanceTimeoutSeconds"));
        assert!(!looks_random("s.makeKubeConfigController"));
        assert!(!looks_random("s.THISSTRINGISALLUPPERCASE"));
        assert!(!looks_random("s.thisstringisalllowercase"));
    }

    #[test]
    fn a_token_inside_an_identifier_does_not_stand_alone() {
        let text = "xAIzaB ,AIzaB,";
        assert!(!stands_alone(text, 1, 6));
        assert!(stands_alone(text, 8, 13));
    }
}
