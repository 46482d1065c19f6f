//! A private PostgreSQL for tests (feature `testing`): the server `PORTCULLIS_TEST_POSTGRES`
//! names (a URL without a database, as `scripts/postgres.sh start` prints it) when set, else
//! one started for this process with `scripts/postgres.sh` (initdb in a temporary directory,
//! a free loopback port), stopped and deleted when the process ends, however it ends.
//! Tests never depend on a server prepared by hand.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// The server's URL (no database), or why there is none.
pub fn server_url() -> Result<String, String> {
    static SERVER: OnceLock<Result<String, String>> = OnceLock::new();
    SERVER
        .get_or_init(|| match std::env::var("PORTCULLIS_TEST_POSTGRES") {
            Ok(url) if !url.is_empty() => Ok(url.trim_end_matches('/').to_owned()),
            _ => start_private(),
        })
        .clone()
}

/// Holds the watchdog whose standard input is this process's: when the process ends, the
/// pipe closes and the watchdog stops the server.
static WATCHDOG: Mutex<Option<(Child, std::process::ChildStdin)>> = Mutex::new(None);

fn script() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/postgres.sh").to_owned()
}

fn start_private() -> Result<String, String> {
    let dir = tempfile::Builder::new()
        .prefix("portcullis-test-pg")
        .tempdir()
        .map_err(|e| format!("temp dir: {e}"))?
        .keep();
    let dir = dir.display().to_string();
    let out = Command::new("bash")
        .arg(script())
        .args(["start", &dir])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("scripts/postgres.sh: {e}"))?;
    if !out.status.success() {
        return Err(format!("scripts/postgres.sh start failed ({})", out.status));
    }
    let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let mut watchdog = Command::new("bash")
        .arg("-c")
        .arg(r#"read -r _; bash "$0" stop "$1"; rm -rf "$1""#)
        .arg(script())
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("watchdog: {e}"))?;
    let stdin = watchdog.stdin.take().ok_or("watchdog without stdin")?;
    if let Ok(mut w) = WATCHDOG.lock() {
        *w = Some((watchdog, stdin));
    }
    Ok(url)
}

/// Stops the private server now (when this process started one).
pub fn stop_private() {
    if let Ok(mut w) = WATCHDOG.lock()
        && let Some((mut child, mut stdin)) = w.take()
    {
        let _ = stdin.write_all(b"\n");
        drop(stdin);
        let _ = child.wait();
    }
}

/// The URL of the database named after `key` on the test server, created when missing (the
/// same key names the same database, so a restarted server finds its data).
pub fn database_for(key: &str) -> Result<String, String> {
    use std::hash::{Hash, Hasher};
    let server = server_url()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    let name = format!("t_{:016x}", h.finish());
    create_database(&server, &name)?;
    Ok(format!("{server}/{name}"))
}

/// Creates the database `name` unless it exists (on a thread of its own: the caller may be
/// inside a runtime).
pub fn create_database(server: &str, name: &str) -> Result<(), String> {
    let sql = format!("CREATE DATABASE {name}");
    on_own_runtime(
        move |client| async move {
            match client.batch_execute(&sql).await {
                Ok(()) => Ok(Vec::new()),
                Err(e)
                    if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) =>
                {
                    Ok(Vec::new())
                }
                Err(e) => Err(format!("{sql}: {e}")),
            }
        },
        &format!("{server}/postgres"),
    )
    .map(|_| ())
}

/// Runs `sql` (several statements) on the database `url`.
pub fn execute(url: &str, sql: &str) -> Result<(), String> {
    let url = url.to_owned();
    let sql = sql.to_owned();
    on_own_runtime(
        move |client| async move {
            client
                .batch_execute(&sql)
                .await
                .map_err(|e| format!("{sql}: {e}"))?;
            Ok(Vec::new())
        },
        &url,
    )
    .map(|_| ())
}

/// Every text value of every table of the database `url`, one per line: what is at rest,
/// to search for a secret.
pub fn dump(url: &str) -> Result<Vec<u8>, String> {
    on_own_runtime(
        |client| async move {
            let tables = client
                .query(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
                    &[],
                )
                .await
                .map_err(|e| e.to_string())?;
            let mut out = Vec::new();
            for t in tables {
                let name: String = t.try_get(0).map_err(|e| e.to_string())?;
                let rows = client
                    .query(&format!("SELECT CAST(t AS text) FROM {name} t"), &[])
                    .await
                    .map_err(|e| e.to_string())?;
                for row in rows {
                    let text: String = row.try_get(0).map_err(|e| e.to_string())?;
                    out.extend_from_slice(text.as_bytes());
                    out.push(b'\n');
                }
            }
            Ok(out)
        },
        url,
    )
}

/// Runs `task` with a connection to `url`, on a runtime of its own on a thread of its own.
fn on_own_runtime<F, Fut>(task: F, url: &str) -> Result<Vec<u8>, String>
where
    F: FnOnce(tokio_postgres::Client) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Vec<u8>, String>>,
{
    let url = url.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async move {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .map_err(|e| format!("connect {url}: {e}"))?;
            let driver = tokio::spawn(connection);
            let result = task(client).await;
            let _ = driver.await;
            result
        })
    })
    .join()
    .map_err(|_| "the database thread panicked".to_owned())?
}
