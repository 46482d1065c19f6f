//! `portcullis`: the one binary. For now, the offline policy tools:
//! `portcullis policy validate | simulate | bench`.

mod policy_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Portcullis: identity and access management compatible with AWS IAM and STS.
#[derive(Parser)]
#[command(name = "portcullis", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Work with policy documents offline: validate, simulate decisions, benchmark the engine.
    #[command(subcommand)]
    Policy(policy_cmd::PolicyCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Policy(cmd) => policy_cmd::run(cmd),
    }
}
