//! The canonical URI and canonical query string. The query is built alike for every service;
//! the path is encoded again outside S3 and taken as sent by S3 ([`crate::UriEncoding`]).
//!
//! Encoding is RFC 3986: the unreserved characters (`A-Z a-z 0-9 - _ . ~`) stay, every other
//! byte becomes `%XY` with uppercase hex.
//!
//! - Path: the raw path as sent (already percent-encoded by the client) is normalized (`.`,
//!   `..` and empty segments removed) and encoded again, `/` kept. So `%20` on the wire is
//!   `%2520` in the canonical URI: the "double encoding" AWS uses outside S3.
//! - Query: each `name=value` pair is decoded the way HTML forms are (`+` is a space, `%XY` is
//!   a byte, a stray `%` is itself) and encoded again; pairs are sorted by encoded name, then
//!   encoded value. A pair without `=` has an empty value. Decoding `+` as a space matches the
//!   AWS SDKs and the form decoder that later reads the Query-protocol parameters, so the
//!   parameters that were signed are the parameters that are executed.

const UPPER_HEX: &[u8; 16] = b"0123456789ABCDEF";

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// Appends the RFC 3986 encoding of `bytes`, keeping `/` if `keep_slash`.
pub(crate) fn encode_into(out: &mut String, bytes: &[u8], keep_slash: bool) {
    for &b in bytes {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(UPPER_HEX[usize::from(b >> 4)]));
            out.push(char::from(UPPER_HEX[usize::from(b & 0x0f)]));
        }
    }
}

/// The RFC 3986 encoding of `bytes` (`/` encoded too), as query names and values use it.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    encode_into(&mut out, bytes, false);
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes one query name or value as a form decoder does: `+` is a space, `%XY` a byte,
/// and a `%` not followed by two hex digits stands for itself.
pub(crate) fn decode_form(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let pair = b
                    .get(i + 1)
                    .and_then(|&h| hex_value(h))
                    .zip(b.get(i + 2).and_then(|&l| hex_value(l)));
                if let Some((h, l)) = pair {
                    out.push((h << 4) | l);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    out
}

/// The decoded `(name, value)` pairs of a raw query string, in order; empty pieces (`a=1&&b`)
/// are skipped, a piece without `=` has an empty value.
pub(crate) fn query_pairs(query: &str) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|piece| {
        let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
        (decode_form(name), decode_form(value))
    })
}

/// The canonical query string of a raw query, leaving out the pair named `exclude` if given
/// (`X-Amz-Signature` for presigned requests).
pub(crate) fn canonical_query(query: &str, exclude: Option<&str>) -> String {
    let mut pairs: Vec<(String, String)> = query_pairs(query)
        .filter(|(name, _)| exclude.is_none_or(|ex| name.as_slice() != ex.as_bytes()))
        .map(|(name, value)| (encode(&name), encode(&value)))
        .collect();
    pairs.sort_unstable();
    let mut out = String::with_capacity(query.len() + 16);
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// Removes `.`, `..` and empty segments (RFC 3986 §5.2.4, plus `//` → `/`), keeping a
/// trailing slash. An empty path is `/`.
fn normalize_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(path.len() + 1);
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    let trailing = ["/", "/.", "/.."].iter().any(|t| path.ends_with(t));
    if out.is_empty() || trailing {
        out.push('/');
    }
    out
}

/// S3's canonical URI: the raw path as sent (the client encoded it once), `/` when empty.
pub(crate) fn canonical_path_single(path: &str) -> &str {
    if path.is_empty() { "/" } else { path }
}

/// The canonical URI of a raw request path (as sent, without the query), outside S3.
pub(crate) fn canonical_path(path: &str) -> String {
    let needs_normalizing =
        path.is_empty() || !path.starts_with('/') || path.contains("//") || path.contains('.');
    let normalized;
    let path = if needs_normalizing {
        normalized = normalize_path(path);
        normalized.as_str()
    } else {
        path
    };
    let mut out = String::with_capacity(path.len() + 8);
    encode_into(&mut out, path.as_bytes(), true);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_is_normalized_then_encoded_again() {
        assert_eq!(canonical_path(""), "/");
        assert_eq!(canonical_path("/"), "/");
        assert_eq!(canonical_path("/a/b"), "/a/b");
        assert_eq!(canonical_path("a/b"), "/a/b");
        assert_eq!(canonical_path("/a/./b/../c/"), "/a/c/");
        assert_eq!(canonical_path("/a//b"), "/a/b");
        assert_eq!(canonical_path("/.."), "/");
        assert_eq!(canonical_path("/a/.."), "/");
        assert_eq!(canonical_path("/a%20b/c~d_e.f"), "/a%2520b/c~d_e.f");
        assert_eq!(canonical_path("/x:y@z!$"), "/x%3Ay%40z%21%24");
        assert_eq!(canonical_path("/é"), "/%C3%A9");
    }

    #[test]
    fn s3_paths_are_taken_as_sent() {
        assert_eq!(canonical_path_single(""), "/");
        assert_eq!(canonical_path_single("/b/a%20b/./c//d"), "/b/a%20b/./c//d");
    }

    #[test]
    fn query_is_decoded_encoded_and_sorted() {
        assert_eq!(
            canonical_query("Version=2010-05-08&Action=ListUsers", None),
            "Action=ListUsers&Version=2010-05-08"
        );
        assert_eq!(canonical_query("", None), "");
        assert_eq!(canonical_query("b=2&a&&c=", None), "a=&b=2&c=");
        assert_eq!(canonical_query("a=x+y", None), "a=x%20y");
        assert_eq!(canonical_query("a=x%2By", None), "a=x%2By");
        assert_eq!(canonical_query("a=x%2fy", None), "a=x%2Fy");
        assert_eq!(canonical_query("a=x/y", None), "a=x%2Fy");
        assert_eq!(canonical_query("a=%zz%4", None), "a=%25zz%254");
        assert_eq!(
            canonical_query("a=caf%C3%A9&a=abc", None),
            "a=abc&a=caf%C3%A9"
        );
        assert_eq!(canonical_query("a=é", None), "a=%C3%A9");
        assert_eq!(canonical_query("k=v=w", None), "k=v%3Dw");
        assert_eq!(
            canonical_query("X-Amz-Signature=abc&X-Amz-Date=1", Some("X-Amz-Signature")),
            "X-Amz-Date=1"
        );
        // Sorting is on the encoded form: '%' (0x25) sorts before letters.
        assert_eq!(canonical_query("a=b&%21=1", None), "%21=1&a=b");
    }
}
