//! The `stanchion` command-line tool.
//!
//! **Status: skeleton.** Subcommands arrive with the crates they drive.

use clap::Parser;

/// Operator tooling for services built with Stanchion.
#[derive(Debug, Parser)]
#[command(name = "stanchion", version, about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
