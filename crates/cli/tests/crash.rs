//! Durability under a crash: the real `portcullis serve` is killed with SIGKILL while eight
//! clients write concurrently, then started again on the same data directory. Every write that
//! was answered with success before the kill must be there after the restart (users, their
//! tags and inline policies, access keys that still authenticate), and the SQLite file must
//! pass `PRAGMA integrity_check`; the audit trail must verify and hold the CreateUser event of
//! every acknowledged user. Three kill/restart cycles; each cycle checks the writes
//! acknowledged in all cycles so far.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use aws_sdk_iam::config::retry::RetryConfig;
use aws_sdk_iam::config::timeout::TimeoutConfig;
use aws_sdk_iam::config::{BehaviorVersion, Region};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ACCOUNT: &str = "111122223333";
const ROOT_KEY: &str = "AKIAROOTEXAMPLE00001";
const ROOT_SECRET: &str = "rootSecretKeyForTests0000000000000000000";

const CYCLES: usize = 3;
const WRITERS: usize = 8;
/// Users a writer creates per cycle at most (each with a tag, a policy and a key).
const USERS_PER_WRITER: usize = 200;
/// The kill comes when this many writes were acknowledged in the cycle, or after `WRITE_TIME`.
const KILL_AFTER_ACKS: usize = 240;
const WRITE_TIME: Duration = Duration::from_millis(1500);
/// How long a start may take before the test gives up (debug build, shared machine).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// One `portcullis serve` process; killed (SIGKILL) when dropped.
struct Server {
    child: Child,
    endpoint: String,
    log: PathBuf,
}

impl Server {
    /// Starts the binary on `data_dir` with an ephemeral port, and waits until the address it
    /// logs answers `GET /healthz`.
    async fn start(data_dir: &Path, log: PathBuf) -> Server {
        Server::start_with(data_dir, log, &[]).await
    }

    /// [`Server::start`] with more environment (a node of a cluster: its store and key).
    async fn start_with(data_dir: &Path, log: PathBuf, env: &[(&str, String)]) -> Server {
        let log_file = std::fs::File::create(&log).expect("create log file");
        let child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(["serve", "--listen", "127.0.0.1:0", "--account-id", ACCOUNT])
            .arg("--data-dir")
            .arg(data_dir)
            .env("PORTCULLIS_ROOT_ACCESS_KEY_ID", ROOT_KEY)
            .env("PORTCULLIS_ROOT_SECRET_ACCESS_KEY", ROOT_SECRET)
            .env_remove("PORTCULLIS_MASTER_KEY_FILE")
            .env_remove("PORTCULLIS_STORE")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            // The address line, and every warning or error; not one line per request.
            .env("RUST_LOG", "warn,portcullis::serve_cmd=info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log file"))
            .stderr(log_file)
            .spawn()
            .expect("portcullis serve runs");
        let mut server = Server {
            child,
            endpoint: String::new(),
            log,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = server.child.try_wait().expect("try_wait") {
                panic!(
                    "portcullis exited at start: {status}\n{}",
                    server.log_text()
                );
            }
            if server.endpoint.is_empty() {
                if let Some(addr) = serving_address(&server.log_text()) {
                    server.endpoint = format!("http://{addr}");
                }
            }
            if !server.endpoint.is_empty() && healthy(&server.endpoint[7..]).await {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "portcullis did not answer /healthz within {START_TIMEOUT:?}\n{}",
                server.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log_text(&self) -> String {
        strip_ansi(&std::fs::read_to_string(&self.log).unwrap_or_default())
    }

    /// SIGKILL, and reap the process.
    fn kill(&mut self) {
        self.child.kill().expect("kill -9");
        let status = self.child.wait().expect("wait");
        assert!(!status.success(), "killed, not exited: {status}");
    }

    fn iam(&self, key: &str, secret: &str, retries: bool) -> aws_sdk_iam::Client {
        iam_client(&self.endpoint, key, secret, retries)
    }
}

/// An IAM client of `endpoint`: with retries to check, without to write.
fn iam_client(endpoint: &str, key: &str, secret: &str, retries: bool) -> aws_sdk_iam::Client {
    let retry = if retries {
        RetryConfig::standard().with_max_attempts(5)
    } else {
        // A writer stops at its first failure; an attempt cut by the kill is not repeated.
        RetryConfig::disabled()
    };
    let config = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(key, secret, None, None, "test"))
        .retry_config(retry)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .operation_attempt_timeout(Duration::from_secs(30))
                .build(),
        )
        .build();
    aws_sdk_iam::Client::from_conf(config)
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The `address=` field of the "portcullis is serving" line.
fn serving_address(log: &str) -> Option<String> {
    let line = log.lines().find(|l| l.contains("portcullis is serving"))?;
    let rest = &line[line.find("address=")? + "address=".len()..];
    Some(rest.split_whitespace().next()?.to_owned())
}

/// The text without ANSI escape sequences (in case the log is coloured after all).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether `GET /healthz` at `addr` answers 200.
async fn healthy(addr: &str) -> bool {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        Some(answer.starts_with(b"HTTP/1.1 200"))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(5), attempt).await,
        Ok(Some(true))
    )
}

