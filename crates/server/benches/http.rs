//! Requests per second over HTTP on loopback (issues 3 and 4):
//! - an authorized GetUser (SigV4 verify + policy decision + XML) by a user whose inline
//!   policy allows it, in an account of 10,000 users;
//! - the same GetUser signed with temporary credentials of a role session whose role has the
//!   same policy (session token opened with the master key + evaluation), in the same run;
//! - the authorization API (issue 8): `POST /v1/authorize` by a service user, asking about
//!   one `s3:GetObject` of a client request signed by the benchmarking user for `s3` (two
//!   SigV4 verifications, the service's `portcullis:Authorize` and the client's decision,
//!   JSON in and out), with p50/p99 latency;
//! - AssumeRole by a user the role's trust policy names, each request freshly signed (SigV4
//!   verify + trust evaluation + sealing a new session token);
//! - CreateUser followed by DeleteUser (two committed writes), same account;
//! - the floor: the same GetUser request answered by a bare axum handler with a fixed body,
//!   in the same run, through the same client.
//!
//! The servers (Portcullis, and the bare axum floor) run in this process; the load generator
//! is a separate process (this same binary, started again with `PORTCULLIS_BENCH_LOADGEN`
//! naming the two addresses): `CONNECTIONS` keep-alive connections, each sending requests back
//! to back for `BENCH_SECONDS` (default 5). On a 2-core machine the two processes share the
//! cores, so the figures are a floor for a server with a machine of its own. Each run also
//! reports the server process's CPU time per request (user + system, read from `/proc` by
//! the load generator), which what else the machine runs disturbs far less than requests/s.
//!
//! Run: `cargo bench -p portcullis-server --bench http`; `PORTCULLIS_BENCH_AUDIT=off`
//! measures the same server without its audit trail (issue 10 compares the two).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use portcullis_server::{ServerConfig, start};
use portcullis_sigv4::{Request as SignRequest, SigningParams, sign};

#[path = "support/mod.rs"]
mod support;

use support::{HttpClient, Signer, send};

const ROOT_KEY: &str = "AKIABENCHROOT0000001";
const ROOT_SECRET: &str = "benchRootSecret0000000000000000000000000";
const CONNECTIONS: usize = 16;
const USERS: usize = 10_000;

/// Runs `make_request` on every connection for `seconds`; returns requests per second.
/// The server's CPU time so far (user + system), in seconds: the load generator's parent
/// is the server process. `None` off Linux.
fn server_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string(format!(
        "/proc/{}/stat",
        std::os::unix::process::parent_id()
    ))
    .ok()?;
    // The fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name; Linux
    // counts them in USER_HZ, 100 per second on every architecture it supports.
    Some((ticks(11)? + ticks(12)?) / 100.0)
}

/// Server CPU per unit of work, in microseconds, over a measured run (`NaN` when unknown):
/// robust to what else the machine runs, unlike requests per second.
static CPU_PER_UNIT: std::sync::Mutex<Vec<f64>> = std::sync::Mutex::new(Vec::new());

