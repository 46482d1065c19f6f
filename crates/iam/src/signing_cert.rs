//! X.509 certificates as UploadSigningCertificate takes them: one PEM `CERTIFICATE` block
//! whose DER parses as an RFC 5280 certificate (`x509-parser`, as for server certificates). Anything else (a private key, a chain, text
//! that is not PEM) is refused without being echoed.

use sha2::{Digest, Sha256};
use x509_parser::certificate::X509Certificate;
use x509_parser::pem::parse_x509_pem;
use x509_parser::prelude::FromDer;

use crate::error::{IamError, IamResult};

/// The characters of a certificate id (uppercase letters and digits 2-7).
const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The longest certificate body accepted, in characters.
pub const MAX_BODY_LENGTH: usize = 16_384;

/// The length of a certificate id.
pub const CERTIFICATE_ID_LENGTH: usize = 24;

/// A validated certificate: its DER bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCertificate {
    pub der: Vec<u8>,
}

fn malformed(message: &str) -> IamError {
    IamError::MalformedCertificate(message.to_owned())
}

/// Parses and validates `body`.
pub fn parse(body: &str) -> IamResult<ParsedCertificate> {
    if body.is_empty() || body.chars().count() > MAX_BODY_LENGTH {
        return Err(IamError::ValidationError(format!(
            "1 validation error detected: Value at 'certificateBody' failed to satisfy constraint: Member must have length less than or equal to {MAX_BODY_LENGTH} and greater than or equal to 1"
        )));
    }
    let text = body.trim();
    if !text.starts_with("-----BEGIN ") {
        return Err(malformed(
            "The certificate body must be a PEM-encoded X.509 certificate (-----BEGIN CERTIFICATE-----).",
        ));
    }
    let (rest, pem) = parse_x509_pem(text.as_bytes()).map_err(|_| {
        malformed(
            "The certificate body is not valid PEM: it must be exactly one BEGIN/END CERTIFICATE block.",
        )
    })?;
    if !String::from_utf8_lossy(rest).trim().is_empty() {
        return Err(malformed(
            "The certificate body must be exactly one BEGIN/END CERTIFICATE block.",
        ));
    }
    if pem.label != "CERTIFICATE" {
        return Err(IamError::InvalidCertificate(format!(
            "The PEM block is a {}, not a CERTIFICATE.",
            pem.label
        )));
    }
    match X509Certificate::from_der(&pem.contents) {
        Ok(([], _)) => {}
        _ => {
            return Err(malformed(
                "The certificate's DER encoding is not a valid X.509 certificate.",
            ));
        }
    }
    let der = pem.contents;
    Ok(ParsedCertificate { der })
}

/// The id of a certificate in an account: 24 characters derived from the account and the
/// certificate, so the same certificate has the same id wherever it is uploaded in the account.
pub fn certificate_id(account_id: &str, certificate: &ParsedCertificate) -> String {
    let mut hasher = Sha256::new();
    hasher.update(account_id.as_bytes());
    hasher.update([0u8]);
    hasher.update(&certificate.der);
    let digest = hasher.finalize();
    digest
        .iter()
        .take(CERTIFICATE_ID_LENGTH)
        .map(|b| char::from(ID_ALPHABET[usize::from(b % 32)]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_certificates_are_refused() {
        assert_eq!(parse("hello").unwrap_err().code(), "MalformedCertificate");
        assert_eq!(
            parse("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----")
                .unwrap_err()
                .code(),
            "MalformedCertificate"
        );
        let e = parse("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----").unwrap_err();
        assert_eq!(e.code(), "InvalidCertificate");
        assert!(!e.to_string().contains("AAAA"));
    }

    #[test]
    fn ids_are_stable_and_per_account() {
        let c = ParsedCertificate { der: vec![1, 2, 3] };
        let a = certificate_id("111122223333", &c);
        assert_eq!(a.len(), CERTIFICATE_ID_LENGTH);
        assert!(a.bytes().all(|b| ID_ALPHABET.contains(&b)));
        assert_eq!(a, certificate_id("111122223333", &c));
        assert_ne!(a, certificate_id("444455556666", &c));
    }
}
