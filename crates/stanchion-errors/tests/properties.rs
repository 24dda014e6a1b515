//! For any code and any cause, the body is a valid envelope whose statusCode equals the HTTP
//! status and which contains nothing of the cause.

#![allow(clippy::unwrap_used)] // A test fails by panicking; unwrap is its report.

use proptest::prelude::*;
use stanchion_errors::{ApiError, Format, codes};

fn any_code() -> impl Strategy<Value = stanchion_errors::ErrorCode> {
    (0..codes::BASE.codes().len()).prop_map(|i| codes::BASE.codes()[i])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn body_is_a_valid_envelope_without_the_cause(
        code in any_code(),
        // A marker the public texts never contain, followed by anything at all.
        cause in "CAUSE-[a-z0-9]{4}.{0,40}",
        problem in any::<bool>(),
        request_id in "[a-zA-Z0-9-]{1,40}",
    ) {
        let error = ApiError::new(code)
            .with_request_id(request_id.clone())
            .with_cause(std::io::Error::other(cause.clone()));
        let format = if problem { Format::Problem } else { Format::Envelope };
        let response = error.to_response_as(format);
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        let members = if problem { &body } else { &body["error"] };
        prop_assert_eq!(members["statusCode"].as_u64(), Some(u64::from(response.status().as_u16())));
        prop_assert_eq!(response.status(), code.status());
        prop_assert_eq!(members["code"].as_str(), Some(code.name()));
        prop_assert_eq!(members["requestId"].as_str(), Some(request_id.as_str()));
        let text = String::from_utf8(response.body().to_vec()).unwrap();
        prop_assert!(!text.contains(&cause[..10]), "cause leaked: {}", text);
    }
}
