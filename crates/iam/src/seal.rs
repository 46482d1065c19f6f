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

/// The prefix of a sealed field's current format (base64 never holds `:`).
const FIELD_PREFIX: &str = "v1:";

/// A secret field kept at rest, and the row it belongs to: its associated data when sealed,
/// so a sealed value copied to another row, account or field does not open.
#[derive(Debug, Clone, Copy)]
pub enum SealedField<'a> {
    /// An access key's secret, by account and access key id.
    AccessKeySecret {
        account: &'a str,
        access_key_id: &'a str,
    },
    /// A virtual MFA device's seed, by account and device key (the stored row's key).
    MfaSeed { account: &'a str, device: &'a str },
    /// A server certificate's private key, by account and the stored row's key.
    ServerCertificateKey {
        account: &'a str,
        certificate: &'a str,
    },
    /// A SAML provider's assertion-decryption key, by account, the stored row's key and key id.
    SamlPrivateKey {
        account: &'a str,
        provider: &'a str,
        key_id: &'a str,
    },
}

impl SealedField<'_> {
    /// `portcullis/v1/<kind>/<account>/<owner>`.
    pub fn associated_data(&self) -> String {
        match self {
            SealedField::AccessKeySecret {
                account,
                access_key_id,
            } => format!("portcullis/v1/access-key-secret/{account}/{access_key_id}"),
            SealedField::MfaSeed { account, device } => {
                format!("portcullis/v1/mfa-seed/{account}/{device}")
            }
            SealedField::ServerCertificateKey {
                account,
                certificate,
            } => format!("portcullis/v1/server-certificate-key/{account}/{certificate}"),
            SealedField::SamlPrivateKey {
                account,
                provider,
                key_id,
            } => format!("portcullis/v1/saml-private-key/{account}/{provider}/{key_id}"),
        }
    }
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

    /// Seals a secret kept at rest in a row, bound to what it is and whose it is
    /// ([`SealedField`]): `v1:` then base64 of a random 24-byte nonce and the ciphertext. The
    /// value opens only as that field of that row.
    pub fn seal_field(&self, plaintext: &str, field: &SealedField) -> String {
        let sealed = self.seal_bytes(plaintext.as_bytes(), field.associated_data().as_bytes());
        format!("{FIELD_PREFIX}{}", STANDARD.encode(sealed))
    }

    /// Opens a value made by [`MasterKey::seal_field`] for the same `field`. The legacy form
    /// (no prefix, no associated data) is refused here.
    pub fn open_field(&self, sealed: &str, field: &SealedField) -> Result<String, SealError> {
        let encoded = sealed.strip_prefix(FIELD_PREFIX).ok_or(SealError::Open)?;
        let bytes = STANDARD.decode(encoded).map_err(|_| SealError::Open)?;
        let plain = self.open_bytes(&bytes, field.associated_data().as_bytes())?;
        String::from_utf8(plain).map_err(|_| SealError::Open)
    }

    /// Opens a value in the legacy form (before fields were bound to their rows: base64, empty
    /// associated data). Only the one-time store migration at start calls this.
    pub(crate) fn open_legacy(&self, sealed: &str) -> Result<String, SealError> {
        if sealed.starts_with(FIELD_PREFIX) {
            return Err(SealError::Open);
        }
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

/// Writes a new file readable by its owner only: created with mode 0600, then set to exactly
/// 0600 whatever the umask.
pub fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    // Written whole under a temporary name, then linked into place: a crash never leaves a
    // partly written (or empty) file under `path`, and an existing file is never replaced
    // (linking fails when `path` exists).
    let mut temp_name = path.as_os_str().to_owned();
    temp_name.push(format!(".tmp-{}", std::process::id()));
    let temp = std::path::PathBuf::from(temp_name);
    let _ = std::fs::remove_file(&temp);
    let written = write_new_file(&temp, contents)
        .and_then(|()| std::fs::hard_link(&temp, path))
        .and_then(|()| sync_parent(path));
    let _ = std::fs::remove_file(&temp);
    written
}

/// Creates `path` (which must not exist) with mode 0600 and `contents`, synced to disk.
fn write_new_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(contents)?;
    file.sync_all()
}

/// Syncs the directory holding `path`, so the new name survives a crash.
fn sync_parent(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELD: SealedField = SealedField::AccessKeySecret {
        account: "111122223333",
        access_key_id: "AKIAEXAMPLE000000001",
    };

    #[test]
    fn seal_round_trip_and_tamper() {
        let key = MasterKey::from_bytes([7; 32]);
        let sealed = key.seal_field("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", &FIELD);
        assert!(sealed.starts_with("v1:") && !sealed.contains("wJalr"));
        assert_eq!(
            key.open_field(&sealed, &FIELD).unwrap(),
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
        );
        let other = MasterKey::from_bytes([8; 32]);
        assert!(other.open_field(&sealed, &FIELD).is_err());
        assert!(key.open_field("v1:AAAA", &FIELD).is_err());
        assert!(key.open_field("AAAA", &FIELD).is_err());
    }

    #[test]
    fn a_sealed_field_opens_only_as_its_own_row_and_field() {
        let key = MasterKey::from_bytes([7; 32]);
        let sealed = key.seal_field("secret", &FIELD);
        let others = [
            SealedField::AccessKeySecret {
                account: "111122223333",
                access_key_id: "AKIAEXAMPLE000000002",
            },
            SealedField::AccessKeySecret {
                account: "444455556666",
                access_key_id: "AKIAEXAMPLE000000001",
            },
            SealedField::MfaSeed {
                account: "111122223333",
                device: "AKIAEXAMPLE000000001",
            },
            SealedField::ServerCertificateKey {
                account: "111122223333",
                certificate: "AKIAEXAMPLE000000001",
            },
            SealedField::SamlPrivateKey {
                account: "111122223333",
                provider: "p",
                key_id: "AKIAEXAMPLE000000001",
            },
        ];
        for other in &others {
            assert!(key.open_field(&sealed, other).is_err(), "{other:?}");
        }
        // Nor does it open as the legacy form, nor as raw bytes with an empty context.
        assert!(key.open_legacy(&sealed).is_err());
        let raw = STANDARD.decode(&sealed[3..]).unwrap();
        assert!(key.open_bytes(&raw, b"").is_err());
    }

    #[test]
    fn the_legacy_form_opens_only_through_open_legacy() {
        let key = MasterKey::from_bytes([7; 32]);
        let legacy = STANDARD.encode(key.seal_bytes(b"old", b""));
        assert_eq!(key.open_legacy(&legacy).unwrap(), "old");
        assert!(key.open_field(&legacy, &FIELD).is_err());
        assert!(key.open_field(&format!("v1:{legacy}"), &FIELD).is_err());
    }

    #[test]
    fn sealed_bytes_open_only_in_their_context() {
        let key = MasterKey::from_bytes([7; 32]);
        let sealed = key.seal_bytes(b"hello", b"purpose A");
        assert_eq!(key.open_bytes(&sealed, b"purpose A").unwrap(), b"hello");
        assert!(key.open_bytes(&sealed, b"purpose B").is_err());
        assert!(key.open_bytes(&sealed, b"").is_err());
        assert!(key.open_bytes(&sealed[..20], b"purpose A").is_err());
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let a = MasterKey::load_or_create(&path).unwrap();
        let sealed = a.seal_field("x", &FIELD);
        let b = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(b.open_field(&sealed, &FIELD).unwrap(), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
