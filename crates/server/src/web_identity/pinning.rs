//! TLS trust for an OpenID Connect provider: by certificate thumbprint only.
//!
//! An IAM OIDC provider lists up to five SHA-1 thumbprints. AWS documents the thumbprint as
//! that of the *top* certificate the provider's server presents: the top intermediate CA of the
//! chain, or the server's own certificate when it is self-signed (or sent alone). Portcullis
//! trusts a connection when some certificate of the presented chain has a listed thumbprint,
//! and then only as far as that certificate vouches:
//!
//! - the server's own certificate is pinned: it must name the host and be within its dates;
//! - a CA certificate of the chain is pinned: it becomes the *only* trust anchor, and the
//!   server's certificate must chain to it (signatures, dates, key usage) and name the host,
//!   as webpki checks for any CA.
//!
//! No system or Mozilla roots are consulted: a certificate from a public CA whose thumbprint is
//! not listed is refused. The handshake signature is verified as usual, so the server must hold
//! the private key of the certificate it presents.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_lc_rs::digest;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, Error as TlsError, RootCertStore};

/// The SHA-1 thumbprint of a DER certificate, as 40 lowercase hex digits.
pub fn thumbprint(der: &[u8]) -> String {
    let hash = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    hash.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Verifies a server's certificate chain against a provider's thumbprints (see the module
/// documentation). One instance serves one connection; it records whether no certificate of
/// the chain matched, so the caller can tell a thumbprint mismatch from other TLS failures.
#[derive(Debug)]
pub struct ThumbprintVerifier {
    thumbprints: Vec<String>,
    provider: Arc<CryptoProvider>,
    mismatch: AtomicBool,
}

impl ThumbprintVerifier {
    /// A verifier that trusts exactly `thumbprints` (lowercase hex).
    pub fn new(thumbprints: &[String], provider: Arc<CryptoProvider>) -> ThumbprintVerifier {
        ThumbprintVerifier {
            thumbprints: thumbprints.iter().map(|t| t.to_ascii_lowercase()).collect(),
            provider,
            mismatch: AtomicBool::new(false),
        }
    }

    /// Whether the last chain verified had no certificate with a listed thumbprint.
    pub fn mismatched(&self) -> bool {
        self.mismatch.load(Ordering::Relaxed)
    }

    fn pinned_leaf(
        end_entity: &CertificateDer<'_>,
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<(), TlsError> {
        let parsed = ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_name(&parsed, server_name)?;
        let (_, cert) = x509_parser::parse_x509_certificate(end_entity.as_ref())
            .map_err(|_| TlsError::InvalidCertificate(CertificateError::BadEncoding))?;
        let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        let validity = cert.validity();
        if now < validity.not_before.timestamp() {
            return Err(TlsError::InvalidCertificate(CertificateError::NotValidYet));
        }
        if now > validity.not_after.timestamp() {
            return Err(TlsError::InvalidCertificate(CertificateError::Expired));
        }
        Ok(())
    }
}

impl ServerCertVerifier for ThumbprintVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        let chain: Vec<&CertificateDer<'_>> =
            std::iter::once(end_entity).chain(intermediates).collect();
        // The top-most listed certificate wins: it vouches for everything below it.
        let Some(index) = chain
            .iter()
            .rposition(|c| self.thumbprints.contains(&thumbprint(c.as_ref())))
        else {
            self.mismatch.store(true, Ordering::Relaxed);
            return Err(TlsError::InvalidCertificate(
                CertificateError::UnknownIssuer,
            ));
        };
        self.mismatch.store(false, Ordering::Relaxed);
        if index == 0 {
            Self::pinned_leaf(end_entity, server_name, now)?;
            return Ok(ServerCertVerified::assertion());
        }
        let mut roots = RootCertStore::empty();
        roots.add(chain[index].clone().into_owned())?;
        let webpki =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                .build()
                .map_err(|e| TlsError::General(e.to_string()))?;
        webpki.verify_server_cert(
            end_entity,
            &intermediates[..index - 1],
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_is_lowercase_sha1_hex() {
        // SHA-1("abc"), FIPS 180-1 appendix A.
        assert_eq!(
            thumbprint(b"abc"),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }
}
