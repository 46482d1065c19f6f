//! A real Portcullis server on 127.0.0.1 with a temporary data directory, and AWS SDK clients
//! for it.

#![allow(dead_code)]

use std::path::PathBuf;

use aws_credential_types::Credentials;
use aws_sdk_iam::config::{BehaviorVersion, Region};
use portcullis_server::{Limits, RunningServer, ServerConfig, start};

pub const ACCOUNT: &str = "111122223333";
pub const ROOT_KEY: &str = "AKIAROOTEXAMPLE00001";
pub const ROOT_SECRET: &str = "rootSecretKeyForTests0000000000000000000";

pub struct TestServer {
    pub server: Option<RunningServer>,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(Limits::default()).await
    }

    pub async fn start_with(limits: Limits) -> TestServer {
        TestServer::start_configured(|c| c.limits = limits).await
    }

    /// A server whose configuration `configure` changes from the tests' default.
    pub async fn start_configured(configure: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = test_config(dir.path());
        configure(&mut config);
        let server = start(config).await.expect("server starts");
        TestServer {
            server: Some(server),
            dir,
        }
    }

    pub fn endpoint(&self) -> String {
        let addr = self.server.as_ref().expect("running").local_addr;
        format!("http://{addr}")
    }

    pub fn root(&self) -> aws_sdk_iam::Client {
        self.iam(ROOT_KEY, ROOT_SECRET)
    }

    pub fn iam(&self, key: &str, secret: &str) -> aws_sdk_iam::Client {
        let config = aws_sdk_iam::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(key, secret, None, None, "test"))
            .build();
        aws_sdk_iam::Client::from_conf(config)
    }

    /// An IAM client with temporary credentials.
    pub fn iam_session(&self, key: &str, secret: &str, token: &str) -> aws_sdk_iam::Client {
        let config = aws_sdk_iam::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(
                key,
                secret,
                Some(token.to_owned()),
                None,
                "test",
            ))
            .build();
        aws_sdk_iam::Client::from_conf(config)
    }

    /// An STS client (temporary credentials when `token` is given).
    pub fn sts(&self, key: &str, secret: &str, token: Option<&str>) -> aws_sdk_sts::Client {
        let config = aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(aws_sdk_sts::config::Region::new("us-east-1"))
            .credentials_provider(Credentials::new(
                key,
                secret,
                token.map(str::to_owned),
                None,
                "test",
            ))
            .build();
        aws_sdk_sts::Client::from_conf(config)
    }

    /// Stops the server and starts a new one on the same data directory.
    pub async fn restart(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
        self.server = Some(start_in(self.dir.path().to_path_buf(), Limits::default()).await);
    }

    /// Fails unless `secret` appears in no file of the data directory (database, WAL, keys).
    pub fn assert_not_stored(&self, secret: &str) {
        for file in std::fs::read_dir(self.dir.path()).expect("data dir") {
            let path = file.expect("entry").path();
            if !path.is_file() {
                continue;
            }
            let bytes = std::fs::read(&path).expect("read");
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "a secret is stored in the clear in {}",
                path.display()
            );
        }
    }

    /// A user with an access key and the given inline policy; returns its IAM client.
    pub async fn user_with_policy(&self, name: &str, policy: Option<&str>) -> aws_sdk_iam::Client {
        let (key, secret) = self.user_keys(name, policy).await;
        self.iam(&key, &secret)
    }

    /// A user with an access key and the given inline policy (named `inline`); returns the
    /// key's (id, secret).
    pub async fn user_keys(&self, name: &str, policy: Option<&str>) -> (String, String) {
        user_keys_with(&self.root(), name, policy).await
    }
}

/// A user made by `iam` (any account's administrator) with an access key and the given
/// inline policy (named `inline`); returns the key's (id, secret).
pub async fn user_keys_with(
    iam: &aws_sdk_iam::Client,
    name: &str,
    policy: Option<&str>,
) -> (String, String) {
    iam.create_user()
        .user_name(name)
        .send()
        .await
        .expect("create user");
    if let Some(doc) = policy {
        iam.put_user_policy()
            .user_name(name)
            .policy_name("inline")
            .policy_document(doc)
            .send()
            .await
            .expect("put user policy");
    }
    let key = iam
        .create_access_key()
        .user_name(name)
        .send()
        .await
        .expect("create access key");
    let key = key.access_key().expect("access key");
    (
        key.access_key_id().to_owned(),
        key.secret_access_key().to_owned(),
    )
}

