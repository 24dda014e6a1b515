//! The validity rule of `RequestId::parse` (the one the default policy applies to inbound IDs).

use http::HeaderValue;
use stanchion_request_id::{
    ConfigErrorKind, DEFAULT_MAX_LEN, IdFormat, InvalidReason, RequestId, RequestIdLayer,
};

#[test]
fn ids_of_the_usual_formats_are_valid() {
    for ok in [
        "0b6c1c3e-4a5f-4f7e-9c1d-2f3a4b5c6d7e",     // UUID
        "0b6c1c3e-4a5f-9f7e-9c1d-2f3a4b5c6d7e",     // Envoy-sampled UUID (version nibble 9)
        "0af7651916cd43dd8448eb211c80319c",         // W3C trace-id, nginx $request_id
        "01ARZ3NDEKTSV4RRFFQ69G5FAV",               // ULID
        "Root-1-67891233-abcdef012345678912345678", // shape of an AWS trace root, sans `=`
        "svc.backend:42_a",
        "x",
    ] {
        let id = RequestId::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        assert_eq!(id.as_str(), ok);
        assert_eq!(id.to_string(), ok);
    }
}

#[test]
fn each_forbidden_class_is_rejected_with_its_reason() {
    let cases: &[(&str, InvalidReason)] = &[
        ("", InvalidReason::Empty),
        ("abc\"def", InvalidReason::ForbiddenCharacter),
        ("abc'def", InvalidReason::ForbiddenCharacter),
        ("abc def", InvalidReason::ForbiddenCharacter),
        ("abc\tdef", InvalidReason::ForbiddenCharacter),
        ("a=b", InvalidReason::ForbiddenCharacter),
        ("a\u{7f}b", InvalidReason::ForbiddenCharacter),
        ("a\nb", InvalidReason::ForbiddenCharacter),
        ("a\0b", InvalidReason::ForbiddenCharacter),
        ("a/b", InvalidReason::ForbiddenCharacter),
        ("a%0Db", InvalidReason::ForbiddenCharacter),
        ("café", InvalidReason::NonAscii),
        ("ｉｄ", InvalidReason::NonAscii),
    ];
    for (value, reason) in cases {
        let error = RequestId::parse(value).expect_err(value);
        assert_eq!(error.reason(), *reason, "{value:?}");
    }
}

#[test]
fn the_default_limit_is_128_bytes() {
    assert_eq!(DEFAULT_MAX_LEN, 128);
    assert!(RequestId::parse(&"a".repeat(128)).is_ok());
    let error = RequestId::parse(&"a".repeat(129)).expect_err("over the limit");
    assert_eq!(error.reason(), InvalidReason::TooLong);
}

#[test]
fn errors_never_repeat_the_rejected_value() {
    let hostile = "forged\" level=ERROR msg=pwned";
    let error = RequestId::parse(hostile).expect_err("invalid");
    let shown = format!("{error} {error:?}");
    assert!(
        !shown.contains("forged") && !shown.contains("pwned"),
        "{shown}"
    );
}

#[test]
fn header_values_are_validated_too_including_latin1_bytes() {
    let latin1 = HeaderValue::from_bytes(b"id-\xe9\xff").expect("obs-text is a header value");
    let error = RequestId::try_from(latin1).expect_err("non-ASCII");
    assert_eq!(error.reason(), InvalidReason::NonAscii);
    let ok = HeaderValue::from_static("abc-123");
    let id = RequestId::try_from(ok.clone()).expect("valid");
    assert_eq!(id.header_value(), &ok);
    assert_eq!(HeaderValue::from(id), ok);
}

#[test]
fn limits_outside_36_to_1024_are_refused_with_a_reason() {
    let error = RequestIdLayer::new()
        .with_max_len(20)
        .expect_err("too small");
    assert_eq!(error.kind(), ConfigErrorKind::MaxLenOutOfRange);
    assert!(error.to_string().contains("at least 36"), "{error}");
    assert!(RequestIdLayer::new().with_max_len(2048).is_err());
}

#[test]
fn generated_ids_are_unique_and_pass_the_rule() {
    let mut seen = std::collections::HashSet::new();
    for format in [IdFormat::UuidV4, IdFormat::UuidV7] {
        for _ in 0..1000 {
            let id = RequestId::generate(format);
            assert!(RequestId::parse(id.as_str()).is_ok());
            assert!(seen.insert(id), "duplicate ID");
        }
    }
}

#[test]
fn the_public_types_have_the_traits_other_crates_rely_on() {
    use std::{fmt::Debug, fmt::Display, hash::Hash};
    fn id<T: Clone + Debug + Display + PartialEq + Eq + Hash + Send + Sync + 'static>() {}
    fn layer<T: Clone + Debug + Send + Sync + 'static>() {}
    fn send<T: Send>() {}
    id::<RequestId>();
    layer::<RequestIdLayer>();
    layer::<stanchion_request_id::PropagateRequestIdLayer>();
    type Inner = tower::util::ServiceFn<
        fn(http::Request<()>) -> std::future::Ready<Result<http::Response<()>, ()>>,
    >;
    layer::<stanchion_request_id::RequestIdService<Inner>>();
    send::<stanchion_request_id::ResponseFuture<std::future::Ready<Result<http::Response<()>, ()>>>>(
    );
    send::<stanchion_request_id::Carried<std::future::Ready<()>>>();
}
