//! The [`RequestId`] type, its validity rule, generation and the task-local that carries it.

use std::{error::Error, fmt, str::FromStr};

use bytes::Bytes;
use http::HeaderValue;
use uuid::Uuid;

tokio::task_local! {
    /// The ID of the request whose future is being polled. `None` inside a [`crate::carry`]ed
    /// future spawned from outside any request, so a carried future never needs two types.
    static CURRENT: Option<RequestId>;
}

/// The default limit of the validity rule, in bytes.
///
/// 128 covers every ID format in use (UUID 36, W3C trace-id 32, ULID 26, AWS `Root=` 35, nginx
/// 32, Heroku up to 200 is the one exception) while keeping an attacker from copying kilobytes
/// into every log line of a request.
pub const DEFAULT_MAX_LEN: usize = 128;

/// The smallest limit [`crate::RequestIdLayer::with_max_len`] accepts: a hyphenated UUID (36
/// bytes), so a hop running the same configuration accepts the IDs this one generates.
pub const MIN_MAX_LEN: usize = 36;

/// The largest limit [`crate::RequestIdLayer::with_max_len`] accepts.
pub const MAX_MAX_LEN: usize = 1024;

/// How many bytes of a rejected inbound value the sanitized copy keeps.
pub(crate) const SANITIZED_INPUT_CAP: usize = 64;

/// Which bytes the validity rule allows: `A-Z a-z 0-9 - _ . :`.
///
/// SECURITY: no quote, space, `=`, `;`, `,`, `%`, `/`, `\`, `<`, `>`, control byte or non-ASCII
/// byte, so an accepted ID cannot forge a `key=value` pair, break out of a quoted field, carry an
/// encoded line break or markup, or spell a path, in any log format.
const fn is_id_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b':')
}

/// [`is_id_byte`] as a table, for the per-request check.
const ID_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = is_id_byte(byte as u8);
        byte += 1;
    }
    table
};

/// A request's correlation ID: validated (or generated) once at the edge, then carried in the
/// request's extensions, in the request span, in the response header and to the next hop.
///
/// Every `RequestId` holds a non-empty string of visible ASCII, so [`RequestId::as_str`] and
/// `Display` are infallible and safe to write into any log format. Values built with
/// [`RequestId::parse`] (or `FromStr`, `TryFrom`) follow the validity rule of the crate docs;
/// values accepted by [`crate::TrustPolicy::AlwaysAccept`] follow the weaker safety floor.
///
/// Cloning is cheap: the value shares the bytes of its header value (a reference count).
#[derive(Clone)]
pub struct RequestId {
    value: HeaderValue,
}

impl RequestId {
    /// The ID of the request whose future is being polled right now, or `None` outside any
    /// request.
    ///
    /// Set by [`crate::RequestIdService`] for its whole inner future (the synchronous `call`,
    /// the response future, and everything they poll). A plain `tokio::spawn`ed task does **not**
    /// inherit it: use [`crate::spawn`] or [`crate::carry`].
    #[must_use]
    pub fn current() -> Option<Self> {
        CURRENT.try_with(Clone::clone).ok().flatten()
    }

    /// A fresh ID in the given format.
    #[must_use]
    pub fn generate(format: IdFormat) -> Self {
        let uuid = match format {
            IdFormat::UuidV4 => Uuid::new_v4(),
            IdFormat::UuidV7 => Uuid::now_v7(),
        };
        // PERF: encode on the stack (no `to_string` then parse, as tower-http's
        // `MakeRequestUuid` does), then move the buffer into one reference-counted allocation:
        // the clones for the request header, the extensions, the task-local and the response
        // header are then counter increments, with no copy and no later promotion allocation.
        let mut buffer = [0u8; uuid::fmt::Hyphenated::LENGTH];
        uuid.hyphenated().encode_lower(&mut buffer);
        let value = HeaderValue::from_maybe_shared(Bytes::from_owner(buffer))
            .expect("a hyphenated UUID is visible ASCII");
        Self { value }
    }

    /// Parse an ID under the validity rule with [`DEFAULT_MAX_LEN`].
    ///
    /// # Errors
    ///
    /// When the value is empty, longer than the limit, or has a byte outside
    /// `A-Z a-z 0-9 - _ . :`.
    pub fn parse(value: &str) -> Result<Self, InvalidRequestId> {
        check_valid(value.as_bytes(), DEFAULT_MAX_LEN)?;
        let value = HeaderValue::from_str(value).expect("validated bytes are visible ASCII");
        Ok(Self { value })
    }

