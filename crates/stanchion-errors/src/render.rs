//! The envelope on the wire: serializing an `ApiError` into a response, and reading an
//! envelope back (for the proxy policy).

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, header};
use serde::{Deserialize, Serialize};

use crate::{ApiError, RenderedError, SafeValue};

/// The media type of the default envelope.
pub const APPLICATION_JSON: &str = "application/json";
/// The RFC 9457 media type, used when the client asks for it.
pub const APPLICATION_PROBLEM_JSON: &str = "application/problem+json";

/// How an error body is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Format {
    /// `{"error":{...}}` as `application/json` (the default).
    #[default]
    Envelope,
    /// RFC 9457 problem details as `application/problem+json`: `type` (`about:blank`),
    /// `title` (the reason phrase) and `status`, with the envelope's members as extensions.
    Problem,
}

impl Format {
    /// The format a request asks for: `Problem` when its `Accept` header names
    /// `application/problem+json` with a non-zero quality, `Envelope` otherwise.
    pub fn negotiate(request_headers: &HeaderMap) -> Self {
        Self::from_accept(request_headers.get_all(header::ACCEPT).iter())
    }

    /// The format asked for by these `Accept` header values.
    pub(crate) fn from_accept<'a>(accept: impl Iterator<Item = &'a HeaderValue>) -> Self {
        let wants_problem = accept
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|item| {
                let mut parts = item.split(';');
                let media = parts.next().unwrap_or_default().trim();
                let refused = parts.any(|p| {
                    let p = p.trim();
                    p.strip_prefix("q=")
                        .is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0))
                });
                media.eq_ignore_ascii_case(APPLICATION_PROBLEM_JSON) && !refused
            });
        if wants_problem {
            Self::Problem
        } else {
            Self::Envelope
        }
    }
}

#[derive(Serialize)]
struct EnvelopeOut<'a> {
    error: Members<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProblemOut<'a> {
    r#type: &'static str,
    title: &'static str,
    status: u16,
    #[serde(flatten)]
    members: Members<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Members<'a> {
    code: &'static str,
    message: &'static str,
    status_code: u16,
    request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Details::is_empty")]
    details: Details<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Details<'a> {
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    field_violations: Vec<ViolationOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after_seconds: Option<u64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    params: BTreeMap<&'static str, ParamOut>,
}

impl Details<'_> {
    fn is_empty(&self) -> bool {
        self.field_violations.is_empty()
            && self.retry_after_seconds.is_none()
            && self.params.is_empty()
    }
}

#[derive(Serialize)]
struct ViolationOut<'a> {
    field: &'a str,
    description: &'a str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum ParamOut {
    Int(i64),
    UInt(u64),
    Bool(bool),
    Str(&'static str),
}

impl From<SafeValue> for ParamOut {
    fn from(value: SafeValue) -> Self {
        match value {
            SafeValue::Int(v) => Self::Int(v),
            SafeValue::UInt(v) => Self::UInt(v),
            SafeValue::Bool(v) => Self::Bool(v),
            SafeValue::Static(v) => Self::Str(v),
        }
    }
}

