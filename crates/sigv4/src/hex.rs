//! Lowercase hex, the form SigV4 writes digests and signatures in.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Appends the lowercase hex of `bytes` to `out`.
pub(crate) fn encode_into(out: &mut String, bytes: &[u8]) {
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
}

/// The lowercase hex of `bytes`.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    encode_into(&mut out, bytes);
    out
}

/// Decodes exactly 64 lowercase hex digits into 32 bytes; anything else is `None`.
pub(crate) fn decode_32(s: &str) -> Option<[u8; 32]> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let bytes: Vec<u8> = (0..32).map(|i| i * 8 + 3).collect();
        let text = encode(&bytes);
        assert_eq!(text.len(), 64);
        assert_eq!(decode_32(&text).map(|b| b.to_vec()), Some(bytes));
    }

    #[test]
    fn refuses_uppercase_short_and_non_hex() {
        assert_eq!(decode_32(&"A".repeat(64)), None);
        assert_eq!(decode_32(&"a".repeat(62)), None);
        assert_eq!(decode_32(&"g".repeat(64)), None);
        assert_eq!(decode_32(&"é".repeat(32)), None);
    }
}
