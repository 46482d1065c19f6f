//! Enveloped XML signatures as the SAML signature profile (SAML 2.0 core, section 5.4) uses
//! them: a `ds:Signature` child of the signed element, one `ds:Reference` whose URI is `#` and
//! the element's `ID`, the enveloped-signature and exclusive canonicalization transforms only,
//! exclusive canonicalization of `SignedInfo`, RSA (PKCS #1 v1.5) or ECDSA with SHA-1 or
//! SHA-2. The key is always one of the provider's certificates from its metadata; a key or
//! certificate inside the document is never trusted.
//!
//! Anything else a general XML signature may hold (other transforms, several references,
//! `ds:Object`, manifests, external URIs) is refused rather than interpreted.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_NIST_EC_P521,
    OID_PKCS1_RSAENCRYPTION,
};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::c14n;
use crate::error::SamlError;
use crate::xml::{Document, NodeId};

/// The XML signature namespace.
pub const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// Exclusive canonicalization without comments; also the `InclusiveNamespaces` namespace.
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// A key that may sign the provider's responses, from one of its metadata certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    curve: Curve,
    /// PKCS #1 `RSAPublicKey` DER, or the uncompressed EC point.
    public_key: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    Rsa,
    P256,
    P384,
    P521,
}

impl TrustedKey {
    /// The public key of a DER certificate; `None` for a key type XML signatures here cannot
    /// use. The certificate's dates and issuer are not checked: metadata pins the key, as
    /// the SAML metadata interoperability profile says.
    pub fn from_certificate(der: &[u8]) -> Option<Self> {
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        let spki = cert.public_key();
        let curve = if spki.algorithm.algorithm == OID_PKCS1_RSAENCRYPTION {
            Curve::Rsa
        } else if spki.algorithm.algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY {
            let named = spki.algorithm.parameters.as_ref()?.as_oid().ok()?;
            if named == OID_EC_P256 {
                Curve::P256
            } else if named == OID_NIST_EC_P384 {
                Curve::P384
            } else if named == OID_NIST_EC_P521 {
                Curve::P521
            } else {
                return None;
            }
        } else {
            return None;
        };
        Some(Self {
            curve,
            public_key: spki.subject_public_key.data.to_vec(),
        })
    }
}

fn invalid(message: impl Into<String>) -> SamlError {
    SamlError::Signature(message.into())
}

/// The signature algorithms taken, by URI, with the key type each needs.
fn signature_algorithm(uri: &str, curve: Curve) -> Option<&'static dyn VerificationAlgorithm> {
    let algorithm: &'static dyn VerificationAlgorithm = match (uri, curve) {
        ("http://www.w3.org/2000/09/xmldsig#rsa-sha1", Curve::Rsa) => {
            &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY
        }
        ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", Curve::Rsa) => {
            &signature::RSA_PKCS1_2048_8192_SHA256
        }
        ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha384", Curve::Rsa) => {
            &signature::RSA_PKCS1_2048_8192_SHA384
        }
        ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha512", Curve::Rsa) => {
            &signature::RSA_PKCS1_2048_8192_SHA512
        }
        ("http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256", Curve::P256) => {
            &signature::ECDSA_P256_SHA256_FIXED
        }
        ("http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384", Curve::P384) => {
            &signature::ECDSA_P384_SHA384_FIXED
        }
        ("http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512", Curve::P521) => {
            &signature::ECDSA_P521_SHA512_FIXED
        }
        _ => return None,
    };
    Some(algorithm)
}

const SIGNATURE_ALGORITHMS: [&str; 7] = [
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
];

fn digest_algorithm(uri: &str) -> Option<&'static digest::Algorithm> {
    Some(match uri {
        "http://www.w3.org/2000/09/xmldsig#sha1" => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        "http://www.w3.org/2001/04/xmlenc#sha256" => &digest::SHA256,
        "http://www.w3.org/2001/04/xmldsig-more#sha384" => &digest::SHA384,
        "http://www.w3.org/2001/04/xmlenc#sha512" => &digest::SHA512,
        _ => return None,
    })
}

/// Base64 with the line breaks and spaces signers put in.
fn base64_text(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(compact).ok()
}

/// The prefix list of an `ec:InclusiveNamespaces` child of `id`, if any.
fn inclusive_prefixes(doc: &Document, id: NodeId) -> Result<Vec<String>, SamlError> {
    let mut prefixes = Vec::new();
    for child in doc.child_elements(id) {
        if !doc.is(child, EXC_C14N, "InclusiveNamespaces") {
            return Err(invalid(
                "a canonicalization method has an unknown parameter",
            ));
        }
        if let Some(list) = doc.attribute(child, "PrefixList") {
            prefixes.extend(list.split_ascii_whitespace().map(str::to_owned));
        }
    }
    Ok(prefixes)
}

/// The `ds:Signature` child of `element`: `Ok(None)` when it has none; an error when it has
/// more than one.
pub fn signature_of(doc: &Document, element: NodeId) -> Result<Option<NodeId>, SamlError> {
    let mut found = doc.children_named(element, DS, "Signature");
    let first = found.next();
    if found.next().is_some() {
        return Err(invalid("an element has more than one signature"));
    }
    Ok(first)
}

