//! `portcullis`: the one binary: `serve` runs the service; `agent` serves an instance
//! profile's credentials to a host's workloads; `policy validate | simulate | bench` are the
//! offline policy tools; `audit verify` checks a data directory's audit trail, `audit
//! export` writes it as CloudTrail log files and `audit tail` follows it; `migrate` moves a
//! single node's state onto PostgreSQL.

mod agent_cmd;
mod audit_cmd;
mod migrate_cmd;
mod policy_cmd;
mod serve_cmd;
mod signals;

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
    /// Run the service: AWS IAM API on --listen, state in --data-dir (embedded SQLite) or
    /// --store (PostgreSQL).
    Serve(serve_cmd::ServeArgs),
    /// Serve instance metadata (IMDSv2) for this host: an instance profile's role credentials,
    /// from Portcullis at AWS_ENDPOINT_URL.
    Agent(agent_cmd::AgentArgs),
    /// Work with policy documents offline: validate, simulate decisions, benchmark the engine.
    #[command(subcommand)]
    Policy(policy_cmd::PolicyCommand),
    /// Work with the audit trail: verify that no event was altered, export it as CloudTrail
    /// log files, follow it live.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// Move a single node's state (the data directory's SQLite store) onto PostgreSQL.
    Migrate(migrate_cmd::MigrateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve_cmd::run(args),
        Command::Agent(args) => agent_cmd::run(args),
        Command::Policy(cmd) => policy_cmd::run(cmd),
        Command::Audit(cmd) => audit_cmd::run(cmd),
        Command::Migrate(args) => migrate_cmd::run(args),
    }
}
