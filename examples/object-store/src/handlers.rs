//! The S3 operations, each run after the guard has had Portcullis allow it.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body_util::BodyExt;
use md5::Md5;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use portcullis_guard::{Authorized, Check, MapRequest, Rejection};
use portcullis_policy::{PolicyKind, parse_policy};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::error::S3Error;
use crate::ops::{ListParams, Op, classify};
use crate::store::{BucketMeta, ObjectMeta, Store, now_iso};
use crate::xml::Xml;

/// The largest bucket policy (S3's limit).
const MAX_POLICY_BYTES: usize = 20 * 1024;
/// The most keys one ListObjectsV2 answer holds.
const MAX_KEYS: usize = 1000;

/// What every handler shares.
pub struct App {
    pub store: Store,
    pub region: String,
}

/// The guard's mapping: the operation's action and resource, the bucket's policy as resource
/// policy and its owner as resource account, ListObjectsV2's condition keys.
pub struct Authorizer {
    pub app: Arc<App>,
}

impl MapRequest for Authorizer {
    fn checks(
        &self,
        parts: &http::request::Parts,
    ) -> impl Future<Output = Result<Vec<Check>, Rejection>> + Send {
        let op = classify(parts);
        let app = self.app.clone();
        async move {
            let op = op.map_err(S3Error::rejection)?;
            checks(&app.store, &op).await.map_err(S3Error::rejection)
        }
    }
}

async fn checks(store: &Store, op: &Op) -> Result<Vec<Check>, S3Error> {
    let mut check = Check::new(op.action(), op.resource());
    if let (Some(bucket), false) = (op.bucket(), matches!(op, Op::CreateBucket { .. })) {
        let meta = store
            .bucket(bucket)
            .await?
            .ok_or_else(S3Error::no_such_bucket)?;
        check = check.resource_account(meta.owner);
        if let Some(policy) = store.policy(bucket).await? {
            check = check.resource_policy(policy);
        }
    }
    if let Op::ListObjectsV2 { list, .. } = op {
        for (key, value) in [
            ("s3:prefix", &list.prefix),
            ("s3:delimiter", &list.delimiter),
            ("s3:max-keys", &list.max_keys),
        ] {
            if let Some(value) = value {
                check = check.context(key, value.clone());
            }
        }
    }
    Ok(vec![check])
}

/// Every request: the operation, run.
pub async fn handle(
    State(app): State<Arc<App>>,
    authorized: Authorized,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let op = match classify(&parts) {
        Ok(op) => op,
        Err(e) => return e.into_response(),
    };
    let id = authorized.request_id.clone();
    let result = run(&app, &authorized, op, &parts.headers, body).await;
    let mut response = result.unwrap_or_else(IntoResponse::into_response);
    if let Ok(id) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-amz-request-id", id);
    }
    response
}