/// Verifies the enveloped signature `signature` (a child of `element`) with one of `keys`.
pub fn verify(
    doc: &Document,
    element: NodeId,
    signature: NodeId,
    keys: &[TrustedKey],
) -> Result<(), SamlError> {
    let id = doc
        .attribute(element, "ID")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| invalid("the signed element has no ID"))?;
    let mut parts = doc.child_elements(signature);
    let signed_info = parts
        .next()
        .filter(|&n| doc.is(n, DS, "SignedInfo"))
        .ok_or_else(|| invalid("the signature does not start with SignedInfo"))?;
    let value = parts
        .next()
        .filter(|&n| doc.is(n, DS, "SignatureValue"))
        .ok_or_else(|| invalid("SignatureValue must follow SignedInfo"))?;
    for rest in parts {
        if !doc.is(rest, DS, "KeyInfo") {
            return Err(invalid(
                "a signature may hold only SignedInfo, SignatureValue and KeyInfo",
            ));
        }
    }

    let mut info = doc.child_elements(signed_info);
    let c14n_method = info
        .next()
        .filter(|&n| doc.is(n, DS, "CanonicalizationMethod"))
        .ok_or_else(|| invalid("SignedInfo must start with CanonicalizationMethod"))?;
    if doc.attribute(c14n_method, "Algorithm") != Some(EXC_C14N) {
        return Err(invalid(
            "SignedInfo must be canonicalized with exclusive C14N",
        ));
    }
    let info_prefixes = inclusive_prefixes(doc, c14n_method)?;
    let method = info
        .next()
        .filter(|&n| doc.is(n, DS, "SignatureMethod"))
        .ok_or_else(|| invalid("SignatureMethod must follow CanonicalizationMethod"))?;
    let algorithm = doc
        .attribute(method, "Algorithm")
        .filter(|a| SIGNATURE_ALGORITHMS.contains(a))
        .ok_or_else(|| invalid("the signature algorithm is not supported"))?;
    if doc.child_elements(method).next().is_some() {
        return Err(invalid("SignatureMethod takes no parameters"));
    }
    let reference = info
        .next()
        .filter(|&n| doc.is(n, DS, "Reference"))
        .ok_or_else(|| invalid("SignedInfo must hold a Reference"))?;
    if info.next().is_some() {
        return Err(invalid("SignedInfo must hold exactly one Reference"));
    }

    // The reference: this element, by its ID.
    let uri = doc.attribute(reference, "URI").unwrap_or_default();
    if uri.strip_prefix('#') != Some(id) {
        return Err(invalid("the reference is not to the signed element"));
    }
    let mut ref_parts = doc.child_elements(reference).peekable();
    let mut ref_prefixes = None;
    if let Some(&transforms) = ref_parts.peek()
        && doc.is(transforms, DS, "Transforms")
    {
        ref_parts.next();
        let mut enveloped = false;
        for transform in doc.child_elements(transforms) {
            if !doc.is(transform, DS, "Transform") {
                return Err(invalid("Transforms may hold only Transform elements"));
            }
            match doc.attribute(transform, "Algorithm") {
                Some(ENVELOPED) if !enveloped && ref_prefixes.is_none() => {
                    if doc.child_elements(transform).next().is_some() {
                        return Err(invalid(
                            "the enveloped-signature transform takes no parameters",
                        ));
                    }
                    enveloped = true;
                }
                Some(EXC_C14N) if ref_prefixes.is_none() => {
                    ref_prefixes = Some(inclusive_prefixes(doc, transform)?);
                }
                _ => return Err(invalid("a reference transform is not supported")),
            }
        }
        if !enveloped {
            return Err(invalid("the signature must be enveloped"));
        }
    } else {
        return Err(invalid("the signature must be enveloped"));
    }
    let ref_prefixes = ref_prefixes
        .ok_or_else(|| invalid("the reference must be canonicalized with exclusive C14N"))?;
    let digest_method = ref_parts
        .next()
        .filter(|&n| doc.is(n, DS, "DigestMethod"))
        .ok_or_else(|| invalid("the reference has no DigestMethod"))?;
    let digest_algorithm = doc
        .attribute(digest_method, "Algorithm")
        .and_then(digest_algorithm)
        .ok_or_else(|| invalid("the digest algorithm is not supported"))?;
    let digest_value = ref_parts
        .next()
        .filter(|&n| doc.is(n, DS, "DigestValue"))
        .ok_or_else(|| invalid("the reference has no DigestValue"))?;
    if ref_parts.next().is_some() {
        return Err(invalid("the reference has unexpected content"));
    }
    let expected =
        base64_text(&doc.text(digest_value)).ok_or_else(|| invalid("DigestValue is not base64"))?;

    let canonical = c14n::exclusive(doc, element, Some(signature), &ref_prefixes);
    let actual = digest::digest(digest_algorithm, &canonical);
    if !bool::from(actual.as_ref().ct_eq(&expected)) {
        return Err(invalid("the digest of the signed element does not match"));
    }

    let signature_value =
        base64_text(&doc.text(value)).ok_or_else(|| invalid("SignatureValue is not base64"))?;
    let signed = c14n::exclusive(doc, signed_info, None, &info_prefixes);
    let verified = keys.iter().any(|key| {
        signature_algorithm(algorithm, key.curve).is_some_and(|alg| {
            UnparsedPublicKey::new(alg, &key.public_key)
                .verify(&signed, &signature_value)
                .is_ok()
        })
    });
    if verified {
        Ok(())
    } else {
        Err(invalid(
            "no certificate of the provider verifies the signature",
        ))
    }
}