impl ApiError {
    fn members(&self) -> Members<'_> {
        let inner = self.inner();
        Members {
            code: inner.code.name(),
            message: inner.code.message(),
            status_code: inner.code.status_u16(),
            request_id: inner.request_id.as_deref(),
            details: Details {
                field_violations: inner
                    .violations
                    .iter()
                    .map(|v| ViolationOut {
                        field: &v.field,
                        description: &v.description,
                    })
                    .collect(),
                retry_after_seconds: inner.retry_after,
                params: inner
                    .params
                    .iter()
                    .map(|(k, v)| (*k, ParamOut::from(*v)))
                    .collect(),
            },
        }
    }

    /// The body as bytes, in `format`.
    pub fn body(&self, format: Format) -> Bytes {
        let inner = self.inner();
        if format == Format::Envelope
            && inner.violations.is_empty()
            && inner.params.is_empty()
            && inner.retry_after.is_none()
        {
            return Bytes::from(self.plain_envelope());
        }
        let members = self.members();
        // Serializing these plain structs into a Vec cannot fail: every key is a string and
        // every value a string, number, boolean or null. The fallback keeps this panic-free.
        let written = match format {
            Format::Envelope => serde_json::to_vec(&EnvelopeOut { error: members }),
            Format::Problem => serde_json::to_vec(&ProblemOut {
                r#type: "about:blank",
                title: self.status().canonical_reason().unwrap_or("Error"),
                status: self.status().as_u16(),
                members,
            }),
        };
        match written {
            Ok(bytes) => Bytes::from(bytes),
            Err(_) => Bytes::from_static(
                br#"{"error":{"code":"INTERNAL_ERROR","message":"An internal error occurred.","statusCode":500,"requestId":null}}"#,
            ),
        }
    }

    /// The envelope without `details`, written directly: the same bytes `serde_json` writes
    /// for [`EnvelopeOut`] (a test compares them).
    ///
    /// PERF: serde's derive walks the structs through its generic map serializer and grows
    /// the vector as it goes; the usual error (no details: a 404, a guard rewrite) is five
    /// members known in advance, so one exact allocation and a few copies do. Measured with
    /// `benches/benches/instructions.rs`: ~2,800 → ~600 instructions per envelope.
    fn plain_envelope(&self) -> Vec<u8> {
        let inner = self.inner();
        let code = inner.code.name();
        let message = inner.code.message();
        let request_id = inner.request_id.as_deref();
        let mut out = Vec::with_capacity(
            80 + code.len() + message.len() + request_id.map_or(0, str::len) + 8,
        );
        out.extend_from_slice(br#"{"error":{"code":"#);
        push_json_str(&mut out, code);
        out.extend_from_slice(br#","message":"#);
        push_json_str(&mut out, message);
        out.extend_from_slice(br#","statusCode":"#);
        push_u16(&mut out, inner.code.status_u16());
        out.extend_from_slice(br#","requestId":"#);
        match request_id {
            Some(id) => push_json_str(&mut out, id),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b"}}");
        out
    }

    /// The response in the default envelope format.
    pub fn to_response(&self) -> Response<Bytes> {
        self.to_response_as(Format::Envelope)
    }

    /// The response in `format`, with the code's header obligations: `WWW-Authenticate` on a
    /// 401, `Retry-After` when a retry hint is set, `Allow` when given, and the error itself in
    /// the extensions as [`RenderedError`].
    pub fn to_response_as(&self, format: Format) -> Response<Bytes> {
        let mut response = Response::new(self.body(format));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        self.write_headers(headers, format);
        response
            .extensions_mut()
            .insert(RenderedError(std::sync::Arc::new(self.clone())));
        response
    }

    /// Writes the content type and the code's header obligations into `headers`.
    pub(crate) fn write_headers(&self, headers: &mut HeaderMap, format: Format) {
        let inner = self.inner();
        let content_type = match format {
            Format::Envelope => APPLICATION_JSON,
            Format::Problem => APPLICATION_PROBLEM_JSON,
        };
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if inner.code.status_u16() == 401 {
            let challenge = inner.challenge.clone().unwrap_or_else(|| {
                HeaderValue::from_static(inner.code.challenge().unwrap_or("Bearer"))
            });
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        if let Some(secs) = inner.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(allow) = &inner.allow {
            headers.insert(header::ALLOW, allow.clone());
        }
    }
}

/// An envelope read back from a body, as the proxy policy reads an upstream's answer.
#[derive(Debug, Deserialize)]
pub(crate) struct EnvelopeIn {
    pub(crate) error: MembersIn,
}

#[derive(Debug, Deserialize)]
pub(crate) struct MembersIn {
    pub(crate) code: String,
}

/// Writes `value` as a JSON string exactly as `serde_json` does: `"` and `\\` escaped, the
/// C0 controls as `\b \t \n \f \r` or `\u00xx` (lowercase hex), everything else (DEL,
/// non-ASCII) as is.
fn push_json_str(out: &mut Vec<u8>, value: &str) {
    out.push(b'"');
    let bytes = value.as_bytes();
    // PERF: codes, messages and request IDs need no escaping. A branch-free scan, which the
    // compiler vectorizes, decides that for the whole string, which is then copied in one
    // piece (~250 instructions less per string than the byte loop below, measured by
    // benches/benches/instructions.rs).
    let clean = !bytes.iter().fold(false, |dirty, &byte| {
        dirty | (byte < 0x20) | (byte == b'"') | (byte == b'\\')
    });
    if clean {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..index]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = index + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Writes a status code (three digits, or fewer for a code outside 100..=999).
fn push_u16(out: &mut Vec<u8>, value: u16) {
    let mut digits = [0_u8; 5];
    let mut at = digits.len();
    let mut rest = value;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes;

    #[test]
    fn the_plain_envelope_is_what_serde_json_writes() {
        let awkward = "id \"quoted\" back\\slash \u{0} \u{8} \u{c} \n\r\t \u{1f} \u{7f} é ☃ /";
        let errors = [
            ApiError::new(codes::NOT_FOUND),
            ApiError::new(codes::INTERNAL_ERROR).with_request_id("3f1c-aa:b_c.d"),
            ApiError::new(codes::AUTH_REQUIRED).with_request_id(awkward),
            ApiError::new(codes::VALIDATION_ERROR).with_request_id(String::new()),
        ];
        for error in errors {
            let expected = serde_json::to_vec(&EnvelopeOut {
                error: error.members(),
            })
            .unwrap();
            assert_eq!(
                String::from_utf8(error.plain_envelope()).unwrap(),
                String::from_utf8(expected).unwrap()
            );
            assert_eq!(error.body(Format::Envelope), error.plain_envelope());
        }
        let mut out = Vec::new();
        for value in [0, 7, 10, 99, 100, 404, 999, 1000, u16::MAX] {
            out.clear();
            push_u16(&mut out, value);
            assert_eq!(out, value.to_string().as_bytes());
        }
    }
}