async fn start_in(dir: PathBuf, limits: Limits) -> RunningServer {
    let mut config = test_config(&dir);
    config.limits = limits;
    start(config).await.expect("server starts")
}

/// The AWS error code and HTTP status of a failed SDK call.
pub fn error_code<E, R>(
    result: Result<R, aws_sdk_iam::error::SdkError<E, aws_sdk_iam::config::http::HttpResponse>>,
) -> (String, u16)
where
    E: aws_sdk_iam::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match result {
        Ok(r) => panic!("expected an error, got {r:?}"),
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
            let code = aws_sdk_iam::error::ProvideErrorMetadata::code(&e)
                .unwrap_or("(none)")
                .to_owned();
            (code, status)
        }
    }
}

/// The AWS error message of a failed SDK call (empty for a success or no message).
pub fn error_message<E, R>(
    result: &Result<R, aws_sdk_iam::error::SdkError<E, aws_sdk_iam::config::http::HttpResponse>>,
) -> String
where
    E: aws_sdk_iam::error::ProvideErrorMetadata,
{
    result
        .as_ref()
        .err()
        .and_then(aws_sdk_iam::error::ProvideErrorMetadata::message)
        .unwrap_or_default()
        .to_owned()
}

/// The configuration tests start with: 127.0.0.1, an ephemeral port, the test account and root
/// credentials, plain HTTP, no trusted proxies.
pub fn test_config(dir: &std::path::Path) -> ServerConfig {
    ServerConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        data_dir: dir.to_path_buf(),
        store: test_store(dir),
        account_id: Some(ACCOUNT.to_owned()),
        root_credentials: Some((ROOT_KEY.to_owned(), ROOT_SECRET.to_owned())),
        master_key_file: None,
        limits: Limits::default(),
        tls: None,
        trusted_proxies: Vec::new(),
        routes: None,
        audit: Some(portcullis_server::AuditSettings::default()),
        metrics_listen: None,
        regions: Vec::new(),
    }
}

/// The store of a test server whose data directory is `dir`: the embedded one, or with
/// `PORTCULLIS_TEST_STORE=postgres` a database of its own (named after `dir`, so a restarted
/// server finds its data) on the tests' private PostgreSQL: the whole suite runs on either.
pub fn test_store(dir: &std::path::Path) -> portcullis_server::StoreLocation {
    match std::env::var("PORTCULLIS_TEST_STORE").as_deref() {
        Ok("postgres") => portcullis_server::StoreLocation::Postgres(
            portcullis_postgres::testing::database_for(&dir.display().to_string())
                .expect("a PostgreSQL server for tests"),
        ),
        _ => portcullis_server::StoreLocation::Embedded,
    }
}

/// Whether the suite runs on PostgreSQL (a test that opens the embedded database's file
/// itself has nothing to open then).
pub fn on_postgres() -> bool {
    std::env::var("PORTCULLIS_TEST_STORE").as_deref() == Ok("postgres")
}

/// An IAM client of `endpoint` (any server, not only a [`TestServer`]).
pub fn iam_at(endpoint: &str, key: &str, secret: &str) -> aws_sdk_iam::Client {
    let config = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(key, secret, None, None, "test"))
        .build();
    aws_sdk_iam::Client::from_conf(config)
}

/// The current 30-second TOTP time step.
pub fn now_step() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
        / 30
}

// ---- Raw requests: hostile input, signed or not, and the state digest ----
//
// `TestServer::send_raw` sends any Query request (repeated parameters, huge values, odd
// encodings, raw bytes) over a plain TCP connection, authenticated as `RawAuth` says: not at
// all, signed by portcullis-sigv4's signer (an `Authorization` header, or a presigned URL) for
// any credential scope and time, or signed and then spoiled. It answers a `RawAnswer`: the
// status and the `<Code>`/`<Message>` of the XML error. `TestServer::digest` proves a refused
// request changed nothing.

