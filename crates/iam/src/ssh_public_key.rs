//! SSH public keys as UploadSSHPublicKey takes them: the OpenSSH one-line form
//! (`ssh-ed25519 AAAA... comment`) or a PEM `PUBLIC KEY` (SubjectPublicKeyInfo; also the
//! PKCS#1 `RSA PUBLIC KEY`). Accepted algorithms: RSA of 2048 bits or more, ECDSA on NIST
//! P-256/P-384/P-521, Ed25519. Every key is kept in both encodings (GetSSHPublicKey answers in
//! either) with AWS's fingerprint: the MD5 of the key blob in colon-separated hex.

use der::asn1::{BitString, ObjectIdentifier};
use der::pem::LineEnding;
use der::{Any, Decode, Encode};
use md5::{Digest, Md5};
use spki::{AlgorithmIdentifier, SubjectPublicKeyInfo, SubjectPublicKeyInfoOwned};
use ssh_key::public::{EcdsaPublicKey, Ed25519PublicKey, KeyData, RsaPublicKey};
use ssh_key::{EcdsaCurve, Mpint, PublicKey};

use crate::error::{IamError, IamResult};

/// The longest key body accepted, in characters.
pub const MAX_BODY_LENGTH: usize = 16_384;
/// The smallest RSA modulus accepted, in bits (AWS's minimum).
pub const MIN_RSA_BITS: usize = 2048;
/// The largest RSA modulus accepted, in bits.
pub const MAX_RSA_BITS: usize = 16384;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// A validated public key in both encodings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedSshKey {
    /// `algorithm base64 [comment]`.
    pub openssh: String,
    /// `-----BEGIN PUBLIC KEY-----...`.
    pub pem: String,
    /// `xx:xx:...` (16 bytes).
    pub fingerprint: String,
}

fn invalid(message: impl Into<String>) -> IamError {
    IamError::InvalidPublicKey(message.into())
}

fn unrecognized() -> IamError {
    IamError::UnrecognizedPublicKeyEncoding(
        "The SSH public key is in neither OpenSSH format (ssh-rsa AAAA...) nor PEM format (-----BEGIN PUBLIC KEY-----).".into(),
    )
}

/// Parses and validates `body`.
pub fn parse(body: &str) -> IamResult<ParsedSshKey> {
    if body.is_empty() || body.chars().count() > MAX_BODY_LENGTH {
        return Err(IamError::ValidationError(format!(
            "1 validation error detected: Value at 'sSHPublicKeyBody' failed to satisfy constraint: Member must have length less than or equal to {MAX_BODY_LENGTH} and greater than or equal to 1"
        )));
    }
    let text = body.trim();
    let key = if text.starts_with("-----BEGIN") {
        from_pem(text)?
    } else if looks_like_openssh(text) {
        PublicKey::from_openssh(text).map_err(|_| {
            invalid("The SSH public key is malformed: its key data cannot be decoded.")
        })?
    } else {
        return Err(unrecognized());
    };
    check_key(key.key_data())?;
    let blob = key
        .to_bytes()
        .map_err(|_| invalid("The SSH public key cannot be encoded."))?;
    let fingerprint = Md5::digest(&blob)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    let openssh = key
        .to_openssh()
        .map_err(|_| invalid("The SSH public key cannot be encoded."))?;
    Ok(ParsedSshKey {
        openssh,
        pem: to_pem(key.key_data())?,
        fingerprint,
    })
}

/// `name base64...`: a known or plausible algorithm name followed by base64.
fn looks_like_openssh(text: &str) -> bool {
    let mut fields = text.split_ascii_whitespace();
    match (fields.next(), fields.next()) {
        (Some(name), Some(data)) => {
            (name.starts_with("ssh-") || name.starts_with("ecdsa-") || name.starts_with("sk-"))
                && data.starts_with("AAAA")
        }
        _ => false,
    }
}

