//! `portcullis audit verify`: checks a data directory's audit trail offline (every link of
//! the hash chain, every signed digest) and names the first event that was modified, deleted,
//! inserted or reordered. Exit status 0 only when the trail is intact.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use portcullis_server::iam::seal::MasterKey;
use portcullis_server::iam::store::SqliteStore;
use portcullis_server::iam::trail;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Verify the audit trail of a data directory: exit 0 when intact, 1 when it is not
    /// (naming the event), 2 when it cannot be read.
    Verify(VerifyArgs),
}

#[derive(Args)]
pub struct VerifyArgs {
    /// The data directory `portcullis serve` uses.
    #[arg(long, default_value = "./portcullis-data")]
    data_dir: PathBuf,
    /// The master key (default: `<data-dir>/master.key`, or PORTCULLIS_MASTER_KEY_FILE).
    #[arg(long, value_name = "FILE")]
    master_key_file: Option<PathBuf>,
}

pub fn run(command: AuditCommand) -> ExitCode {
    match command {
        AuditCommand::Verify(args) => verify(args),
    }
}

fn verify(args: VerifyArgs) -> ExitCode {
    let db = args.data_dir.join("portcullis.db");
    if !db.is_file() {
        eprintln!("portcullis: no store at {}", db.display());
        return ExitCode::from(2);
    }
    let key_path = args
        .master_key_file
        .or_else(|| std::env::var_os("PORTCULLIS_MASTER_KEY_FILE").map(PathBuf::from))
        .unwrap_or_else(|| args.data_dir.join("master.key"));
    if !key_path.is_file() {
        eprintln!("portcullis: no master key at {}", key_path.display());
        return ExitCode::from(2);
    }
    let master_key = match MasterKey::load_or_create(&key_path) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("portcullis: master key {}: {e}", key_path.display());
            return ExitCode::from(2);
        }
    };
    let store = match SqliteStore::open(&db) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("portcullis: {}: {e}", db.display());
            return ExitCode::from(2);
        }
    };
    let public_key = match trail::public_key(&store, &master_key) {
        Ok(Some(k)) => k,
        Ok(None) => {
            eprintln!("portcullis: this data directory has no audit trail");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("portcullis: {e}");
            return ExitCode::from(2);
        }
    };
    let hex: String = public_key.iter().map(|b| format!("{b:02x}")).collect();
    match trail::verify(&store, &public_key) {
        Ok(report) => {
            println!(
                "audit trail intact: events {} to {} ({} events), {} signed digests (signed up to event {}), digest key ed25519:{hex}",
                report.first, report.last, report.events, report.digests, report.signed_up_to
            );
            if report.signed_up_to < report.last {
                println!(
                    "events {} to {} are chained but not yet covered by a signed digest",
                    report.signed_up_to.max(report.first.saturating_sub(1)) + 1,
                    report.last
                );
            }
            ExitCode::SUCCESS
        }
        Err(trail::TrailError::Store(e)) => {
            eprintln!("portcullis: the trail could not be read: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            println!("audit trail NOT intact: {e}");
            ExitCode::from(1)
        }
    }
}
