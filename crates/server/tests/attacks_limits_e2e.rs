//! Issue 7, holes 7 and 8, end to end against the real server: guessing MFA codes and old
//! passwords is bounded (and a wrong guess writes nothing), and unauthenticated requests
//! cannot make the server read large bodies or hammer a dead identity provider.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sdk_iam::config::retry::RetryConfig;
use aws_sdk_iam::config::{BehaviorVersion, Region};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{ACCOUNT, ROOT_KEY, ROOT_SECRET, TestServer, error_code, now_step};
use portcullis_server::Limits;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use totp_rs::{Algorithm, Secret, TOTP};

const STS_WRONG_CODE: &str =
    "MultiFactorAuthentication failed with invalid MFA one time pass code.";

/// A virtual MFA device as the test knows it.
struct Device {
    serial: String,
    totp: TOTP,
}

impl Device {
    /// The code of the time step `offset` steps from now.
    fn code(&self, offset: i64) -> String {
        self.totp.generate((now_step() as i64 + offset) as u64 * 30)
    }

    /// A well-formed code that is none of the device's codes near now.
    fn wrong_code(&self) -> String {
        let near: Vec<String> = (-4..=4).map(|o| self.code(o)).collect();
        (0..)
            .map(|n| format!("{:06}", 123_456 + n))
            .find(|c| !near.contains(c))
            .expect("a wrong code")
    }
}

async fn create_device(iam: &aws_sdk_iam::Client, name: &str) -> Device {
    let out = iam
        .create_virtual_mfa_device()
        .virtual_mfa_device_name(name)
        .send()
        .await
        .expect("create virtual MFA device");
    let device = out.virtual_mfa_device().expect("device");
    let seed = String::from_utf8(device.base32_string_seed().expect("seed").as_ref().to_vec())
        .expect("Base32 text");
    let bytes = Secret::Encoded(seed).to_bytes().expect("Base32");
    Device {
        serial: device.serial_number().to_owned(),
        totp: TOTP::new(Algorithm::SHA1, 6, 0, 30, bytes).expect("totp"),
    }
}

/// A user with an access key and an enabled device (its last used step: now); returns the
/// device and the user's STS client.
async fn user_with_device(server: &TestServer, name: &str) -> (Device, aws_sdk_sts::Client) {
    let (key, secret) = server.user_keys(name, Some(ALLOW_ALL)).await;
    let root = server.root();
    let device = create_device(&root, &format!("{name}-phone")).await;
    root.enable_mfa_device()
        .user_name(name)
        .serial_number(&device.serial)
        .authentication_code1(device.code(-1))
        .authentication_code2(device.code(0))
        .send()
        .await
        .expect("enable");
    (device, server.sts(&key, &secret, None))
}

/// An IAM client that does not retry (so a throttled call is one call).
fn iam_no_retry(server: &TestServer, key: &str, secret: &str) -> aws_sdk_iam::Client {
    let config = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(server.endpoint())
        .region(Region::new("us-east-1"))
        .retry_config(RetryConfig::disabled())
        .credentials_provider(Credentials::new(key, secret, None, None, "test"))
        .build();
    aws_sdk_iam::Client::from_conf(config)
}

/// Every row of a store table, as the database holds it.
fn rows(server: &TestServer, table: &str) -> Vec<(String, String)> {
    common::stored_rows(server.dir.path(), table)
}

/// GetSessionToken with an MFA code: `Ok(())` or (code, message).
async fn sign_in(
    sts: &aws_sdk_sts::Client,
    serial: &str,
    code: &str,
) -> Result<(), (String, String)> {
    match sts
        .get_session_token()
        .serial_number(serial)
        .token_code(code)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            let code = aws_sdk_sts::error::ProvideErrorMetadata::code(&e)
                .unwrap_or("(none)")
                .to_owned();
            let message = aws_sdk_sts::error::ProvideErrorMetadata::message(&e)
                .unwrap_or_default()
                .to_owned();
            Err((code, message))
        }
    }
}

