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
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("agent: cannot start the runtime: {error}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        let addr = config.addr();
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("agent: cannot listen on {addr}: {error}");
                return ExitCode::from(1);
            }
        };
        eprintln!("agent: listening on http://{addr}");
        let shutdown = async {
            // Without a signal handler the process still stops on SIGINT, just not gracefully.
            let _ = tokio::signal::ctrl_c().await;
        };
        match serve(listener, config, shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("agent: {error}");
                ExitCode::from(1)
            }
        }
    })
}
