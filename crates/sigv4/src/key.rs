//! The signing key: `HMAC` chained over the scope, derived from the secret access key.
//!
//! Deriving costs four HMACs; a server can derive once per `(access key id, scope)` and
//! reuse the key for every request of that day, region and service.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::auth::{CredentialScope, SCOPE_TERMINATOR};

/// `HMAC-SHA256(key, data)`.
pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this never fails.
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// A SigV4 signing key for one credential scope.
///
/// Debug shows the scope only; the key bytes never leave this crate.
#[derive(Clone)]
pub struct SigningKey {
    key: [u8; 32],
    scope: CredentialScope,
}

impl SigningKey {
    /// Derives `kSigning` = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
    /// "aws4_request").
    pub fn derive(secret_access_key: &str, scope: &CredentialScope) -> SigningKey {
        let mut secret = Vec::with_capacity(4 + secret_access_key.len());
        secret.extend_from_slice(b"AWS4");
        secret.extend_from_slice(secret_access_key.as_bytes());
        let k_date = hmac_sha256(&secret, scope.date.as_bytes());
        let k_region = hmac_sha256(&k_date, scope.region.as_bytes());
        let k_service = hmac_sha256(&k_region, scope.service.as_bytes());
        let key = hmac_sha256(&k_service, SCOPE_TERMINATOR.as_bytes());
        // Best effort: do not leave the secret's copy behind in the freed buffer.
        secret.iter_mut().for_each(|b| *b = 0);
        SigningKey {
            key,
            scope: scope.clone(),
        }
    }

    /// The scope this key signs for.
    pub fn scope(&self) -> &CredentialScope {
        &self.scope
    }

    /// The key as lowercase hex. It signs for its scope only (one day, region and service),
    /// never for another; AWS hands such keys to the services that verify streamed chunks
    /// themselves, and so may Portcullis. Treat it as a secret for that day.
    pub fn to_hex(&self) -> String {
        crate::hex::encode(&self.key)
    }

    /// A key given as [`SigningKey::to_hex`] wrote it, for `scope`.
    pub fn from_hex(hex: &str, scope: CredentialScope) -> Option<SigningKey> {
        crate::hex::decode_32(hex).map(|key| SigningKey { key, scope })
    }

    /// `HMAC(kSigning, string_to_sign)`: the raw signature.
    pub(crate) fn sign(&self, string_to_sign: &[u8]) -> [u8; 32] {
        hmac_sha256(&self.key, string_to_sign)
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("scope", &self.scope)
            .field("key", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_the_documented_key() {
        // From AWS's "Examples of how to derive a signing key for Signature Version 4".
        let scope = CredentialScope::new("20120215", "us-east-1", "iam");
        let key = SigningKey::derive("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", &scope);
        assert_eq!(
            crate::hex::encode(&key.key),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
        let debug = format!("{key:?}");
        assert!(!debug.contains("f4780e2d"), "{debug}");
    }
}
