//! The deterministic local model, and the per-user query quota in front of it.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

use stanchion_errors::{ApiError, FieldViolation, codes};

use crate::codes::SUBSCRIPTION_QUERY_LIMIT;

/// The longest prompt accepted, in characters.
pub const MAX_PROMPT_CHARS: usize = 4000;

/// Checks a prompt before it reaches a model: not blank, at most [`MAX_PROMPT_CHARS`].
/// The violation names the field and the rule, never the prompt.
///
/// # Errors
///
/// A `VALIDATION_ERROR` with a field violation on `prompt`.
pub fn validate_prompt(prompt: &str) -> Result<(), ApiError> {
    let description = if prompt.trim().is_empty() {
        "must not be blank"
    } else if prompt.chars().count() > MAX_PROMPT_CHARS {
        "must be at most 4000 characters"
    } else {
        return Ok(());
    };
    Err(ApiError::new(codes::VALIDATION_ERROR)
        .with_violation(FieldViolation::new("prompt", description))
        .with_param("maxPromptChars", MAX_PROMPT_CHARS))
}

/// A deterministic stand-in for a language model: the same prompt always gets the same
/// answer, with no network and no randomness, so tests and demos can assert on it.
///
/// It answers as a training coach: it picks a topic from keywords of the prompt (running,
/// cycling, swimming, strength, recovery) and says how long the prompt was.
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct LocalModel;

/// (keywords, advice), checked in order; the first topic with a keyword in the prompt wins.
const TOPICS: &[(&[&str], &str)] = &[
    (
        &["run", "jog", "marathon", "5k", "10k"],
        "Keep most runs easy enough to talk through, and add one session of intervals a week.",
    ),
    (
        &["bike", "cycl", "ride"],
        "Build endurance with one long steady ride a week and keep your cadence around 85-95 rpm.",
    ),
    (
        &["swim", "pool", "stroke"],
        "Split your swim into drills, steady sets and a few fast lengths; technique first.",
    ),
    (
        &["strength", "lift", "squat", "deadlift", "gym"],
        "Lift two or three times a week and add weight only when every rep stays clean.",
    ),
    (
        &["rest", "recover", "sleep", "sore", "tired"],
        "Take an easy day: sleep well, walk, and save hard training for when you feel fresh.",
    ),
];

const FALLBACK: &str =
    "Train consistently, increase volume by no more than about ten percent a week, and rest.";

impl LocalModel {
    /// The local model.
    pub fn new() -> Self {
        Self
    }

    /// The answer to `prompt`.
    pub fn answer(&self, prompt: &str) -> String {
        let lower = prompt.to_lowercase();
        let advice = TOPICS
            .iter()
            .find(|(keywords, _)| keywords.iter().any(|keyword| lower.contains(keyword)))
            .map_or(FALLBACK, |(_, advice)| advice);
        let words = prompt.split_whitespace().count();
        let plural = if words == 1 { "" } else { "s" };
        format!("{advice} (local model, {words} word{plural} read)")
    }
}

/// Fixed one-minute windows of queries per user.
///
/// PERF: one mutex around a map; the critical section is a lookup and an increment. Stale
/// windows are swept when the map grows, so memory stays bounded by the active users.
#[derive(Debug)]
pub struct QueryQuota {
    per_window: u32,
    window: Duration,
    users: Mutex<HashMap<String, (Instant, u32)>>,
}

/// Above this many tracked users, windows that ended are swept on the next check.
const SWEEP_ABOVE: usize = 10_000;

impl QueryQuota {
    /// `per_minute` queries per user and minute.
    pub fn per_minute(per_minute: u32) -> Self {
        Self::new(per_minute, Duration::from_secs(60))
    }

    /// `per_window` queries per user and `window`.
    pub fn new(per_window: u32, window: Duration) -> Self {
        Self {
            per_window,
            window,
            users: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one query of `user` at `now`.
    ///
    /// # Errors
    ///
    /// `SUBSCRIPTION_QUERY_LIMIT` with `Retry-After` (the rest of the window) when the user
    /// has used every query of the window.
    pub fn check(&self, user: &str, now: Instant) -> Result<(), ApiError> {
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        if users.len() > SWEEP_ABOVE {
            let window = self.window;
            users.retain(|_, (start, _)| now.saturating_duration_since(*start) < window);
        }
        let entry = users.entry(user.to_owned()).or_insert((now, 0));
        if now.saturating_duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.per_window {
            let retry_after = self
                .window
                .saturating_sub(now.saturating_duration_since(entry.0));
            return Err(ApiError::new(SUBSCRIPTION_QUERY_LIMIT)
                .with_retry_after(retry_after)
                .with_param("queriesPerWindow", u64::from(self.per_window)));
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_is_deterministic_and_topical() {
        let model = LocalModel::new();
        let answer = model.answer("How should I train for a marathon?");
        assert_eq!(answer, model.answer("How should I train for a marathon?"));
        assert!(answer.starts_with("Keep most runs easy"), "{answer}");
        assert!(answer.ends_with("(local model, 7 words read)"), "{answer}");
        assert!(model.answer("Squats?").starts_with("Lift two or three"));
        assert!(model.answer("hello").starts_with("Train consistently"));
        assert!(model.answer("hello").ends_with("1 word read)"));
    }

    #[test]
    fn prompts_are_checked_without_echoing_them() {
        assert!(validate_prompt("plan my week").is_ok());
        for bad in ["", "   \n", &"x".repeat(MAX_PROMPT_CHARS + 1)] {
            let error = validate_prompt(bad).expect_err("rejected");
            assert_eq!(error.code(), codes::VALIDATION_ERROR);
            assert_eq!(error.violations()[0].field, "prompt");
        }
        assert!(validate_prompt(&"é".repeat(MAX_PROMPT_CHARS)).is_ok());
        let body = validate_prompt(&"secret-prompt ".repeat(400))
            .expect_err("too long")
            .to_response()
            .into_body();
        assert!(!String::from_utf8_lossy(&body).contains("secret-prompt"));
    }

    #[test]
    fn the_quota_counts_per_user_and_resets_with_the_window() {
        let quota = QueryQuota::new(2, Duration::from_secs(60));
        let start = Instant::now();
        assert!(quota.check("ana", start).is_ok());
        assert!(quota.check("ana", start).is_ok());
        let error = quota
            .check("ana", start + Duration::from_secs(15))
            .expect_err("third query in the window");
        assert_eq!(error.code(), SUBSCRIPTION_QUERY_LIMIT);
        assert_eq!(error.retry_after_secs(), Some(45));
        assert!(
            quota.check("bo", start).is_ok(),
            "other users are not affected"
        );
        assert!(quota.check("ana", start + Duration::from_secs(60)).is_ok());
    }
}
