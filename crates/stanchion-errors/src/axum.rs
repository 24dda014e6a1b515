//! axum integration: `ApiError` as a response, and axum's extractor rejections mapped to codes
//! without the caller's input, serde's text or Rust type names.

use std::error::Error as StdError;

use axum::{
    extract::{
        FromRequest, FromRequestParts, Request,
        rejection::{JsonRejection, PathRejection, QueryRejection},
    },
    response::{IntoResponse, Response},
};
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::{ApiError, FieldViolation, codes, objects_only::ObjectsOnly};

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.to_response().map(axum::body::Body::from)
    }
}

/// axum's `Json` extractor with [`ApiError`] as its rejection; as a response it is axum's
/// `Json`.
///
/// Unlike serde's default, a struct is read from a JSON object only: a top-level array where
/// a struct is expected (`["text"]` for `{"prompt": string}`) is a `VALIDATION_ERROR` on
/// `body` ("has the wrong type"). A `Vec` or a tuple still takes an array.
#[derive(Clone, Copy, Debug, Default)]
#[must_use]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<ObjectsOnly<T>>::from_request(request, state).await {
            Ok(axum::Json(ObjectsOnly(value))) => Ok(Self(value)),
            Err(rejection) => Err(rejection.into()),
        }
    }
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// axum's `Query` extractor with [`ApiError`] as its rejection.
#[derive(Clone, Copy, Debug, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(rejection.into()),
        }
    }
}

/// axum's `Path` extractor with [`ApiError`] as its rejection.
#[derive(Clone, Copy, Debug, Default)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(rejection.into()),
        }
    }
}

/// A malformed body is a `VALIDATION_ERROR` naming the field and what is wrong with it; a
/// missing or wrong content type is `UNSUPPORTED_MEDIA_TYPE`; an oversize body is
/// `PAYLOAD_TOO_LARGE`. The rejection is kept as the internal cause.
impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let error = match &rejection {
            JsonRejection::JsonDataError(_) => {
                ApiError::new(codes::VALIDATION_ERROR).with_violation(json_violation(&rejection))
            }
            JsonRejection::JsonSyntaxError(_) => ApiError::new(codes::VALIDATION_ERROR)
                .with_violation(FieldViolation::new("body", "must be valid JSON")),
            JsonRejection::MissingJsonContentType(_) => {
                ApiError::new(codes::UNSUPPORTED_MEDIA_TYPE)
            }
            other => ApiError::new(ApiError::code_for_status(other.status())),
        };
        error.with_cause(rejection)
    }
}

/// A bad query string is a `VALIDATION_ERROR` on `query` (or on the missing parameter).
impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        let violation = chain(&rejection)
            .find_map(|e| missing_field(&e.to_string()))
            .map(|field| FieldViolation::new(field, "is required"))
            .unwrap_or_else(|| {
                FieldViolation::new("query", "is not a valid query string for this endpoint")
            });
        ApiError::new(codes::VALIDATION_ERROR)
            .with_violation(violation)
            .with_cause(rejection)
    }
}

/// A path parameter that does not parse is a `VALIDATION_ERROR` naming the parameter; a
/// route/extractor mismatch (a programming error) is an `INTERNAL_ERROR`.
impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        use axum::extract::path::ErrorKind;
        let error = match &rejection {
            PathRejection::FailedToDeserializePathParams(inner)
                if inner.status().is_client_error() =>
            {
                let field = match inner.kind() {
                    ErrorKind::ParseErrorAtKey { key, .. }
                    | ErrorKind::DeserializeError { key, .. }
                    | ErrorKind::InvalidUtf8InPathParam { key } => safe_key(key).unwrap_or("path"),
                    _ => "path",
                };
                ApiError::new(codes::VALIDATION_ERROR).with_violation(FieldViolation::new(
                    field.to_owned(),
                    "is not valid for this parameter",
                ))
            }
            _ => ApiError::new(codes::INTERNAL_ERROR),
        };
        error.with_cause(rejection)
    }
}

fn chain<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |e: &&'a (dyn StdError + 'static)| {
        (*e).source()
    })
}

/// SECURITY: field names come from the service's own types, but a map's keys come from the
/// caller; a key is named only when it looks like an identifier.
fn safe_key(key: &str) -> Option<&str> {
    let ok = !key.is_empty()
        && key.len() <= 64
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    ok.then_some(key)
}

/// `missing field `name`` names a field of the service's own type (not input), so it is safe.
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    let name = &rest[..rest.find('`')?];
    safe_key(name).map(str::to_owned)
}

fn json_violation(rejection: &JsonRejection) -> FieldViolation {
    let Some(error) = chain(rejection)
        .find_map(|e| e.downcast_ref::<serde_path_to_error::Error<serde_json::Error>>())
    else {
        return FieldViolation::new("body", "does not match the expected shape");
    };
    let mut path = String::new();
    for segment in error.path().iter() {
        match segment {
            serde_path_to_error::Segment::Seq { index } => path.push_str(&format!("[{index}]")),
            serde_path_to_error::Segment::Map { key }
            | serde_path_to_error::Segment::Enum { variant: key } => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(safe_key(key).unwrap_or("*"));
            }
            serde_path_to_error::Segment::Unknown => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push('?');
            }
        }
    }
    // serde's message is never sent: it can quote the caller's value and name Rust types. It
    // is read only to pick one of these fixed descriptions.
    let message = error.inner().to_string();
    let description = if let Some(field) = missing_field(&message) {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(&field);
        "is required"
    } else if message.starts_with("invalid type") {
        "has the wrong type"
    } else if message.starts_with("invalid length") {
        "has the wrong number of items"
    } else if message.starts_with("unknown variant") {
        "is not one of the allowed values"
    } else if message.starts_with("unknown field") {
        "is not a known field"
    } else if message.starts_with("duplicate field") {
        "appears more than once"
    } else {
        "has an invalid value"
    };
    if path.is_empty() {
        path.push_str("body");
    }
    FieldViolation::new(path, description)
}
