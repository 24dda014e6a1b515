//! Bearer tokens: read once before any load is applied, so a failing token command stops the
//! run before it starts instead of turning into a wall of 401s.

use std::process::Command;

use http::HeaderValue;

use crate::plan::Auth;

/// Why a token could not be obtained.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The environment variable is unset, empty or not valid in a header.
    #[error("the token variable {var} {problem}")]
    Env {
        /// The variable's name.
        var: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The token command failed or printed nothing usable.
    #[error("the token command `{command}` {problem}")]
    Command {
        /// The command line (arguments joined by spaces).
        command: String,
        /// What went wrong (its exit status and first line of standard error).
        problem: String,
    },
}

fn bearer(token: &str) -> Option<HeaderValue> {
    let mut value = HeaderValue::try_from(format!("Bearer {token}")).ok()?;
    value.set_sensitive(true);
    Some(value)
}

fn run_command(argv: &[String]) -> Result<HeaderValue, AuthError> {
    let fail = |problem: String| AuthError::Command {
        command: argv.join(" "),
        problem,
    };
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| fail("is empty".to_owned()))?;
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|error| fail(format!("cannot start: {error}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect::<String>();
        return Err(fail(format!("exited with {}: {first}", output.status)));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let token = stdout.trim();
    if token.is_empty() {
        return Err(fail("printed no token".to_owned()));
    }
    bearer(token).ok_or_else(|| fail("printed a token that is not valid in a header".to_owned()))
}

/// The `Authorization` values for a scenario: one, or one per client for
/// [`Auth::PerClientCommand`]. Values are marked sensitive.
///
/// # Errors
///
/// When a variable is missing or a command fails; the error never contains a token.
pub(crate) fn tokens(auth: &Auth, clients: usize) -> Result<Vec<HeaderValue>, AuthError> {
    match auth {
        Auth::Env(var) => {
            let value = std::env::var(var).map_err(|_| AuthError::Env {
                var: var.clone(),
                problem: "is not set (or not UTF-8)",
            })?;
            if value.trim().is_empty() {
                return Err(AuthError::Env {
                    var: var.clone(),
                    problem: "is empty",
                });
            }
            let header = bearer(value.trim()).ok_or_else(|| AuthError::Env {
                var: var.clone(),
                problem: "holds characters not valid in a header",
            })?;
            Ok(vec![header])
        }
        Auth::Command(argv) => Ok(vec![run_command(argv)?]),
        Auth::PerClientCommand(argv) => (0..clients)
            .map(|client| {
                let argv: Vec<String> = argv
                    .iter()
                    .map(|arg| arg.replace("{client}", &client.to_string()))
                    .collect();
                run_command(&argv)
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn per_client_commands_get_their_index() {
        let auth = Auth::PerClientCommand(argv(&["echo", "token-{client}"]));
        let tokens = tokens(&auth, 3).expect("echo runs");
        let values: Vec<_> = tokens.iter().map(|v| v.to_str().expect("ascii")).collect();
        assert_eq!(
            values,
            ["Bearer token-0", "Bearer token-1", "Bearer token-2"]
        );
        assert!(tokens.iter().all(HeaderValue::is_sensitive));
    }

    #[test]
    fn a_failing_command_is_reported_with_its_status() {
        let auth = Auth::Command(argv(&["sh", "-c", "echo nope >&2; exit 3"]));
        let error = tokens(&auth, 1).expect_err("the command fails").to_string();
        assert!(
            error.contains("exited with exit status: 3: nope"),
            "{error}"
        );
        let auth = Auth::Command(argv(&["true"]));
        assert!(
            tokens(&auth, 1)
                .expect_err("no output")
                .to_string()
                .contains("printed no token")
        );
    }

    #[test]
    fn a_missing_variable_is_named() {
        let auth = Auth::Env("STANCHION_PERF_TEST_SURELY_UNSET".to_owned());
        let error = tokens(&auth, 1).expect_err("unset").to_string();
        assert!(
            error.contains("STANCHION_PERF_TEST_SURELY_UNSET is not set"),
            "{error}"
        );
    }
}
