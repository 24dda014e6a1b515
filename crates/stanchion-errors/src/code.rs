//! Error codes: what one code is, how a set of codes is declared, and the checks that run
//! when a declaration is compiled.

use std::fmt;

use http::StatusCode;

/// The longest code name allowed, as in AIP-193's `ErrorInfo.reason`.
pub const MAX_CODE_LEN: usize = 63;

/// One registered error code: its name, HTTP status, public message and reviewer notes.
///
/// Codes are declared with [`error_codes!`](crate::error_codes), never built at run time, so
/// every code a service can send is visible in one reviewable place. `ErrorCode` is `Copy` and
/// compares by name.
#[derive(Clone, Copy)]
pub struct ErrorCode(&'static CodeSpec);

/// The declaration behind an [`ErrorCode`]; built only by [`error_codes!`](crate::error_codes).
#[doc(hidden)]
#[derive(Debug)]
pub struct CodeSpec {
    name: &'static str,
    status: u16,
    message: &'static str,
    description: &'static str,
    declared_at: &'static str,
    retryable: bool,
    forwardable: bool,
    challenge: Option<&'static str>,
}

impl CodeSpec {
    /// Starts a declaration after checking it; a bad declaration stops compilation (the
    /// macro evaluates this in a `const`), with a message saying what is wrong.
    #[doc(hidden)]
    pub const fn __new(
        name: &'static str,
        status: u16,
        message: &'static str,
        description: &'static str,
        declared_at: &'static str,
    ) -> Self {
        if !is_valid_name(name) {
            panic!(
                "error code names are SCREAMING_SNAKE_CASE: [A-Z][A-Z0-9_]*[A-Z0-9], \
                 at most 63 characters, no double underscore"
            );
        }
        if status < 400 || status > 599 {
            panic!("an error code's HTTP status must be 4xx or 5xx (400..=599)");
        }
        if message.is_empty() {
            panic!("an error code needs a non-empty public message");
        }
        if description.is_empty() {
            panic!("an error code needs a description for reviewers (its doc comment)");
        }
        Self {
            name,
            status,
            message,
            description,
            declared_at,
            retryable: false,
            forwardable: false,
            challenge: None,
        }
    }

    /// Marks the code as retryable: the same request may succeed later.
    #[doc(hidden)]
    #[must_use]
    pub const fn retryable(mut self) -> Self {
        self.retryable = true;
        self
    }

    /// Marks the code as forwardable: a proxy may relay it from an upstream as it is.
    #[doc(hidden)]
    #[must_use]
    pub const fn forwardable(mut self) -> Self {
        self.forwardable = true;
        self
    }

    /// Sets the `WWW-Authenticate` challenge sent with this code (401 codes only).
    #[doc(hidden)]
    #[must_use]
    pub const fn challenge(mut self, challenge: &'static str) -> Self {
        if self.status != 401 {
            panic!("only 401 codes carry a WWW-Authenticate challenge");
        }
        self.challenge = Some(challenge);
        self
    }

    /// Marks a declaration as one of the base codes themselves (no check needed).
    #[doc(hidden)]
    #[must_use]
    pub const fn base(self) -> Self {
        self
    }

    /// Refuses a declaration that reuses a base code's name (extensions only).
    #[doc(hidden)]
    #[must_use]
    pub const fn not_base(self) -> Self {
        let base = crate::codes::BASE.codes();
        let mut i = 0;
        while i < base.len() {
            if str_eq(self.name, base[i].name()) {
                panic!(
                    "this error code redefines a base code of stanchion-errors \
                     (declared in stanchion_errors::codes); use the base code instead"
                );
            }
            i += 1;
        }
        self
    }
}

/// Whether `name` is a valid code name: `[A-Z][A-Z0-9_]*[A-Z0-9]`, at most
/// [`MAX_CODE_LEN`] characters, without `__`.
pub const fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    if bytes.len() < 2 || bytes.len() > MAX_CODE_LEN {
        return false;
    }
    if !bytes[0].is_ascii_uppercase() || bytes[bytes.len() - 1] == b'_' {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !(b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_') {
            return false;
        }
        if b == b'_' && i + 1 < bytes.len() && bytes[i + 1] == b'_' {
            return false;
        }
        i += 1;
    }
    true
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

impl ErrorCode {
    #[doc(hidden)]
    pub const fn __from_spec(spec: &'static CodeSpec) -> Self {
        Self(spec)
    }

    /// The code as it appears in `error.code`, e.g. `AUTH_INVALID_TOKEN`.
    pub const fn name(self) -> &'static str {
        self.0.name
    }

    /// The HTTP status every response with this code carries.
    pub fn status(self) -> StatusCode {
        // The declaration's const check keeps the status in 400..=599, which `from_u16`
        // always accepts; the fallback is unreachable but keeps this free of panics.
        StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The status as a number.
    pub const fn status_u16(self) -> u16 {
        self.0.status
    }

    /// The fixed public message; it is the only message a client ever sees for this code.
    pub const fn message(self) -> &'static str {
        self.0.message
    }

    /// The reviewer description (the declaration's doc comment).
    pub const fn description(self) -> &'static str {
        self.0.description
    }

    /// Whether the same request may succeed if retried later.
    pub const fn is_retryable(self) -> bool {
        self.0.retryable
    }

    /// Whether a proxy may relay this code from an upstream as it is (see
    /// [`ProxyPolicy`](crate::ProxyPolicy)).
    pub const fn is_forwardable(self) -> bool {
        self.0.forwardable
    }

    /// The `WWW-Authenticate` challenge declared for this code, if any.
    pub const fn challenge(self) -> Option<&'static str> {
        self.0.challenge
    }

    /// Where the code was declared (`file:line` of its `error_codes!` block), for error
    /// messages that must name both places of a conflict.
    pub const fn declared_at(self) -> &'static str {
        self.0.declared_at
    }
}

