//! S3's SigV4 variants, cross-checked against aws-sigv4 (the official signer): paths signed as
//! sent (encoded once, not normalized), and aws-chunked bodies whose chunks and trailer are
//! signed with aws-sigv4's `sign_chunk` / `sign_trailer`, decoded in arbitrary splits.

use std::time::{Duration, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::http::Headers;
use bytes::Bytes;
use portcullis_sigv4::{
    ChunkErrorKind, ChunkSigner, ChunkedDecoder, CredentialScope, Request, STREAMING_PAYLOAD,
    STREAMING_PAYLOAD_TRAILER, STREAMING_UNSIGNED_PAYLOAD_TRAILER, SigningKey, Streaming,
    UriEncoding, parse, verify,
};
use proptest::prelude::*;

const AKID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const HOST: &str = "examplebucket.s3.amazonaws.com";
/// 2026-01-01T10:20:30Z
const T: i64 = 1_767_262_830;

fn settings_s3() -> SigningSettings {
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    settings
}

/// aws-sigv4's headers for `method path` (raw, as on the wire) signed the S3 way.
fn aws_sign_s3(
    method: &str,
    path: &str,
    body: SignableBody<'_>,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let identity = Credentials::new(AKID, SECRET, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(UNIX_EPOCH + Duration::from_secs(T as u64))
        .settings(settings_s3())
        .build()
        .expect("params")
        .into();
    let mut headers = vec![("host", HOST)];
    headers.extend_from_slice(extra);
    let uri = format!("https://{HOST}{path}");
    let signable =
        SignableRequest::new(method, uri, headers.iter().copied(), body).expect("signable");
    let (instructions, _) = aws_sigv4::http_request::sign(signable, &params)
        .expect("sign")
        .into_parts();
    let mut out: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    out.extend(
        instructions
            .headers()
            .map(|(n, v)| (n.to_owned(), v.to_owned())),
    );
    out
}

fn request<'a>(method: &'a str, path: &'a str, headers: &'a [(String, String)]) -> Request<'a> {
    let mut r = Request::new(method, path, "").uri_encoding(UriEncoding::Single);
    for (n, v) in headers {
        r.push_header(n, v.as_bytes());
    }
    r
}

#[test]
fn s3_paths_verify_as_sent_and_not_as_other_services_sign_them() {
    for path in [
        "/bucket/plain.txt",
        "/bucket/a%20b%2Bc%25d%3De/%C3%A9~(1).txt",
        "/bucket/dir/./x//y/../z",
        "/bucket/key%2Fwith%2Fslashes",
    ] {
        let headers = aws_sign_s3("GET", path, SignableBody::Bytes(b""), &[]);
        let r = request("GET", path, &headers);
        let auth = parse(&r).expect("parse");
        let verified = verify(&auth, &r, SECRET, T).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(verified.payload_signed());
        assert_eq!(verified.streaming(), None);
        // The same request canonicalized the non-S3 way does not verify where the two differ.
        let double = r.clone().uri_encoding(UriEncoding::Double);
        if path.contains('%') || path.contains("/.") || path.contains("//") {
            assert!(verify(&auth, &double, SECRET, T).is_err(), "{path}");
        }
    }
    assert_eq!(UriEncoding::for_service("s3"), UriEncoding::Single);
    assert_eq!(UriEncoding::for_service("iam"), UriEncoding::Double);
}

#[test]
fn unsigned_payload_verifies_and_says_the_body_is_not_signed() {
    let headers = aws_sign_s3("PUT", "/bucket/k", SignableBody::UnsignedPayload, &[]);
    let r = request("PUT", "/bucket/k", &headers).body(b"anything");
    let auth = parse(&r).expect("parse");
    let verified = verify(&auth, &r, SECRET, T).expect("verify");
    assert!(!verified.payload_signed());
}

