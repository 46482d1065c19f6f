//! Checking a parsed [`Authentication`] against the request and the secret: time, payload
//! hash, then the signature, compared in constant time.

use subtle::ConstantTimeEq;

use crate::auth::{AuthKind, Authentication};
use crate::canonical::{UNSIGNED_PAYLOAD, canonical_request, string_to_sign};
use crate::date::{format_amz_date, format_scope_date};
use crate::error::{AuthLocation, Error, MAX_SKEW_SECONDS};
use crate::key::SigningKey;
use crate::request::Request;

/// `x-amz-content-sha256` of an aws-chunked body whose every chunk is signed.
pub const STREAMING_PAYLOAD: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
/// The same, with signed trailing headers (checksums) after the last chunk.
pub const STREAMING_PAYLOAD_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
/// An aws-chunked body with unsigned chunks and unsigned trailing headers (the checksum in
/// the trailer is what protects the body; AWS's SDKs send it over HTTPS only).
pub const STREAMING_UNSIGNED_PAYLOAD_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

/// An aws-chunked body (`x-amz-content-sha256: STREAMING-...`): the header signature covers
/// the headers only; each chunk (and the trailer) is signed in turn, chained from the
/// request's signature, and must be checked with a [`crate::ChunkedDecoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Streaming {
    /// Every chunk carries a `chunk-signature` (the `STREAMING-AWS4-HMAC-SHA256-*` forms).
    pub signed_chunks: bool,
    /// Trailing headers follow the last chunk (the `*-TRAILER` forms).
    pub trailer: bool,
}

impl Streaming {
    /// The `x-amz-content-sha256` value of this form.
    pub fn literal(self) -> &'static str {
        match (self.signed_chunks, self.trailer) {
            (true, false) => STREAMING_PAYLOAD,
            (true, true) => STREAMING_PAYLOAD_TRAILER,
            _ => STREAMING_UNSIGNED_PAYLOAD_TRAILER,
        }
    }

    /// The streaming form `x-amz-content-sha256` names, if it names one.
    pub fn from_content_sha256(value: &[u8]) -> Option<Streaming> {
        let (signed_chunks, trailer) = match value {
            v if v == STREAMING_PAYLOAD.as_bytes() => (true, false),
            v if v == STREAMING_PAYLOAD_TRAILER.as_bytes() => (true, true),
            v if v == STREAMING_UNSIGNED_PAYLOAD_TRAILER.as_bytes() => (false, true),
            _ => return None,
        };
        Some(Streaming {
            signed_chunks,
            trailer,
        })
    }
}

/// What a successful verification established beyond "the signature is good".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Verified {
    pub(crate) payload_signed: bool,
    pub(crate) streaming: Option<Streaming>,
}

impl Verified {
    /// For an aws-chunked body, how its chunks are signed; the body is then not covered by
    /// [`Verified::payload_signed`] and must be decoded with a [`crate::ChunkedDecoder`].
    pub fn streaming(&self) -> Option<Streaming> {
        self.streaming
    }

    /// Whether the body can be trusted: the signature covers it, or it is empty. `false` when
    /// the client signed `UNSIGNED-PAYLOAD` (header `x-amz-content-sha256: UNSIGNED-PAYLOAD`,
    /// or a presigned URL signed that way) and sent a body anyway: that body was not
    /// authenticated, and a server must refuse or ignore it.
    pub fn payload_signed(&self) -> bool {
        self.payload_signed
    }
}

/// Verifies `request` against its parsed authentication, deriving the signing key from
/// `secret_access_key`. `now` is the server's clock in unix seconds.
pub fn verify(
    auth: &Authentication,
    request: &Request<'_>,
    secret_access_key: &str,
    now: i64,
) -> Result<Verified, Error> {
    check_time(auth, now)?;
    let key = SigningKey::derive(secret_access_key, auth.scope());
    check_signature(auth, request, &key)
}

/// Like [`verify`], with a signing key the caller derived (and may have cached) for the
/// request's scope. A key for another scope fails with `SignatureDoesNotMatch`.
pub fn verify_with_key(
    auth: &Authentication,
    request: &Request<'_>,
    key: &SigningKey,
    now: i64,
) -> Result<Verified, Error> {
    check_time(auth, now)?;
    if key.scope() != auth.scope() {
        return Err(Error::SignatureDoesNotMatch);
    }
    check_signature(auth, request, key)
}