async fn run(
    app: &App,
    authorized: &Authorized,
    op: Op,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, S3Error> {
    let store = &app.store;
    let account = authorized
        .principal
        .account
        .clone()
        .unwrap_or_else(|| "anonymous".to_owned());
    match op {
        Op::ListBuckets => {
            let mut xml = Xml::new("ListAllMyBucketsResult");
            xml.open("Owner")
                .element("ID", &account)
                .element("DisplayName", &account)
                .close("Owner")
                .open("Buckets");
            for bucket in store.buckets().await?.iter().filter(|b| b.owner == account) {
                xml.open("Bucket")
                    .element("Name", &bucket.name)
                    .element("CreationDate", &bucket.created)
                    .close("Bucket");
            }
            xml.close("Buckets");
            Ok(xml_response(xml.finish("ListAllMyBucketsResult")))
        }
        Op::CreateBucket { bucket } => {
            let meta = BucketMeta {
                name: bucket.clone(),
                owner: account.clone(),
                created: s3_time(&now_iso()),
            };
            if !store.create_bucket(&meta).await? {
                let existing = store.bucket(&bucket).await?;
                return Err(if existing.is_some_and(|b| b.owner == account) {
                    S3Error::new(
                        409,
                        "BucketAlreadyOwnedByYou",
                        "Your previous request to create the named bucket succeeded and you already own it.",
                    )
                } else {
                    S3Error::new(
                        409,
                        "BucketAlreadyExists",
                        "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.",
                    )
                });
            }
            let mut response = StatusCode::OK.into_response();
            if let Ok(location) = HeaderValue::from_str(&format!("/{bucket}")) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            Ok(response)
        }
        Op::DeleteBucket { bucket } => {
            store.delete_bucket(&bucket).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Op::HeadBucket { .. } => {
            let mut response = StatusCode::OK.into_response();
            if let Ok(region) = HeaderValue::from_str(&app.region) {
                response.headers_mut().insert("x-amz-bucket-region", region);
            }
            Ok(response)
        }
        Op::GetBucketLocation { .. } => {
            // us-east-1 is an empty constraint, as S3 writes it.
            let region = if app.region == "us-east-1" {
                ""
            } else {
                app.region.as_str()
            };
            Ok(xml_response(format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"{}\">{region}</LocationConstraint>",
                crate::xml::NAMESPACE
            )))
        }
        Op::ListObjectsV2 { bucket, list } => list_objects(store, &bucket, &list).await,
        Op::PutBucketPolicy { bucket } => {
            let bytes = http_body_util::Limited::new(body, MAX_POLICY_BYTES)
                .collect()
                .await
                .map_err(|_| {
                    S3Error::new(
                        400,
                        "MalformedPolicy",
                        "Policies must be no more than 20 KB.",
                    )
                })?
                .to_bytes();
            let text = std::str::from_utf8(&bytes).map_err(|_| {
                S3Error::new(400, "MalformedPolicy", "Policies must be valid JSON.")
            })?;
            if let Err(e) = parse_policy(text, PolicyKind::Resource) {
                return Err(S3Error::new(400, "MalformedPolicy", e.first_message()));
            }
            store.put_policy(&bucket, text).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Op::GetBucketPolicy { bucket } => match store.policy(&bucket).await? {
            Some(policy) => {
                Ok(([(header::CONTENT_TYPE, "application/json")], policy).into_response())
            }
            None => Err(S3Error::new(
                404,
                "NoSuchBucketPolicy",
                "The bucket policy does not exist",
            )),
        },
        Op::DeleteBucketPolicy { bucket } => {
            store.delete_policy(&bucket).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Op::PutObject { bucket, key } => put_object(store, &bucket, &key, headers, body).await,
        Op::GetObject { bucket, key } => get_object(store, &bucket, &key, headers, true).await,
        Op::HeadObject { bucket, key } => get_object(store, &bucket, &key, headers, false).await,
        Op::DeleteObject { bucket, key } => {
            store.delete_object(&bucket, &key).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
    }
}

fn xml_response(xml: String) -> Response {
    ([(header::CONTENT_TYPE, "application/xml")], xml).into_response()
}

/// RFC 3339 with milliseconds, as S3 writes times in XML.
fn s3_time(rfc3339: &str) -> String {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
            ))
            .ok()
        })
        .unwrap_or_else(|| rfc3339.to_owned())
}

/// The HTTP date of `Last-Modified`.
fn http_date(rfc3339: &str) -> String {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// What encoding-type=url escapes (everything but unreserved characters and '/').
const KEY_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

async fn list_objects(store: &Store, bucket: &str, list: &ListParams) -> Result<Response, S3Error> {
    let max_keys = match &list.max_keys {
        Some(n) => n
            .parse::<usize>()
            .map_err(|_| {
                S3Error::invalid_argument(
                    "Provided max-keys not an integer or within integer range",
                )
            })?
            .min(MAX_KEYS),
        None => MAX_KEYS,
    };
    let encode = |s: &str| {
        if list.url_encoded {
            utf8_percent_encode(s, KEY_ENCODE).to_string()
        } else {
            s.to_owned()
        }
    };
    let after = match &list.continuation_token {
        Some(token) => Some(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    S3Error::invalid_argument("The continuation token provided is incorrect")
                })?,
        ),
        None => list.start_after.clone(),
    };
    let prefix = list.prefix.clone().unwrap_or_default();
    let mut contents = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut truncated = false;
    let mut last = None;
    for object in store.objects(bucket).await? {
        if !object.key.starts_with(&prefix) || after.as_ref().is_some_and(|a| object.key <= *a) {
            continue;
        }
        let rolled = list
            .delimiter
            .as_deref()
            .filter(|d| !d.is_empty())
            .and_then(|d| {
                object.key[prefix.len()..]
                    .find(d)
                    .map(|at| object.key[..prefix.len() + at + d.len()].to_owned())
            });
        if let Some(common) = &rolled
            && prefixes.last() == Some(common)
        {
            last = Some(object.key.clone());
            continue;
        }
        if contents.len() + prefixes.len() >= max_keys {
            truncated = true;
            break;
        }
        last = Some(object.key.clone());
        match rolled {
            Some(common) => prefixes.push(common),
            None => contents.push(object),
        }
    }
    let mut xml = Xml::new("ListBucketResult");
    xml.element("Name", bucket)
        .element("Prefix", &encode(&prefix))
        .element("KeyCount", &(contents.len() + prefixes.len()).to_string())
        .element("MaxKeys", &max_keys.to_string());
    if let Some(d) = &list.delimiter {
        xml.element("Delimiter", &encode(d));
    }
    if list.url_encoded {
        xml.element("EncodingType", "url");
    }
    xml.element("IsTruncated", if truncated { "true" } else { "false" });
    if let Some(token) = &list.continuation_token {
        xml.element("ContinuationToken", token);
    }
    if let Some(start) = &list.start_after {
        xml.element("StartAfter", &encode(start));
    }
    if truncated && let Some(last) = last {
        xml.element(
            "NextContinuationToken",
            &base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last),
        );
    }
    for object in &contents {
        xml.open("Contents")
            .element("Key", &encode(&object.key))
            .element("LastModified", &s3_time(&object.last_modified))
            .element("ETag", &format!("\"{}\"", object.etag))
            .element("Size", &object.size.to_string())
            .element("StorageClass", "STANDARD")
            .close("Contents");
    }
    for common in &prefixes {
        xml.open("CommonPrefixes")
            .element("Prefix", &encode(common))
            .close("CommonPrefixes");
    }
    Ok(xml_response(xml.finish("ListBucketResult")))
}

