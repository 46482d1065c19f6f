//! `portcullis migrate --from sqlite:DIR --to postgres://...`: moves a single-node
//! deployment's state onto PostgreSQL (every row, the audit trail as it is, last-accessed
//! data), into an empty database. The master key is not in either store: the nodes on the
//! new store read the same key file.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use portcullis_server::StoreLocation;
use portcullis_server::iam::store::SqliteStore;
use portcullis_server::postgres::PostgresStore;

#[derive(Args)]
pub struct MigrateArgs {
    /// The store to move: `sqlite:DIR` (or DIR), the data directory of `portcullis serve`.
    /// Stop the server first.
    #[arg(long, value_name = "sqlite:DIR")]
    from: String,
    /// The PostgreSQL database to move it to (empty; its schema is created).
    #[arg(long, value_name = "URL", value_parser = StoreLocation::parse)]
    to: StoreLocation,
}

pub fn run(args: MigrateArgs) -> ExitCode {
    let dir = PathBuf::from(args.from.strip_prefix("sqlite:").unwrap_or(&args.from));
    let db = dir.join("portcullis.db");
    if !db.is_file() {
        eprintln!("portcullis: no store at {}", db.display());
        return ExitCode::from(2);
    }
    let StoreLocation::Postgres(url) = args.to else {
        eprintln!("portcullis: --to must be a postgres:// URL");
        return ExitCode::from(2);
    };
    let source = match SqliteStore::open(&db) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("portcullis: {}: {e}", db.display());
            return ExitCode::from(2);
        }
    };
    let target = match PostgresStore::connect(&url) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("portcullis: the PostgreSQL store: {e}");
            return ExitCode::from(2);
        }
    };
    match target.import(&source) {
        Ok(report) => {
            println!(
                "moved {} rows, {} meta values, {} audit events, {} digests and {} last-accessed records from {} to PostgreSQL; start the nodes with --store and the master key {}",
                report.rows,
                report.meta,
                report.events,
                report.digests,
                report.attempts,
                db.display(),
                dir.join("master.key").display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("portcullis: nothing was moved: {e}");
            ExitCode::from(1)
        }
    }
}
