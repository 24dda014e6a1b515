//! Private-key blocks that span lines, for filters that see a stream one line at a time.
//!
//! The `private-key` rule redacts a whole `-----BEGIN … PRIVATE KEY-----` … `-----END …-----`
//! block when the block is in the text it is given, and everything after `BEGIN` when the END
//! line is missing. A line filter (`stanchion redact`) gives it one line at a time, so the
//! base64 body and the END line of a PEM key written over many lines would pass as harmless
//! text. These two functions let such a filter find where a block opens on one line and
//! where it closes on a later one, so it can hand the block to the redactor whole.

use std::sync::LazyLock;

use regex::Regex;

/// The header and footer of the `private-key` rule (PEM, OpenSSH, PGP).
static BEGIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----").expect("valid regex")
});
static END: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----").expect("valid regex")
});

/// Where a private-key block that continues on the next lines opens in `line`: the byte offset
/// of its `-----BEGIN … PRIVATE KEY-----` header, when no END footer follows that header on
/// the same line (a block closed on its own line is the rule's business, not a stream's).
///
/// ```
/// use stanchion_redact::private_key_block_start;
///
/// assert_eq!(private_key_block_start("key: -----BEGIN RSA PRIVATE KEY-----"), Some(5));
/// let one_line = "-----BEGIN PRIVATE KEY-----MIIB-----END PRIVATE KEY-----";
/// assert_eq!(private_key_block_start(one_line), None);
/// assert_eq!(private_key_block_start("-----BEGIN PUBLIC KEY-----"), None);
/// ```
pub fn private_key_block_start(line: &str) -> Option<usize> {
    if !line.contains("-----BEGIN") {
        return None;
    }
    let mut open = None;
    let mut from = 0;
    while let Some(header) = BEGIN.find_at(line, from) {
        match END.find_at(line, header.end()) {
            Some(footer) => {
                open = None;
                from = footer.end();
            }
            None => {
                open = Some(header.start());
                break;
            }
        }
    }
    open
}

/// Where an open private-key block closes in `line`: the byte offset just past its first
/// `-----END … PRIVATE KEY-----` footer.
///
/// ```
/// use stanchion_redact::private_key_block_end;
///
/// assert_eq!(private_key_block_end("-----END PRIVATE KEY----- done"), Some(25));
/// assert_eq!(private_key_block_end("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"), None);
/// ```
pub fn private_key_block_end(line: &str) -> Option<usize> {
    if !line.contains("-----END") {
        return None;
    }
    END.find(line).map(|footer| footer.end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_closed_on_its_line_is_not_open_but_a_later_one_is() {
        let line = "a -----BEGIN PRIVATE KEY-----x-----END PRIVATE KEY----- b -----BEGIN OPENSSH PRIVATE KEY-----";
        assert_eq!(private_key_block_start(line), line.rfind("-----BEGIN"));
        assert_eq!(
            private_key_block_start("-----BEGIN PGP PRIVATE KEY BLOCK-----"),
            Some(0)
        );
    }

    #[test]
    fn only_private_key_footers_close() {
        assert_eq!(private_key_block_end("-----END CERTIFICATE-----"), None);
        assert_eq!(
            private_key_block_end("x-----END PGP PRIVATE KEY BLOCK-----"),
            Some(36)
        );
    }
}