/// The checksums S3 verifies on upload, by header.
const CHECKSUM_HEADERS: [(&str, &str); 2] = [
    ("x-amz-checksum-crc32", "CRC32"),
    ("x-amz-checksum-sha256", "SHA256"),
];

/// Checksums computed while the body is written.
#[derive(Default)]
struct Digests {
    md5: Md5,
    crc32: crc32fast::Hasher,
    sha256: Sha256,
    size: u64,
}

impl Digests {
    fn update(&mut self, data: &[u8]) {
        self.md5.update(data);
        self.crc32.update(data);
        self.sha256.update(data);
        self.size += data.len() as u64;
    }
}

async fn put_object(
    store: &Store,
    bucket: &str,
    key: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, S3Error> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let upload = store.upload_path(bucket, key);
    let mut file = tokio::fs::File::create(&upload).await?;
    let mut digests = Digests::default();
    let mut body = body;
    // An aws-chunked body's checksums come after its data, as trailing headers.
    let mut trailers = HeaderMap::new();
    let outcome: Result<(), S3Error> = async {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(body_error)?;
            match frame.into_data() {
                Ok(data) => {
                    digests.update(&data);
                    file.write_all(&data).await?;
                }
                Err(frame) => {
                    if let Ok(t) = frame.into_trailers() {
                        trailers.extend(t);
                    }
                }
            }
        }
        file.flush().await?;
        file.sync_all().await?;
        Ok(())
    }
    .await;
    let checksums = outcome.and_then(|()| {
        let mut sent = headers.clone();
        sent.extend(trailers);
        verify_checksums(&sent, digests)
    });
    let Verified {
        etag,
        size,
        checksums,
    } = match checksums {
        Ok(done) => done,
        Err(e) => {
            let _ = tokio::fs::remove_file(&upload).await;
            return Err(e);
        }
    };
    let meta = ObjectMeta {
        key: key.to_owned(),
        size,
        etag: etag.clone(),
        last_modified: now_iso(),
        content_type: header("content-type").map(str::to_owned),
        user_metadata: headers
            .iter()
            .filter(|(n, _)| n.as_str().starts_with("x-amz-meta-"))
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
        checksums: checksums.clone(),
    };
    if let Err(e) = store.commit_object(bucket, &upload, &meta).await {
        let _ = tokio::fs::remove_file(&upload).await;
        return Err(e);
    }
    let mut response = StatusCode::OK.into_response();
    let out = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{etag}\"")) {
        out.insert(header::ETAG, v);
    }
    for (algorithm, value) in &checksums {
        if let Ok(v) = HeaderValue::from_str(value) {
            out.insert(
                http::HeaderName::from_bytes(
                    format!("x-amz-checksum-{}", algorithm.to_ascii_lowercase()).as_bytes(),
                )
                .map_err(|_| S3Error::internal())?,
                v,
            );
        }
    }
    Ok(response)
}

/// The S3 error for a body the guard refused while it was read.
fn body_error(e: axum::Error) -> S3Error {
    let inner = e.into_inner();
    match inner.downcast_ref::<portcullis_guard::BodyError>() {
        Some(portcullis_guard::BodyError::DigestMismatch) => S3Error::new(
            400,
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        ),
        Some(e @ portcullis_guard::BodyError::Chunk(_)) if e.code() == "SignatureDoesNotMatch" => {
            S3Error::new(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
            )
        }
        Some(e @ portcullis_guard::BodyError::Chunk(_)) => {
            S3Error::new(400, e.code(), e.to_string())
        }
        _ => S3Error::new(
            400,
            "IncompleteBody",
            "You did not provide the number of bytes specified by the Content-Length HTTP header.",
        ),
    }
}

/// What an upload's digests established: the ETag, the size and the checksums to keep.
struct Verified {
    etag: String,
    size: u64,
    checksums: Vec<(String, String)>,
}