impl PartialEq for ErrorCode {
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for ErrorCode {}

impl std::hash::Hash for ErrorCode {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.name.hash(state);
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.0.name, self.0.status)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }
}

/// A named set of codes, made by one [`error_codes!`](crate::error_codes) block.
#[derive(Clone, Copy)]
pub struct CodeSet {
    name: &'static str,
    codes: &'static [ErrorCode],
}

impl CodeSet {
    #[doc(hidden)]
    pub const fn __new(name: &'static str, codes: &'static [ErrorCode]) -> Self {
        Self { name, codes }
    }

    /// The set's name (the `const` it was declared as).
    pub const fn name(self) -> &'static str {
        self.name
    }

    /// The codes, in declaration order.
    pub const fn codes(self) -> &'static [ErrorCode] {
        self.codes
    }
}

impl fmt::Debug for CodeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodeSet")
            .field("name", &self.name)
            .field("codes", &self.codes)
            .finish()
    }
}

/// Declares a service's error codes in one reviewable block.
///
/// Each code is a doc comment (the description reviewers read; required), then
/// `NAME = STATUS, "public message"`, then optional flags: `retryable`, `forwardable`
/// (a proxy may relay it from an upstream), `challenge("...")` (the `WWW-Authenticate` value of
/// a 401 code). The block defines one `const` per code and a [`CodeSet`] `const` holding them
/// all, to pass to [`TaxonomyBuilder::extend`](crate::TaxonomyBuilder::extend).
///
/// ```
/// stanchion_errors::error_codes! {
///     /// The backend's own codes.
///     pub const BACKEND_CODES;
///
///     /// The caller's subscription plan does not include the requested feature.
///     SUBSCRIPTION_PLAN_LIMIT = 403, "Your subscription plan does not include this feature.";
///
///     /// The caller used up the queries their plan allows in the current period.
///     SUBSCRIPTION_QUERY_LIMIT = 429, "You have used all queries in your plan for now.",
///         retryable, forwardable;
/// }
///
/// assert_eq!(SUBSCRIPTION_PLAN_LIMIT.status(), http::StatusCode::FORBIDDEN);
/// assert!(SUBSCRIPTION_QUERY_LIMIT.is_retryable());
/// assert_eq!(BACKEND_CODES.codes().len(), 2);
/// ```
///
/// # Checked when the block compiles
///
/// - names are SCREAMING_SNAKE_CASE, 2 to 63 characters (AIP-193's rule);
/// - the status is 4xx or 5xx, so an error can never be sent with a success status;
/// - a name is declared once per block (Rust rejects the duplicate `const`, naming both lines);
/// - no name redefines a base code shipped with this crate.
///
/// Duplicates *across* blocks (two sets a service merges) are found when the
/// [`Taxonomy`](crate::Taxonomy) is built, with both declaration sites in the message.
///
/// ```compile_fail
/// stanchion_errors::error_codes! {
///     /// A success is not an error.
///     pub const BAD;
///     /// Refused at compile time: the status is not 4xx or 5xx.
///     ALL_GOOD = 200, "Everything is fine.";
/// }
/// ```
///
/// ```compile_fail
/// stanchion_errors::error_codes! {
///     /// Lower-case names are refused.
///     pub const BAD;
///     /// Refused at compile time: not SCREAMING_SNAKE_CASE.
///     notFound = 404, "Not here.";
/// }
/// ```
///
/// ```compile_fail
/// stanchion_errors::error_codes! {
///     /// Redefining a base code is refused.
///     pub const BAD;
///     /// Refused at compile time: NOT_FOUND is a base code.
///     NOT_FOUND = 404, "Not here.";
/// }
/// ```
#[macro_export]
macro_rules! error_codes {
    (
        $(#[$set_meta:meta])*
        $vis:vis const $set:ident;
        $(
            $(#[doc = $doc:literal])+
            $name:ident = $status:literal, $message:literal
                $(, $flag:ident $(($arg:expr))?)* ;
        )+
    ) => {
        $crate::error_codes!(@emit not_base $(#[$set_meta])* $vis const $set;
            $( $(#[doc = $doc])+ $name = $status, $message $(, $flag $(($arg))?)* ; )+);
    };
    (
        @emit $check:ident
        $(#[$set_meta:meta])*
        $vis:vis const $set:ident;
        $(
            $(#[doc = $doc:literal])+
            $name:ident = $status:literal, $message:literal
                $(, $flag:ident $(($arg:expr))?)* ;
        )+
    ) => {
        $(
            $(#[doc = $doc])+
            #[doc = ""]
            #[doc = concat!("HTTP status `", stringify!($status), "`; public message: \"", $message, "\".")]
            #[allow(non_upper_case_globals)] // Names are checked by `CodeSpec::__new` instead.
            $vis const $name: $crate::ErrorCode = {
                const SPEC: $crate::__private::CodeSpec = $crate::__private::CodeSpec::__new(
                    stringify!($name),
                    $status,
                    $message,
                    $crate::__private::trim_doc(concat!($($doc, "\n"),+)),
                    concat!(file!(), ":", line!()),
                )
                .$check()
                $(.$flag($($arg)?))*;
                $crate::ErrorCode::__from_spec(&SPEC)
            };
        )+

        $(#[$set_meta])*
        $vis const $set: $crate::CodeSet =
            $crate::CodeSet::__new(stringify!($set), &[$($name),+]);
    };
}

/// Trims the leading space rustdoc leaves on each doc line and the trailing newline, in const
/// context, so descriptions read as written.
#[doc(hidden)]
pub const fn trim_doc(doc: &'static str) -> &'static str {
    let bytes = doc.as_bytes();
    let mut start = 0;
    while start < bytes.len() && bytes[start] == b' ' {
        start += 1;
    }
    let mut end = bytes.len();
    while end > start && (bytes[end - 1] == b'\n' || bytes[end - 1] == b' ') {
        end -= 1;
    }
    let (_, rest) = bytes.split_at(start);
    let (trimmed, _) = rest.split_at(end - start);
    // Only ASCII bytes were cut off, so the rest is still UTF-8; the fallback is unreachable.
    match std::str::from_utf8(trimmed) {
        Ok(trimmed) => trimmed,
        Err(_) => doc,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_aip_193_rule() {
        for good in ["NOT_FOUND", "A1", "RATE_LIMITED", "X_2_Y"] {
            assert!(is_valid_name(good), "{good} should be valid");
        }
        let too_long = "A".repeat(MAX_CODE_LEN + 1);
        for bad in [
            "",
            "A",
            "not_found",
            "NotFound",
            "_A",
            "A_",
            "A__B",
            "1A",
            "A-B",
            "A B",
            &too_long,
        ] {
            assert!(!is_valid_name(bad), "{bad:?} should be invalid");
        }
        assert!(is_valid_name(&"A".repeat(MAX_CODE_LEN)));
    }

    #[test]
    fn doc_lines_are_trimmed_for_reviewers() {
        assert_eq!(trim_doc(" One line.\n"), "One line.");
        assert_eq!(trim_doc(" First.\n Second.\n"), "First.\n Second.");
    }
}
