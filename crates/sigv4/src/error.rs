//! Why a request's SigV4 authentication was refused, and the AWS error each reason maps to.
//!
//! Messages name what the client sent (dates, header names, the access key id) and never
//! anything derived from a secret: no expected signature, no signing key, no string to sign.

use std::fmt;

/// Where the request carried its authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthLocation {
    /// The `Authorization` header.
    Header,
    /// Presigned query parameters (`X-Amz-Algorithm`, `X-Amz-Signature`, ...).
    Query,
}

/// A reason SigV4 authentication failed. Each maps onto one AWS error code
/// ([`Error::aws_code`]) and HTTP status ([`Error::http_status`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Neither an `Authorization` header nor `X-Amz-Algorithm`/`X-Amz-Signature` query
    /// parameters were present.
    MissingAuthentication,
    /// Both an `Authorization` header and presigned query parameters were present.
    ConflictingAuthentication,
    /// The algorithm is not `AWS4-HMAC-SHA256` (SigV2, SigV4a, or something else).
    UnsupportedAlgorithm {
        /// The algorithm the client named (truncated to a safe length).
        algorithm: String,
    },
    /// The `Authorization` header or presigned parameters are missing a part or malformed.
    Malformed {
        /// Where the authentication was read from.
        location: AuthLocation,
        /// What is wrong, in words meant for the client.
        reason: String,
    },
    /// The credential (`AKID/date/region/service/aws4_request`) is malformed.
    MalformedCredential {
        /// What is wrong, in words meant for the client.
        reason: String,
    },
    /// The request carries no usable date (`X-Amz-Date`, or `Date` for header auth).
    MissingDate,
    /// The request date is not `YYYYMMDD'T'HHMMSS'Z'` (or an HTTP date in `Date`).
    InvalidDate {
        /// The value the client sent (truncated to a safe length).
        value: String,
    },
    /// `X-Amz-Expires` is not a whole number of seconds between 1 and 604800.
    InvalidExpires {
        /// The value the client sent (truncated to a safe length).
        value: String,
    },
    /// The date in the credential scope is not the date of the request time.
    ScopeDateMismatch {
        /// `YYYYMMDD` from the credential scope.
        scope_date: String,
        /// The request time, `YYYYMMDD'T'HHMMSS'Z'`.
        request_time: String,
    },
    /// `host` is not among the signed headers.
    HostNotSigned,
    /// A header named in `SignedHeaders` is not present in the request.
    SignedHeaderMissing {
        /// The lowercase header name.
        name: String,
    },
    /// Header auth: the request time is more than 15 minutes from the server's clock.
    RequestTimeTooSkewed {
        /// The request time, unix seconds.
        request_time: i64,
        /// The server's clock, unix seconds.
        now: i64,
    },
    /// Presigned auth: the URL's validity (`X-Amz-Date` + `X-Amz-Expires`) has passed.
    Expired {
        /// When the URL stopped being valid, unix seconds.
        expired_at: i64,
        /// The server's clock, unix seconds.
        now: i64,
    },
    /// Presigned auth: `X-Amz-Date` is more than 15 minutes in the future.
    NotYetValid {
        /// The request time, unix seconds.
        request_time: i64,
        /// The server's clock, unix seconds.
        now: i64,
    },
    /// `x-amz-content-sha256` is neither a SHA-256 hex digest, `UNSIGNED-PAYLOAD` nor one of
    /// the SigV4 streaming forms (SigV4a's ECDSA streaming is not supported, and presigned
    /// URLs cannot stream).
    UnsupportedPayloadHash,
    /// `x-amz-content-sha256` names a digest that is not the SHA-256 of the body.
    ContentSha256Mismatch,
    /// The signature the client sent is not the one computed with the secret key.
    SignatureDoesNotMatch,
}

/// The 15-minute window AWS allows between the request time and the server's clock.
pub const MAX_SKEW_SECONDS: i64 = 15 * 60;

