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

/// The longest user ID the quota keys on, in bytes: the backend's rule for a token's `sub`.
pub const MAX_USER_ID_LEN: usize = 128;

/// How many users [`QueryQuota`] tracks at once unless
/// [`with_max_users`](QueryQuota::with_max_users) says otherwise.
pub const DEFAULT_MAX_TRACKED_USERS: usize = 10_000;

/// When the map is full, windows that ended are swept at most this often: a caller sending new
/// user IDs to a full map must not make every request walk the whole map.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Whether `user` is an ID the quota may key on: 1 to [`MAX_USER_ID_LEN`] visible ASCII
/// characters (no space, no control byte), the rule the backend applies to a token's `sub`
/// before it sends it as `x-user-id`. Anything else did not come from the backend.
pub fn valid_user_id(user: &str) -> bool {
    !user.is_empty() && user.len() <= MAX_USER_ID_LEN && user.bytes().all(|b| b.is_ascii_graphic())
}

/// Fixed one-minute windows of queries per user.
///
/// Memory is bounded: at most [`DEFAULT_MAX_TRACKED_USERS`] users (or
/// [`with_max_users`](Self::with_max_users)) have a window of their own. When the map is full,
/// windows that ended are swept; if it is still full, a user not yet tracked is counted in one
/// shared overflow window with the same limit until room frees up. Sharing, rather than
/// evicting a tracked user, keeps a caller who sends many new IDs from resetting other users'
/// counts; rather than refusing outright, it still lets a few new users through.
///
/// PERF: one mutex around a map; the critical section is a lookup and an increment (and, at
/// most once a second while the map is full, a sweep).
#[derive(Debug)]
pub struct QueryQuota {
    per_window: u32,
    window: Duration,
    max_users: usize,
    state: Mutex<QuotaState>,
}

#[derive(Debug, Default)]
struct QuotaState {
    /// Each tracked user's window start and queries in it.
    users: HashMap<String, (Instant, u32)>,
    /// The window every untracked user shares while the map is full.
    overflow: Option<(Instant, u32)>,
    last_sweep: Option<Instant>,
}

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
            max_users: DEFAULT_MAX_TRACKED_USERS,
            state: Mutex::new(QuotaState::default()),
        }
    }

    /// Tracks at most `max` users with a window of their own (see the type's docs).
    #[must_use]
    pub fn with_max_users(mut self, max: usize) -> Self {
        self.max_users = max;
        self
    }

    /// How many users have a window of their own now.
    pub fn tracked_users(&self) -> usize {
        self.lock().users.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QuotaState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one query of `user` at `now`.
    ///
    /// # Errors
    ///
    /// `SUBSCRIPTION_QUERY_LIMIT` with `Retry-After` (the rest of the window) when the user
    /// (or, for a user the full map could not take, the shared overflow window) has used
    /// every query of the window.
    pub fn check(&self, user: &str, now: Instant) -> Result<(), ApiError> {
        let mut state = self.lock();
        let QuotaState {
            users,
            overflow,
            last_sweep,
        } = &mut *state;
        let tracked = users.contains_key(user);
        let sweep_due =
            last_sweep.is_none_or(|at| now.saturating_duration_since(at) >= SWEEP_EVERY);
        if !tracked && users.len() >= self.max_users && sweep_due {
            let window = self.window;
            users.retain(|_, (start, _)| now.saturating_duration_since(*start) < window);
            *last_sweep = Some(now);
        }
        let entry = if tracked || users.len() < self.max_users {
            users.entry(user.to_owned()).or_insert((now, 0))
        } else {
            overflow.get_or_insert((now, 0))
        };
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

    #[test]
    fn user_ids_follow_the_backends_subject_rule() {
        assert!(valid_user_id("ana"));
        assert!(valid_user_id(&"a".repeat(MAX_USER_ID_LEN)));
        for bad in ["", "a b", "ana\r\nx", "ñ", "\u{7f}"] {
            assert!(!valid_user_id(bad), "{bad:?}");
        }
        assert!(!valid_user_id(&"a".repeat(MAX_USER_ID_LEN + 1)));
    }

    #[test]
    fn past_the_cap_new_users_share_one_window_and_tracked_users_keep_theirs() {
        let quota = QueryQuota::new(2, Duration::from_secs(60)).with_max_users(3);
        let start = Instant::now();
        for user in ["ana", "bo", "cy"] {
            assert!(quota.check(user, start).is_ok());
        }
        // The map is full and no window has ended: the flood of new IDs shares one window.
        assert!(quota.check("new-1", start).is_ok());
        assert!(quota.check("new-2", start).is_ok());
        let error = quota
            .check("new-3", start)
            .expect_err("the overflow window is used up");
        assert_eq!(error.code(), SUBSCRIPTION_QUERY_LIMIT);
        assert_eq!(quota.tracked_users(), 3, "memory stays at the cap");
        // Tracked users are neither evicted nor reset by the newcomers.
        assert!(quota.check("ana", start).is_ok());
        assert!(
            quota.check("ana", start).is_err(),
            "ana's own count was kept"
        );
        // Once windows end, the sweep makes room and a new user gets a window of its own.
        let later = start + Duration::from_secs(61);
        assert!(quota.check("dee", later).is_ok());
        assert_eq!(quota.tracked_users(), 1);
        assert!(quota.check("dee", later).is_ok());
        assert!(quota.check("dee", later).is_err());
    }
}