/// Who signs a raw request, for which scope and time, and how.
#[derive(Debug, Clone)]
pub struct RawSigner {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    pub region: String,
    pub service: String,
    /// The signing time, unix seconds.
    pub time: i64,
    /// Presign (query authentication) valid for this many seconds instead of a header.
    pub presign_expires: Option<u32>,
    /// Send (and sign) `x-amz-content-sha256`.
    pub content_sha256_header: bool,
    /// Sign `UNSIGNED-PAYLOAD` instead of the body's hash.
    pub unsigned_payload: bool,
    /// Sign as if the body were this one (and send the request's own): a body changed in
    /// transit.
    pub signed_body: Option<Vec<u8>>,
}

impl RawSigner {
    /// These credentials, for `iam` in `us-east-1`, now, with an `Authorization` header.
    pub fn new(access_key_id: &str, secret_access_key: &str) -> RawSigner {
        RawSigner {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
            session_token: None,
            region: "us-east-1".to_owned(),
            service: "iam".to_owned(),
            time: time::OffsetDateTime::now_utc().unix_timestamp(),
            presign_expires: None,
            content_sha256_header: false,
            unsigned_payload: false,
            signed_body: None,
        }
    }

    /// The account's root user.
    pub fn root() -> RawSigner {
        RawSigner::new(ROOT_KEY, ROOT_SECRET)
    }

    pub fn service(mut self, service: &str) -> RawSigner {
        self.service = service.to_owned();
        self
    }

    pub fn region(mut self, region: &str) -> RawSigner {
        self.region = region.to_owned();
        self
    }

    /// Signs as of `seconds` from now (negative: in the past).
    pub fn shifted(mut self, seconds: i64) -> RawSigner {
        self.time += seconds;
        self
    }

    pub fn token(mut self, token: &str) -> RawSigner {
        self.session_token = Some(token.to_owned());
        self
    }

    pub fn presigned(mut self, expires_in: u32) -> RawSigner {
        self.presign_expires = Some(expires_in);
        self
    }

    pub fn content_sha256(mut self) -> RawSigner {
        self.content_sha256_header = true;
        self
    }

    pub fn unsigned_payload(mut self) -> RawSigner {
        self.unsigned_payload = true;
        self
    }

    pub fn signing_body(mut self, body: &[u8]) -> RawSigner {
        self.signed_body = Some(body.to_vec());
        self
    }
}

/// How a raw request is authenticated.
#[derive(Debug, Clone)]
pub enum RawAuth {
    /// Not at all (headers of the request's own, such as a forged `Authorization`, stay).
    Unsigned,
    /// Signed correctly.
    Signed(RawSigner),
    /// Signed, then the signature's last hex digit changed.
    BadSignature(RawSigner),
}

/// A raw Query request: method, query string and body exactly as sent.
#[derive(Debug, Clone)]
pub struct RawRequest {
    pub method: &'static str,
    /// The raw query string (without `?`), sent as is.
    pub query: String,
    /// The raw body (a form for POST), sent as is.
    pub body: Vec<u8>,
    /// Extra headers, sent (and signed) as given; `host` and, for a body, `content-type` are
    /// added.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl RawRequest {
    /// A form POST of `body`.
    pub fn post(body: impl Into<Vec<u8>>) -> RawRequest {
        RawRequest {
            method: "POST",
            query: String::new(),
            body: body.into(),
            headers: Vec::new(),
        }
    }

    /// A GET of `/?{query}`.
    pub fn get(query: impl Into<String>) -> RawRequest {
        RawRequest {
            method: "GET",
            query: query.into(),
            body: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// With a query string too (a POST's parameters in its URL).
    pub fn with_query(mut self, query: impl Into<String>) -> RawRequest {
        self.query = query.into();
        self
    }

    pub fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> RawRequest {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

/// `pairs` form-encoded in order (a name may repeat).
pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        out.append_pair(k, v);
    }
    out.finish()
}

/// The answer to a raw request.
#[derive(Debug, Clone)]
pub struct RawAnswer {
    pub status: u16,
    /// `<Code>` of the error (empty on success).
    pub code: String,
    /// `<Message>` of the error, unescaped (empty on success).
    pub message: String,
    /// The whole response body.
    pub body: String,
}

impl RawAnswer {
    /// Whether the body has only characters XML 1.0 allows (what an SDK can parse).
    pub fn is_xml_text(&self) -> bool {
        self.body.chars().all(|c| {
            matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
        })
    }
}

fn element<'a>(body: &'a str, name: &str) -> &'a str {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    body.find(&open)
        .map(|i| &body[i + open.len()..])
        .and_then(|rest| rest.find(&close).map(|j| &rest[..j]))
        .unwrap_or_default()
}

