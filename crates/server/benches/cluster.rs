//! Several nodes on one PostgreSQL (issue 12), over HTTP on loopback:
//! - write throughput: CreateUser (one committed write each) from `CONNECTIONS` connections,
//!   against one node, then spread over three nodes of one database;
//! - decision throughput per node: an authorized GetUser by a user, on each of the three
//!   nodes at once (the decision path reads the node's own snapshot);
//! - propagation delay: a user created on one node, polled for on another until it is
//!   there, `SAMPLES` times; p50 and p99.
//!
//! The nodes run in this process on a private PostgreSQL (`portcullis_postgres::testing`,
//! or `PORTCULLIS_TEST_POSTGRES`); the load generator is a separate process (this binary
//! again, with `PORTCULLIS_BENCH_LOADGEN` naming the addresses). On a 2-core machine the
//! nodes, PostgreSQL and the load generator share the cores: the figures are a floor.
//!
//! Run: `cargo bench -p portcullis-server --bench cluster` (`BENCH_SECONDS`, default 5).

#[path = "support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use portcullis_server::{RunningServer, ServerConfig, StoreLocation, start};
use support::{HttpClient, Signer, send};

const ROOT_KEY: &str = "AKIABENCHROOT0000001";
const ROOT_SECRET: &str = "benchRootSecret0000000000000000000000000";
const CONNECTIONS: usize = 16;
const SAMPLES: usize = 200;

fn main() {
    let seconds = support::seconds();
    let runtime = support::runtime();
    match std::env::var("PORTCULLIS_BENCH_LOADGEN") {
        Ok(addrs) => {
            let addrs: Vec<SocketAddr> = addrs
                .split(' ')
                .map(|a| a.parse().expect("an address"))
                .collect();
            runtime.block_on(loadgen(seconds, addrs[0], [addrs[1], addrs[2], addrs[3]]));
        }
        Err(_) => runtime.block_on(serve()),
    }
}

async fn node(url: &str, dir: &std::path::Path, key: Option<std::path::PathBuf>) -> RunningServer {
    start(ServerConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        data_dir: dir.to_path_buf(),
        store: StoreLocation::Postgres(url.to_owned()),
        account_id: Some("111122223333".into()),
        root_credentials: Some((ROOT_KEY.into(), ROOT_SECRET.into())),
        master_key_file: key,
        limits: portcullis_server::Limits {
            max_users: 1_000_000,
            ..portcullis_server::Limits::default()
        },
        regions: Vec::new(),
        tls: None,
        trusted_proxies: Vec::new(),
        routes: None,
        audit: Some(portcullis_server::AuditSettings::default()),
        metrics_listen: None,
    })
    .await
    .expect("node starts")
}

/// One node on its database, three on another, until the load generator is done.
async fn serve() {
    let stamp = std::process::id();
    let single = portcullis_postgres::testing::database_for(&format!("bench-one-{stamp}"))
        .expect("PostgreSQL");
    let shared = portcullis_postgres::testing::database_for(&format!("bench-three-{stamp}"))
        .expect("PostgreSQL");
    let dirs: Vec<tempfile::TempDir> = (0..4).map(|_| tempfile::tempdir().expect("dir")).collect();
    let alone = node(&single, dirs[0].path(), None).await;
    let mut three = vec![node(&shared, dirs[1].path(), None).await];
    for dir in &dirs[2..] {
        three.push(node(&shared, dir.path(), Some(dirs[1].path().join("master.key"))).await);
    }
    let addrs = std::iter::once(alone.local_addr)
        .chain(three.iter().map(|n| n.local_addr))
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let succeeded = support::run_loadgen(addrs).await;
    alone.shutdown().await;
    for n in three {
        n.shutdown().await;
    }
    assert!(succeeded, "the load generator failed");
}

fn root(addr: SocketAddr) -> Signer {
    Signer::long_term(ROOT_KEY.into(), ROOT_SECRET.into(), "iam", addr)
}

/// `CONNECTIONS` tasks, task `c` sending to `targets[c % len]`, each running `work` back
/// to back for `seconds`; returns the successes per second (in all, and per target).
async fn load<F, Fut>(seconds: f64, targets: &[SocketAddr], work: F) -> (f64, Vec<f64>)
where
    F: Fn(SocketAddr, usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let work = Arc::new(work);
    let counts: Arc<Vec<AtomicU64>> = Arc::new(targets.iter().map(|_| AtomicU64::new(0)).collect());
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CONNECTIONS {
        let (work, counts, target) = (work.clone(), counts.clone(), c % targets.len());
        let addr = targets[target];
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while Instant::now() < deadline {
                if work(addr, c, i).await {
                    counts[target].fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
            }
        }));
    }
    for t in tasks {
        t.await.expect("load task");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let each: Vec<f64> = counts
        .iter()
        .map(|c| c.load(Ordering::Relaxed) as f64 / elapsed)
        .collect();
    (each.iter().sum(), each)
}