/// Checks Content-MD5 and the x-amz-checksum-* headers against the body written.
fn verify_checksums(headers: &HeaderMap, digests: Digests) -> Result<Verified, S3Error> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let md5 = digests.md5.finalize();
    let crc32 = digests.crc32.finalize().to_be_bytes();
    let sha256 = digests.sha256.finalize();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(sent) = header("content-md5")
        && sent != b64.encode(md5)
    {
        return Err(S3Error::new(
            400,
            "BadDigest",
            "The Content-MD5 you specified did not match what we received.",
        ));
    }
    let mut kept = Vec::new();
    for (name, algorithm) in CHECKSUM_HEADERS {
        let Some(sent) = header(name) else { continue };
        let computed = match algorithm {
            "CRC32" => b64.encode(crc32),
            _ => b64.encode(sha256),
        };
        if sent != computed {
            return Err(S3Error::new(
                400,
                "BadDigest",
                format!("The {algorithm} you specified did not match the calculated checksum."),
            ));
        }
        kept.push((algorithm.to_owned(), computed));
    }
    if let Some(other) = headers.keys().map(http::HeaderName::as_str).find(|n| {
        n.starts_with("x-amz-checksum-")
            && *n != "x-amz-checksum-mode"
            && !CHECKSUM_HEADERS.iter().any(|(h, _)| h == n)
    }) {
        return Err(S3Error::invalid_argument(format!(
            "This object store verifies CRC32 and SHA256 checksums only, not {other}."
        )));
    }
    let etag = md5.iter().map(|b| format!("{b:02x}")).collect();
    Ok(Verified {
        etag,
        size: digests.size,
        checksums: kept,
    })
}

/// `bytes=A-B`, `bytes=A-`, `bytes=-N` of a `size`-byte object: the inclusive range, or
/// `None` when the header asks for none (or for several, which is served whole, as S3 does).
fn parse_range(range: &str, size: u64) -> Result<Option<(u64, u64)>, S3Error> {
    let Some(spec) = range.strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let unsatisfiable = || {
        S3Error::new(
            416,
            "InvalidRange",
            "The requested range is not satisfiable",
        )
    };
    let (start, end) = spec.split_once('-').ok_or_else(unsatisfiable)?;
    let (start, end) = match (start.parse::<u64>().ok(), end.parse::<u64>().ok()) {
        (Some(s), Some(e)) if s <= e => (s, e.min(size.saturating_sub(1))),
        (Some(s), None) if end.is_empty() => (s, size.saturating_sub(1)),
        (None, Some(n)) if start.is_empty() && n > 0 => {
            (size.saturating_sub(n), size.saturating_sub(1))
        }
        _ => return Ok(None),
    };
    if start >= size {
        return Err(unsatisfiable());
    }
    Ok(Some((start, end)))
}

async fn get_object(
    store: &Store,
    bucket: &str,
    key: &str,
    headers: &HeaderMap,
    with_body: bool,
) -> Result<Response, S3Error> {
    let meta = store
        .object(bucket, key)
        .await?
        .ok_or_else(S3Error::no_such_key)?;
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(r) => parse_range(r, meta.size)?,
        None => None,
    };
    let content = if with_body {
        let all = tokio::fs::read(store.content_path(bucket, key)).await?;
        match range {
            Some((start, end)) => Bytes::from(all).slice(
                usize::try_from(start).unwrap_or(usize::MAX)
                    ..usize::try_from(end + 1).unwrap_or(usize::MAX),
            ),
            None => Bytes::from(all),
        }
    } else {
        Bytes::new()
    };
    let length = match range {
        Some((start, end)) => end + 1 - start,
        None => meta.size,
    };
    let mut response = Response::new(Body::from(content));
    if range.is_some() {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    let out = response.headers_mut();
    let mut set = |name: &str, value: &str| {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            out.insert(n, v);
        }
    };
    set("etag", &format!("\"{}\"", meta.etag));
    set("content-length", &length.to_string());
    set(
        "content-type",
        meta.content_type
            .as_deref()
            .unwrap_or("binary/octet-stream"),
    );
    set("last-modified", &http_date(&meta.last_modified));
    set("accept-ranges", "bytes");
    if let Some((start, end)) = range {
        set(
            "content-range",
            &format!("bytes {start}-{end}/{}", meta.size),
        );
    }
    for (name, value) in &meta.user_metadata {
        set(name, value);
    }
    if headers
        .get("x-amz-checksum-mode")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"enabled"))
        && range.is_none()
    {
        for (algorithm, value) in &meta.checksums {
            set(
                &format!("x-amz-checksum-{}", algorithm.to_ascii_lowercase()),
                value,
            );
        }
    }
    Ok(response)
}