impl TestServer {
    /// The digest of everything the server holds (usage timestamps left out).
    pub fn digest(&self) -> String {
        self.server.as_ref().expect("running").state_digest()
    }

    /// An IAM Query request signed by root: `pairs` form-encoded in a POST body, with
    /// `Version=2010-05-08` first unless `pairs` has a `Version`.
    pub async fn root_query(&self, pairs: &[(&str, &str)]) -> RawAnswer {
        let request = RawRequest::post(versioned_form(pairs, "2010-05-08"));
        self.send_raw(&request, &RawAuth::Signed(RawSigner::root()))
            .await
    }

    /// Sends `request` authenticated as `auth` on a fresh connection; see [`RawAnswer`].
    pub async fn send_raw(&self, request: &RawRequest, auth: &RawAuth) -> RawAnswer {
        use portcullis_sigv4::{Request, SigningParams};
        let host = self
            .server
            .as_ref()
            .expect("running")
            .local_addr
            .to_string();
        let mut headers: Vec<(String, Vec<u8>)> = vec![("host".into(), host.clone().into())];
        if !request.body.is_empty() || request.method == "POST" {
            headers.push((
                "content-type".into(),
                b"application/x-www-form-urlencoded".to_vec(),
            ));
        }
        headers.extend(request.headers.iter().cloned());
        let mut query = request.query.clone();
        if let RawAuth::Signed(signer) | RawAuth::BadSignature(signer) = auth {
            let signed_body = signer.signed_body.as_deref().unwrap_or(&request.body);
            let mut unsigned = Request::new(request.method, "/", &request.query).body(signed_body);
            for (name, value) in &headers {
                unsigned.push_header(name, value);
            }
            let mut params = SigningParams::new(
                &signer.access_key_id,
                &signer.secret_access_key,
                &signer.region,
                &signer.service,
                signer.time,
            );
            params.session_token = signer.session_token.as_deref();
            params.content_sha256_header = signer.content_sha256_header;
            if signer.unsigned_payload {
                params.payload = portcullis_sigv4::PayloadSigning::Unsigned;
            }
            let spoil = matches!(auth, RawAuth::BadSignature(_));
            match signer.presign_expires {
                Some(expires) => {
                    query =
                        portcullis_sigv4::presign(&unsigned, &params, expires).expect("presign");
                    if spoil {
                        flip_last_hex(&mut query);
                    }
                }
                None => {
                    for (name, value) in portcullis_sigv4::sign(&unsigned, &params).expect("sign") {
                        let mut value = value;
                        if spoil && name == "authorization" {
                            flip_last_hex(&mut value);
                        }
                        headers.push((name.to_owned(), value.into_bytes()));
                    }
                }
            }
        }
        let target = if query.is_empty() {
            "/".to_owned()
        } else {
            format!("/?{query}")
        };
        let mut wire = format!("{} {target} HTTP/1.1\r\n", request.method).into_bytes();
        for (name, value) in &headers {
            wire.extend_from_slice(name.as_bytes());
            wire.extend_from_slice(b": ");
            wire.extend_from_slice(value);
            wire.extend_from_slice(b"\r\n");
        }
        wire.extend_from_slice(
            format!(
                "content-length: {}\r\nconnection: close\r\n\r\n",
                request.body.len()
            )
            .as_bytes(),
        );
        wire.extend_from_slice(&request.body);
        let body = send_bytes(&host, &wire).await;
        let status = body
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let code = element(&body, "Code").to_owned();
        let message = quick_xml::escape::unescape(element(&body, "Message"))
            .map(|m| m.into_owned())
            .unwrap_or_else(|_| element(&body, "Message").to_owned());
        RawAnswer {
            status,
            code,
            message,
            body,
        }
    }
}