    /// The ID as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Every constructor checks the bytes are visible ASCII, so this never falls back.
        self.value.to_str().unwrap_or_default()
    }

    /// The ID as a header value (for a header other than the configured one, or a client this
    /// crate does not know).
    #[must_use]
    pub fn header_value(&self) -> &HeaderValue {
        &self.value
    }

    /// Run `future` with this ID as [`RequestId::current`] (and inside the current span), for
    /// work that starts outside any request: a queue consumer, a scheduled job, a test.
    pub fn scope<F: std::future::Future>(self, future: F) -> crate::Carried<F> {
        crate::spawn::carried(Some(self), future)
    }

    /// Build from a value that already passed a check.
    pub(crate) fn from_checked(value: HeaderValue) -> Self {
        Self { value }
    }
}

/// Scope the task-local for a future (the server layer and the spawn helper share this).
pub(crate) fn scope_future<F: std::future::Future>(
    id: Option<RequestId>,
    future: F,
) -> tokio::task::futures::TaskLocalFuture<Option<RequestId>, F> {
    CURRENT.scope(id, future)
}

/// Scope the task-local for a synchronous call (the inner service's `call`).
pub(crate) fn sync_scope<R>(id: Option<RequestId>, f: impl FnOnce() -> R) -> R {
    CURRENT.sync_scope(id, f)
}

// By the bytes only: `HeaderValue`'s derived `Hash` also hashes its "sensitive" flag, which an
// outer `SetSensitiveHeadersLayer` may have set on an accepted value.
impl PartialEq for RequestId {
    fn eq(&self, other: &Self) -> bool {
        self.value.as_bytes() == other.value.as_bytes()
    }
}

impl Eq for RequestId {}

impl std::hash::Hash for RequestId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.value.as_bytes().hash(state);
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RequestId").field(&self.as_str()).finish()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for RequestId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl FromStr for RequestId {
    type Err = InvalidRequestId;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value)
    }
}

impl TryFrom<&str> for RequestId {
    type Error = InvalidRequestId;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl TryFrom<HeaderValue> for RequestId {
    type Error = InvalidRequestId;

    /// Validates under the rule with [`DEFAULT_MAX_LEN`] and keeps the header value's bytes.
    fn try_from(value: HeaderValue) -> Result<Self, Self::Error> {
        check_valid(value.as_bytes(), DEFAULT_MAX_LEN)?;
        Ok(Self { value })
    }
}

impl From<RequestId> for HeaderValue {
    fn from(id: RequestId) -> Self {
        id.value
    }
}

/// How the layer generates IDs. See the crate docs ("Generation") for why v4 is the default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IdFormat {
    /// Random UUID (RFC 9562 version 4), hyphenated lowercase. The default: the cheapest, no
    /// shared lock, and reveals nothing about when the request came.
    #[default]
    UuidV4,
    /// Time-ordered UUID (RFC 9562 version 7), hyphenated lowercase: sortable logs, at the price
    /// of a process-wide lock in `uuid`'s counter and of leaking the request time.
    UuidV7,
}

/// Why an inbound value failed the validity rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InvalidReason {
    /// Empty value.
    Empty,
    /// Longer than the limit.
    TooLong,
    /// A byte outside ASCII (latin-1 / obs-text, UTF-8).
    NonAscii,
    /// An ASCII byte outside `A-Z a-z 0-9 - _ . :` (space, quote, `=`, control ...).
    ForbiddenCharacter,
    /// The header came more than once, so which one the client meant is ambiguous.
    Repeated,
}

impl InvalidReason {
    /// A stable snake_case name, as written in the `reason` field of the replacement event.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::TooLong => "too_long",
            Self::NonAscii => "non_ascii",
            Self::ForbiddenCharacter => "forbidden_character",
            Self::Repeated => "repeated",
        }
    }
}

impl fmt::Display for InvalidReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value that is not a valid request ID. The error never contains the value itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidRequestId {
    reason: InvalidReason,
}

impl InvalidRequestId {
    /// Why the value was rejected.
    #[must_use]
    pub fn reason(&self) -> InvalidReason {
        self.reason
    }
}

impl fmt::Display for InvalidRequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.reason {
            InvalidReason::Empty => "it is empty",
            InvalidReason::TooLong => "it is longer than the limit",
            InvalidReason::NonAscii => "it has a non-ASCII byte",
            InvalidReason::ForbiddenCharacter => "it has a character outside `A-Z a-z 0-9 - _ . :`",
            InvalidReason::Repeated => "the header was sent more than once",
        };
        write!(f, "invalid request ID: {why}")
    }
}

impl Error for InvalidRequestId {}

impl From<InvalidReason> for InvalidRequestId {
    fn from(reason: InvalidReason) -> Self {
        Self { reason }
    }
}

