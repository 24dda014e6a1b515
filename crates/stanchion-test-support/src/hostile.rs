//! Hostile inputs that several crates' tests feed to their public API: each entry names what
//! it attacks, so a failure message says which one got through.

/// A named hostile string.
#[derive(Clone, Copy, Debug)]
pub struct Hostile {
    /// What the input tries to do, for failure messages.
    pub name: &'static str,
    /// The input itself.
    pub value: &'static str,
}

/// Header-value and log-injection attacks: forged key-value pairs, quotes, control characters,
/// markup, traversal and encoded line breaks. All are valid UTF-8; byte-level attacks (latin-1,
/// over-long values) are built by the tests that need them.
pub const HEADER_AND_LOG_INJECTION: &[Hostile] = &[
    Hostile {
        name: "double quote",
        value: "abc\"def",
    },
    Hostile {
        name: "single quote",
        value: "abc'def",
    },
    Hostile {
        name: "key=value forgery",
        value: "abc request_id=forged",
    },
    Hostile {
        name: "json forgery",
        value: "\",\"level\":\"ERROR\",\"x\":\"",
    },
    Hostile {
        name: "json fragment",
        value: "{\"a\":1}",
    },
    Hostile {
        name: "space",
        value: "abc def",
    },
    Hostile {
        name: "tab",
        value: "abc\tdef",
    },
    Hostile {
        name: "percent-encoded crlf",
        value: "abc%0d%0aSet-Cookie:%20x=y",
    },
    Hostile {
        name: "path traversal",
        value: "../../etc/passwd",
    },
    Hostile {
        name: "html",
        value: "<script>alert(1)</script>",
    },
    Hostile {
        name: "empty",
        value: "",
    },
    Hostile {
        name: "equals sign",
        value: "a=b",
    },
    Hostile {
        name: "semicolon list",
        value: "a;b;c",
    },
    Hostile {
        name: "backslash escape",
        value: "abc\\u0000def",
    },
];