async fn creates(
    client: HttpClient,
    seconds: f64,
    targets: &[SocketAddr],
    tag: &'static str,
) -> f64 {
    let (total, _) = load(seconds, targets, move |addr, c, i| {
        let client = client.clone();
        async move {
            let body = format!("Action=CreateUser&Version=2010-05-08&UserName={tag}-{c}-{i}");
            send(&client, root(addr).request(&body)).await.0 == 200
        }
    })
    .await;
    total
}

/// The load, from its own process.
async fn loadgen(seconds: f64, alone: SocketAddr, three: [SocketAddr; 3]) {
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    // Writes: one node, then three nodes of one database.
    let one = creates(client.clone(), seconds, &[alone], "one").await;
    let spread = creates(client.clone(), seconds, &three, "three").await;
    println!("write throughput (CreateUser, {CONNECTIONS} connections):");
    println!("  1 node:  {one:>8.0} writes/s");
    println!("  3 nodes: {spread:>8.0} writes/s (one database, writes serialized)");

    // Decisions: a user allowed GetUser, on every node at once.
    let setup = root(three[0]);
    for body in [
        "Action=CreateUser&Version=2010-05-08&UserName=reader".to_owned(),
        format!(
            "Action=PutUserPolicy&Version=2010-05-08&UserName=reader&PolicyName=p&PolicyDocument={}",
            form(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}]}"#
            )
        ),
    ] {
        assert_eq!(send(&client, setup.request(&body)).await.0, 200, "{body}");
    }
    let (_, key) = send(
        &client,
        setup.request("Action=CreateAccessKey&Version=2010-05-08&UserName=reader"),
    )
    .await;
    let key = String::from_utf8_lossy(&key).into_owned();
    let (id, secret) = (field(&key, "AccessKeyId"), field(&key, "SecretAccessKey"));
    // Every node knows the key before the run.
    for addr in three {
        let signer = Signer::long_term(id.clone(), secret.clone(), "iam", addr);
        while send(&client, signer.request("Action=GetUser&Version=2010-05-08"))
            .await
            .0
            != 200
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let decisions = {
        let client = client.clone();
        let (id, secret) = (id.clone(), secret.clone());
        load(seconds, &three, move |addr, _, _| {
            let client = client.clone();
            let signer = Signer::long_term(id.clone(), secret.clone(), "iam", addr);
            async move {
                send(&client, signer.request("Action=GetUser&Version=2010-05-08"))
                    .await
                    .0
                    == 200
            }
        })
        .await
    };
    println!("decision throughput (authorized GetUser, 3 nodes at once):");
    for (i, per) in decisions.1.iter().enumerate() {
        println!("  node {i}: {per:>8.0} requests/s");
    }
    println!("  all:    {:>8.0} requests/s", decisions.0);

    // Propagation: created on node (i % 3), polled on node (i + 1) % 3.
    let mut delays = Vec::with_capacity(SAMPLES);
    for i in 0..SAMPLES {
        let (from, to) = (three[i % 3], three[(i + 1) % 3]);
        let name = format!("seen-{i}");
        let made = send(
            &client,
            root(from).request(&format!(
                "Action=CreateUser&Version=2010-05-08&UserName={name}"
            )),
        )
        .await;
        assert_eq!(made.0, 200);
        let acked = Instant::now();
        let get = format!("Action=GetUser&Version=2010-05-08&UserName={name}");
        while send(&client, root(to).request(&get)).await.0 != 200 {}
        delays.push(acked.elapsed());
    }
    delays.sort();
    let at = |q: f64| delays[((delays.len() as f64 * q) as usize).min(delays.len() - 1)];
    println!(
        "propagation (answered on one node -> visible on another, {SAMPLES} samples): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        delays[delays.len() - 1].as_secs_f64() * 1e3
    );
}

fn form(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn field(text: &str, name: &str) -> String {
    let open = format!("<{name}>");
    let start = text.find(&open).expect("the field") + open.len();
    let end = text[start..].find('<').expect("its end") + start;
    text[start..end].to_owned()
}
