//! `stanchion config`: the configuration doctor. It loads a service's tools registry and its
//! configuration sources the way the service would, and says which tools are enabled, why the
//! others are not, and where each value came from — never a secret value.
//!
//! Every line it prints, values declared non-secret and error messages included, goes through
//! a redactor that also knows every secret the load read (see [`crate::output`]): a URL with
//! credentials or a token in a query is shown redacted.

use std::{path::PathBuf, process::ExitCode};

use clap::{Args, Subcommand, ValueEnum};
use stanchion_config::{ConfigLoader, LoadError, RolloutMode, Snapshot};
use stanchion_redact::Redactor;

use crate::output;

/// Arguments of `stanchion config`.
#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    #[command(subcommand)]
    command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print every tool with its status and reasons.
    ///
    /// Exits 0 when at least one tool is enabled and every critical tool allowed in this
    /// environment is, 1 otherwise, 2 when an input (registry, dotenv file, setting) is
    /// unusable.
    Check {
        #[command(flatten)]
        sources: SourceArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Show one tool's variables with their override chains.
    ///
    /// Exits 0 when the tool is enabled, 1 when it is disabled, 2 when an input is unusable or
    /// the tool is unknown.
    Explain {
        /// The tool's slug.
        tool: String,
        #[command(flatten)]
        sources: SourceArgs,
    },
    /// Print a `.env.example` for a tools registry on stdout.
    ///
    /// Every variable, commented out, with its tool, description, default, validation and,
    /// for a secret, the mounted-file line to use instead of a value. Exits 0, or 2 when the
    /// registry is unusable.
    ///
    /// Example: stanchion config template --registry config/tools.toml > config/.env.example
    Template(crate::config_template::TemplateArgs),
    /// Record the resolved configuration of a burn-in window: tool states and keyed value
    /// fingerprints (never values), for `stanchion smoke record --freeze FILE` to check.
    ///
    /// Needs STANCHION_FREEZE_KEY (at least 16 characters) in the environment. Exits 0, or
    /// 2 when an input is unusable or the key is missing.
    ///
    /// Example: STANCHION_FREEZE_KEY=... stanchion config freeze --registry
    /// examples/backend/config/tools.toml --dir examples/backend/config --env production
    /// --out ops/config-freeze.txt
    Freeze {
        #[command(flatten)]
        sources: SourceArgs,
        /// The freeze file to write.
        #[arg(long, value_name = "FILE", default_value = "config-freeze.txt")]
        out: PathBuf,
    },
}

/// Where the configuration comes from: the same flags for every subcommand.
#[derive(Debug, Args)]
pub(crate) struct SourceArgs {
    /// The tools registry (TOML, a list of `[[tools]]` tables).
    #[arg(long, value_name = "FILE")]
    registry: PathBuf,
    /// The directory holding `.env`, `.env.<env>`, `.env.local`, `.env.<env>.local`.
    #[arg(long, value_name = "DIR", default_value = ".")]
    dir: PathBuf,
    /// The environment name (default: `APP_ENV`, else `development`).
    #[arg(long, value_name = "ENV")]
    env: Option<String>,
    /// A directory of secret files, one per variable (e.g. a mounted secret volume).
    #[arg(long, value_name = "DIR")]
    secrets_dir: Option<PathBuf>,
    /// Strict secrets mode (default: `SECRETS_VAULT_MODE`, else off).
    #[arg(long, value_enum)]
    vault_mode: Option<Mode>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    /// One row per tool, reasons below.
    Table,
    /// `{ "tools": [{ "slug", "enabled", "reasons", "vars" }], ... }`.
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Mode {
    Off,
    Shadow,
    Enforced,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Shadow => "shadow",
            Self::Enforced => "enforced",
        }
    }
}

impl SourceArgs {
    /// Sources named in code (the readiness snapshot builds them from its own flags).
    pub(crate) fn new(
        registry: PathBuf,
        dir: PathBuf,
        env: Option<String>,
        secrets_dir: Option<PathBuf>,
    ) -> Self {
        Self {
            registry,
            dir,
            env,
            secrets_dir,
            vault_mode: None,
        }
    }

