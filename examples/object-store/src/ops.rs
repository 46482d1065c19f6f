//! Which S3 operation a request is (path-style addressing), and what it must be allowed.

use http::Method;
use http::request::Parts;
use percent_encoding::percent_decode_str;

use crate::error::S3Error;

/// One S3 operation of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    ListBuckets,
    CreateBucket { bucket: String },
    DeleteBucket { bucket: String },
    HeadBucket { bucket: String },
    GetBucketLocation { bucket: String },
    ListObjectsV2 { bucket: String, list: ListParams },
    PutBucketPolicy { bucket: String },
    GetBucketPolicy { bucket: String },
    DeleteBucketPolicy { bucket: String },
    PutObject { bucket: String, key: String },
    GetObject { bucket: String, key: String },
    HeadObject { bucket: String, key: String },
    DeleteObject { bucket: String, key: String },
}

/// ListObjectsV2's parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListParams {
    pub prefix: Option<String>,
    pub delimiter: Option<String>,
    pub max_keys: Option<String>,
    pub continuation_token: Option<String>,
    pub start_after: Option<String>,
    /// `encoding-type=url`: keys and prefixes come back percent-encoded (the AWS CLI asks so).
    pub url_encoded: bool,
}

impl Op {
    /// The bucket the operation is on, if any.
    pub fn bucket(&self) -> Option<&str> {
        match self {
            Op::ListBuckets => None,
            Op::CreateBucket { bucket }
            | Op::DeleteBucket { bucket }
            | Op::HeadBucket { bucket }
            | Op::GetBucketLocation { bucket }
            | Op::ListObjectsV2 { bucket, .. }
            | Op::PutBucketPolicy { bucket }
            | Op::GetBucketPolicy { bucket }
            | Op::DeleteBucketPolicy { bucket }
            | Op::PutObject { bucket, .. }
            | Op::GetObject { bucket, .. }
            | Op::HeadObject { bucket, .. }
            | Op::DeleteObject { bucket, .. } => Some(bucket),
        }
    }

    /// The IAM action that authorizes it (AWS's: HeadObject needs s3:GetObject, HeadBucket
    /// s3:ListBucket).
    pub fn action(&self) -> &'static str {
        match self {
            Op::ListBuckets => "s3:ListAllMyBuckets",
            Op::CreateBucket { .. } => "s3:CreateBucket",
            Op::DeleteBucket { .. } => "s3:DeleteBucket",
            Op::HeadBucket { .. } | Op::ListObjectsV2 { .. } => "s3:ListBucket",
            Op::GetBucketLocation { .. } => "s3:GetBucketLocation",
            Op::PutBucketPolicy { .. } => "s3:PutBucketPolicy",
            Op::GetBucketPolicy { .. } => "s3:GetBucketPolicy",
            Op::DeleteBucketPolicy { .. } => "s3:DeleteBucketPolicy",
            Op::PutObject { .. } => "s3:PutObject",
            Op::GetObject { .. } | Op::HeadObject { .. } => "s3:GetObject",
            Op::DeleteObject { .. } => "s3:DeleteObject",
        }
    }

    /// The resource's ARN: `*`, the bucket's, or the object's.
    pub fn resource(&self) -> String {
        match self {
            Op::ListBuckets => "*".to_owned(),
            Op::PutObject { bucket, key }
            | Op::GetObject { bucket, key }
            | Op::HeadObject { bucket, key }
            | Op::DeleteObject { bucket, key } => format!("arn:aws:s3:::{bucket}/{key}"),
            other => format!("arn:aws:s3:::{}", other.bucket().unwrap_or_default()),
        }
    }
}

/// The query's parameters, percent-decoded.
fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
            (decode(k), decode(v))
        })
        .collect()
}

/// S3's bucket naming rules (general purpose buckets).
pub fn valid_bucket_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && !name.contains("..")
        && name.parse::<std::net::Ipv4Addr>().is_err()
}

/// Classifies a request.
pub fn classify(parts: &Parts) -> Result<Op, S3Error> {
    let raw = parts.uri.path().trim_start_matches('/');
    let (bucket, key) = match raw.split_once('/') {
        Some((bucket, key)) => (bucket, Some(key)),
        None => (raw, None),
    };
    let bucket = percent_decode_str(bucket).decode_utf8_lossy().into_owned();
    let key = key
        .filter(|k| !k.is_empty())
        .map(|k| percent_decode_str(k).decode_utf8().map(|k| k.into_owned()))
        .transpose()
        .map_err(|_| S3Error::invalid_argument("The object key is not valid UTF-8."))?;
    let query = query_pairs(parts.uri.query().unwrap_or_default());
    let has = |name: &str| query.iter().any(|(k, _)| k == name);
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if bucket.is_empty() {
        return match parts.method {
            Method::GET => Ok(Op::ListBuckets),
            _ => Err(S3Error::method_not_allowed()),
        };
    }
    if !valid_bucket_name(&bucket) {
        return Err(S3Error::new(
            400,
            "InvalidBucketName",
            "The specified bucket is not valid.",
        ));
    }
    for unsupported in [
        "uploads",
        "uploadId",
        "acl",
        "tagging",
        "versioning",
        "cors",
        "lifecycle",
    ] {
        if has(unsupported) {
            return Err(S3Error::new(
                501,
                "NotImplemented",
                format!("This object store does not implement the ?{unsupported} operations."),
            ));
        }
    }
    let op = match (key, &parts.method) {
        (None, &Method::PUT) if has("policy") => Op::PutBucketPolicy { bucket },
        (None, &Method::GET) if has("policy") => Op::GetBucketPolicy { bucket },
        (None, &Method::DELETE) if has("policy") => Op::DeleteBucketPolicy { bucket },
        (None, &Method::GET) if has("location") => Op::GetBucketLocation { bucket },
        (None, &Method::PUT) => Op::CreateBucket { bucket },
        (None, &Method::DELETE) => Op::DeleteBucket { bucket },
        (None, &Method::HEAD) => Op::HeadBucket { bucket },
        (None, &Method::GET) if param("list-type").as_deref() == Some("2") => Op::ListObjectsV2 {
            bucket,
            list: ListParams {
                prefix: param("prefix"),
                delimiter: param("delimiter"),
                max_keys: param("max-keys"),
                continuation_token: param("continuation-token"),
                start_after: param("start-after"),
                url_encoded: param("encoding-type").as_deref() == Some("url"),
            },
        },
        (None, &Method::GET) => {
            return Err(S3Error::new(
                501,
                "NotImplemented",
                "This object store implements ListObjectsV2 (list-type=2) only.",
            ));
        }
        (Some(key), &Method::PUT) => {
            if parts.headers.contains_key("x-amz-copy-source") {
                return Err(S3Error::new(
                    501,
                    "NotImplemented",
                    "CopyObject is not implemented.",
                ));
            }
            Op::PutObject { bucket, key }
        }
        (Some(key), &Method::GET) => Op::GetObject { bucket, key },
        (Some(key), &Method::HEAD) => Op::HeadObject { bucket, key },
        (Some(key), &Method::DELETE) => Op::DeleteObject { bucket, key },
        _ => return Err(S3Error::method_not_allowed()),
    };
    if let Op::PutObject { key, .. } = &op
        && key.len() > 1024
    {
        return Err(S3Error::new(
            400,
            "KeyTooLongError",
            "Your key is too long.",
        ));
    }
    Ok(op)
}
