//! `agent`: the example agent service. Listens on `AGENT_ADDR` (default `127.0.0.1:8081`) and
//! logs JSON lines to stdout; see the library docs for the interface.

use std::process::ExitCode;

use example_agent::{AgentConfig, Env, serve, telemetry};
use stanchion_redact::Redactor;

fn main() -> ExitCode {
    let redactor = Redactor::new();
    // Installed before the configuration loads, so its events (disabled tools, missing
    // variables) are logged, redacted with the secrets it registers.
    if tracing::subscriber::set_global_default(telemetry::json_subscriber(
        redactor.clone(),
        std::io::stdout,
    ))
    .is_err()
    {
        eprintln!("agent: a global tracing subscriber was already installed");
        return ExitCode::from(1);
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
        let shutdown = async {
            // Without a signal handler the process still stops on SIGINT, just not gracefully.
            let _ = tokio::signal::ctrl_c().await;
        };
        match serve(listener, config, shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("agent: server error: {error}");
                ExitCode::from(1)
            }
        }
    })
}
