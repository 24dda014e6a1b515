//! Conversions from/to tower-http's `RequestId` (feature `tower-http`).
#![cfg(feature = "tower-http")]

use http::HeaderValue;
use stanchion_request_id::{InvalidReason, RequestId};

#[test]
fn ids_convert_to_tower_http_and_back_through_the_validity_rule() {
    let ours = RequestId::parse("abc-1").expect("valid");
    let theirs: tower_http::request_id::RequestId = ours.clone().into();
    assert_eq!(theirs.header_value(), "abc-1");
    assert_eq!(RequestId::try_from(theirs), Ok(ours));

    let hostile = tower_http::request_id::RequestId::new(HeaderValue::from_static("a\" b=c"));
    let error = RequestId::try_from(hostile).expect_err("tower-http trusts it; we do not");
    assert_eq!(error.reason(), InvalidReason::ForbiddenCharacter);
}
