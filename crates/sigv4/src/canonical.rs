//! The canonical request and the string to sign, byte for byte as AWS builds them.

use sha2::{Digest, Sha256};

use crate::auth::{ALGORITHM, CredentialScope};
use crate::error::Error;
use crate::request::{Request, UriEncoding};
use crate::uri::{canonical_path, canonical_path_single, canonical_query};

/// The payload hash of a presigned or unsigned-body request.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// The lowercase hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    crate::hex::encode(&Sha256::digest(bytes))
}

/// Appends a header value trimmed of surrounding spaces and tabs, inner runs of spaces
/// collapsed to one.
fn push_header_value(out: &mut Vec<u8>, value: &[u8]) {
    let is_ws = |b: &u8| *b == b' ' || *b == b'\t';
    let start = value.iter().position(|b| !is_ws(b)).unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !is_ws(b))
        .map_or(start, |i| i + 1);
    let mut previous_space = false;
    for &b in &value[start..end] {
        if b == b' ' && previous_space {
            continue;
        }
        previous_space = b == b' ';
        out.push(b);
    }
}

/// The canonical request:
///
/// ```text
/// METHOD\nCanonicalURI\nCanonicalQuery\nname:value\n...\n\nsigned;headers\nPayloadHash
/// ```
///
/// Only the `signed_headers` are included, in the order given; a repeated header's values are
/// joined with `,`. `exclude_param` leaves one query parameter out (`X-Amz-Signature`).
pub(crate) fn canonical_request(
    request: &Request<'_>,
    signed_headers: &[String],
    exclude_param: Option<&str>,
    payload_hash: &str,
) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(256 + request.query().len());
    out.extend_from_slice(request.method().as_bytes());
    out.push(b'\n');
    match request.uri_encoding_mode() {
        UriEncoding::Double => out.extend_from_slice(canonical_path(request.path()).as_bytes()),
        UriEncoding::Single => {
            out.extend_from_slice(canonical_path_single(request.path()).as_bytes());
        }
    }
    out.push(b'\n');
    out.extend_from_slice(canonical_query(request.query(), exclude_param).as_bytes());
    out.push(b'\n');
    for name in signed_headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        let mut found = false;
        for value in request.header_values(name) {
            if found {
                out.push(b',');
            }
            found = true;
            push_header_value(&mut out, value);
        }
        if !found {
            return Err(Error::SignedHeaderMissing { name: name.clone() });
        }
        out.push(b'\n');
    }
    out.push(b'\n');
    for (i, name) in signed_headers.iter().enumerate() {
        if i > 0 {
            out.push(b';');
        }
        out.extend_from_slice(name.as_bytes());
    }
    out.push(b'\n');
    out.extend_from_slice(payload_hash.as_bytes());
    Ok(out)
}

/// `AWS4-HMAC-SHA256\n<amz date>\n<scope>\n<hex sha256 of the canonical request>`.
pub(crate) fn string_to_sign(
    request_time: i64,
    scope: &CredentialScope,
    canonical_request: &[u8],
) -> String {
    let mut out = String::with_capacity(128);
    out.push_str(ALGORITHM);
    out.push('\n');
    out.push_str(&crate::date::format_amz_date(request_time));
    out.push('\n');
    out.push_str(&scope.to_scope_string());
    out.push('\n');
    crate::hex::encode_into(&mut out, &Sha256::digest(canonical_request));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_are_trimmed_and_collapsed() {
        let mut out = Vec::new();
        push_header_value(&mut out, b"  a   b \t c  ");
        assert_eq!(out, b"a b \t c");
        out.clear();
        push_header_value(&mut out, b"   ");
        assert_eq!(out, b"");
    }
}
