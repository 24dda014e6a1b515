//! Bearer authentication: HS256 JWTs signed with `AUTH_JWT_SECRET`, checked by an axum
//! extractor whose every failure is an envelope with `WWW-Authenticate`.

use std::{
    fmt,
    time::{SystemTime, UNIX_EPOCH},
};

use axum::{extract::FromRequestParts, http::request::Parts};
use http::header;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use stanchion::rollout::{Gate, Verdict};
use stanchion_errors::{ApiError, codes};

/// The longest `sub` accepted, in bytes.
const MAX_SUBJECT_LEN: usize = 128;

/// The longest bearer token accepted, in bytes. The backend's own tokens are about 200 bytes;
/// a longer one is refused before it is decoded or its signature computed, so a client cannot
/// make every request cost a base64 decode and an HMAC over kilobytes of claims.
pub const MAX_TOKEN_LEN: usize = 4096;

/// The claims the backend issues and accepts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Claims {
    /// The user ID: 1 to 128 visible ASCII characters (it reaches log lines and the agent's
    /// `x-user-id` header, so nothing that could break a line or a header is accepted).
    pub sub: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: i64,
    /// Issued at, seconds since the Unix epoch.
    pub iat: i64,
    /// The subscription plan; `free` does not include training plans. Absent: every feature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
}

/// A token could not be signed (the signing library failed; with HS256 it does not in
/// practice).
#[derive(Debug, thiserror::Error)]
#[error("the token could not be signed")]
pub struct MintError(#[source] jsonwebtoken::errors::Error);

/// Signs a token for `sub`, valid for `ttl_secs` from now (negative: already expired, for
/// tests), with `plan` when given.
///
/// # Errors
///
/// When signing fails.
pub fn mint_token_with_plan(
    secret: &[u8],
    sub: &str,
    ttl_secs: i64,
    plan: Option<&str>,
) -> Result<String, MintError> {
    let now = now_secs();
    let claims = Claims {
        sub: sub.to_owned(),
        exp: now.saturating_add(ttl_secs),
        iat: now.min(now.saturating_add(ttl_secs)),
        plan: plan.map(str::to_owned),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .map_err(MintError)
}

/// Signs a token for `sub`, valid for `ttl_secs` from now (negative: already expired).
///
/// ```
/// let secret = b"an-example-secret-of-at-least-32-bytes";
/// let token = example_backend::mint_token(secret, "ana", 3600).unwrap();
/// let verifier = example_backend::Verifier::new(secret);
/// assert_eq!(verifier.verify(&token).unwrap().sub, "ana");
///
/// let expired = example_backend::mint_token(secret, "ana", -60).unwrap();
/// let error = verifier.verify(&expired).unwrap_err();
/// assert_eq!(error.code().name(), "AUTH_EXPIRED_TOKEN");
/// ```
///
/// # Errors
///
/// When signing fails.
pub fn mint_token(secret: &[u8], sub: &str, ttl_secs: i64) -> Result<String, MintError> {
    mint_token_with_plan(secret, sub, ttl_secs, None)
}

fn now_secs() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// Checks HS256 tokens against one secret.
#[derive(Clone)]
pub struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SECURITY: the key is the JWT secret.
        f.debug_struct("Verifier").finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier for tokens signed with `secret`.
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // The backend issues and checks its tokens on one clock: no leeway, so a token is
        // refused the second it expires.
        validation.leeway = 0;
        // SECURITY: jsonwebtoken checks `nbf` only when asked; a token minted for later must
        // not work now (found by the authorization suite).
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            key: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// The claims of a valid token.
    ///
    /// # Errors
    ///
    /// `AUTH_EXPIRED_TOKEN` for a correctly signed token past its `exp`;
    /// `AUTH_INVALID_TOKEN` for anything else (longer than [`MAX_TOKEN_LEN`], malformed, bad
    /// signature, another algorithm, a missing claim, an unusable `sub`). The library's error
    /// is the internal cause.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        if token.len() > MAX_TOKEN_LEN {
            // Before decoding: a validly signed token is refused too.
            count_failure("oversized");
            return Err(ApiError::new(codes::AUTH_INVALID_TOKEN).with_cause(
                std::io::Error::other("the token is longer than MAX_TOKEN_LEN bytes"),
            ));
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(
            |error| {
                let (code, reason) = match error.kind() {
                    ErrorKind::ExpiredSignature => (codes::AUTH_EXPIRED_TOKEN, "expired"),
                    ErrorKind::InvalidSignature => (codes::AUTH_INVALID_TOKEN, "bad_signature"),
                    ErrorKind::InvalidAlgorithm => (codes::AUTH_INVALID_TOKEN, "wrong_algorithm"),
                    _ => (codes::AUTH_INVALID_TOKEN, "malformed"),
                };
                count_failure(reason);
                ApiError::new(code).with_cause(error)
            },
        )?;
        let claims = data.claims;
        let usable = !claims.sub.is_empty()
            && claims.sub.len() <= MAX_SUBJECT_LEN
            && claims.sub.bytes().all(|b| b.is_ascii_graphic());
        if !usable {
            count_failure("invalid_subject");
            return Err(ApiError::new(codes::AUTH_INVALID_TOKEN).with_cause(
                std::io::Error::other("sub is not 1-128 visible ASCII characters"),
            ));
        }
        Ok(claims)
    }

    /// The claims of the bearer token in `parts`' `Authorization` header.
    ///
    /// # Errors
    ///
    /// `AUTH_REQUIRED` without an `Authorization` header; `AUTH_INVALID_TOKEN` for a header
    /// that is not `Bearer <token>`; otherwise as [`verify`](Self::verify).
    pub fn verify_request(&self, parts: &Parts) -> Result<Claims, ApiError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            count_failure("missing");
            return Err(ApiError::new(codes::AUTH_REQUIRED));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|value| {
                let (scheme, token) = value.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                count_failure("not_bearer");
                ApiError::new(codes::AUTH_INVALID_TOKEN)
            })?;
        self.verify(token)
    }
}

