//! Forward auth end to end: a real nginx (`auth_request`) in front of a real upstream, asking
//! Portcullis about requests that `curl --aws-sigv4` and botocore's `SigV4Auth` sign; and the
//! endpoint called directly as Traefik's `forwardAuth` and Envoy's `ext_authz` call it.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::any;
use common::{ACCOUNT, TestServer, exchange};
use portcullis_sigv4::{Request as SignRequest, SigningParams, sign};

const ROUTES: &str = r#"
[[route]]
methods = ["GET", "HEAD"]
path = "/items/{id}"
action = "execute-api:Invoke"
resource = "arn:aws:execute-api:us-east-1:111122223333:catalog/GET/items/{id}"
signing_name = "execute-api"

[[route]]
path = "/buckets/{bucket}/{key+}"
action = "s3:GetObject"
resource = "arn:aws:s3:::{bucket}/{key}"
signing_name = "s3"
"#;

const INVOKE_ITEMS: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:us-east-1:111122223333:catalog/GET/items/*"}}"#;

async fn portcullis(trusted: bool) -> TestServer {
    TestServer::start_configured(|c| {
        c.routes = Some(portcullis_server::routes::Routes::parse(ROUTES).expect("routes"));
        if trusted {
            c.trusted_proxies =
                vec![portcullis_server::parse_trusted_proxy("127.0.0.1").expect("cidr")];
        }
    })
    .await
}

/// A direct call of the endpoint, signed by the client as the proxy forwards it: the client's
/// headers (signed for `host` = `original_host`) plus the proxy's `extra` headers.
async fn ask(
    server: &TestServer,
    target: &str,
    original: (&str, &str, &str),
    signer: Option<(&str, &str)>,
    extra: &[(&str, &str)],
) -> (u16, String, String) {
    let (method, host, path) = original;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some((key, secret)) = signer {
        let unsigned = SignRequest::new(method, path, "").header("host", host);
        let params = SigningParams::new(key, secret, "us-east-1", "execute-api", now);
        headers.extend(
            sign(&unsigned, &params)
                .expect("sign")
                .into_iter()
                .map(|(n, v)| (n.to_owned(), v)),
        );
    }
    let addr = server
        .server
        .as_ref()
        .expect("running")
        .local_addr
        .to_string();
    let mut wire = format!("GET {target} HTTP/1.1\r\nhost: {host}\r\n").into_bytes();
    for (name, value) in headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .chain(extra.iter().copied())
    {
        wire.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    wire.extend_from_slice(b"connection: close\r\n\r\n");
    exchange(&addr, &wire).await
}

#[tokio::test]
async fn traefik_and_envoy_style_calls_are_decided_by_the_route_file() {
    let server = portcullis(true).await;
    let (key, secret) = server.user_keys("alice", Some(INVOKE_ITEMS)).await;
    let (bob_key, bob_secret) = server.user_keys("bob", None).await;
    let host = "api.example.com";
    // Traefik: X-Forwarded-* name the request.
    let traefik = [
        ("x-forwarded-method", "GET"),
        ("x-forwarded-uri", "/items/42"),
        ("x-forwarded-host", host),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-for", "203.0.113.7"),
    ];
    let (status, head, body) = ask(
        &server,
        "/v1/forward-auth",
        ("GET", host, "/items/42"),
        Some((&key, &secret)),
        &traefik,
    )
    .await;
    assert_eq!(status, 200, "{head}\n{body}");
    let head = head.to_ascii_lowercase();
    assert!(
        head.contains(&format!(
            "x-portcullis-principal-arn: arn:aws:iam::{ACCOUNT}:user/alice"
        )),
        "{head}"
    );
    assert!(head.contains("x-portcullis-principal-type: user"), "{head}");
    assert!(
        head.contains("x-portcullis-action: execute-api:invoke"),
        "{head}"
    );
    // bob: AccessDenied with AWS's text and the encoded explanation.
    let (status, _, body) = ask(
        &server,
        "/v1/forward-auth",
        ("GET", host, "/items/42"),
        Some((&bob_key, &bob_secret)),
        &traefik,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
    assert!(body.contains(&format!("User: arn:aws:iam::{ACCOUNT}:user/bob is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:111122223333:catalog/GET/items/42")), "{body}");
    assert!(
        body.contains("Encoded authorization failure message"),
        "{body}"
    );
    // A wrong secret: 401 with the client's error.
    let (status, _, body) = ask(
        &server,
        "/v1/forward-auth",
        ("GET", host, "/items/42"),
        Some((&key, "wrong-secret-000000000000000000000000000")),
        &traefik,
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body.contains("<Code>SignatureDoesNotMatch</Code>"),
        "{body}"
    );
    // Unsigned: anonymous, whom nothing allows.
    let (status, _, body) = ask(
        &server,
        "/v1/forward-auth",
        ("GET", host, "/items/42"),
        None,
        &traefik,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    // A request no route names, and a method the route leaves out.
    let unrouted = [
        ("x-forwarded-method", "GET"),
        ("x-forwarded-uri", "/admin"),
        ("x-forwarded-host", host),
    ];
    let (status, _, body) = ask(
        &server,
        "/v1/forward-auth",
        ("GET", host, "/admin"),
        Some((&key, &secret)),
        &unrouted,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("No route"), "{body}");
    // Envoy: the original path after the prefix, the original method and host on the request.
    let (status, head, body) = ask(
        &server,
        "/v1/forward-auth/items/42",
        ("GET", host, "/items/42"),
        Some((&key, &secret)),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{head}\n{body}");
    let (status, _, _) = ask(
        &server,
        "/v1/forward-auth/items/7",
        ("GET", host, "/items/42"),
        Some((&key, &secret)),
        &[],
    )
    .await;
    assert_eq!(status, 401, "signed for /items/42, asked about /items/7");
}

#[tokio::test]
async fn only_trusted_proxies_are_answered() {
    let server = portcullis(false).await;
    let (key, secret) = server.user_keys("alice", Some(INVOKE_ITEMS)).await;
    let forged = [
        ("x-forwarded-uri", "/items/42"),
        ("x-forwarded-host", "api.example.com"),
    ];
    let (status, _, body) = ask(
        &server,
        "/v1/forward-auth",
        ("GET", "api.example.com", "/items/42"),
        Some((&key, &secret)),
        &forged,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("trusted proxies"), "{body}");
}

/// An upstream that says who the proxy told it the caller is.
async fn upstream() -> SocketAddr {
    let app = Router::new().fallback(any(|headers: HeaderMap| async move {
        let who = headers
            .get("x-portcullis-principal-arn")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("nobody")
            .to_owned();
        format!("upstream saw {who}")
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

struct Nginx {
    child: Child,
    port: u16,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The documented nginx configuration (README), on private paths.
fn start_nginx(dir: &Path, portcullis: &str, upstream: SocketAddr) -> Option<Nginx> {
    let binary = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists())?;
    let port = free_port();
    let d = dir.display();
    let conf = format!(
        r#"daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location / {{
      auth_request /_portcullis;
      auth_request_set $portcullis_principal $upstream_http_x_portcullis_principal_arn;
      proxy_set_header X-Portcullis-Principal-Arn $portcullis_principal;
      proxy_pass http://{upstream};
    }}
    location = /_portcullis {{
      internal;
      proxy_pass {portcullis}/v1/forward-auth;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Original-Method $request_method;
    }}
  }}
}}
"#
    );
    std::fs::write(dir.join("nginx.conf"), conf).expect("write conf");
    let mut child = Command::new(binary)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-e")
        .arg(dir.join("error.log"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("nginx starts");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(Nginx { child, port });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!(
        "nginx did not listen: {}",
        std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
    );
}

fn run(command: &mut Command) -> (bool, String) {
    let out = tokio::task::block_in_place(|| command.output()).expect("runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_auth_request_lets_signed_clients_through_and_stops_the_rest() {
    let server = portcullis(true).await;
    let upstream = upstream().await;
    let dir = tempfile::tempdir().expect("dir");
    let Some(nginx) = start_nginx(dir.path(), &server.endpoint(), upstream) else {
        // .ci/run installs nginx (and sets PORTCULLIS_REQUIRE_CLIENTS, so CI never skips).
        let reason = "nginx is not installed (apt-get install nginx-light)";
        assert!(
            std::env::var_os("PORTCULLIS_REQUIRE_CLIENTS").is_none(),
            "{reason}"
        );
        eprintln!("SKIPPED: {reason}");
        return;
    };
    let (key, secret) = server.user_keys("alice", Some(INVOKE_ITEMS)).await;
    let (bob_key, bob_secret) = server.user_keys("bob", None).await;
    let url = format!("http://127.0.0.1:{}/items/42", nginx.port);

    // curl --aws-sigv4, as people sign by hand.
    let curl = |key: &str, secret: &str| {
        let mut c = Command::new("curl");
        c.args([
            "-s",
            "-w",
            "\n%{http_code}",
            "--aws-sigv4",
            "aws:amz:us-east-1:execute-api",
            "--user",
        ])
        .arg(format!("{key}:{secret}"))
        .arg(&url);
        c
    };
    let (ok, out) = run(&mut curl(&key, &secret));
    assert!(ok, "{out}");
    assert!(out.ends_with("\n200"), "{out}");
    assert!(
        out.starts_with(&format!("upstream saw arn:aws:iam::{ACCOUNT}:user/alice")),
        "{out}"
    );
    let (_, out) = run(&mut curl(&bob_key, &bob_secret));
    assert!(out.ends_with("\n403"), "{out}");
    let (_, out) = run(&mut curl(&key, "wrong-secret-000000000000000000000000000"));
    assert!(out.ends_with("\n401"), "{out}");
    let (_, out) = run(Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}"])
        .arg(&url));
    assert!(out.ends_with("\n403"), "unsigned: {out}");

    // botocore's SigV4Auth, with a role session's temporary credentials too.
    let script = r#"
import sys, urllib.request, urllib.error
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
url, key, secret = sys.argv[1:4]
token = sys.argv[4] if len(sys.argv) > 4 else None
request = AWSRequest(method="GET", url=url)
SigV4Auth(Credentials(key, secret, token), "execute-api", "us-east-1").add_auth(request)
try:
    with urllib.request.urlopen(urllib.request.Request(url, headers=dict(request.headers))) as r:
        print(r.status, r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code)
"#;
    let botocore = |args: &[&str]| {
        let mut c = Command::new("python3");
        c.arg("-c")
            .arg(script)
            .arg(&url)
            .args(args)
            .env_remove("AWS_CA_BUNDLE");
        c
    };
    let (ok, out) = run(&mut botocore(&[&key, &secret]));
    assert!(ok, "{out}");
    assert_eq!(
        out.trim(),
        format!("200 upstream saw arn:aws:iam::{ACCOUNT}:user/alice")
    );
    let (_, out) = run(&mut botocore(&[&bob_key, &bob_secret]));
    assert_eq!(out.trim(), "403");

    let root = server.root();
    root.create_role()
        .role_name("reader")
        .assume_role_policy_document(format!(r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"sts:AssumeRole"}}}}"#))
        .send()
        .await
        .expect("role");
    root.put_role_policy()
        .role_name("reader")
        .policy_name("p")
        .policy_document(INVOKE_ITEMS)
        .send()
        .await
        .expect("policy");
    let (a_key, a_secret) = server
        .user_keys(
            "assumer",
            Some(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}}"#),
        )
        .await;
    let assumed = server
        .sts(&a_key, &a_secret, None)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/reader"))
        .role_session_name("nightly")
        .send()
        .await
        .expect("assume");
    let c = assumed.credentials().expect("credentials");
    let (ok, out) = run(&mut botocore(&[
        c.access_key_id(),
        c.secret_access_key(),
        c.session_token(),
    ]));
    assert!(ok, "{out}");
    assert_eq!(
        out.trim(),
        format!("200 upstream saw arn:aws:sts::{ACCOUNT}:assumed-role/reader/nightly")
    );
}
