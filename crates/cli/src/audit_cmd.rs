//! `portcullis audit verify`: checks a data directory's audit trail offline (every link of
//! the hash chain, every signed digest) and names the first event that was modified, deleted,
//! inserted or reordered. Exit status 0 only when the trail is intact.
//!
//! `portcullis audit export`: writes the trail as gzipped CloudTrail log files, in
//! CloudTrail's key layout, for the tools that read a CloudTrail bucket.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use portcullis_server::StoreLocation;
use portcullis_server::iam::seal::MasterKey;
use portcullis_server::iam::store::{SqliteStore, Store};
use portcullis_server::iam::trail;
use portcullis_server::postgres::PostgresStore;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Verify the audit trail of a data directory: exit 0 when intact, 1 when it is not
    /// (naming the event), 2 when it cannot be read.
    Verify(VerifyArgs),
    /// Write the trail as gzipped CloudTrail log files under OUT
    /// (`AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/...json.gz`, one file per account,
    /// region and five minutes). Exporting again replaces the same files.
    Export(ExportArgs),
    /// Follow the trail as it grows: print each new event as one line of CloudTrail JSON
    /// (until interrupted). Runs beside `portcullis serve` on the same data directory.
    Tail(TailArgs),
}

/// The store to read, as `portcullis serve` was given it.
#[derive(Args)]
pub struct StoreArgs {
    /// The data directory `portcullis serve` uses.
    #[arg(long, default_value = "./portcullis-data")]
    data_dir: PathBuf,
    /// The store `portcullis serve` uses: `sqlite` (the data directory's database) or its
    /// PostgreSQL URL.
    #[arg(long, env = "PORTCULLIS_STORE", default_value = "sqlite", value_parser = portcullis_server::StoreLocation::parse, hide_env_values = true)]
    store: portcullis_server::StoreLocation,
}

#[derive(Args)]
pub struct TailArgs {
    #[command(flatten)]
    at: StoreArgs,
    /// Start with the events from this time on (RFC 3339 or YYYY-MM-DD); default: only the
    /// events recorded from now on.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    since: Option<i64>,
}

#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    at: StoreArgs,
    /// The first event time to export (RFC 3339, e.g. 2026-12-01T00:00:00Z, or a date,
    /// 2026-12-01); default: the trail's beginning.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    since: Option<i64>,
    /// Export the events before this time (same forms); default: up to the last event.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    until: Option<i64>,
    /// The directory to write under (made if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// An RFC 3339 time or a date (midnight UTC), as unix seconds.
fn parse_time(s: &str) -> Result<i64, String> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t.unix_timestamp());
    }
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &date_format)
        .map(|d| d.midnight().assume_utc().unix_timestamp())
        .map_err(|_| format!("{s:?} is neither an RFC 3339 time nor a YYYY-MM-DD date"))
}

#[derive(Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    at: StoreArgs,
    /// The master key (default: `<data-dir>/master.key`, or PORTCULLIS_MASTER_KEY_FILE).
    #[arg(long, value_name = "FILE")]
    master_key_file: Option<PathBuf>,
}

pub fn run(command: AuditCommand) -> ExitCode {
    match command {
        AuditCommand::Verify(args) => verify(args),
        AuditCommand::Export(args) => export(args),
        AuditCommand::Tail(args) => tail(args),
    }
}

/// How often `tail` looks for new events.
const TAIL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(250);

fn tail(args: TailArgs) -> ExitCode {
    use std::io::Write;
    let store = match open_store(&args.at) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut tail = match trail::Tail::new(&*store, args.since) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("portcullis: {e}");
            return ExitCode::from(2);
        }
    };
    let mut out = std::io::stdout().lock();
    loop {
        match tail.poll() {
            Ok(events) => {
                for event in events {
                    let written = out
                        .write_all(&event.body)
                        .and_then(|()| out.write_all(b"\n"));
                    // A closed pipe (`| head`) ends the tail.
                    if written.is_err() {
                        return ExitCode::SUCCESS;
                    }
                }
                if out.flush().is_err() {
                    return ExitCode::SUCCESS;
                }
            }
            Err(e) => {
                eprintln!("portcullis: {e}");
                return ExitCode::from(1);
            }
        }
        std::thread::sleep(TAIL_INTERVAL);
    }
}

/// The store (exit status 2, said, when there is none or it won't open).
fn open_store(at: &StoreArgs) -> Result<Box<dyn Store>, ExitCode> {
    match &at.store {
        StoreLocation::Embedded => {
            let db = at.data_dir.join("portcullis.db");
            if !db.is_file() {
                eprintln!("portcullis: no store at {}", db.display());
                return Err(ExitCode::from(2));
            }
            match SqliteStore::open(&db) {
                Ok(store) => Ok(Box::new(store)),
                Err(e) => {
                    eprintln!("portcullis: {}: {e}", db.display());
                    Err(ExitCode::from(2))
                }
            }
        }
        StoreLocation::Postgres(url) => match PostgresStore::connect(url) {
            Ok(store) => Ok(Box::new(store)),
            Err(e) => {
                eprintln!("portcullis: the PostgreSQL store: {e}");
                Err(ExitCode::from(2))
            }
        },
    }
}

fn export(args: ExportArgs) -> ExitCode {
    let store = match open_store(&args.at) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match trail::export(&*store, args.since, args.until, &args.out) {
        Ok(report) => {
            println!(
                "exported {} events in {} CloudTrail log files under {}",
                report.events,
                report.files,
                args.out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("portcullis: export stopped: {e}");
            ExitCode::from(1)
        }
    }
}

fn verify(args: VerifyArgs) -> ExitCode {
    let store = match open_store(&args.at) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let key_path = args
        .master_key_file
        .or_else(|| std::env::var_os("PORTCULLIS_MASTER_KEY_FILE").map(PathBuf::from))
        .unwrap_or_else(|| args.at.data_dir.join("master.key"));
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
    let public_key = match trail::public_key(&*store, &master_key) {
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
    match trail::verify(&*store, &public_key) {
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
