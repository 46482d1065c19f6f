//! Requests signed by the official `aws-sigv4` crate (what the AWS Rust SDK uses) must verify
//! with ours, for header and presigned auth, across methods, paths, queries, headers and
//! bodies. And what we sign, `aws-sigv4` signs identically.

use std::borrow::Cow;
use std::time::{Duration, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4;
use portcullis_sigv4::{AuthKind, Request, SigningParams, parse, verify};

const AKID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const HOST: &str = "iam.amazonaws.com";
/// 2026-01-01T10:20:30Z
const T: i64 = 1_767_262_830;

/// How aws-sigv4 should sign.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Header,
    HeaderWithContentSha256,
    PresignedUnsignedPayload,
    PresignedBodyHash,
}

/// What aws-sigv4 told us to add to the request.
struct AwsSigned {
    headers: Vec<(String, String)>,
    params: Vec<(String, String)>,
}

fn aws_sign(
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    mode: Mode,
    token: Option<&str>,
) -> AwsSigned {
    let identity = Credentials::new(AKID, SECRET, token.map(str::to_owned), None, "test").into();
    let mut settings = SigningSettings::default();
    let body = match mode {
        Mode::Header => SignableBody::Bytes(body),
        Mode::HeaderWithContentSha256 => {
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
            SignableBody::Bytes(body)
        }
        Mode::PresignedUnsignedPayload => {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(Duration::from_secs(900));
            SignableBody::UnsignedPayload
        }
        Mode::PresignedBodyHash => {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(Duration::from_secs(3600));
            SignableBody::Bytes(body)
        }
    };
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("iam")
        .time(UNIX_EPOCH + Duration::from_secs(T as u64))
        .settings(settings)
        .build()
        .expect("signing params")
        .into();
    let uri = format!("https://{HOST}{target}");
    let signable =
        SignableRequest::new(method, uri, headers.iter().copied(), body).expect("signable request");
    let (instructions, _signature) = aws_sigv4::http_request::sign(signable, &params)
        .expect("aws-sigv4 signs")
        .into_parts();
    AwsSigned {
        headers: instructions
            .headers()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect(),
        params: instructions
            .params()
            .iter()
            .map(|(n, v): &(&str, Cow<'static, str>)| ((*n).to_owned(), v.to_string()))
            .collect(),
    }
}

/// RFC 3986 encoding for appending aws-sigv4's (decoded) presign parameters to a query.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];
const PATHS: [&str; 6] = [
    "/",
    "/users/alice",
    "/a%20b/%E2%82%AC/",
    "/x/./y/../z",
    "/~user/with:colon@and!bang",
    "//double//slashes",
];
const QUERIES: [&str; 8] = [
    "",
    "Action=ListUsers&Version=2010-05-08",
    "z=1&a=2&a=1",
    "q=hello%20world&plus=a+b",
    "slash=%2F&encplus=%2B&raw=/",
    "empty=&flag&unicode=caf%C3%A9",
    "Marker=AAA%2BBBB%2F%3D%3D&MaxItems=10",
    "x=%7E%21%27%28%29%2A",
];
const BODIES: [&[u8]; 3] = [
    b"",
    b"Action=CreateUser&UserName=alice&Path=%2Fteam%2F&Version=2010-05-08",
    b"\x00\x01binary\xff\xfe",
];

/// Every case: (method, path, query, body index, extra headers).
fn cases() -> Vec<(&'static str, &'static str, &'static str, usize)> {
    let mut out = Vec::new();
    for (i, method) in METHODS.iter().enumerate() {
        for (j, path) in PATHS.iter().enumerate() {
            for (k, query) in QUERIES.iter().enumerate() {
                out.push((*method, *path, *query, (i + j + k) % BODIES.len()));
            }
        }
    }
    out
}

const EXTRA_HEADERS: [(&str, &str); 4] = [
    (
        "Content-Type",
        "application/x-www-form-urlencoded; charset=utf-8",
    ),
    ("X-Amz-Meta-Note", "  spaced   out   value  "),
    ("x-custom", "first"),
    ("X-Custom", "second"),
];

fn check_mode(mode: Mode, token: Option<&str>) {
    let mut checked = 0;
    for (method, path, query, body) in cases() {
        let body = BODIES[body];
        let target = if query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{query}")
        };
        let signed = aws_sign(method, &target, &EXTRA_HEADERS, body, mode, token);

        let mut full_query = query.to_owned();
        for (name, value) in &signed.params {
            if !full_query.is_empty() {
                full_query.push('&');
            }
            full_query.push_str(&format!("{}={}", encode(name), encode(value)));
        }
        let mut request = Request::new(method, path, &full_query)
            .header("host", HOST)
            .body(body);
        for (name, value) in EXTRA_HEADERS {
            request = request.header(name, value);
        }
        for (name, value) in &signed.headers {
            request = request.header(name, value);
        }

        let context = format!("{mode:?} {method} {target} body={}B", body.len());
        let auth = parse(&request).unwrap_or_else(|e| panic!("{context}: parse: {e}"));
        assert_eq!(auth.access_key_id(), AKID, "{context}");
        assert_eq!(auth.session_token(), token, "{context}");
        match mode {
            Mode::Header | Mode::HeaderWithContentSha256 => {
                assert_eq!(auth.kind(), AuthKind::Header, "{context}")
            }
            Mode::PresignedUnsignedPayload | Mode::PresignedBodyHash => {
                assert!(
                    matches!(auth.kind(), AuthKind::Presigned { .. }),
                    "{context}"
                )
            }
        }
        let verified = verify(&auth, &request, SECRET, T + 30)
            .unwrap_or_else(|e| panic!("{context}: verify: {e}"));
        let body_trusted = !matches!(mode, Mode::PresignedUnsignedPayload) || body.is_empty();
        assert_eq!(verified.payload_signed(), body_trusted, "{context}");
        assert!(
            verify(&auth, &request, "another secret", T + 30).is_err(),
            "{context}"
        );
        checked += 1;
    }
    assert_eq!(checked, METHODS.len() * PATHS.len() * QUERIES.len());
}

#[test]
fn header_auth_signed_by_aws_sigv4_verifies() {
    check_mode(Mode::Header, None);
}

#[test]
fn header_auth_with_content_sha256_and_session_token_verifies() {
    check_mode(
        Mode::HeaderWithContentSha256,
        Some("FwoGZXIvYXdzEBAaDEXAMPLE/+=="),
    );
}

#[test]
fn presigned_unsigned_payload_signed_by_aws_sigv4_verifies() {
    check_mode(Mode::PresignedUnsignedPayload, None);
}

#[test]
fn presigned_body_hash_with_session_token_verifies() {
    check_mode(
        Mode::PresignedBodyHash,
        Some("session/token+with=odd chars"),
    );
}

#[test]
fn our_signature_equals_aws_sigv4s() {
    for (method, path, query, body) in cases() {
        let body = BODIES[body];
        let target = if query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{query}")
        };
        let theirs = aws_sign(method, &target, &EXTRA_HEADERS, body, Mode::Header, None);
        let theirs = theirs
            .headers
            .iter()
            .find(|(n, _)| n == "authorization")
            .map(|(_, v)| v.clone())
            .expect("authorization");

        let mut request = Request::new(method, path, query)
            .header("host", HOST)
            .body(body);
        for (name, value) in EXTRA_HEADERS {
            request = request.header(name, value);
        }
        let ours = portcullis_sigv4::sign(
            &request,
            &SigningParams::new(AKID, SECRET, "us-east-1", "iam", T),
        )
        .expect("signs");
        let ours = ours
            .iter()
            .find(|(n, _)| *n == "authorization")
            .map(|(_, v)| v.clone())
            .expect("authorization");
        assert_eq!(ours, theirs, "{method} {target}");
    }
}