/// What the service acknowledged about one user.
#[derive(Clone, Debug, Default)]
struct Acked {
    user: String,
    tag: Option<(String, String)>,
    policy: Option<(String, String)>,
    key: Option<(String, String)>,
}

impl Acked {
    fn writes(&self) -> usize {
        1 + usize::from(self.tag.is_some())
            + usize::from(self.policy.is_some())
            + usize::from(self.key.is_some())
    }
}

/// One writer: users one after another, each with a tag, an inline policy and an access key,
/// until a call fails (the kill) or `stop`. Each success is recorded in `acked` as soon as it
/// is answered.
async fn writer(
    iam: aws_sdk_iam::Client,
    cycle: usize,
    task: usize,
    acked: Arc<Mutex<Vec<Acked>>>,
    count: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) -> bool {
    let record = |slot: usize, f: &dyn Fn(&mut Acked)| {
        f(&mut acked.lock().expect("acked")[slot]);
        count.fetch_add(1, Ordering::SeqCst);
    };
    for i in 0..USERS_PER_WRITER {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        let user = format!("c{cycle}-w{task}-u{i}");
        if iam.create_user().user_name(&user).send().await.is_err() {
            return true;
        }
        let slot = {
            let mut acked = acked.lock().expect("acked");
            acked.push(Acked {
                user: user.clone(),
                ..Acked::default()
            });
            acked.len() - 1
        };
        count.fetch_add(1, Ordering::SeqCst);

        let (tag_key, tag_value) = (format!("k{i}"), format!("v-{user}"));
        let tag = aws_sdk_iam::types::Tag::builder()
            .key(&tag_key)
            .value(&tag_value)
            .build()
            .expect("tag");
        if iam
            .tag_user()
            .user_name(&user)
            .tags(tag)
            .send()
            .await
            .is_err()
        {
            return true;
        }
        record(slot, &|a| {
            a.tag = Some((tag_key.clone(), tag_value.clone()))
        });

        let policy_name = format!("p{i}");
        // Lets the user's key read the user (the check after the restart), and names a
        // bucket of this user only, so the document found then is this one.
        let document = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::{ACCOUNT}:user/{user}"}},{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket-{user}/*"}}]}}"#
        );
        if iam
            .put_user_policy()
            .user_name(&user)
            .policy_name(&policy_name)
            .policy_document(&document)
            .send()
            .await
            .is_err()
        {
            return true;
        }
        record(slot, &|a| {
            a.policy = Some((policy_name.clone(), format!("bucket-{user}")))
        });

        let Ok(created) = iam.create_access_key().user_name(&user).send().await else {
            return true;
        };
        let key = created.access_key().expect("access key");
        let pair = (
            key.access_key_id().to_owned(),
            key.secret_access_key().to_owned(),
        );
        record(slot, &|a| a.key = Some(pair.clone()));
    }
    false
}