/// A body chunked as aws-sigv4 signs it: data in `chunk` byte pieces, then the final chunk,
/// and `trailer` (name, value) headers signed with sign_trailer when `signed`.
fn chunked_body(
    seed: &str,
    data: &[u8],
    chunk: usize,
    trailer: &[(&str, &str)],
    signed: bool,
) -> Vec<u8> {
    let identity = Credentials::new(AKID, SECRET, None, None, "test").into();
    let params: v4::SigningParams<'_, ()> = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(UNIX_EPOCH + Duration::from_secs(T as u64))
        .settings(())
        .build()
        .expect("params");
    let mut out = Vec::new();
    let mut previous = seed.to_owned();
    let mut pieces: Vec<&[u8]> = data.chunks(chunk).collect();
    pieces.push(b"");
    for piece in pieces {
        if signed {
            let (_, signature) = v4::sign_chunk(&Bytes::copy_from_slice(piece), &previous, &params)
                .expect("sign chunk")
                .into_parts();
            out.extend_from_slice(
                format!("{:x};chunk-signature={signature}\r\n", piece.len()).as_bytes(),
            );
            previous = signature;
        } else {
            out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        }
        if !piece.is_empty() {
            out.extend_from_slice(piece);
            out.extend_from_slice(b"\r\n");
        }
    }
    if trailer.is_empty() {
        out.extend_from_slice(b"\r\n");
        return out;
    }
    let mut headers = Headers::new();
    for (name, value) in trailer {
        out.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
        headers.insert(name.to_string(), value.to_string());
    }
    if signed {
        let (_, signature) = v4::sign_trailer(&headers, &previous, &params)
            .expect("sign trailer")
            .into_parts();
        out.extend_from_slice(format!("x-amz-trailer-signature:{signature}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The headers of a streaming PUT signed by aws-sigv4, and the seed signature.
fn streaming_put(form: &'static str, decoded_length: usize) -> (Vec<(String, String)>, String) {
    let length = decoded_length.to_string();
    let headers = aws_sign_s3(
        "PUT",
        "/bucket/big.bin",
        SignableBody::Precomputed(form.to_owned()),
        &[
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", &length),
        ],
    );
    let authorization = headers
        .iter()
        .find(|(n, _)| n == "authorization")
        .map(|(_, v)| v.clone())
        .expect("authorization");
    let seed = authorization
        .rsplit("Signature=")
        .next()
        .expect("signature")
        .to_owned();
    (headers, seed)
}

/// The decoded data and the trailing headers.
type Decoded = (Vec<u8>, Vec<(String, String)>);

/// Verifies the headers, then decodes `body` fed in `splits`.
fn decode(
    form: &'static str,
    headers: &[(String, String)],
    body: &[u8],
    decoded_length: usize,
    splits: &[usize],
) -> Result<Decoded, portcullis_sigv4::ChunkError> {
    let r = request("PUT", "/bucket/big.bin", headers);
    let auth = parse(&r).expect("parse");
    let verified = verify(&auth, &r, SECRET, T).expect("the headers verify");
    let streaming = verified.streaming().expect("streaming");
    assert_eq!(
        Streaming::from_content_sha256(form.as_bytes()),
        Some(streaming)
    );
    assert!(!verified.payload_signed());
    let key = SigningKey::derive(SECRET, auth.scope());
    // The key travels as hex to the service that decodes.
    let key = SigningKey::from_hex(&key.to_hex(), auth.scope().clone()).expect("hex key");
    let signer = ChunkSigner::new(key, auth.request_time(), &auth.signature_hex());
    let mut decoder =
        ChunkedDecoder::new(streaming, signer, Some(decoded_length as u64)).expect("decoder");
    let mut out = Vec::new();
    let mut rest = body;
    for &n in splits {
        let (piece, tail) = rest.split_at(n.min(rest.len()));
        decoder.feed(piece, &mut out)?;
        rest = tail;
    }
    decoder.feed(rest, &mut out)?;
    decoder.finish()?;
    Ok((out, decoder.trailers().to_vec()))
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn signed_chunks_with_and_without_a_signed_trailer_decode() {
    let payload = data(150_000);
    for form in [STREAMING_PAYLOAD, STREAMING_PAYLOAD_TRAILER] {
        let (headers, seed) = streaming_put(form, payload.len());
        let trailer: &[(&str, &str)] = if form == STREAMING_PAYLOAD_TRAILER {
            &[("x-amz-checksum-crc32", "sOO8/Q==")]
        } else {
            &[]
        };
        let body = chunked_body(&seed, &payload, 65_536, trailer, true);
        let (out, trailers) = decode(form, &headers, &body, payload.len(), &[]).expect(form);
        assert_eq!(out, payload);
        assert_eq!(
            trailers,
            trailer
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn unsigned_chunks_with_a_trailer_decode() {
    let payload = data(70_000);
    let form = STREAMING_UNSIGNED_PAYLOAD_TRAILER;
    let (headers, seed) = streaming_put(form, payload.len());
    let body = chunked_body(
        &seed,
        &payload,
        8_192,
        &[("x-amz-checksum-crc32", "AAAAAA==")],
        false,
    );
    let (out, trailers) =
        decode(form, &headers, &body, payload.len(), &[3, 100, 5000]).expect("decode");
    assert_eq!(out, payload);
    assert_eq!(
        trailers,
        vec![("x-amz-checksum-crc32".to_owned(), "AAAAAA==".to_owned())]
    );
}

#[test]
fn tampering_with_any_part_fails_and_says_where() {
    let payload = data(20_000);
    let form = STREAMING_PAYLOAD_TRAILER;
    let (headers, seed) = streaming_put(form, payload.len());
    let body = chunked_body(
        &seed,
        &payload,
        8_192,
        &[("x-amz-checksum-crc32", "sOO8/Q==")],
        true,
    );
    // A data byte of the second chunk.
    let mut bad = body.clone();
    let second = body.windows(2).position(|w| w == b"\r\n").expect("crlf") + 2 + 8_192 + 2 + 90;
    bad[second] ^= 1;
    let e = decode(form, &headers, &bad, payload.len(), &[]).expect_err("tampered data");
    assert_eq!(e.kind, ChunkErrorKind::ChunkSignatureDoesNotMatch);
    assert_eq!(e.chunk, 1);
    assert_eq!(e.code(), "SignatureDoesNotMatch");
    // The trailer's value.
    let at = body
        .windows(8)
        .rposition(|w| w == b"sOO8/Q==")
        .expect("the trailer's value");
    let mut forged = body.clone();
    forged[at..at + 8].copy_from_slice(b"AAAAAA==");
    let e = decode(form, &headers, &forged, payload.len(), &[]).expect_err("trailer");
    assert_eq!(e.kind, ChunkErrorKind::TrailerSignatureDoesNotMatch);
    // A missing last chunk.
    let cut = &body[..body.len() - 60];
    let e = decode(form, &headers, cut, payload.len(), &[]).expect_err("truncated");
    assert_eq!(e.kind, ChunkErrorKind::Truncated);
    // Another decoded length than declared.
    let e = decode(form, &headers, &body, payload.len() + 1, &[]);
    assert!(e.is_err(), "the headers sign the declared length");
    // Bytes after the end.
    let mut long = body.clone();
    long.extend_from_slice(b"x");
    let e = decode(form, &headers, &long, payload.len(), &[]).expect_err("after end");
    assert_eq!(e.kind, ChunkErrorKind::DataAfterEnd);
}

/// AWS's documented example (S3 API Reference, "Signature calculations for the Authorization
/// header: Transferring payload in multiple chunks"): 66,560 bytes of 'a' in a 64 KiB chunk
/// and a 1 KiB chunk, chained from the seed signature of its PUT.
#[test]
fn the_documented_chunk_signatures() {
    let scope = CredentialScope::new("20130524", "us-east-1", "s3");
    // The S3 documentation's example secret (a '/' where the SigV4 guide's has a '+').
    let key = SigningKey::derive("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", &scope);
    let time = 1_369_353_600; // 2013-05-24T00:00:00Z
    let signer = ChunkSigner::new(
        key,
        time,
        "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
    )
    .expect("signer");
    let hex = |b: [u8; 32]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let first = signer.chunk_signature(&signer.seed(), &[b'a'; 65_536]);
    assert_eq!(
        hex(first),
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
    );
    let second = signer.chunk_signature(&first, &[b'a'; 1_024]);
    assert_eq!(
        hex(second),
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
    );
    let last = signer.chunk_signature(&second, b"");
    assert_eq!(
        hex(last),
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any split of the body decodes to the same data.
    #[test]
    fn every_split_decodes_the_same(
        len in 0usize..40_000,
        chunk in 1usize..20_000,
        splits in proptest::collection::vec(0usize..9_000, 0..12),
        form in prop_oneof![
            Just(STREAMING_PAYLOAD),
            Just(STREAMING_PAYLOAD_TRAILER),
            Just(STREAMING_UNSIGNED_PAYLOAD_TRAILER)
        ],
    ) {
        let payload = data(len);
        let (headers, seed) = streaming_put(form, len);
        let trailer: &[(&str, &str)] = if form == STREAMING_PAYLOAD { &[] } else { &[("x-amz-checksum-sha256", "abc=")] };
        let body = chunked_body(&seed, &payload, chunk, trailer, form != STREAMING_UNSIGNED_PAYLOAD_TRAILER);
        let (out, _) = decode(form, &headers, &body, len, &splits).expect("decode");
        prop_assert_eq!(out, payload);
    }
}
