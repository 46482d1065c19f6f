//! Secrets at rest: sealed with XChaCha20-Poly1305 under a master key kept outside the
//! database (a 32-byte file, mode 0600). Secret access keys must stay usable for SigV4, so they
//! are sealed rather than hashed.

use std::fmt;
use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::Rng;

/// The key that seals secrets.
pub struct MasterKey {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

/// Why a master key or a sealed value could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("master key file {path}: {message}")]
    KeyFile { path: String, message: String },
    #[error("a sealed secret could not be opened (wrong master key, or the data is damaged)")]
    Open,
}

impl MasterKey {
    pub fn from_bytes(bytes: [u8; 32]) -> MasterKey {
        MasterKey {
            cipher: XChaCha20Poly1305::new(&bytes.into()),
        }
    }

    /// Reads the key from `path`, creating it (random, mode 0600) when it does not exist.
    pub fn load_or_create(path: &Path) -> Result<MasterKey, SealError> {
        let err = |message: String| SealError::KeyFile {
            path: path.display().to_string(),
            message,
        };
        match std::fs::read(path) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                let decoded = STANDARD
                    .decode(text.trim())
                    .map_err(|_| err("not a base64-encoded 32-byte key".into()))?;
                let key: [u8; 32] = decoded
                    .try_into()
                    .map_err(|_| err("the key must be 32 bytes".into()))?;
                Ok(MasterKey::from_bytes(key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key: [u8; 32] = rand::rng().random();
                write_private_file(path, STANDARD.encode(key).as_bytes())
                    .map_err(|e| err(e.to_string()))?;
                Ok(MasterKey::from_bytes(key))
            }
            Err(e) => Err(err(e.to_string())),
        }
    }

    /// Seals `plaintext`: base64 of a random 24-byte nonce followed by the ciphertext.
    pub fn seal(&self, plaintext: &str) -> String {
        STANDARD.encode(self.seal_bytes(plaintext.as_bytes(), b""))
    }

    /// Opens a value made by [`MasterKey::seal`].
    pub fn open(&self, sealed: &str) -> Result<String, SealError> {
        let bytes = STANDARD.decode(sealed).map_err(|_| SealError::Open)?;
        let plain = self.open_bytes(&bytes, b"")?;
        String::from_utf8(plain).map_err(|_| SealError::Open)
    }

    /// Seals `plaintext` bound to `context` (authenticated, not encrypted): a random 24-byte
    /// nonce followed by the ciphertext. The value opens only with the same `context`, so
    /// values sealed for one purpose cannot be passed off as another's.
    pub fn seal_bytes(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let nonce_bytes: [u8; 24] = rand::rng().random();
        let nonce = XNonce::from(nonce_bytes);
        // Encryption with a valid key and nonce cannot fail for in-memory data.
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .unwrap_or_default();
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Opens a value made by [`MasterKey::seal_bytes`] with the same `context`.
    pub fn open_bytes(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < 24 {
            return Err(SealError::Open);
        }
        let (nonce, ciphertext) = sealed.split_at(24);
        let nonce = XNonce::from_slice(nonce);
        self.cipher
            .decrypt(
                nonce,
                Payload {
                    msg: ciphertext,
                    aad: context,
                },
            )
            .map_err(|_| SealError::Open)
    }
}

/// Writes a file readable by its owner only.
pub fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trip_and_tamper() {
        let key = MasterKey::from_bytes([7; 32]);
        let sealed = key.seal("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        assert!(!sealed.contains("wJalr"));
        assert_eq!(
            key.open(&sealed).unwrap(),
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
        );
        let other = MasterKey::from_bytes([8; 32]);
        assert!(other.open(&sealed).is_err());
        assert!(key.open("AAAA").is_err());
    }

    #[test]
    fn sealed_bytes_open_only_in_their_context() {
        let key = MasterKey::from_bytes([7; 32]);
        let sealed = key.seal_bytes(b"hello", b"purpose A");
        assert_eq!(key.open_bytes(&sealed, b"purpose A").unwrap(), b"hello");
        assert!(key.open_bytes(&sealed, b"purpose B").is_err());
        assert!(key.open_bytes(&sealed, b"").is_err());
        // A value sealed without a context is the same format with an empty one.
        let plain = STANDARD.decode(key.seal("x")).unwrap();
        assert_eq!(key.open_bytes(&plain, b"").unwrap(), b"x");
        assert!(key.open_bytes(&plain, b"purpose A").is_err());
        assert!(key.open_bytes(&sealed[..20], b"purpose A").is_err());
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let a = MasterKey::load_or_create(&path).unwrap();
        let sealed = a.seal("x");
        let b = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(b.open(&sealed).unwrap(), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
