//! AWS Signature Version 4 (`AWS4-HMAC-SHA256`): verify a request's signature, from its
//! `Authorization` header or a presigned URL, and sign requests for our own clients.
//!
//! Pure: no IO, no clock (callers pass `now` in unix seconds), no HTTP framework (requests
//! are described by [`Request`], a borrowed view), no storage (callers look up the secret).
//!
//! A server authenticates in two steps, so that the secret is looked up by the access key id
//! the request names:
//!
//! ```
//! use portcullis_sigv4::{parse, verify, sign, Request, SigningParams};
//!
//! # let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
//! # let now = 1_440_938_160;
//! # let body = b"Action=ListUsers&Version=2010-05-08";
//! # let unsigned = Request::new("POST", "/", "").header("host", "iam.amazonaws.com").body(body);
//! # let params = SigningParams::new("AKIDEXAMPLE", secret, "us-east-1", "iam", now);
//! # let added = sign(&unsigned, &params).unwrap();
//! # let request = added.iter().fold(unsigned.clone(), |r, (n, v)| r.header(n, v));
//! let auth = parse(&request)?;                        // no secret needed
//! assert_eq!(auth.access_key_id(), "AKIDEXAMPLE");    // look the secret up by this
//! let verified = verify(&auth, &request, secret, now)?;
//! assert!(verified.payload_signed());
//! # Ok::<(), portcullis_sigv4::Error>(())
//! ```
//!
//! S3's rules: a request built with [`UriEncoding::Single`] signs its path as sent (S3
//! encodes paths once and does not normalize them); `UNSIGNED-PAYLOAD` leaves the body
//! unsigned; the streaming forms (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`,
//! `STREAMING-UNSIGNED-PAYLOAD-TRAILER`) sign the headers only, and [`ChunkedDecoder`]
//! decodes the aws-chunked body, checking each chunk's signature and the trailer's.
//!
//! Servers that see many requests per key can derive the [`SigningKey`] once per
//! `(access key id, scope)` and call [`verify_with_key`].

mod auth;
mod canonical;
mod chunked;
mod date;
mod error;
mod hex;
mod key;
mod request;
mod sign;
mod uri;
mod verify;

pub use auth::{
    ALGORITHM, AuthKind, Authentication, CredentialScope, MAX_PRESIGN_EXPIRES, SCOPE_TERMINATOR,
    parse,
};
pub use canonical::UNSIGNED_PAYLOAD;
pub use chunked::{ChunkError, ChunkErrorKind, ChunkSigner, ChunkedDecoder, MAX_CHUNK_BYTES};
pub use date::{format_amz_date, format_scope_date, parse_amz_date};
pub use error::{AuthLocation, Error, MAX_SKEW_SECONDS, SignError};
pub use key::SigningKey;
pub use request::{Request, UriEncoding};
pub use sign::{PayloadSigning, SigningParams, presign, sign};
pub use verify::{
    STREAMING_PAYLOAD, STREAMING_PAYLOAD_TRAILER, STREAMING_UNSIGNED_PAYLOAD_TRAILER, Streaming,
    Verified, verify, verify_with_key,
};

#[cfg(test)]
mod tests;