const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_wrong_mfa_codes_lock_the_device_and_write_nothing() {
    let lockout = Duration::from_secs(3);
    let server = TestServer::start_with(Limits {
        mfa_lockout: lockout,
        ..Limits::default()
    })
    .await;
    let root = server.root();
    let (device, sts) = user_with_device(&server, "ann").await;
    let before = rows(&server, "mfa_devices");

    for _ in 0..10 {
        let refused = sign_in(&sts, &device.serial, &device.wrong_code()).await;
        assert_eq!(
            refused,
            Err(("AccessDenied".to_owned(), STS_WRONG_CODE.to_owned()))
        );
    }
    assert_eq!(
        rows(&server, "mfa_devices"),
        before,
        "a wrong code writes nothing"
    );

    // Locked: the right code is refused exactly as a wrong one is, whichever action offers it.
    let refused = sign_in(&sts, &device.serial, &device.code(1)).await;
    assert_eq!(
        refused,
        Err(("AccessDenied".to_owned(), STS_WRONG_CODE.to_owned()))
    );
    let resync = root
        .resync_mfa_device()
        .user_name("ann")
        .serial_number(&device.serial)
        .authentication_code1(device.code(0))
        .authentication_code2(device.code(1))
        .send()
        .await;
    assert_eq!(error_code(resync).0, "InvalidAuthenticationCode");
    assert_eq!(
        rows(&server, "mfa_devices"),
        before,
        "nothing written while locked"
    );

    // After the window the right code works (and is stored as used).
    tokio::time::sleep(lockout + Duration::from_millis(200)).await;
    sign_in(&sts, &device.serial, &device.code(1))
        .await
        .expect("the lock is over");
    assert_ne!(
        rows(&server, "mfa_devices"),
        before,
        "the used step is stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_enable_codes_lock_the_device_too() {
    let server = TestServer::start().await;
    let root = server.root();
    root.create_user().user_name("bo").send().await.unwrap();
    let device = create_device(&root, "bo-phone").await;
    let other = create_device(&root, "bo-other").await;
    let before = rows(&server, "mfa_devices");
    let enable = |d: &Device, first: String, second: String| {
        root.enable_mfa_device()
            .user_name("bo")
            .serial_number(&d.serial)
            .authentication_code1(first)
            .authentication_code2(second)
            .send()
    };
    for _ in 0..10 {
        let r = enable(&device, device.wrong_code(), device.wrong_code()).await;
        assert_eq!(error_code(r), ("InvalidAuthenticationCode".to_owned(), 403));
    }
    assert_eq!(
        rows(&server, "mfa_devices"),
        before,
        "wrong codes write nothing"
    );
    let r = enable(&device, device.code(-1), device.code(0)).await;
    assert_eq!(
        error_code(r),
        ("InvalidAuthenticationCode".to_owned(), 403),
        "locked: the right pair is refused like a wrong one"
    );
    assert_eq!(rows(&server, "mfa_devices"), before);
    // The lock is per device.
    enable(&other, other.code(-1), other.code(0))
        .await
        .expect("another device is not locked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_wrong_codes_cannot_exceed_the_bound() {
    let server = TestServer::start().await;
    let (device, sts) = user_with_device(&server, "cy").await;
    let wrong = device.wrong_code();
    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..30 {
        let (sts, serial, wrong) = (sts.clone(), device.serial.clone(), wrong.clone());
        attempts.spawn(async move { sign_in(&sts, &serial, &wrong).await });
    }
    for r in attempts.join_all().await {
        assert_eq!(
            r,
            Err(("AccessDenied".to_owned(), STS_WRONG_CODE.to_owned()))
        );
    }
    let refused = sign_in(&sts, &device.serial, &device.code(1)).await;
    assert!(
        refused.is_err(),
        "30 concurrent wrong codes lock the device"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_password_is_throttled_per_user() {
    let server = TestServer::start().await;
    let root = server.root();
    let policy = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:ChangePassword","Resource":"*"}}"#;
    let mut clients = Vec::new();
    for name in ["dee", "eve"] {
        let (key, secret) = server.user_keys(name, Some(policy)).await;
        root.create_login_profile()
            .user_name(name)
            .password("First-Password-1")
            .send()
            .await
            .unwrap();
        clients.push(iam_no_retry(&server, &key, &secret));
    }
    let change = |client: &aws_sdk_iam::Client, old: &str, new: &str| {
        client
            .change_password()
            .old_password(old)
            .new_password(new)
            .send()
    };
    let before = rows(&server, "users");
    for _ in 0..4 {
        let r = change(&clients[0], "Not-The-Password-1", "Second-Password-2").await;
        assert_eq!(error_code(r), ("AccessDenied".to_owned(), 403));
    }
    assert_eq!(
        rows(&server, "users"),
        before,
        "a wrong old password writes nothing"
    );
    change(&clients[0], "First-Password-1", "Second-Password-2")
        .await
        .expect("the fifth verification this minute is allowed");
    let after_change = rows(&server, "users");
    // The sixth is refused before any hashing, even with the right old password.
    let r = change(&clients[0], "Second-Password-2", "Third-Password-3").await;
    assert_eq!(error_code(r), ("Throttling".to_owned(), 400));
    assert_eq!(rows(&server, "users"), after_change);
    // Per user: another user is not throttled.
    change(&clients[1], "First-Password-1", "Second-Password-2")
        .await
        .expect("another user's bound is its own");
}

/// One raw HTTP/1.1 exchange: writes `head` (which must end with the headers' CRLF) and
/// `body` concurrently with reading; returns the status and the response body.
async fn raw(server: &TestServer, head: String, body: Vec<u8>) -> (u16, String) {
    raw_to(
        server.server.as_ref().expect("running").local_addr,
        head,
        body,
    )
    .await
}

async fn raw_to(addr: std::net::SocketAddr, head: String, body: Vec<u8>) -> (u16, String) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let writing = tokio::spawn(async move {
        // The server may stop reading (and close) early: write errors are expected then.
        let _ = writer.write_all(format!("{head}\r\n").as_bytes()).await;
        let _ = writer.write_all(&body).await;
        writer
    });
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), reader.read_to_end(&mut response)).await;
    drop(writing);
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn host(server: &TestServer) -> String {
    server
        .server
        .as_ref()
        .expect("running")
        .local_addr
        .to_string()
}

/// `Action=GetUser...` padded to `size` bytes with an ignored parameter.
fn padded_form(size: usize) -> Vec<u8> {
    let mut form = b"Action=GetUser&Version=2010-05-08&UserName=kim&Padding=".to_vec();
    form.resize(size, b'x');
    form
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_body_needs_a_known_key() {
    use portcullis_sigv4::{Request, SigningParams, sign};
    let server = TestServer::start().await;
    server
        .root()
        .create_user()
        .user_name("kim")
        .send()
        .await
        .unwrap();
    let addr = host(&server);
    let mib = 1024 * 1024;

    // Unsigned, 1 MiB declared: refused at once; only 16 KiB are ever sent.
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {mib}\r\n"
    );
    let (status, body) = raw(&server, head, padded_form(16 * 1024)).await;
    assert_eq!(status, 413, "{body}");
    assert!(
        body.contains("<Code>RequestEntityTooLarge</Code>"),
        "{body}"
    );

    // Unsigned and chunked (no length declared): cut off after 64 KiB of the 1 MiB.
    let form = padded_form(mib);
    let mut chunked = Vec::new();
    for chunk in form.chunks(8 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend_from_slice(chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n"
    );
    let (status, body) = raw(&server, head, chunked).await;
    assert_eq!(status, 413, "{body}");

    // Signed by a key that does not exist: the same.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let signed_head = |key: &str, secret: &str| {
        let unsigned = Request::new("POST", "/", "")
            .header("host", &addr)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(&form);
        let params = SigningParams::new(key, secret, "us-east-1", "iam", now);
        let headers: String = sign(&unsigned, &params)
            .unwrap()
            .into_iter()
            .map(|(n, v)| format!("{n}: {v}\r\n"))
            .collect();
        format!(
            "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n{headers}",
            form.len()
        )
    };
    let (status, body) = raw(
        &server,
        signed_head("AKIANOSUCHKEY0000000", ROOT_SECRET),
        form.clone(),
    )
    .await;
    assert_eq!(status, 413, "{body}");

    // Signed by a known key: 1 MiB is read and served as before.
    let (status, body) = raw(&server, signed_head(ROOT_KEY, ROOT_SECRET), form.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<UserName>kim</UserName>"), "{body}");

    // A small unsigned request is still served (and refused for its missing signature).
    let small = b"Action=GetUser&Version=2010-05-08".to_vec();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n",
        small.len()
    );
    let (status, body) = raw(&server, head, small).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("<Code>MissingAuthenticationToken</Code>"),
        "{body}"
    );
}

/// A listener on 127.0.0.1 that accepts connections, counts them, and never answers.
async fn silent_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    (port, accepted)
}