/// Checks that everything in `acked` is served at `endpoint`.
async fn check(endpoint: &str, acked: &Acked) {
    let root = iam_client(endpoint, ROOT_KEY, ROOT_SECRET, true);
    let user = &acked.user;
    let got = root
        .get_user()
        .user_name(user)
        .send()
        .await
        .unwrap_or_else(|e| panic!("acknowledged user {user} is missing: {}", why(&e)));
    assert_eq!(got.user().expect("user").user_name(), user);

    if let Some((key, value)) = &acked.tag {
        let tags = root
            .list_user_tags()
            .user_name(user)
            .send()
            .await
            .unwrap_or_else(|e| panic!("ListUserTags {user}: {}", why(&e)));
        assert!(
            tags.tags()
                .iter()
                .any(|t| t.key() == key && t.value() == value),
            "acknowledged tag {key}={value} of {user} is missing: {:?}",
            tags.tags()
        );
    }

    if let Some((name, marker)) = &acked.policy {
        let policy = root
            .get_user_policy()
            .user_name(user)
            .policy_name(name)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "acknowledged policy {name} of {user} is missing: {}",
                    why(&e)
                )
            });
        assert!(
            policy.policy_document().contains(marker.as_str()),
            "policy {name} of {user}: {}",
            policy.policy_document()
        );
    }

    if let Some((id, secret)) = &acked.key {
        let keys = root
            .list_access_keys()
            .user_name(user)
            .send()
            .await
            .unwrap_or_else(|e| panic!("ListAccessKeys {user}: {}", why(&e)));
        assert!(
            keys.access_key_metadata()
                .iter()
                .any(|k| k.access_key_id() == Some(id.as_str())),
            "acknowledged key {id} of {user} is missing"
        );
        let me = iam_client(endpoint, id, secret, true)
            .get_user()
            .send()
            .await
            .unwrap_or_else(|e| panic!("key {id} of {user} does not authenticate: {}", why(&e)));
        assert_eq!(me.user().expect("user").user_name(), user);
    }
}

/// A failed call in a line: its error code, or why nothing was answered.
fn why(e: &impl std::error::Error) -> String {
    let text = aws_sdk_iam::error::DisplayErrorContext(e).to_string();
    text.chars().take(300).collect()
}

/// `PRAGMA integrity_check` on the database, beside the running server (WAL allows it).
fn integrity_check(data_dir: &Path) {
    let conn = rusqlite::Connection::open(data_dir.join("portcullis.db")).expect("open db");
    conn.busy_timeout(Duration::from_secs(10)).expect("busy");
    let result: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(result, "ok");
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(mode, "wal");
}

