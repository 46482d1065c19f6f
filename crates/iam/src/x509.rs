//! X.509 certificates and private keys in PEM, as IAM takes them for server certificates and
//! SAML providers: parse them, check that a private key is the certificate's, check that a
//! chain starts with the certificate's issuer and goes up in order.
//!
//! Certificates are parsed by `x509-parser`; private keys by `aws-lc-rs`, which also checks
//! that a key is internally consistent, and gives its public half to compare with the
//! certificate's. Nothing here keeps or logs a private key.

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, ECDSA_P521_SHA512_ASN1_SIGNING,
    EcdsaKeyPair, KeyPair, RsaKeyPair,
};
use x509_parser::certificate::X509Certificate;
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer;

use crate::error::{IamError, IamResult};
use crate::model::Timestamp;

/// What IAM keeps of an uploaded certificate besides its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFacts {
    /// The certificate's `notAfter`, as an IAM timestamp.
    pub expiration: Timestamp,
}

fn malformed(message: impl Into<String>) -> IamError {
    IamError::MalformedCertificate(message.into())
}

/// The PEM blocks of `text`, in order. Text outside the blocks is ignored, as OpenSSL does.
fn pem_blocks(text: &str) -> Result<Vec<Pem>, ()> {
    let mut blocks = Vec::new();
    for block in Pem::iter_from_buffer(text.as_bytes()) {
        match block {
            Ok(pem) => blocks.push(pem),
            // Only trailing text without a `-----BEGIN` line is left.
            Err(x509_parser::error::PEMError::MissingHeader) => break,
            Err(_) => return Err(()),
        }
    }
    Ok(blocks)
}

/// The DER certificates of a PEM text of one or more `CERTIFICATE` blocks.
pub fn pem_certificates(text: &str, what: &str) -> IamResult<Vec<Vec<u8>>> {
    let blocks = pem_blocks(text).map_err(|_| {
        malformed(format!(
            "Unable to parse {what}. Please ensure the {what} is in PEM format."
        ))
    })?;
    if blocks.is_empty() {
        return Err(malformed(format!(
            "Unable to parse {what}. Please ensure the {what} is in PEM format."
        )));
    }
    let mut out = Vec::with_capacity(blocks.len());
    for block in blocks {
        if block.label != "CERTIFICATE" {
            return Err(malformed(format!(
                "Unable to parse {what}: found a PEM block of type {} where a CERTIFICATE was expected.",
                block.label
            )));
        }
        if parse_der(&block.contents).is_none() {
            return Err(malformed(format!(
                "Unable to parse {what}: a CERTIFICATE block is not a valid X.509 certificate."
            )));
        }
        out.push(block.contents);
    }
    Ok(out)
}

/// The certificate in `der`, when it is one X.509 certificate and nothing after it.
fn parse_der(der: &[u8]) -> Option<X509Certificate<'_>> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Some(cert),
        _ => None,
    }
}

/// Whether `der` is a well-formed X.509 certificate (as in SAML metadata).
pub fn is_certificate_der(der: &[u8]) -> bool {
    parse_der(der).is_some()
}

/// Checks a server certificate upload: `body` is one PEM certificate, valid now (`now` in unix
/// seconds); `chain`, when given, is its issuer and the issuer's issuers in order, each
/// signing the one before; `private_key` is the unencrypted PEM private key of `body`.
pub fn check_server_certificate(
    body: &str,
    chain: Option<&str>,
    private_key: &str,
    now: i64,
) -> IamResult<CertificateFacts> {
    let body_der = pem_certificates(body, "certificate")?;
    let [body_der] = body_der.as_slice() else {
        return Err(malformed(
            "The certificate body must hold exactly one certificate; put the others in the certificate chain.",
        ));
    };
    let cert = parse_der(body_der).ok_or_else(|| malformed("Unable to parse certificate."))?;
    let not_after = cert.validity().not_after.timestamp();
    if not_after <= now {
        return Err(malformed(
            "Certificate is no longer valid. The 'Not After' date restriction on the certificate has passed.",
        ));
    }
    if let Some(chain) = chain {
        let chain_der = pem_certificates(chain, "certificate chain")?;
        let mut child = cert.clone();
        for (index, der) in chain_der.iter().enumerate() {
            let parent =
                parse_der(der).ok_or_else(|| malformed("Unable to parse certificate chain."))?;
            let signed = child.issuer() == parent.subject()
                && child.verify_signature(Some(parent.public_key())).is_ok();
            if !signed {
                return Err(malformed(format!(
                    "Unable to validate certificate chain. The certificate chain must start with the immediate signing certificate, followed by any intermediaries in order. The index within the chain of the invalid certificate is: {index}"
                )));
            }
            child = parent;
        }
    }
    let (_, public) = private_key_public_half(private_key)?;
    if public.as_slice() != cert.public_key().subject_public_key.data.as_ref() {
        return Err(IamError::KeyPairMismatch(
            "The public key certificate and the private key do not match.".into(),
        ));
    }
    Ok(CertificateFacts {
        expiration: format_unix(not_after),
    })
}