/// The validity rule: 1..=`max_len` bytes of `A-Z a-z 0-9 - _ . :`.
pub(crate) fn check_valid(bytes: &[u8], max_len: usize) -> Result<(), InvalidRequestId> {
    if bytes.is_empty() {
        return Err(InvalidReason::Empty.into());
    }
    // SECURITY: length first, so a 400 KiB value costs one comparison, not a scan.
    if bytes.len() > max_len {
        return Err(InvalidReason::TooLong.into());
    }
    // PERF: one table lookup per byte; the common case (all allowed) never looks for a reason.
    if bytes.iter().all(|&b| ID_BYTES[usize::from(b)]) {
        return Ok(());
    }
    if bytes.iter().any(|b| !b.is_ascii()) {
        Err(InvalidReason::NonAscii.into())
    } else {
        Err(InvalidReason::ForbiddenCharacter.into())
    }
}

/// The safety floor of [`crate::TrustPolicy::AlwaysAccept`]: 1..=`max_len` bytes of visible
/// ASCII (`!` to `~`), so no whitespace, control byte or non-ASCII byte even from a trusted hop.
pub(crate) fn check_floor(bytes: &[u8], max_len: usize) -> Result<(), InvalidRequestId> {
    if bytes.is_empty() {
        return Err(InvalidReason::Empty.into());
    }
    if bytes.len() > max_len {
        return Err(InvalidReason::TooLong.into());
    }
    if bytes.iter().all(|b| b.is_ascii_graphic()) {
        return Ok(());
    }
    if bytes.iter().any(|b| !b.is_ascii()) {
        Err(InvalidReason::NonAscii.into())
    } else {
        Err(InvalidReason::ForbiddenCharacter.into())
    }
}

/// The sanitized copy of a rejected inbound value: the first [`SANITIZED_INPUT_CAP`] bytes, each
/// byte outside the ID charset percent-encoded (`%22` for a quote, `%0A` never appears raw).
///
/// SECURITY: the output is made of `A-Z a-z 0-9 - _ . : %` only, so it is inert in every log
/// format; `%` itself is encoded, so the copy is unambiguous and cannot pass for an accepted ID
/// that had been replaced. At most `3 * SANITIZED_INPUT_CAP` bytes whatever the input size.
pub(crate) fn sanitize(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let kept = &bytes[..bytes.len().min(SANITIZED_INPUT_CAP)];
    let mut out = String::with_capacity(kept.len() * 3);
    for &byte in kept {
        if is_id_byte(byte) {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_accepts_the_usual_formats() {
        for ok in [
            "0b6c1c3e-4a5f-4f7e-9c1d-2f3a4b5c6d7e",
            "0af7651916cd43dd8448eb211c80319c",
            "01ARZ3NDEKTSV4RRFFQ69G5FAV",
            "host-1.example:8080_abc",
        ] {
            assert_eq!(check_valid(ok.as_bytes(), DEFAULT_MAX_LEN), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rule_names_the_reason() {
        let reason = |v: &[u8]| check_valid(v, 8).map_err(|e| e.reason());
        assert_eq!(reason(b""), Err(InvalidReason::Empty));
        assert_eq!(reason(b"123456789"), Err(InvalidReason::TooLong));
        assert_eq!(reason(b"ab\xe9"), Err(InvalidReason::NonAscii));
        assert_eq!(reason(b"a=b"), Err(InvalidReason::ForbiddenCharacter));
        assert_eq!(reason(b"a b"), Err(InvalidReason::ForbiddenCharacter));
    }

    #[test]
    fn sanitize_encodes_everything_outside_the_charset_and_caps_the_input() {
        assert_eq!(sanitize(b"a\"b c=d%\xff"), "a%22b%20c%3Dd%25%FF");
        let long = vec![b'a'; 10_000];
        assert_eq!(sanitize(&long).len(), SANITIZED_INPUT_CAP);
        let hostile = vec![b'"'; 10_000];
        assert_eq!(sanitize(&hostile).len(), 3 * SANITIZED_INPUT_CAP);
    }

    #[test]
    fn equality_and_hash_ignore_the_sensitive_flag() {
        use std::hash::{BuildHasher as _, RandomState};
        let plain = RequestId::parse("abc").expect("valid");
        let mut value = HeaderValue::from_static("abc");
        value.set_sensitive(true);
        let sensitive = RequestId::try_from(value).expect("valid");
        assert_eq!(plain, sensitive);
        let hasher = RandomState::new();
        assert_eq!(hasher.hash_one(&plain), hasher.hash_one(&sensitive));
    }

    #[test]
    fn generated_ids_pass_the_rule_and_carry_their_version() {
        for (format, version) in [(IdFormat::UuidV4, 4), (IdFormat::UuidV7, 7)] {
            let id = RequestId::generate(format);
            assert_eq!(check_valid(id.as_str().as_bytes(), MIN_MAX_LEN), Ok(()));
            let uuid = Uuid::parse_str(id.as_str()).expect("a UUID");
            assert_eq!(uuid.get_version_num(), version);
        }
    }
}