/// The audit trail after a kill: `portcullis audit verify` finds it intact, and every
/// acknowledged CreateUser has its event (no change without its record).
fn audit_intact(data_dir: &Path, acked: &[Acked]) {
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["audit", "verify", "--data-dir"])
        .arg(data_dir)
        .env_remove("PORTCULLIS_MASTER_KEY_FILE")
        .output()
        .expect("portcullis audit verify runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let conn = rusqlite::Connection::open(data_dir.join("portcullis.db")).expect("open db");
    conn.busy_timeout(Duration::from_secs(10)).expect("busy");
    let mut stmt = conn
        .prepare("SELECT body FROM audit_events WHERE event_name = 'CreateUser'")
        .expect("prepare");
    let recorded: std::collections::HashSet<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .expect("query")
        .filter_map(|body| {
            let event: serde_json::Value = serde_json::from_str(&body.ok()?).ok()?;
            if event.get("errorCode").is_some() {
                return None;
            }
            Some(event["requestParameters"]["userName"].as_str()?.to_owned())
        })
        .collect();
    for a in acked {
        assert!(
            recorded.contains(&a.user),
            "user {} was created and acknowledged, but its CreateUser event is missing",
            a.user
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_write_survives_kill_9() {
    let parent = tempfile::tempdir().expect("temp dir");
    let data_dir = parent.path().join("data");
    let log = |n: usize| parent.path().join(format!("serve-{n}.log"));

    let mut all: Vec<Acked> = Vec::new();
    let mut server = Server::start(&data_dir, log(0)).await;
    for cycle in 0..CYCLES {
        let acked = Arc::new(Mutex::new(Vec::new()));
        let count = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..WRITERS)
            .map(|task| {
                tokio::spawn(writer(
                    server.iam(ROOT_KEY, ROOT_SECRET, false),
                    cycle,
                    task,
                    acked.clone(),
                    count.clone(),
                    stop.clone(),
                ))
            })
            .collect();

        // Kill while the writers are busy: after enough acknowledgements or a short while,
        // but not before the first one (a cycle that proves nothing), nor later than the start
        // timeout.
        let started = Instant::now();
        loop {
            let n = count.load(Ordering::SeqCst);
            let elapsed = started.elapsed();
            if n >= KILL_AFTER_ACKS || (n > 0 && elapsed >= WRITE_TIME) {
                break;
            }
            assert!(
                elapsed < START_TIMEOUT && !writers.iter().all(|w| w.is_finished()),
                "the writers stopped after {n} acknowledged writes, or none in {START_TIMEOUT:?}\n{}",
                server.log_text()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        server.kill();
        stop.store(true, Ordering::SeqCst);
        let mut interrupted = 0;
        for w in writers {
            interrupted += usize::from(w.await.expect("writer task"));
        }
        let acked = std::mem::take(&mut *acked.lock().expect("acked"));
        assert_eq!(
            acked.iter().map(Acked::writes).sum::<usize>(),
            count.load(Ordering::SeqCst)
        );
        all.extend(acked);

        server = Server::start(&data_dir, log(cycle + 1)).await;
        let log_text = server.log_text();
        assert!(
            !log_text.contains("ERROR") && !log_text.contains("WARN"),
            "the store did not open cleanly:\n{log_text}"
        );
        integrity_check(&data_dir);
        audit_intact(&data_dir, &all);

        // Every write acknowledged so far, in this cycle and before, checked concurrently.
        let checks: Vec<_> = all
            .chunks(all.len().div_ceil(WRITERS))
            .map(|chunk| {
                let (endpoint, chunk) = (server.endpoint.clone(), chunk.to_vec());
                tokio::spawn(async move {
                    for acked in &chunk {
                        check(&endpoint, acked).await;
                    }
                })
            })
            .collect();
        for c in checks {
            c.await.expect("an acknowledged write is missing");
        }
        eprintln!(
            "cycle {cycle}: {interrupted} of {WRITERS} writers cut by the kill; {} users, {} acknowledged writes in all, all present",
            all.len(),
            all.iter().map(Acked::writes).sum::<usize>()
        );
    }
    drop(server);
}

/// A PostgreSQL of this test's own (it is restarted under load), stopped when dropped.
struct OwnPostgres {
    dir: tempfile::TempDir,
    url: String,
}

const POSTGRES_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/postgres.sh");

impl OwnPostgres {
    fn start() -> OwnPostgres {
        let dir = tempfile::tempdir().expect("dir");
        let out = Command::new("bash")
            .args([POSTGRES_SCRIPT, "start"])
            .arg(dir.path().join("pg"))
            .stderr(Stdio::inherit())
            .output()
            .expect("scripts/postgres.sh");
        assert!(out.status.success(), "PostgreSQL did not start");
        let server = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        portcullis_postgres::testing::create_database(&server, "crash").expect("database");
        OwnPostgres {
            url: format!("{server}/crash"),
            dir,
        }
    }

    fn restart(&self) {
        let status = Command::new("bash")
            .args([POSTGRES_SCRIPT, "restart"])
            .arg(self.dir.path().join("pg"))
            .status()
            .expect("scripts/postgres.sh");
        assert!(status.success(), "PostgreSQL did not restart");
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .args([POSTGRES_SCRIPT, "stop"])
            .arg(self.dir.path().join("pg"))
            .status();
    }
}

/// Every user name node `endpoint` lists.
async fn listed(endpoint: &str) -> Vec<String> {
    let root = iam_client(endpoint, ROOT_KEY, ROOT_SECRET, true);
    let mut names = Vec::new();
    let mut marker = None;
    loop {
        let page = root
            .list_users()
            .set_marker(marker)
            .send()
            .await
            .expect("list users");
        names.extend(page.users().iter().map(|u| u.user_name().to_owned()));
        if !page.is_truncated() {
            return names;
        }
        marker = page.marker().map(str::to_owned);
    }
}

/// Writers on every node of `nodes` until `count` reaches `acks` (or a while passes), then
/// `interrupt` (a kill, a database restart) while they run; returns what was acknowledged.
async fn write_through(nodes: &[&Server], cycle: usize, interrupt: impl FnOnce()) -> Vec<Acked> {
    let acked = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|task| {
            tokio::spawn(writer(
                nodes[task % nodes.len()].iam(ROOT_KEY, ROOT_SECRET, false),
                cycle,
                task,
                acked.clone(),
                count.clone(),
                stop.clone(),
            ))
        })
        .collect();
    let started = Instant::now();
    loop {
        let n = count.load(Ordering::SeqCst);
        if n >= KILL_AFTER_ACKS || (n > 0 && started.elapsed() >= WRITE_TIME) {
            break;
        }
        assert!(
            started.elapsed() < START_TIMEOUT,
            "no write was acknowledged in {START_TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    interrupt();
    // Writers stop at their first failure; those on the nodes that stay up are stopped.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.await.expect("writer task");
    }
    let acked = std::mem::take(&mut *acked.lock().expect("acked"));
    assert!(!acked.is_empty());
    acked
}

/// Every acknowledged write is served by every node in `endpoints`, whose user lists agree.
async fn all_present(endpoints: &[String], all: &[Acked]) {
    for endpoint in endpoints {
        for acked in all {
            check(endpoint, acked).await;
        }
    }
    let began = Instant::now();
    loop {
        let mut lists = Vec::new();
        for endpoint in endpoints {
            let mut names = listed(endpoint).await;
            names.sort();
            lists.push(names);
        }
        if lists.iter().all(|l| *l == lists[0]) {
            return;
        }
        assert!(
            began.elapsed() < Duration::from_secs(5),
            "the nodes did not converge"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cluster_keeps_every_acknowledged_write_through_kill_9_of_a_node_and_a_postgres_restart()
{
    let pg = OwnPostgres::start();
    let parent = tempfile::tempdir().expect("temp dir");
    let dir = |n: usize| parent.path().join(format!("node-{n}"));
    let log = |name: String| parent.path().join(format!("{name}.log"));
    let env = vec![
        ("PORTCULLIS_STORE", pg.url.clone()),
        (
            "PORTCULLIS_MASTER_KEY_FILE",
            parent.path().join("master.key").display().to_string(),
        ),
    ];
    let mut nodes = Vec::new();
    for n in 0..3 {
        nodes.push(Server::start_with(&dir(n), log(format!("node-{n}")), &env).await);
    }

    // kill -9 of node 0 while writers on all three nodes write.
    let mut all = {
        let (first, rest) = nodes.split_at_mut(1);
        let refs: Vec<&Server> = std::iter::once(&first[0]).chain(rest.iter()).collect();
        // The kill needs the node mutably: done through its pid.
        let pid = first[0].child.id();
        write_through(&refs, 0, move || {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        })
        .await
    };
    let _ = nodes[0].child.wait();
    let survivors: Vec<String> = nodes[1..].iter().map(|n| n.endpoint.clone()).collect();
    all_present(&survivors, &all).await;
    nodes[0] = Server::start_with(&dir(0), log("node-0-again".into()), &env).await;
    let everyone: Vec<String> = nodes.iter().map(|n| n.endpoint.clone()).collect();
    all_present(&everyone, &all).await;

    // PostgreSQL restarted (every connection cut) while the three nodes write.
    let refs: Vec<&Server> = nodes.iter().collect();
    all.extend(write_through(&refs, 1, || pg.restart()).await);
    // The nodes reconnect: each takes a write again, and every write is everywhere.
    for (n, node) in nodes.iter().enumerate() {
        let root = node.iam(ROOT_KEY, ROOT_SECRET, false);
        let began = Instant::now();
        while root
            .create_user()
            .user_name(format!("after-restart-{n}"))
            .send()
            .await
            .is_err()
        {
            assert!(
                began.elapsed() < Duration::from_secs(20),
                "node {n} did not write again after PostgreSQL restarted\n{}",
                node.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    all_present(&everyone, &all).await;
    for n in 0..3 {
        let names = listed(&everyone[0]).await;
        assert!(names.contains(&format!("after-restart-{n}")));
    }
    eprintln!(
        "cluster: {} users, {} acknowledged writes, all present on the three nodes",
        all.len(),
        all.iter().map(Acked::writes).sum::<usize>()
    );
}
