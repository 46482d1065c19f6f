//! portcullis-guard end to end: a real Portcullis, a real axum service guarded by the layer on
//! 127.0.0.1, and clients that sign their requests for `s3` with SigV4.

#[path = "../../server/tests/common/mod.rs"]
mod common;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Path};
use axum::routing::get;
use common::{ACCOUNT, TestServer};
use http::request::Parts;
use http_body_util::BodyExt;
use portcullis_guard::{Authorized, Check, Client, GuardLayer, Principal, Rejection};
use portcullis_sigv4::{PayloadSigning, Request as SignRequest, SigningParams, sign};

const ALLOW_AUTHORIZE: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"portcullis:Authorize","Resource":"*"}}"#;

/// `GET|PUT /BUCKET/KEY` → `s3:GetObject|s3:PutObject` on `arn:aws:s3:::BUCKET/KEY`.
fn objects(parts: &Parts) -> Result<Vec<Check>, Rejection> {
    let path = parts.uri.path().trim_start_matches('/');
    if !path.contains('/') {
        return Err(Rejection::invalid_request("Give /BUCKET/KEY."));
    }
    let action = match parts.method.as_str() {
        "GET" => "s3:GetObject",
        "PUT" => "s3:PutObject",
        _ => return Err(Rejection::new(405, "MethodNotAllowed", "Not allowed.")),
    };
    Ok(vec![Check::new(action, format!("arn:aws:s3:::{path}"))])
}

/// The guarded service: says who called, and for PUT how many bytes it read.
async fn start_service(server: &TestServer) -> SocketAddr {
    let (key, secret) = server.user_keys("objstore", Some(ALLOW_AUTHORIZE)).await;
    let client = Client::new(
        &server.endpoint(),
        "us-east-1",
        aws_credential_types::Credentials::new(key, secret, None, None, "test"),
    )
    .expect("client");
    let guard = GuardLayer::new(client, "s3", objects).source_ip(|parts| {
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
    });
    let app = Router::new()
        .route(
            "/{bucket}/{*key}",
            get(
                |who: Principal, Path((b, k)): Path<(String, String)>| async move {
                    format!("{} read {b}/{k}", who.arn)
                },
            )
            .put(
                |authorized: Authorized, body: axum::body::Body| async move {
                    match body.collect().await {
                        Ok(bytes) => (
                            http::StatusCode::OK,
                            format!(
                                "{} wrote {} bytes (signed: {})",
                                authorized.principal.arn,
                                bytes.to_bytes().len(),
                                authorized.payload_signed
                            ),
                        ),
                        Err(e) => (http::StatusCode::BAD_REQUEST, format!("refused body: {e}")),
                    }
                },
            ),
        )
        .layer(guard);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    addr
}

/// How a test client signs.
#[derive(Clone, Copy)]
enum Signing<'a> {
    None,
    /// Signed with `x-amz-content-sha256` (S3's way).
    ContentSha256(&'a str, &'a str),
    /// Signed body hash, no header (the SDKs' way outside S3).
    BodyOnly(&'a str, &'a str),
    /// `UNSIGNED-PAYLOAD`.
    Unsigned(&'a str, &'a str),
}

/// Sends `method path` with `body` to the service; `signed_body` is what the signature
/// covers (a forger's body may differ). Returns status and body text.
async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    signed_body: &[u8],
    body: &[u8],
    signing: Signing<'_>,
) -> (u16, String) {
    let host = addr.to_string();
    let mut headers = vec![("host".to_owned(), host.clone())];
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let keys = match signing {
        Signing::None => None,
        Signing::ContentSha256(k, s) | Signing::BodyOnly(k, s) | Signing::Unsigned(k, s) => {
            Some((k, s))
        }
    };
    if let Some((key, secret)) = keys {
        let mut unsigned = SignRequest::new(method, path, "").body(signed_body);
        unsigned.push_header("host", host.as_bytes());
        let mut params = SigningParams::new(key, secret, "us-east-1", "s3", now);
        params.content_sha256_header = !matches!(signing, Signing::BodyOnly(..));
        if matches!(signing, Signing::Unsigned(..)) {
            params.payload = PayloadSigning::Unsigned;
        }
        for (name, value) in sign(&unsigned, &params).expect("sign") {
            headers.push((name.to_owned(), value));
        }
    }
    let mut wire = format!("{method} {path} HTTP/1.1\r\n").into_bytes();
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
    send_wire(addr, &wire).await
}

