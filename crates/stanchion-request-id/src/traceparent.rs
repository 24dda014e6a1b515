//! Reading the trace-id out of a W3C `traceparent` header (Trace Context Level 1, section 3.2).

/// The trace-id of a valid `traceparent` value: 32 lowercase hex digits, not all zero.
///
/// Follows the spec's processing model: version `ff` is invalid; version `00` must be exactly
/// 55 bytes; a higher version must be at least 55 bytes with a `-` after the flags when longer;
/// every field is lowercase hex; an all-zero trace-id or parent-id is invalid. Any invalid field
/// means the whole header is ignored.
pub(crate) fn trace_id(value: &[u8]) -> Option<&[u8]> {
    const LEN: usize = 55;
    if value.len() < LEN {
        return None;
    }
    let is_hex = |bytes: &[u8]| bytes.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let version = &value[0..2];
    if !is_hex(version) || version == b"ff" {
        return None;
    }
    if version == b"00" && value.len() != LEN {
        return None;
    }
    if value.len() > LEN && value[LEN] != b'-' {
        return None;
    }
    if value[2] != b'-' || value[35] != b'-' || value[52] != b'-' {
        return None;
    }
    let trace_id = &value[3..35];
    let parent_id = &value[36..52];
    let flags = &value[53..55];
    let all_zero = |bytes: &[u8]| bytes.iter().all(|&b| b == b'0');
    if !is_hex(trace_id) || !is_hex(parent_id) || !is_hex(flags) {
        return None;
    }
    if all_zero(trace_id) || all_zero(parent_id) {
        return None;
    }
    Some(trace_id)
}

#[cfg(test)]
mod tests {
    use super::trace_id;

    const VALID: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    #[test]
    fn valid_header_yields_its_trace_id() {
        assert_eq!(
            trace_id(VALID.as_bytes()),
            Some(&b"0af7651916cd43dd8448eb211c80319c"[..])
        );
        let future_version = "cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what";
        assert!(trace_id(future_version.as_bytes()).is_some());
    }

    #[test]
    fn any_invalid_field_rejects_the_whole_header() {
        for bad in [
            "",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
            "00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0g",
            "cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x",
            "00-0af7651916cd43dd8448eb211c8031\"c-b7ad6b7169203331-01",
        ] {
            assert_eq!(trace_id(bad.as_bytes()), None, "{bad}");
        }
    }
}