    /// The sources as `key value` lines, for a freeze file to name what it froze.
    pub(crate) fn to_lines(&self) -> Vec<String> {
        let mut lines = vec![
            format!("registry {}", self.registry.display()),
            format!("dir {}", self.dir.display()),
        ];
        lines.extend(self.env.as_ref().map(|env| format!("env {env}")));
        lines.extend(
            self.secrets_dir
                .as_ref()
                .map(|dir| format!("secrets-dir {}", dir.display())),
        );
        lines.extend(
            self.vault_mode
                .map(|mode| format!("vault-mode {}", mode.as_str())),
        );
        lines
    }

    /// The inverse of [`Self::to_lines`].
    pub(crate) fn from_lines(lines: &[String]) -> Result<Self, String> {
        let mut sources = Self {
            registry: PathBuf::new(),
            dir: PathBuf::from("."),
            env: None,
            secrets_dir: None,
            vault_mode: None,
        };
        for line in lines {
            match line.split_once(' ') {
                Some(("registry", path)) => sources.registry = PathBuf::from(path),
                Some(("dir", path)) => sources.dir = PathBuf::from(path),
                Some(("env", env)) => sources.env = Some(env.to_owned()),
                Some(("secrets-dir", path)) => sources.secrets_dir = Some(PathBuf::from(path)),
                Some(("vault-mode", mode)) => {
                    sources.vault_mode = Some(
                        Mode::from_str(mode, false)
                            .map_err(|_| format!("source vault-mode `{mode}` is not a mode"))?,
                    );
                }
                _ => return Err(format!("`source {line}` is not a source line")),
            }
        }
        if sources.registry.as_os_str().is_empty() {
            return Err("no `source registry` line".to_owned());
        }
        Ok(sources)
    }

    pub(crate) fn load(&self, redactor: &Redactor) -> Result<Snapshot, LoadError> {
        // A directory that does not exist would read as "every file absent": a typo would
        // look like an empty configuration. It is unusable input instead.
        for (setting, dir) in [
            ("--dir", Some(&self.dir)),
            ("--secrets-dir", self.secrets_dir.as_ref()),
        ] {
            if let Some(dir) = dir
                && !dir.is_dir()
            {
                // Worded so the flag is not a `key: value` pair (the redactor would take
                // `--secrets-dir: PATH` for a secret).
                return Err(LoadError::Setting {
                    setting: "directory".to_owned(),
                    message: format!("{} (given with {setting}) does not exist", dir.display()),
                });
            }
        }
        // The real process environment is read (never written): that is what the service sees.
        // Every secret read is registered, so its value is redacted wherever else it shows.
        let mut loader = ConfigLoader::from_registry_file(&self.registry)
            .with_dir(&self.dir)
            .with_secret_sink(redactor.clone());
        if let Some(env) = &self.env {
            loader = loader.with_env_name(env);
        }
        if let Some(dir) = &self.secrets_dir {
            loader = loader.with_secrets_dir(dir);
        }
        if let Some(mode) = self.vault_mode {
            loader = loader.with_vault_mode(match mode {
                Mode::Off => RolloutMode::Off,
                Mode::Shadow => RolloutMode::Shadow,
                Mode::Enforced => RolloutMode::Enforced,
            });
        }
        loader.load()
    }
}

pub(crate) fn run(args: ConfigArgs) -> ExitCode {
    let redactor = Redactor::new();
    match args.command {
        ConfigCommand::Check { sources, format } => check(&redactor, &sources, format),
        ConfigCommand::Explain { tool, sources } => explain(&redactor, &tool, &sources),
        ConfigCommand::Template(args) => crate::config_template::run(&args),
        ConfigCommand::Freeze { sources, out } => {
            match crate::freeze::freeze(&redactor, &sources, &out) {
                Ok(lines) => {
                    output::print(
                        &redactor,
                        &format!("froze {lines} state lines in {}\n", out.display()),
                    );
                    ExitCode::SUCCESS
                }
                Err(why) => {
                    output::eprintln(&redactor, &format!("stanchion config freeze: {why}"));
                    ExitCode::from(2)
                }
            }
        }
    }
}

fn load_or_report(redactor: &Redactor, sources: &SourceArgs) -> Result<Snapshot, ExitCode> {
    sources.load(redactor).map_err(|error| {
        // SECURITY: load errors name files and lines, never values (stanchion-config's rule);
        // the redactor is the second line of defence.
        output::eprintln(redactor, &format!("stanchion config: {error}"));
        ExitCode::from(2)
    })
}

