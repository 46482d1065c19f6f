//! Encoded authorization messages: the explanation of a denied request, sealed under the
//! master key so that only this service can read it (STS DecodeAuthorizationMessage).
//!
//! The explanation (JSON text) is sealed with XChaCha20-Poly1305, bound to its purpose and to
//! the account of the denied caller: a message opens only as a message (never as a session
//! token or a secret sealed at rest, nor the other way round), and only for that account.
//! The encoding is base64url without padding, so it survives being pasted into a shell.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::seal::MasterKey;

/// The longest `EncodedMessage` DecodeAuthorizationMessage accepts (AWS's limit).
pub const MAX_ENCODED_LEN: usize = 10_240;

/// The longest explanation that still encodes within [`MAX_ENCODED_LEN`]: the nonce (24
/// bytes) and tag (16 bytes) are added, then base64 makes 4 characters of every 3 bytes.
pub const MAX_PLAINTEXT_LEN: usize = MAX_ENCODED_LEN / 4 * 3 - 24 - 16;

const PURPOSE: &str = "portcullis authorization message v1";

fn binding(account_id: &str) -> Vec<u8> {
    format!("{PURPOSE}\n{account_id}").into_bytes()
}

/// Seals an explanation for a caller of `account_id`.
pub fn seal(key: &MasterKey, account_id: &str, explanation: &str) -> String {
    URL_SAFE_NO_PAD.encode(key.seal_bytes(explanation.as_bytes(), &binding(account_id)))
}

/// Opens a message sealed for `account_id`; `None` when it is damaged, altered, not one of
/// ours, or made for another account.
pub fn open(key: &MasterKey, account_id: &str, encoded: &str) -> Option<String> {
    if encoded.len() > MAX_ENCODED_LEN {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(encoded.trim()).ok()?;
    let plain = key.open_bytes(&bytes, &binding(account_id)).ok()?;
    String::from_utf8(plain).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let key = MasterKey::from_bytes([9; 32]);
        let text = r#"{"allowed":false}"#;
        let sealed = seal(&key, "111122223333", text);
        assert!(!sealed.contains("allowed"));
        assert!(
            sealed
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(open(&key, "111122223333", &sealed).as_deref(), Some(text));
        // Another account, another key, an altered message, a session token's sealing.
        assert_eq!(open(&key, "444455556666", &sealed), None);
        assert_eq!(
            open(&MasterKey::from_bytes([1; 32]), "111122223333", &sealed),
            None
        );
        let mut altered = sealed.clone().into_bytes();
        let i = altered.len() / 2;
        altered[i] = if altered[i] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        assert_eq!(open(&key, "111122223333", &altered), None);
        let other_purpose = URL_SAFE_NO_PAD.encode(key.seal_bytes(text.as_bytes(), b""));
        assert_eq!(open(&key, "111122223333", &other_purpose), None);
        assert_eq!(open(&key, "111122223333", "not base64!"), None);
        assert_eq!(open(&key, "111122223333", ""), None);
    }

    #[test]
    fn the_largest_explanation_fits_the_limit() {
        let key = MasterKey::from_bytes([9; 32]);
        let text = "x".repeat(MAX_PLAINTEXT_LEN);
        let sealed = seal(&key, "111122223333", &text);
        assert!(sealed.len() <= MAX_ENCODED_LEN, "{}", sealed.len());
        assert_eq!(open(&key, "111122223333", &sealed), Some(text));
    }
}