/// Bearer-token verifications that failed, by `reason` (`missing`, `not_bearer`, `oversized`,
/// `malformed`, `bad_signature`, `wrong_algorithm`, `expired`, `invalid_subject`): a counter.
pub const AUTH_FAILURES_TOTAL: &str = "backend_auth_verification_failures_total";

fn count_failure(reason: &'static str) {
    metrics::counter!(AUTH_FAILURES_TOTAL, "reason" => reason).increment(1);
}

/// The user ID of a request served without verified claims: `AUTH_MODE=off`, or a token that
/// failed verification in `AUTH_MODE=shadow`. The agent's per-user quota counts them as one
/// user, so a rollout in shadow cannot be used to spread queries over invented users.
pub const ANONYMOUS_USER: &str = example_agent::ANONYMOUS;

/// `AUTH_MODE`: the rollout flag of bearer authentication.
pub const AUTH_MODE_VAR: &str = "AUTH_MODE";

/// Something that holds the request's [`Verifier`] and the `AUTH_MODE` gate (the router's
/// state).
pub trait HasVerifier {
    /// The verifier.
    fn verifier(&self) -> &Verifier;

    /// The gate of [`AUTH_MODE_VAR`]: `enforced` refuses a request that does not verify;
    /// `shadow` verifies, counts and logs the failure (`would_deny`) and serves the request as
    /// [`ANONYMOUS_USER`]; `off` does not verify at all.
    fn auth_gate(&self) -> &Gate;
}

/// The caller: extracting it checks the bearer token before the body is read, as the
/// `AUTH_MODE` gate says (see [`HasVerifier::auth_gate`]).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Authenticated {
    /// The token's claims; for a request served without verified claims (`off`, or a
    /// failure in `shadow`), `sub` is [`ANONYMOUS_USER`] and there is no plan.
    pub claims: Claims,
}

impl Claims {
    /// The claims of a request served without a verified token.
    fn anonymous() -> Self {
        Self {
            sub: ANONYMOUS_USER.to_owned(),
            exp: 0,
            iat: 0,
            plan: None,
        }
    }
}