/// The scope date is the request date; the request time is within 15 minutes of `now`
/// (header auth) or the presigned URL is current.
fn check_time(auth: &Authentication, now: i64) -> Result<(), Error> {
    let request_time = auth.request_time();
    if format_scope_date(request_time) != auth.scope().date {
        return Err(Error::ScopeDateMismatch {
            scope_date: auth.scope().date.clone(),
            request_time: format_amz_date(request_time),
        });
    }
    match auth.kind() {
        AuthKind::Header => {
            if request_time.abs_diff(now) > MAX_SKEW_SECONDS.unsigned_abs() {
                return Err(Error::RequestTimeTooSkewed { request_time, now });
            }
        }
        AuthKind::Presigned { expires } => {
            if request_time > now.saturating_add(MAX_SKEW_SECONDS) {
                return Err(Error::NotYetValid { request_time, now });
            }
            let expired_at = request_time.saturating_add(i64::from(expires));
            if now > expired_at {
                return Err(Error::Expired { expired_at, now });
            }
        }
    }
    Ok(())
}

/// How the payload hash of the canonical request is chosen.
enum PayloadHash {
    /// Exactly this value (the body's SHA-256, or `UNSIGNED-PAYLOAD` from the header).
    One(String, bool),
    /// An aws-chunked body: the literal header value is signed.
    Streaming(&'static str, Streaming),
    /// A presigned URL: AWS's SDKs sign the body's hash (empty for GET) or, S3-style,
    /// `UNSIGNED-PAYLOAD`; both are accepted, and which one matched is reported.
    Presigned(String),
}

fn payload_hash(auth: &Authentication, request: &Request<'_>) -> Result<PayloadHash, Error> {
    let declared = request
        .single_header("x-amz-content-sha256")
        .map_err(|()| Error::Malformed {
            location: AuthLocation::Header,
            reason: "more than one x-amz-content-sha256 header".to_owned(),
        })?;
    let Some(declared) = declared else {
        let body_hash = request.body_hash();
        return Ok(match auth.kind() {
            AuthKind::Header => PayloadHash::One(body_hash, true),
            AuthKind::Presigned { .. } => PayloadHash::Presigned(body_hash),
        });
    };
    let declared = declared.trim_ascii();
    if let Some(streaming) = Streaming::from_content_sha256(declared) {
        // Chunk signatures chain from a header signature; a presigned URL has no such form.
        if matches!(auth.kind(), AuthKind::Presigned { .. }) {
            return Err(Error::UnsupportedPayloadHash);
        }
        return Ok(PayloadHash::Streaming(streaming.literal(), streaming));
    }
    if declared == UNSIGNED_PAYLOAD.as_bytes() {
        let empty = request.body_bytes().is_empty();
        return Ok(PayloadHash::One(UNSIGNED_PAYLOAD.to_owned(), empty));
    }
    let declared = std::str::from_utf8(declared)
        .ok()
        .filter(|d| crate::hex::decode_32(d).is_some())
        .ok_or(Error::UnsupportedPayloadHash)?;
    let body_hash = request.body_hash();
    if declared != body_hash {
        return Err(Error::ContentSha256Mismatch);
    }
    Ok(PayloadHash::One(body_hash, true))
}

fn check_signature(
    auth: &Authentication,
    request: &Request<'_>,
    key: &SigningKey,
) -> Result<Verified, Error> {
    let exclude = match auth.kind() {
        AuthKind::Header => None,
        AuthKind::Presigned { .. } => Some("X-Amz-Signature"),
    };
    let matches = |hash: &str| -> Result<bool, Error> {
        let creq = canonical_request(request, auth.signed_headers(), exclude, hash)?;
        let sts = string_to_sign(auth.request_time(), auth.scope(), &creq);
        let computed = key.sign(sts.as_bytes());
        Ok(bool::from(computed.ct_eq(auth.signature())))
    };
    let mut streaming = None;
    let payload_signed = match payload_hash(auth, request)? {
        PayloadHash::One(hash, signed) => matches(&hash)?.then_some(signed),
        PayloadHash::Streaming(literal, mode) => {
            streaming = Some(mode);
            // The body is covered by its chunks, not by this signature.
            matches(literal)?.then_some(false)
        }
        PayloadHash::Presigned(body_hash) => {
            if matches(&body_hash)? {
                Some(true)
            } else if matches(UNSIGNED_PAYLOAD)? {
                Some(request.body_bytes().is_empty())
            } else {
                None
            }
        }
    };
    payload_signed
        .map(|payload_signed| Verified {
            payload_signed,
            streaming,
        })
        .ok_or(Error::SignatureDoesNotMatch)
}
