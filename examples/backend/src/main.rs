//! `backend`: the example backend service, or `backend mint-token` to sign a development
//! token. See the library docs for the interface.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use example_backend::{BackendConfig, Env, serve};
use stanchion::{Telemetry, redact::Redactor};

/// The example backend: serves the API on BACKEND_ADDR (default 127.0.0.1:8080); without
/// AGENT_URL it starts the agent in-process.
#[derive(Debug, Parser)]
#[command(name = "backend", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print one HS256 token signed with the configured AUTH_JWT_SECRET.
    MintToken {
        /// The user ID (`sub` claim): 1-128 visible ASCII characters.
        #[arg(long)]
        sub: String,
        /// Seconds until it expires; negative for an already expired token.
        #[arg(long, allow_negative_numbers = true)]
        ttl_secs: i64,
        /// The `plan` claim (`free` has no training plans); omitted by default.
        #[arg(long)]
        plan: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::MintToken {
            sub,
            ttl_secs,
            plan,
        }) => mint_token(&sub, ttl_secs, plan.as_deref()),
        None => run(),
    }
}

fn mint_token(sub: &str, ttl_secs: i64, plan: Option<&str>) -> ExitCode {
    let config = match BackendConfig::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("backend: cannot load the configuration: {error}");
            return ExitCode::from(2);
        }
    };
    let valid_sub =
        !sub.is_empty() && sub.len() <= 128 && sub.bytes().all(|b| b.is_ascii_graphic());
    if !valid_sub {
        eprintln!("backend: --sub must be 1-128 visible ASCII characters (no spaces)");
        return ExitCode::from(2);
    }
    match config.mint_token(sub, ttl_secs, plan) {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("backend: {error}");
            ExitCode::from(1)
        }
    }
}

fn run() -> ExitCode {
    let redactor = Redactor::new();
    // Installed before the configuration loads, so its events (disabled tools, missing
    // variables) are logged, redacted with the secrets it registers.
    if let Err(error) = Telemetry::from_env("backend")
        .with_redactor(redactor.clone())
        .init()
    {
        eprintln!("backend: cannot start logging: {error}");
        return ExitCode::from(2);
    }
    let config = match BackendConfig::load(Env::process(), redactor) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("backend: cannot start: {error}");
            return ExitCode::from(2);
        }
    };
    let addr = config.addr();
    let code = example_agent::runner::run_until_signal("backend", addr, |listener, shutdown| {
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