/// Writes `wire` on a new connection; the answer's status and body.
async fn send_wire(addr: SocketAddr, wire: &[u8]) -> (u16, String) {
    let (status, _, body) = common::exchange(&addr.to_string(), wire).await;
    (status, body)
}

const READ_A: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket-a/*"}}"#;
const WRITE_A: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::bucket-a/*"}}"#;

#[tokio::test]
async fn allowed_requests_reach_the_handler_with_the_principal_and_denials_get_aws_errors() {
    let server = TestServer::start().await;
    let addr = start_service(&server).await;
    let (key, secret) = server.user_keys("alice", Some(READ_A)).await;
    let alice = Signing::ContentSha256(&key, &secret);

    let (status, body) = call(addr, "GET", "/bucket-a/report.csv", b"", b"", alice).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        format!("arn:aws:iam::{ACCOUNT}:user/alice read bucket-a/report.csv")
    );

    let (status, body) = call(addr, "PUT", "/bucket-a/report.csv", b"x", b"x", alice).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
    assert!(
        body.contains(&format!(
            "User: arn:aws:iam::{ACCOUNT}:user/alice is not authorized to perform: s3:PutObject on resource: arn:aws:s3:::bucket-a/report.csv because no identity-based policy allows the s3:PutObject action. Encoded authorization failure message: "
        )),
        "{body}"
    );
    assert!(body.contains("<RequestId>"), "{body}");

    // A wrong secret: the client's own AWS error, the handler never runs.
    let forger = Signing::ContentSha256(&key, "not-the-secret-0000000000000000000000000");
    let (status, body) = call(addr, "GET", "/bucket-a/report.csv", b"", b"", forger).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("<Code>SignatureDoesNotMatch</Code>"),
        "{body}"
    );

    // Nobody signed: an anonymous caller, whom no policy allows.
    let (status, body) = call(addr, "GET", "/bucket-a/report.csv", b"", b"", Signing::None).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");

    // A route the service does not know: its own refusal, Portcullis is not asked.
    let (status, body) = call(addr, "GET", "/bucket-a", b"", b"", alice).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("<Code>InvalidRequest</Code>"), "{body}");
}

#[tokio::test]
async fn a_policy_change_applies_to_the_next_request() {
    let server = TestServer::start().await;
    let addr = start_service(&server).await;
    let (key, secret) = server.user_keys("alice", Some(READ_A)).await;
    let alice = Signing::ContentSha256(&key, &secret);
    let (status, _) = call(addr, "GET", "/bucket-a/k", b"", b"", alice).await;
    assert_eq!(status, 200);
    server
        .root()
        .delete_user_policy()
        .user_name("alice")
        .policy_name("inline")
        .send()
        .await
        .expect("delete policy");
    // Nothing is cached: the very next request is decided without the policy.
    let (status, body) = call(addr, "GET", "/bucket-a/k", b"", b"", alice).await;
    assert_eq!(status, 403, "{body}");
}

#[tokio::test]
async fn bodies_are_held_to_what_the_client_signed() {
    let server = TestServer::start().await;
    let addr = start_service(&server).await;
    let (key, secret) = server.user_keys("writer", Some(WRITE_A)).await;

    // x-amz-content-sha256 of the body sent: read whole.
    let s3_style = Signing::ContentSha256(&key, &secret);
    let (status, body) = call(addr, "PUT", "/bucket-a/k", b"hello", b"hello", s3_style).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.ends_with("wrote 5 bytes (signed: true)"), "{body}");

    // The header names another body of the same length: the handler's read fails.
    let (status, body) = call(addr, "PUT", "/bucket-a/k", b"hello", b"HELLO", s3_style).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("XAmzContentSHA256Mismatch"), "{body}");

    // No header: the guard reads the body to verify the signature over it.
    let sdk_style = Signing::BodyOnly(&key, &secret);
    let (status, body) = call(addr, "PUT", "/bucket-a/k", b"hello", b"hello", sdk_style).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(addr, "PUT", "/bucket-a/k", b"hello", b"HELLO", sdk_style).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("<Code>SignatureDoesNotMatch</Code>"),
        "{body}"
    );

    // UNSIGNED-PAYLOAD: let through, and the handler is told the body is not signed.
    let unsigned = Signing::Unsigned(&key, &secret);
    let (status, body) = call(addr, "PUT", "/bucket-a/k", b"", b"anything", unsigned).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.ends_with("wrote 8 bytes (signed: false)"), "{body}");
}

#[tokio::test]
async fn portcullis_refusing_the_service_fails_closed() {
    let server = TestServer::start().await;
    // A service whose own credentials may not call portcullis:Authorize.
    let (key, secret) = server.user_keys("rogue", None).await;
    let client = Client::new(
        &server.endpoint(),
        "us-east-1",
        aws_credential_types::Credentials::new(key, secret, None, None, "test"),
    )
    .expect("client");
    let app = Router::new()
        .route(
            "/{bucket}/{*key}",
            get(|| async { "should not be reached" }),
        )
        .layer(GuardLayer::new(client, "s3", objects));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let (akey, asecret) = server.user_keys("alice", Some(READ_A)).await;
    let (status, body) = call(
        addr,
        "GET",
        "/bucket-a/k",
        b"",
        b"",
        Signing::ContentSha256(&akey, &asecret),
    )
    .await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("<Code>InternalError</Code>"), "{body}");
}

/// A PUT of `payload` as an aws-chunked body with signed chunks of `chunk` bytes; `tamper`
/// flips a byte of the second chunk's data after signing.
async fn chunked_put(
    addr: SocketAddr,
    key: &str,
    secret: &str,
    payload: &[u8],
    tamper: bool,
) -> (u16, String) {
    use portcullis_sigv4::{
        ChunkSigner, CredentialScope, SigningKey, Streaming, format_scope_date,
    };
    let host = addr.to_string();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let length = payload.len().to_string();
    let form = Streaming {
        signed_chunks: true,
        trailer: false,
    };
    let unsigned = SignRequest::new("PUT", "/bucket-a/chunked.bin", "")
        .header("host", &host)
        .header("content-encoding", "aws-chunked")
        .header("x-amz-decoded-content-length", &length);
    let mut params = SigningParams::new(key, secret, "us-east-1", "s3", now);
    params.content_sha256_header = true;
    params.payload = PayloadSigning::Streaming(form);
    let added = sign(&unsigned, &params).expect("sign");
    let authorization = added
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.clone())
        .expect("authorization");
    let seed = authorization
        .rsplit("Signature=")
        .next()
        .expect("signature");
    let scope = CredentialScope::new(format_scope_date(now), "us-east-1", "s3");
    let signer = ChunkSigner::new(SigningKey::derive(secret, &scope), now, seed).expect("signer");
    let mut body = Vec::new();
    let mut previous = signer.seed();
    let mut pieces: Vec<&[u8]> = payload.chunks(8_192).collect();
    pieces.push(b"");
    for (i, piece) in pieces.iter().enumerate() {
        let signature = signer.chunk_signature(&previous, piece);
        previous = signature;
        let hex: String = signature.iter().map(|b| format!("{b:02x}")).collect();
        body.extend_from_slice(format!("{:x};chunk-signature={hex}\r\n", piece.len()).as_bytes());
        let mut data = piece.to_vec();
        if tamper && i == 1 {
            data[0] ^= 1;
        }
        body.extend_from_slice(&data);
        body.extend_from_slice(b"\r\n");
    }
    let mut wire = "PUT /bucket-a/chunked.bin HTTP/1.1\r\n"
        .to_owned()
        .into_bytes();
    wire.extend_from_slice(format!("host: {host}\r\ncontent-encoding: aws-chunked\r\nx-amz-decoded-content-length: {length}\r\n").as_bytes());
    for (name, value) in &added {
        wire.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    wire.extend_from_slice(
        format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    wire.extend_from_slice(&body);
    send_wire(addr, &wire).await
}

#[tokio::test]
async fn aws_chunked_bodies_reach_the_handler_decoded_and_a_forged_chunk_fails_the_read() {
    let server = TestServer::start().await;
    let addr = start_service(&server).await;
    let (key, secret) = server.user_keys("writer", Some(WRITE_A)).await;
    let payload: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    let (status, body) = chunked_put(addr, &key, &secret, &payload, false).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.ends_with("wrote 20000 bytes (signed: true)"), "{body}");
    let (status, body) = chunked_put(addr, &key, &secret, &payload, true).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("chunk 1") && body.contains("does not match"),
        "{body}"
    );
}