impl Error {
    /// The AWS error code (`<Code>` in a Query-protocol error response).
    ///
    /// Clock skew maps to `SignatureDoesNotMatch` because that is what IAM and STS return
    /// ("Signature expired: ... is now earlier than ..."); `RequestTimeTooSkewed` is S3's code.
    pub fn aws_code(&self) -> &'static str {
        match self {
            Error::MissingAuthentication => "MissingAuthenticationToken",
            Error::ConflictingAuthentication
            | Error::UnsupportedAlgorithm { .. }
            | Error::Malformed { .. }
            | Error::MalformedCredential { .. }
            | Error::MissingDate
            | Error::InvalidDate { .. }
            | Error::HostNotSigned => "IncompleteSignature",
            Error::InvalidExpires { .. } | Error::UnsupportedPayloadHash => "InvalidParameterValue",
            Error::Expired { .. } => "RequestExpired",
            Error::ContentSha256Mismatch => "XAmzContentSHA256Mismatch",
            Error::ScopeDateMismatch { .. }
            | Error::SignedHeaderMissing { .. }
            | Error::RequestTimeTooSkewed { .. }
            | Error::NotYetValid { .. }
            | Error::SignatureDoesNotMatch => "SignatureDoesNotMatch",
        }
    }

    /// The HTTP status AWS pairs with [`Error::aws_code`].
    pub fn http_status(&self) -> u16 {
        match self.aws_code() {
            "MissingAuthenticationToken" | "SignatureDoesNotMatch" => 403,
            _ => 400,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::MissingAuthentication => f.write_str("Request is missing Authentication Token"),
            Error::ConflictingAuthentication => f.write_str(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or \
                 the Authorization header should be specified",
            ),
            Error::UnsupportedAlgorithm { algorithm } => {
                write!(f, "Unsupported AWS 'algorithm': '{algorithm}'")
            }
            Error::Malformed { location, reason } => match location {
                AuthLocation::Header => write!(f, "Authorization header is malformed: {reason}"),
                AuthLocation::Query => {
                    write!(f, "Presigned query parameters are malformed: {reason}")
                }
            },
            Error::MalformedCredential { reason } => write!(f, "Invalid credential: {reason}"),
            Error::MissingDate => f.write_str(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' \
                 header.",
            ),
            Error::InvalidDate { value } => write!(
                f,
                "Date must be in ISO-8601 'basic format'. Got '{value}'. See \
                 http://en.wikipedia.org/wiki/ISO_8601"
            ),
            Error::InvalidExpires { value } => write!(
                f,
                "X-Amz-Expires must be a whole number of seconds between 1 and 604800 (one \
                 week); got '{value}'"
            ),
            Error::ScopeDateMismatch {
                scope_date,
                request_time,
            } => write!(
                f,
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
                 from HTTP: '{scope_date}' != '{}', from '{request_time}'.",
                request_time.get(..8).unwrap_or(request_time)
            ),
            Error::HostNotSigned => {
                f.write_str("'Host' must be a 'SignedHeader' in the AWS Authorization.")
            }
            Error::SignedHeaderMissing { name } => {
                write!(
                    f,
                    "The signed header '{name}' is not present in the request."
                )
            }
            Error::RequestTimeTooSkewed { request_time, now } => {
                let (rt, now_s) = (crate::format_amz_date(*request_time), *now);
                if *request_time < now_s {
                    write!(
                        f,
                        "Signature expired: {rt} is now earlier than {} ({} - 15 min.)",
                        crate::format_amz_date(now_s.saturating_sub(MAX_SKEW_SECONDS)),
                        crate::format_amz_date(now_s)
                    )
                } else {
                    write!(
                        f,
                        "Signature not yet current: {rt} is still later than {} ({} + 15 min.)",
                        crate::format_amz_date(now_s.saturating_add(MAX_SKEW_SECONDS)),
                        crate::format_amz_date(now_s)
                    )
                }
            }
            Error::Expired { expired_at, now } => write!(
                f,
                "Request has expired: it was valid until {}, and it is now {}.",
                crate::format_amz_date(*expired_at),
                crate::format_amz_date(*now)
            ),
            Error::NotYetValid { request_time, now } => write!(
                f,
                "Signature not yet current: {} is still later than {} ({} + 15 min.)",
                crate::format_amz_date(*request_time),
                crate::format_amz_date(now.saturating_add(MAX_SKEW_SECONDS)),
                crate::format_amz_date(*now)
            ),
            Error::UnsupportedPayloadHash => f.write_str(
                "x-amz-content-sha256 must be the hex SHA-256 of the body, UNSIGNED-PAYLOAD, \
                 STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] or STREAMING-UNSIGNED-PAYLOAD-TRAILER \
                 (with header authentication)",
            ),
            Error::ContentSha256Mismatch => f.write_str(
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            ),
            Error::SignatureDoesNotMatch => f.write_str(
                "The request signature we calculated does not match the signature you provided. \
                 Check your AWS Secret Access Key and signing method. Consult the service \
                 documentation for details.",
            ),
        }
    }
}

impl std::error::Error for Error {}

/// Keeps client-supplied text in messages short and printable.
pub(crate) fn excerpt(value: &str) -> String {
    value
        .chars()
        .take(64)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Why [`crate::sign`] or [`crate::presign`] could not sign a request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignError {
    /// The request view has no `host` header; SigV4 requires `host` to be signed.
    MissingHost,
    /// The presign expiry is outside 1..=604800 seconds.
    InvalidExpires,
    /// The request already carries authentication (`Authorization`, or `X-Amz-*` presign
    /// parameters for [`crate::presign`]).
    AlreadySigned,
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignError::MissingHost => f.write_str("the request has no host header to sign"),
            SignError::InvalidExpires => {
                f.write_str("presign expiry must be between 1 and 604800 seconds")
            }
            SignError::AlreadySigned => f.write_str("the request already carries a signature"),
        }
    }
}

impl std::error::Error for SignError {}