fn check_key(key: &KeyData) -> IamResult<()> {
    match key {
        KeyData::Rsa(rsa) => {
            let n = rsa.n.as_positive_bytes().unwrap_or_default();
            let bits = n
                .first()
                .map(|top| n.len() * 8 - top.leading_zeros() as usize)
                .unwrap_or(0);
            if bits < MIN_RSA_BITS {
                return Err(invalid(format!(
                    "The RSA key has {bits} bits; the minimum is {MIN_RSA_BITS}."
                )));
            }
            if bits > MAX_RSA_BITS {
                return Err(invalid(format!(
                    "The RSA key has {bits} bits; the maximum is {MAX_RSA_BITS}."
                )));
            }
            let e = rsa.e.as_positive_bytes().unwrap_or_default();
            let odd = e.last().is_some_and(|b| b & 1 == 1);
            if !odd || (e.len() == 1 && e[0] < 3) {
                return Err(invalid("The RSA key's public exponent is invalid."));
            }
            Ok(())
        }
        KeyData::Ecdsa(ec) => {
            // The point must be uncompressed (what OpenSSH writes) and of the curve's size.
            let bytes = ec.as_sec1_bytes();
            let size = match ec.curve() {
                EcdsaCurve::NistP256 => 32,
                EcdsaCurve::NistP384 => 48,
                EcdsaCurve::NistP521 => 66,
            };
            if bytes.first() != Some(&4) || bytes.len() != 1 + 2 * size {
                return Err(invalid(
                    "The ECDSA key's point is not an uncompressed point of its curve.",
                ));
            }
            Ok(())
        }
        KeyData::Ed25519(_) => Ok(()),
        other => Err(invalid(format!(
            "The SSH public key type {} is not supported: use ssh-rsa, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521 or ssh-ed25519.",
            other.algorithm().as_str()
        ))),
    }
}

fn from_pem(text: &str) -> IamResult<PublicKey> {
    let (label, der) = der::pem::decode_vec(text.as_bytes()).map_err(|_| {
        invalid("The PEM text is malformed: it must be one BEGIN/END block of base64.")
    })?;
    let key_data = match label {
        "PUBLIC KEY" => {
            let spki = SubjectPublicKeyInfoOwned::from_der(&der).map_err(|_| {
                invalid("The PEM public key is not a valid SubjectPublicKeyInfo structure.")
            })?;
            from_spki(&spki)?
        }
        "RSA PUBLIC KEY" => rsa_from_pkcs1(&der)?,
        _ => return Err(unrecognized()),
    };
    Ok(PublicKey::new(key_data, ""))
}

fn from_spki(spki: &SubjectPublicKeyInfoOwned) -> IamResult<KeyData> {
    let bits = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| invalid("The public key's bit string is not whole bytes."))?;
    let oid = spki.algorithm.oid;
    if oid == RSA_ENCRYPTION {
        rsa_from_pkcs1(bits)
    } else if oid == ED25519 {
        let bytes: [u8; 32] = bits
            .try_into()
            .map_err(|_| invalid("An Ed25519 public key is 32 bytes."))?;
        Ok(KeyData::Ed25519(Ed25519PublicKey(bytes)))
    } else if oid == EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
            .ok_or_else(|| invalid("The ECDSA public key does not name its curve."))?;
        let key = EcdsaPublicKey::from_sec1_bytes(bits)
            .map_err(|_| invalid("The ECDSA public key's point is malformed."))?;
        let expected = match key.curve() {
            EcdsaCurve::NistP256 => P256,
            EcdsaCurve::NistP384 => P384,
            EcdsaCurve::NistP521 => P521,
        };
        if curve != expected {
            return Err(invalid(
                "The ECDSA public key's point does not belong to the curve it names (only P-256, P-384 and P-521 are supported).",
            ));
        }
        Ok(KeyData::Ecdsa(key))
    } else {
        Err(invalid(format!(
            "The public key algorithm {oid} is not supported: use RSA, ECDSA (P-256, P-384, P-521) or Ed25519."
        )))
    }
}