/// `pairs` form-encoded, `Version` first when `pairs` has none.
pub fn versioned_form(pairs: &[(&str, &str)], version: &str) -> String {
    if pairs.iter().any(|(k, _)| *k == "Version") {
        form(pairs)
    } else {
        let mut all = vec![("Version", version)];
        all.extend_from_slice(pairs);
        form(&all)
    }
}

/// Changes the last hex digit of a signature (the text ends with it).
fn flip_last_hex(text: &mut String) {
    if let Some(last) = text.pop() {
        text.push(if last == '0' { '1' } else { '0' });
    }
}

/// Writes `wire` to `addr` and reads the whole response (the connection closes after it).
async fn send_bytes(addr: &str, wire: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    // The server may answer (and close) before reading a refused body: read whatever came.
    let _ = stream.write_all(wire).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    String::from_utf8_lossy(&response).into_owned()
}

/// A new test CA and a certificate it signed for 127.0.0.1 and localhost, written as PEM files
/// `<name>.crt` (leaf, then CA) and `<name>.key` in `dir`; and the CA's PEM.
pub fn tls_files(dir: &std::path::Path, name: &str) -> (portcullis_server::TlsFiles, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "portcullis test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let ca = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let files = portcullis_server::TlsFiles {
        cert: dir.join(format!("{name}.crt")),
        key: dir.join(format!("{name}.key")),
    };
    std::fs::write(&files.cert, format!("{}{}", leaf.pem(), ca_cert.pem())).unwrap();
    std::fs::write(&files.key, leaf_key.serialize_pem()).unwrap();
    (files, ca_cert.pem())
}

/// POSTs JSON `body` to `path` of `server`, signed for Portcullis's own APIs (signing name
/// `portcullis`) with `key`/`secret` (and `token`); the status and the JSON answer.
pub async fn post_portcullis_json(
    server: &TestServer,
    path: &str,
    signer: (&str, &str, Option<&str>),
    body: &[u8],
) -> (u16, serde_json::Value) {
    let (status, _, json) = post_json(server, path, Some(signer), body).await;
    (status, json)
}