/// The kinds of private key IAM takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Rsa,
    Ecdsa,
}

/// Checks that `text` is one unencrypted PEM private key (RSA as PKCS#1 or PKCS#8, ECDSA
/// P-256/P-384/P-521 as SEC1 or PKCS#8) and returns its kind and its public key as a
/// certificate encodes it (an RSAPublicKey, or an uncompressed curve point).
pub fn private_key_public_half(text: &str) -> IamResult<(KeyKind, Vec<u8>)> {
    let unparsable = || {
        malformed(
            "Unable to parse the private key. Please ensure it is an unencrypted PEM private key.",
        )
    };
    let blocks = pem_blocks(text).map_err(|_| unparsable())?;
    let [block] = blocks.as_slice() else {
        return Err(unparsable());
    };
    let der = block.contents.as_slice();
    let ec_algorithms = [
        &ECDSA_P256_SHA256_ASN1_SIGNING,
        &ECDSA_P384_SHA384_ASN1_SIGNING,
        &ECDSA_P521_SHA512_ASN1_SIGNING,
    ];
    let public = match block.label.as_str() {
        "RSA PRIVATE KEY" => RsaKeyPair::from_der(der)
            .ok()
            .map(|k| (KeyKind::Rsa, k.public_key().as_ref().to_vec())),
        "EC PRIVATE KEY" => ec_algorithms.iter().find_map(|alg| {
            EcdsaKeyPair::from_private_key_der(alg, der)
                .ok()
                .map(|k| (KeyKind::Ecdsa, k.public_key().as_ref().to_vec()))
        }),
        "PRIVATE KEY" => RsaKeyPair::from_pkcs8(der)
            .ok()
            .map(|k| (KeyKind::Rsa, k.public_key().as_ref().to_vec()))
            .or_else(|| {
                ec_algorithms.iter().find_map(|alg| {
                    EcdsaKeyPair::from_pkcs8(alg, der)
                        .ok()
                        .map(|k| (KeyKind::Ecdsa, k.public_key().as_ref().to_vec()))
                })
            }),
        "ENCRYPTED PRIVATE KEY" => {
            return Err(malformed(
                "The private key is encrypted; upload it unencrypted.",
            ));
        }
        _ => None,
    };
    public.ok_or_else(|| {
        malformed(
            "Unable to parse the private key. Supported keys: RSA of 2048 to 8192 bits, ECDSA on P-256, P-384 or P-521, unencrypted PEM.",
        )
    })
}