fn rsa_from_pkcs1(der: &[u8]) -> IamResult<KeyData> {
    let key = pkcs1::RsaPublicKey::<der::asn1::UintRef<'_>>::from_der(der)
        .map_err(|_| invalid("The RSA public key is malformed."))?;
    let mpint = |bytes: &[u8]| {
        Mpint::from_positive_bytes(bytes).map_err(|_| invalid("The RSA public key is malformed."))
    };
    Ok(KeyData::Rsa(RsaPublicKey {
        e: mpint(key.public_exponent.as_bytes())?,
        n: mpint(key.modulus.as_bytes())?,
    }))
}

fn to_pem(key: &KeyData) -> IamResult<String> {
    let failed = |_| invalid("The public key cannot be encoded as PEM.");
    let (algorithm, key_bytes) = match key {
        KeyData::Rsa(rsa) => {
            fn uint(m: &Mpint) -> IamResult<der::asn1::UintRef<'_>> {
                der::asn1::UintRef::new(m.as_positive_bytes().unwrap_or_default())
                    .map_err(|_| invalid("The RSA public key cannot be encoded."))
            }
            let pkcs1 = pkcs1::RsaPublicKey {
                modulus: uint(&rsa.n)?,
                public_exponent: uint(&rsa.e)?,
            };
            (
                AlgorithmIdentifier {
                    oid: RSA_ENCRYPTION,
                    parameters: Some(Any::null()),
                },
                pkcs1.to_der().map_err(failed)?,
            )
        }
        KeyData::Ecdsa(ec) => {
            let curve = match ec.curve() {
                EcdsaCurve::NistP256 => P256,
                EcdsaCurve::NistP384 => P384,
                EcdsaCurve::NistP521 => P521,
            };
            (
                AlgorithmIdentifier {
                    oid: EC_PUBLIC_KEY,
                    parameters: Some(Any::encode_from(&curve).map_err(failed)?),
                },
                ec.as_sec1_bytes().to_vec(),
            )
        }
        KeyData::Ed25519(ed) => (
            AlgorithmIdentifier {
                oid: ED25519,
                parameters: None,
            },
            ed.0.to_vec(),
        ),
        _ => return Err(invalid("The public key cannot be encoded as PEM.")),
    };
    let spki = SubjectPublicKeyInfo::<Any, BitString> {
        algorithm,
        subject_public_key: BitString::from_bytes(&key_bytes).map_err(failed)?,
    };
    let der = spki.to_der().map_err(failed)?;
    der::pem::encode_string("PUBLIC KEY", LineEnding::LF, &der)
        .map_err(|_| invalid("The public key cannot be encoded as PEM."))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl user@host";

    #[test]
    fn openssh_and_pem_round_trip_with_the_same_fingerprint() {
        let parsed = parse(ED25519_KEY).unwrap();
        assert!(parsed.pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert_eq!(parsed.fingerprint.len(), 47);
        let again = parse(&parsed.pem).unwrap();
        assert_eq!(again.fingerprint, parsed.fingerprint);
        assert_eq!(again.pem, parsed.pem);
        assert!(parsed.openssh.starts_with(again.openssh.trim()));
    }

    #[test]
    fn garbage_is_refused_with_the_right_code() {
        assert_eq!(
            parse("hello world").unwrap_err().code(),
            "UnrecognizedPublicKeyEncoding"
        );
        assert_eq!(
            parse("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoq")
                .unwrap_err()
                .code(),
            "InvalidPublicKey"
        );
        assert_eq!(
            parse("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
                .unwrap_err()
                .code(),
            "InvalidPublicKey"
        );
        assert_eq!(
            parse("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
                .unwrap_err()
                .code(),
            "UnrecognizedPublicKeyEncoding"
        );
    }
}
