//! `agent`: the example agent service. Listens on `AGENT_ADDR` (default `127.0.0.1:8081`) and
//! logs JSON lines to stdout (`LOG_FORMAT=pretty` for a terminal); see the library docs for
//! the interface.

use std::process::ExitCode;

use example_agent::{AgentConfig, Env, serve};
use stanchion::{Telemetry, redact::Redactor};

fn main() -> ExitCode {
    let redactor = Redactor::new();
    // Installed before the configuration loads, so its events (disabled tools, missing
    // variables) are logged, redacted with the secrets it registers.
    if let Err(error) = Telemetry::from_env("agent")
        .with_redactor(redactor.clone())
        .init()
    {
        eprintln!("agent: cannot start logging: {error}");
        return ExitCode::from(2);
    }
    let config = match AgentConfig::load(Env::process(), redactor) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("agent: cannot start: {error}");
            return ExitCode::from(2);
        }
    };
    let addr = config.addr();
    let code = example_agent::runner::run_until_signal("agent", addr, |listener, shutdown| {
        serve(listener, config, shutdown)
    });
    // The spans of the last requests are still queued: export them before the process ends.
    if let Some(otel) = stanchion::Otel::global()
        && let Err(error) = otel.shutdown()
    {
        tracing::warn!(%error, "the last spans could not be exported");
    }
    code
}