/// Unix seconds as an IAM timestamp (`2026-11-23T12:00:00Z`).
pub fn format_unix(seconds: i64) -> Timestamp {
    let t = time::OffsetDateTime::from_unix_timestamp(seconds)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// DER length octets.
fn der_length(len: usize) -> Vec<u8> {
    if len < 0x80 {
        return vec![len as u8];
    }
    let bytes: Vec<u8> = len
        .to_be_bytes()
        .into_iter()
        .skip_while(|&b| b == 0)
        .collect();
    let mut out = vec![0x80 | bytes.len() as u8];
    out.extend(bytes);
    out
}

/// An RSA private key in PEM (PKCS#8 `PRIVATE KEY`, or PKCS#1 `RSA PRIVATE KEY`, which is
/// wrapped) as PKCS#8 DER, the form aws-lc-rs decrypts with; `None` for anything else.
pub fn rsa_private_key_pkcs8(text: &str) -> Option<Vec<u8>> {
    let blocks = pem_blocks(text).ok()?;
    let [block] = blocks.as_slice() else {
        return None;
    };
    let der = block.contents.as_slice();
    match block.label.as_str() {
        "PRIVATE KEY" => RsaKeyPair::from_pkcs8(der).ok().map(|_| der.to_vec()),
        "RSA PRIVATE KEY" => {
            RsaKeyPair::from_der(der).ok()?;
            // PrivateKeyInfo { version 0, rsaEncryption with NULL parameters, the key }.
            const ALGORITHM: [u8; 15] = [
                0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05,
                0x00,
            ];
            let mut octets = vec![0x04];
            octets.extend(der_length(der.len()));
            octets.extend_from_slice(der);
            let mut body = vec![0x02, 0x01, 0x00];
            body.extend_from_slice(&ALGORITHM);
            body.extend(octets);
            let mut out = vec![0x30];
            out.extend(der_length(body.len()));
            out.extend(body);
            RsaKeyPair::from_pkcs8(&out).ok().map(|_| out)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../server/tests/fixtures/",
                $name
            ))
        };
    }

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn a_certificate_with_its_key_and_chain_is_accepted() {
        let leaf = fixture!("leaf-rsa.pem");
        let facts = check_server_certificate(
            leaf,
            Some(fixture!("ca.pem")),
            fixture!("leaf-rsa.key"),
            NOW,
        )
        .unwrap();
        assert!(facts.expiration.starts_with("21"), "{}", facts.expiration);
        // The same key as PKCS#1.
        check_server_certificate(leaf, None, fixture!("leaf-rsa-pkcs1.key"), NOW).unwrap();
        // An ECDSA key in SEC1 form.
        check_server_certificate(fixture!("ec.pem"), None, fixture!("ec.key"), NOW).unwrap();
    }

    #[test]
    fn mismatched_keys_bad_chains_and_bad_pem_are_refused() {
        let leaf = fixture!("leaf-rsa.pem");
        let code = |r: IamResult<CertificateFacts>| r.unwrap_err().code();
        assert_eq!(
            code(check_server_certificate(
                leaf,
                None,
                fixture!("other-rsa.key"),
                NOW
            )),
            "KeyPairMismatch"
        );
        assert_eq!(
            code(check_server_certificate(
                leaf,
                None,
                fixture!("ec.key"),
                NOW
            )),
            "KeyPairMismatch"
        );
        // A chain that does not sign the certificate.
        assert_eq!(
            code(check_server_certificate(
                leaf,
                Some(fixture!("ec.pem")),
                fixture!("leaf-rsa.key"),
                NOW
            )),
            "MalformedCertificate"
        );
        assert_eq!(
            code(check_server_certificate(
                "not a certificate",
                None,
                fixture!("leaf-rsa.key"),
                NOW
            )),
            "MalformedCertificate"
        );
        let damaged = leaf.replacen("MII", "MIX", 1);
        assert_eq!(
            code(check_server_certificate(
                &damaged,
                None,
                fixture!("leaf-rsa.key"),
                NOW
            )),
            "MalformedCertificate"
        );
        // A key where the certificate goes, and the reverse.
        assert_eq!(
            code(check_server_certificate(
                fixture!("leaf-rsa.key"),
                None,
                leaf,
                NOW
            )),
            "MalformedCertificate"
        );
        assert_eq!(
            code(check_server_certificate(
                fixture!("expired.pem"),
                None,
                fixture!("leaf-rsa.key"),
                NOW
            )),
            "MalformedCertificate"
        );
    }

    #[test]
    fn rsa_keys_become_pkcs8_in_either_pem_form() {
        let pkcs8 = rsa_private_key_pkcs8(fixture!("leaf-rsa.key")).expect("PKCS#8");
        let wrapped = rsa_private_key_pkcs8(fixture!("leaf-rsa-pkcs1.key")).expect("PKCS#1");
        let public = |der: &[u8]| {
            RsaKeyPair::from_pkcs8(der)
                .expect("a key")
                .public_key()
                .as_ref()
                .to_vec()
        };
        assert_eq!(public(&pkcs8), public(&wrapped));
        assert!(rsa_private_key_pkcs8(fixture!("ec.key")).is_none());
    }
}