impl<S> FromRequestParts<S> for Authenticated
where
    S: HasVerifier + Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let verdict = state
            .auth_gate()
            .check(|| state.verifier().verify_request(parts));
        let claims = match verdict {
            Verdict::Enforced(Ok(claims)) | Verdict::Shadow(Ok(claims)) => claims,
            Verdict::Enforced(Err(error)) => {
                // The code only: never the token, nor the library's text about it.
                tracing::info!(
                    target: "example_backend::auth",
                    errorCode = error.code().name(),
                    "authentication failed"
                );
                return Err(error);
            }
            // The gate logged and counted the would-be denial (with the code as its reason).
            Verdict::Shadow(Err(_)) | Verdict::Off => Claims::anonymous(),
        };
        // The access log of this request then carries `userId` (the `sub`, never the token).
        stanchion::set_user_id(&parts.extensions, claims.sub.clone());
        Ok(Self { claims })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"unit-test-secret-that-is-long-enough";

    fn parts(authorization: Option<&str>) -> Parts {
        let mut request = http::Request::get("/");
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        request.body(()).expect("request").into_parts().0
    }

    #[test]
    fn a_fresh_token_verifies_and_keeps_its_plan() {
        let token = mint_token_with_plan(SECRET, "ana", 60, Some("free")).expect("signed");
        let claims = Verifier::new(SECRET).verify(&token).expect("valid");
        assert_eq!(claims.sub, "ana");
        assert_eq!(claims.plan.as_deref(), Some("free"));
        assert_eq!(claims.exp - claims.iat, 60);
    }

    #[test]
    fn failures_map_to_the_auth_codes() {
        let verifier = Verifier::new(SECRET);
        let good = mint_token(SECRET, "ana", 60).expect("signed");
        let cases = [
            (None, "AUTH_REQUIRED"),
            (Some("Basic YW5hOnB3"), "AUTH_INVALID_TOKEN"),
            (Some("Bearer"), "AUTH_INVALID_TOKEN"),
            (Some("Bearer "), "AUTH_INVALID_TOKEN"),
            (Some("Bearer not-a-jwt"), "AUTH_INVALID_TOKEN"),
            (Some("Bearer a.b.c"), "AUTH_INVALID_TOKEN"),
        ];
        for (header, code) in cases {
            let error = verifier
                .verify_request(&parts(header))
                .expect_err("refused");
            assert_eq!(error.code().name(), code, "{header:?}");
            let response = error.to_response();
            assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
        }
        let other_secret =
            mint_token(b"another-secret-that-is-long-enough!!", "ana", 60).expect("signed");
        let error = verifier.verify(&other_secret).expect_err("bad signature");
        assert_eq!(error.code(), codes::AUTH_INVALID_TOKEN);
        let bearer = format!("bearer {good}");
        assert_eq!(
            verifier
                .verify_request(&parts(Some(&bearer)))
                .expect("ok")
                .sub,
            "ana"
        );
    }

    #[test]
    fn a_validly_signed_token_over_the_size_cap_is_refused() {
        let verifier = Verifier::new(SECRET);
        // A claim the backend ignores pads a correctly signed token to the cap, then past it.
        let padded = |len: usize| {
            let now = now_secs();
            let claims = serde_json::json!({"sub": "ana", "iat": now, "exp": now + 60, "pad": ""});
            let base = jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &claims,
                &EncodingKey::from_secret(SECRET),
            )
            .expect("signed")
            .len();
            // Every 3 bytes of claims are 4 of base64.
            let pad = "x".repeat((len - base) / 4 * 3);
            let claims = serde_json::json!({"sub": "ana", "iat": now, "exp": now + 60, "pad": pad});
            jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &claims,
                &EncodingKey::from_secret(SECRET),
            )
            .expect("signed")
        };
        let at_cap = padded(MAX_TOKEN_LEN);
        assert!(at_cap.len() <= MAX_TOKEN_LEN, "{}", at_cap.len());
        assert!(at_cap.len() > MAX_TOKEN_LEN - 8, "{}", at_cap.len());
        assert_eq!(verifier.verify(&at_cap).expect("at the cap").sub, "ana");
        let over = padded(MAX_TOKEN_LEN + 8);
        assert!(over.len() > MAX_TOKEN_LEN, "{}", over.len());
        let error = verifier.verify(&over).expect_err("over the cap");
        assert_eq!(error.code(), codes::AUTH_INVALID_TOKEN);
    }

    #[test]
    fn expiry_is_its_own_code_but_a_forged_expired_token_is_invalid() {
        let verifier = Verifier::new(SECRET);
        let expired = mint_token(SECRET, "ana", -1).expect("signed");
        assert_eq!(
            verifier.verify(&expired).expect_err("expired").code(),
            codes::AUTH_EXPIRED_TOKEN
        );
        let forged =
            mint_token(b"another-secret-that-is-long-enough!!", "ana", -1).expect("signed");
        assert_eq!(
            verifier.verify(&forged).expect_err("forged").code(),
            codes::AUTH_INVALID_TOKEN
        );
    }

    #[test]
    fn other_algorithms_and_unusable_subjects_are_refused() {
        let verifier = Verifier::new(SECRET);
        let claims = serde_json::json!({"sub": "ana", "exp": now_secs() + 60, "iat": now_secs()});
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .expect("signed");
        assert_eq!(
            verifier.verify(&hs512).expect_err("HS512").code(),
            codes::AUTH_INVALID_TOKEN
        );
        for sub in [
            "",
            "has space",
            "line\nbreak",
            &"x".repeat(MAX_SUBJECT_LEN + 1),
        ] {
            let token = mint_token(SECRET, sub, 60).expect("signed");
            assert_eq!(
                verifier.verify(&token).expect_err("bad sub").code(),
                codes::AUTH_INVALID_TOKEN,
                "{sub:?}"
            );
        }
    }
}