fn verdict(passes: bool) -> ExitCode {
    if passes {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn check(redactor: &Redactor, sources: &SourceArgs, format: Format) -> ExitCode {
    let snapshot = match load_or_report(redactor, sources) {
        Ok(snapshot) => snapshot,
        Err(code) => return code,
    };
    match format {
        Format::Json => {
            let json = serde_json::to_value(&snapshot).and_then(|mut value| {
                output::redact_json(redactor, &mut value);
                serde_json::to_string_pretty(&value)
            });
            match json {
                // Already redacted string by string; the line pass would see `"secret": true`.
                Ok(json) => output::print_unchanged(&format!("{json}\n")),
                Err(error) => {
                    output::eprintln(
                        redactor,
                        &format!("stanchion config: cannot render JSON ({error})"),
                    );
                    return ExitCode::from(2);
                }
            }
        }
        Format::Table => output::print(redactor, &table(&snapshot)),
    }
    verdict(snapshot.passes_check())
}

fn table(snapshot: &Snapshot) -> String {
    use std::fmt::Write as _;

    let mut out = String::new();
    let _ = writeln!(
        out,
        "environment: {}   secrets mode: {}   load: {}",
        snapshot.env(),
        snapshot.vault_mode().as_str(),
        snapshot.refresh_id()
    );
    let width = snapshot
        .tools()
        .iter()
        .map(|tool| tool.slug().len())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        out,
        "{:<width$}  {:<8}  {:<8}  REASONS",
        "TOOL", "STATUS", "CRITICAL"
    );
    for tool in snapshot.tools() {
        let status = if tool.is_enabled() {
            "enabled"
        } else {
            "disabled"
        };
        let critical = if tool.is_critical() { "yes" } else { "no" };
        let mut lines: Vec<String> = tool.reasons().iter().map(ToString::to_string).collect();
        lines.extend(
            tool.local_fallbacks()
                .iter()
                .map(|name| format!("note: secret {name} comes from a plain file (shadow mode)")),
        );
        if lines.is_empty() {
            lines.push("-".to_owned());
        }
        for (index, line) in lines.iter().enumerate() {
            if index == 0 {
                let _ = writeln!(
                    out,
                    "{:<width$}  {status:<8}  {critical:<8}  {line}",
                    tool.slug()
                );
            } else {
                let _ = writeln!(out, "{:<width$}  {:<8}  {:<8}  {line}", "", "", "");
            }
        }
    }
    for (path, duplicate) in snapshot.duplicates() {
        let _ = writeln!(
            out,
            "note: {} sets {} on line {} and again on line {} (the last wins)",
            path.display(),
            duplicate.key,
            duplicate.earlier_line,
            duplicate.line
        );
    }
    let enabled = snapshot.tools().iter().filter(|t| t.is_enabled()).count();
    let critical: Vec<&str> = snapshot.critical_failures().map(|t| t.slug()).collect();
    let _ = if snapshot.passes_check() {
        writeln!(
            out,
            "verdict: ok ({enabled} of {} tools enabled)",
            snapshot.tools().len()
        )
    } else if enabled == 0 {
        writeln!(
            out,
            "verdict: FAIL (no tool is enabled; see docs/runbooks/no-tools-enabled.md)"
        )
    } else {
        writeln!(
            out,
            "verdict: FAIL (critical tools disabled: {})",
            critical.join(", ")
        )
    };
    out
}

fn explain(redactor: &Redactor, slug: &str, sources: &SourceArgs) -> ExitCode {
    let snapshot = match load_or_report(redactor, sources) {
        Ok(snapshot) => snapshot,
        Err(code) => return code,
    };
    let Some(explanation) = snapshot.explain(slug) else {
        let known: Vec<&str> = snapshot.tools().iter().map(|t| t.slug()).collect();
        output::eprintln(
            redactor,
            &format!(
                "stanchion config: no tool {slug:?} in {}; known tools: {}",
                sources.registry.display(),
                known.join(", ")
            ),
        );
        return ExitCode::from(2);
    };
    output::print(redactor, &explanation.to_string());
    verdict(snapshot.is_enabled(slug))
}