/// An unsigned JWT (the signature is never reached: the keys cannot be fetched).
fn token_for(issuer: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": "k1"});
    let claims = json!({"iss": issuer, "sub": "s", "aud": "client", "iat": now, "exp": now + 600});
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(b"not a signature")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_identity_provider_is_asked_once_for_many_requests() {
    let server = TestServer::start().await;
    let (port, accepted) = silent_listener().await;
    let issuer = format!("https://127.0.0.1:{port}");
    let root = server.root();
    root.create_open_id_connect_provider()
        .url(&issuer)
        .client_id_list("client")
        .thumbprint_list("0123456789abcdef0123456789abcdef01234567")
        .send()
        .await
        .unwrap();
    let provider_arn = format!("arn:aws:iam::{ACCOUNT}:oidc-provider/127.0.0.1:{port}");
    root.create_role()
        .role_name("web")
        .assume_role_policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity"}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    let addr = host(&server);
    let form = format!(
        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleSessionName=sess&RoleArn=arn%3Aaws%3Aiam%3A%3A{ACCOUNT}%3Arole%2Fweb&WebIdentityToken={}",
        token_for(&issuer)
    );
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n",
        form.len()
    );
    let socket = server.server.as_ref().expect("running").local_addr;
    let request = || raw_to(socket, head.clone(), form.clone().into_bytes());
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..20 {
        calls.spawn(request());
    }
    let answers = calls.join_all().await;
    for (status, body) in &answers {
        assert_eq!(*status, 400, "{body}");
        assert!(
            body.contains("<Code>IDPCommunicationError</Code>"),
            "{body}"
        );
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "one fetch for 20 requests"
    );

    // The failure is remembered: the next request answers at once, without a connection.
    let (status, body) = request().await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("<Code>IDPCommunicationError</Code>"),
        "{body}"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}