async fn load<F, Fut>(seconds: f64, work: F) -> (f64, u64)
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = u64> + Send,
{
    let work = Arc::new(work);
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let cpu_before = server_cpu_seconds();
    let mut tasks = Vec::new();
    for c in 0..CONNECTIONS {
        let work = work.clone();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while Instant::now() < deadline {
                done.fetch_add(work(c, i).await, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    for t in tasks {
        t.await.expect("load task");
    }
    let total = done.load(Ordering::Relaxed);
    let cpu = match (cpu_before, server_cpu_seconds()) {
        (Some(before), Some(after)) if total > 0 => (after - before) * 1e6 / total as f64,
        _ => f64::NAN,
    };
    if let Ok(mut all) = CPU_PER_UNIT.lock() {
        all.push(cpu);
    }
    (total as f64 / start.elapsed().as_secs_f64(), total)
}

/// The server CPU per unit of the `i`-th measured run.
fn cpu_of(i: usize) -> f64 {
    CPU_PER_UNIT
        .lock()
        .ok()
        .and_then(|all| all.get(i).copied())
        .unwrap_or(f64::NAN)
}

/// The floor's fixed answer: an XML body of GetUser's size.
const FLOOR_BODY: &str = concat!(
    "<GetUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><GetUserResult><User>",
    "<Path>/</Path><UserName>user04242</UserName><Arn>arn:aws:iam::111122223333:user/user04242</Arn>",
    "<UserId>AIDAEXAMPLEUSER042420</UserId><CreateDate>2026-12-03T12:00:00Z</CreateDate></User>",
    "</GetUserResult><ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId>",
    "</ResponseMetadata></GetUserResponse>"
);

fn main() {
    let seconds = support::seconds();
    let runtime = support::runtime();
    match std::env::var("PORTCULLIS_BENCH_LOADGEN") {
        Ok(addrs) => {
            let mut addrs = addrs.split(' ').map(|a| a.parse().expect("an address"));
            let (addr, floor) = (addrs.next().expect("server"), addrs.next().expect("floor"));
            runtime.block_on(loadgen(seconds, addr, floor));
        }
        Err(_) => runtime.block_on(serve()),
    }
}

/// The servers, until the load generator (a child process) is done.
async fn serve() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(ServerConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        data_dir: dir.path().to_path_buf(),
        store: portcullis_server::StoreLocation::Embedded,
        account_id: Some("111122223333".into()),
        root_credentials: Some((ROOT_KEY.into(), ROOT_SECRET.into())),
        master_key_file: None,
        limits: portcullis_server::Limits {
            max_users: 20_000,
            ..portcullis_server::Limits::default()
        },
        regions: Vec::new(),
        tls: None,
        trusted_proxies: Vec::new(),
        routes: None,
        // PORTCULLIS_BENCH_AUDIT=off measures the same server without its audit trail.
        audit: (std::env::var("PORTCULLIS_BENCH_AUDIT").as_deref() != Ok("off"))
            .then(portcullis_server::AuditSettings::default),
        metrics_listen: None,
    })
    .await
    .expect("server starts");
    // The floor: a bare axum handler with a fixed body of the same size.
    let app = Router::new().route(
        "/",
        post(|body: Bytes| async move {
            std::hint::black_box(body);
            ([("content-type", "text/xml")], FLOOR_BODY)
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let floor = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let succeeded = support::run_loadgen(format!("{} {floor}", server.local_addr)).await;
    server.shutdown().await;
    assert!(succeeded, "the load generator failed");
}

/// The load, from its own process.
async fn loadgen(seconds: f64, addr: SocketAddr, bare_addr: SocketAddr) {
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let root = Arc::new(Signer::long_term(
        ROOT_KEY.into(),
        ROOT_SECRET.into(),
        "iam",
        addr,
    ));

    // An account of 10,000 users.
    let t = Instant::now();
    let made = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..CONNECTIONS {
        let (client, root, made) = (client.clone(), root.clone(), made.clone());
        tasks.push(tokio::spawn(async move {
            for i in (c..USERS).step_by(CONNECTIONS) {
                let body = format!("Action=CreateUser&Version=2010-05-08&UserName=user{i:05}");
                let (status, _) = send(&client, root.request(&body)).await;
                assert_eq!(status, 200);
                made.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for task in tasks {
        task.await.expect("populate");
    }
    println!(
        "populated {} users in {:.1} s ({:.0} CreateUser/s, {CONNECTIONS} connections)",
        made.load(Ordering::Relaxed),
        t.elapsed().as_secs_f64(),
        made.load(Ordering::Relaxed) as f64 / t.elapsed().as_secs_f64()
    );

    // The benchmarking user: its own policy allows what it does. A role with the same policy
    // trusts it by name.
    let policy = portcullis_bench_encode(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GetUser","iam:CreateUser","iam:DeleteUser"],"Resource":"arn:aws:iam::111122223333:user/*"},{"Effect":"Deny","Action":"iam:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}"#,
    );
    let trust = portcullis_bench_encode(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bench"},"Action":"sts:AssumeRole"}}"#,
    );
    let setup = [
        "Action=CreateUser&Version=2010-05-08&UserName=bench".to_owned(),
        format!(
            "Action=PutUserPolicy&Version=2010-05-08&UserName=bench&PolicyName=p&PolicyDocument={policy}"
        ),
        format!(
            "Action=CreateRole&Version=2010-05-08&RoleName=bench-role&AssumeRolePolicyDocument={trust}"
        ),
        format!(
            "Action=PutRolePolicy&Version=2010-05-08&RoleName=bench-role&PolicyName=p&PolicyDocument={policy}"
        ),
    ];
    for body in &setup {
        let (status, text) = send(&client, root.request(body)).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&text));
    }
    let (status, text) = send(
        &client,
        root.request("Action=CreateAccessKey&Version=2010-05-08&UserName=bench"),
    )
    .await;
    assert_eq!(status, 200);
    let text = String::from_utf8_lossy(&text).into_owned();
    let bench = Arc::new(Signer::long_term(
        field(&text, "AccessKeyId"),
        field(&text, "SecretAccessKey"),
        "iam",
        addr,
    ));
    let bench_sts = Arc::new(Signer::long_term(
        bench.key.clone(),
        bench.secret.clone(),
        "sts",
        addr,
    ));
    let role_arn = portcullis_bench_encode("arn:aws:iam::111122223333:role/bench-role");

    // Temporary credentials of a session of that role.
    let (status, text) = send(
        &client,
        bench_sts.request(&format!(
            "Action=AssumeRole&Version=2011-06-15&RoleArn={role_arn}&RoleSessionName=bench"
        )),
    )
    .await;
    let text = String::from_utf8_lossy(&text).into_owned();
    assert_eq!(status, 200, "{text}");
    let session = Signer {
        key: field(&text, "AccessKeyId"),
        secret: field(&text, "SecretAccessKey"),
        token: Some(field(&text, "SessionToken")),
        service: "iam",
        addr,
    };

    // GetUser of one of the 10,000, signed once and replayed (valid for 15 minutes).
    let get_body = "Action=GetUser&Version=2010-05-08&UserName=user04242";
    let (status, reference) = send(&client, bench.request(get_body)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&reference));
    assert!(
        reference.len().abs_diff(FLOOR_BODY.len()) < 200,
        "the floor's body is GetUser's size"
    );
    let template = bench.request(get_body);
    let (parts, _) = template.into_parts();
    let headers = Arc::new(parts.headers);
    let get_user = {
        let (client, headers) = (client.clone(), headers.clone());
        move |_c: usize, _i: u64| {
            let (client, headers) = (client.clone(), headers.clone());
            async move {
                let mut request = hyper::Request::post(format!("http://{addr}/"))
                    .body(Full::new(Bytes::from_static(get_body.as_bytes())))
                    .expect("request");
                *request.headers_mut() = (*headers).clone();
                let (status, _) = send(&client, request).await;
                assert_eq!(status, 200);
                1
            }
        }
    };
    let (get_rps, get_n) = load(seconds, get_user).await;

    // The same GetUser signed with the role session's temporary credentials.
    let (status, text) = send(&client, session.request(get_body)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&text));
    let (parts, _) = session.request(get_body).into_parts();
    let session_headers = Arc::new(parts.headers);
    let get_user_session = {
        let client = client.clone();
        move |_c: usize, _i: u64| {
            let (client, headers) = (client.clone(), session_headers.clone());
            async move {
                let mut request = hyper::Request::post(format!("http://{addr}/"))
                    .body(Full::new(Bytes::from_static(get_body.as_bytes())))
                    .expect("request");
                *request.headers_mut() = (*headers).clone();
                let (status, _) = send(&client, request).await;
                assert_eq!(status, 200);
                1
            }
        }
    };
    let (session_rps, session_n) = load(seconds, get_user_session).await;

    // The authorization API: a service asks about a client request the benchmarking user
    // signed for s3 (both signatures made once and replayed, valid for 15 minutes).
    let authorize_policy = portcullis_bench_encode(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"portcullis:Authorize","Resource":"*"}}"#,
    );
    let s3_policy = portcullis_bench_encode(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bench-bucket/*"}}"#,
    );
    for body in [
        "Action=CreateUser&Version=2010-05-08&UserName=bench-service".to_owned(),
        format!(
            "Action=PutUserPolicy&Version=2010-05-08&UserName=bench-service&PolicyName=p&PolicyDocument={authorize_policy}"
        ),
        format!(
            "Action=PutUserPolicy&Version=2010-05-08&UserName=bench&PolicyName=s3&PolicyDocument={s3_policy}"
        ),
    ] {
        let (status, text) = send(&client, root.request(&body)).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&text));
    }
    let (status, text) = send(
        &client,
        root.request("Action=CreateAccessKey&Version=2010-05-08&UserName=bench-service"),
    )
    .await;
    assert_eq!(status, 200);
    let text = String::from_utf8_lossy(&text).into_owned();
    let service = Signer::long_term(
        field(&text, "AccessKeyId"),
        field(&text, "SecretAccessKey"),
        "portcullis",
        addr,
    );
    let authorize_body = Arc::new(authorize_input(&bench));
    let (parts, _) = service
        .request_to("/v1/authorize", "application/json", &authorize_body)
        .into_parts();
    let authorize_headers = Arc::new(parts.headers);
    let latencies = Arc::new(std::sync::Mutex::new(Vec::<Duration>::new()));
    let authorize = {
        let (client, latencies) = (client.clone(), latencies.clone());
        move |_c: usize, _i: u64| {
            let (client, headers, body, latencies) = (
                client.clone(),
                authorize_headers.clone(),
                authorize_body.clone(),
                latencies.clone(),
            );
            async move {
                let mut request = hyper::Request::post(format!("http://{addr}/v1/authorize"))
                    .body(Full::new(Bytes::from((*body).clone())))
                    .expect("request");
                *request.headers_mut() = (*headers).clone();
                let t = Instant::now();
                let (status, text) = send(&client, request).await;
                let took = t.elapsed();
                assert_eq!(status, 200, "{}", String::from_utf8_lossy(&text));
                let allowed = br#""decision":"Allow""#;
                assert!(text.windows(allowed.len()).any(|w| w == allowed));
                if let Ok(mut all) = latencies.lock() {
                    all.push(took);
                }
                1
            }
        }
    };
    let (authorize_rps, authorize_n) = load(seconds, authorize).await;
    let (p50, p99) = {
        let mut all = latencies.lock().map(|l| l.clone()).unwrap_or_default();
        all.sort();
        let at = |q: f64| {
            all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        (at(0.50), at(0.99))
    };

    // AssumeRole, each request signed afresh (a new session name each time).
    let assume_role = {
        let (client, bench_sts) = (client.clone(), bench_sts.clone());
        move |c: usize, i: u64| {
            let (client, bench_sts, role_arn) =
                (client.clone(), bench_sts.clone(), role_arn.clone());
            async move {
                let (status, _) = send(
                    &client,
                    bench_sts.request(&format!(
                        "Action=AssumeRole&Version=2011-06-15&RoleArn={role_arn}&RoleSessionName=s{c}-{i}"
                    )),
                )
                .await;
                assert_eq!(status, 200);
                1
            }
        }
    };
    let (assume_rps, assume_n) = load(seconds, assume_role).await;

    let create_delete = {
        let (client, bench) = (client.clone(), bench.clone());
        move |c: usize, i: u64| {
            let (client, bench) = (client.clone(), bench.clone());
            async move {
                let name = format!("tmp-{c}-{i}");
                let (s1, _) = send(
                    &client,
                    bench.request(&format!(
                        "Action=CreateUser&Version=2010-05-08&UserName={name}"
                    )),
                )
                .await;
                let (s2, _) = send(
                    &client,
                    bench.request(&format!(
                        "Action=DeleteUser&Version=2010-05-08&UserName={name}"
                    )),
                )
                .await;
                assert_eq!((s1, s2), (200, 200));
                1
            }
        }
    };
    let (cd_rps, cd_n) = load(seconds, create_delete).await;

    let bare = {
        let (client, headers) = (client.clone(), headers.clone());
        move |_c: usize, _i: u64| {
            let (client, headers) = (client.clone(), headers.clone());
            async move {
                let mut request = hyper::Request::post(format!("http://{bare_addr}/"))
                    .body(Full::new(Bytes::from_static(get_body.as_bytes())))
                    .expect("request");
                *request.headers_mut() = (*headers).clone();
                let (status, _) = send(&client, request).await;
                assert_eq!(status, 200);
                1
            }
        }
    };
    let (bare_rps, bare_n) = load(seconds, bare).await;

    // The measured runs, in order (the population is not one: it uses its own loop).
    let rows = [
        ("GetUser, authorized (portcullis)", get_rps, get_n),
        (
            "GetUser, temporary credentials (portcullis)",
            session_rps,
            session_n,
        ),
        (
            "POST /v1/authorize, 1 pair (portcullis)",
            authorize_rps,
            authorize_n,
        ),
        (
            "AssumeRole, freshly signed (portcullis)",
            assume_rps,
            assume_n,
        ),
        ("CreateUser+DeleteUser pairs (portcullis)", cd_rps, cd_n),
        ("GetUser floor (bare axum, fixed body)", bare_rps, bare_n),
    ];
    println!(
        "\n{:<44} {:>12} {:>10} {:>14}",
        "workload (10,000 users, 16 connections)", "requests/s", "requests", "server CPU µs"
    );
    for (i, (name, rps, n)) in rows.iter().enumerate() {
        let latency = if i == 2 {
            format!(
                "   p50 {:.2} ms, p99 {:.2} ms",
                p50.as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3
            )
        } else {
            String::new()
        };
        println!(
            "{name:<44} {rps:>12.0} {n:>10} {:>14.1}{latency}",
            cpu_of(i)
        );
    }
    println!(
        "\nportcullis GetUser runs at {:.0}% of the bare-axum floor",
        100.0 * get_rps / bare_rps
    );
    println!(
        "GetUser with temporary credentials runs at {:.0}% of the same request with a long-term key",
        100.0 * session_rps / get_rps
    );
}

/// The authorization API's input: one `s3:GetObject` of a GET `signer` signed for `s3`.
fn authorize_input(signer: &Signer) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let path = "/bench-bucket/report.txt";
    let unsigned = SignRequest::new("GET", path, "").header("host", "objects.example.com");
    let mut params = SigningParams::new(&signer.key, &signer.secret, "us-east-1", "s3", now);
    params.content_sha256_header = true;
    let mut headers = vec![("host".to_owned(), "objects.example.com".to_owned())];
    headers.extend(
        sign(&unsigned, &params)
            .expect("signing a well-formed request")
            .into_iter()
            .map(|(n, v)| (n.to_owned(), v)),
    );
    serde_json::json!({
        "signingName": "s3",
        "request": {"method": "GET", "path": path, "headers": headers, "sourceIp": "203.0.113.7"},
        "authorizations": [{"action": "s3:GetObject", "resource": "arn:aws:s3:::bench-bucket/report.txt"}],
    })
    .to_string()
}

/// The text of the first `<name>` element of an XML answer.
fn field(text: &str, name: &str) -> String {
    let open = format!("<{name}>");
    let start = text.find(&open).expect("field") + open.len();
    let end = text[start..].find(&format!("</{name}>")).expect("end") + start;
    text[start..end].to_owned()
}

/// Form-encodes a parameter value.
fn portcullis_bench_encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