/// POSTs JSON `body` to `path`, signed for `portcullis` when `signer` is given; the status,
/// the response head and the JSON answer (`Null` when the body is not JSON).
pub async fn post_json(
    server: &TestServer,
    path: &str,
    signer: Option<(&str, &str, Option<&str>)>,
    body: &[u8],
) -> (u16, String, serde_json::Value) {
    use portcullis_sigv4::{Request, SigningParams, sign};
    let host = server
        .server
        .as_ref()
        .expect("running")
        .local_addr
        .to_string();
    let mut headers = vec![
        ("host".to_owned(), host.clone()),
        ("content-type".to_owned(), "application/json".to_owned()),
    ];
    if let Some((key, secret, token)) = signer {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut unsigned = Request::new("POST", path, "").body(body);
        for (name, value) in &headers {
            unsigned.push_header(name, value.as_bytes());
        }
        let mut params = SigningParams::new(key, secret, "us-east-1", "portcullis", now);
        params.session_token = token;
        let added = sign(&unsigned, &params).expect("sign");
        headers.extend(added.into_iter().map(|(n, v)| (n.to_owned(), v)));
    }
    let mut wire = format!("POST {path} HTTP/1.1\r\n").into_bytes();
    for (name, value) in &headers {
        wire.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    wire.extend_from_slice(
        format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    wire.extend_from_slice(body);
    let (status, head, rest) = exchange(&host, &wire).await;
    let json = serde_json::from_str(&rest).unwrap_or(serde_json::Value::Null);
    (status, head, json)
}

/// Writes `wire` (a whole HTTP/1.1 request with `connection: close`) to `addr` and reads the
/// answer: its status, head and body.
pub async fn exchange(addr: &str, wire: &[u8]) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(wire).await.expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (status, head.to_owned(), rest.to_owned())
}

/// Runs the Python `script` with boto3 (environment: `ENDPOINT`, `KEY`, `SECRET` plus `env`)
/// and returns its standard output; `None` when boto3 is missing and
/// `PORTCULLIS_REQUIRE_CLIENTS` is not set (the test then skips that part).
pub fn boto3(
    script: &str,
    endpoint: &str,
    (key, secret): (&str, &str),
    env: &[(&str, &str)],
) -> Option<String> {
    let have = std::process::Command::new("python3")
        .args(["-c", "import boto3"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        let reason = "boto3 is needed";
        assert!(
            std::env::var_os("PORTCULLIS_REQUIRE_CLIENTS").is_none(),
            "{reason}"
        );
        eprintln!("SKIPPED: {reason}");
        return None;
    }
    let mut command = std::process::Command::new("python3");
    command
        .args(["-c", script])
        .env("ENDPOINT", endpoint)
        .env("KEY", key)
        .env("SECRET", secret)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (name, value) in env {
        command.env(name, value);
    }
    let out = command.output().expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A second connection to the store of the server whose data directory is `dir` (SQLite's
/// file, or its PostgreSQL database), to look at or alter what is at rest.
pub fn open_store(dir: &std::path::Path) -> Box<dyn portcullis_server::iam::store::Store> {
    match test_store(dir) {
        portcullis_server::StoreLocation::Embedded => Box::new(
            portcullis_server::iam::store::SqliteStore::open(&dir.join("portcullis.db"))
                .expect("open the database"),
        ),
        portcullis_server::StoreLocation::Postgres(url) => Box::new(
            portcullis_postgres::PostgresStore::connect(&url).expect("connect to the database"),
        ),
    }
}

/// Every entity row at rest: (key, data) of `table` (by its store name), in key order.
pub fn stored_rows(dir: &std::path::Path, table: &str) -> Vec<(String, String)> {
    open_store(dir)
        .load()
        .expect("load")
        .into_iter()
        .filter(|r| r.table.name() == table)
        .map(|r| (r.key, r.data))
        .collect()
}

/// The data of the row `key` of `table` at rest, as JSON.
pub fn stored_row(dir: &std::path::Path, table: &str, key: &str) -> serde_json::Value {
    let (_, data) = stored_rows(dir, table)
        .into_iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("no row {key} in {table}"));
    serde_json::from_str(&data).expect("JSON row")
}

/// Replaces the data of the existing row `key` of `table` at rest.
pub fn replace_row(dir: &std::path::Path, table: &str, key: &str, data: &serde_json::Value) {
    let store = open_store(dir);
    let row = store
        .load()
        .expect("load")
        .into_iter()
        .find(|r| r.table.name() == table && r.key == key)
        .unwrap_or_else(|| panic!("no row {key} in {table}"));
    // A shared store takes changes only under the cluster's write lock.
    if let Some(cluster) = store.cluster() {
        cluster.lock_writes().expect("the write lock");
    }
    let committed = store.commit(&[portcullis_server::iam::store::Change {
        table: row.table,
        account_id: row.account_id,
        key: row.key,
        data: Some(data.to_string()),
    }]);
    if let Some(cluster) = store.cluster() {
        cluster.unlock_writes();
    }
    committed.expect("replace the row");
}

/// Everything the store holds at rest, as bytes to search for a secret: SQLite's database
/// and WAL files byte for byte, or every row, meta value and audit event of PostgreSQL.
pub fn bytes_at_rest(dir: &std::path::Path) -> Vec<u8> {
    match test_store(dir) {
        portcullis_server::StoreLocation::Embedded => {
            let mut bytes = std::fs::read(dir.join("portcullis.db")).expect("the database");
            bytes.extend(std::fs::read(dir.join("portcullis.db-wal")).unwrap_or_default());
            bytes
        }
        portcullis_server::StoreLocation::Postgres(url) => {
            portcullis_postgres::testing::dump(&url).expect("dump the database")
        }
    }
}

/// The environment a `portcullis` command needs to reach the store of `dir`
/// (`PORTCULLIS_STORE` when the suite runs on PostgreSQL).
pub fn store_env(dir: &std::path::Path) -> Vec<(&'static str, String)> {
    match test_store(dir) {
        portcullis_server::StoreLocation::Embedded => Vec::new(),
        portcullis_server::StoreLocation::Postgres(url) => vec![("PORTCULLIS_STORE", url)],
    }
}
