//! SAML 2.0 identity provider metadata, as CreateSAMLProvider takes it: an `EntityDescriptor`
//! with an `IDPSSODescriptor` that supports the SAML 2.0 protocol and names at least one
//! signing certificate. Read with a namespace-aware XML parser (quick-xml); document type
//! declarations are refused, so no entity is ever expanded.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::reader::NsReader;

use crate::error::{IamError, IamResult};

/// The SAML 2.0 metadata namespace.
const MD: &[u8] = b"urn:oasis:names:tc:SAML:2.0:metadata";
/// The XML signature namespace (`ds:KeyInfo`, `ds:X509Certificate`).
const DS: &[u8] = b"http://www.w3.org/2000/09/xmldsig#";
/// The protocol an identity provider must support.
const SAML2_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";

/// The shortest and longest metadata documents IAM takes (characters).
pub const MIN_LEN: usize = 1_000;
pub const MAX_LEN: usize = 10_000_000;

/// What the service needs from a provider's metadata to trust its assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlMetadata {
    /// The `entityID`: the `Issuer` of the provider's responses.
    pub entity_id: String,
    /// The root's `validUntil`, in unix seconds.
    pub valid_until: Option<i64>,
    /// The signing certificates of the `IDPSSODescriptor`, base64 DER, in document order.
    pub signing_certificates: Vec<String>,
}

fn invalid(message: impl std::fmt::Display) -> IamError {
    IamError::InvalidInput(format!("Could not parse metadata: {message}"))
}

/// Where the reader is, for the elements that matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Root,
    Idp,
    SigningKey,
    Certificate,
    Other,
}

/// Parses and checks `text` (its length is the caller's to check).
pub fn parse_metadata(text: &str) -> IamResult<SamlMetadata> {
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Place> = Vec::new();
    let mut seen_root = false;
    let mut seen_idp = false;
    let mut entity_id = String::new();
    let mut valid_until = None;
    let mut certificates = Vec::new();
    let mut certificate_text = String::new();
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(invalid)?;
        let ns = match ns {
            ResolveResult::Bound(Namespace(ns)) => Some(ns),
            ResolveResult::Unbound => None,
            ResolveResult::Unknown(prefix) => {
                return Err(invalid(format!(
                    "the namespace prefix '{}' is not declared",
                    String::from_utf8_lossy(&prefix)
                )));
            }
        };
        let parent = stack.last().copied();
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let local = e.local_name();
                let local = local.as_ref();
                let place = match parent {
                    None => {
                        if seen_root {
                            return Err(invalid("the document has more than one root element"));
                        }
                        seen_root = true;
                        if ns != Some(MD) || local != b"EntityDescriptor" {
                            return Err(invalid(
                                "the root element must be a SAML 2.0 metadata EntityDescriptor",
                            ));
                        }
                        entity_id = attribute(e, b"entityID")?.unwrap_or_default();
                        valid_until = attribute(e, b"validUntil")?
                            .map(|v| parse_date_time(&v))
                            .transpose()?;
                        Place::Root
                    }
                    Some(Place::Root) if ns == Some(MD) && local == b"IDPSSODescriptor" => {
                        let protocols =
                            attribute(e, b"protocolSupportEnumeration")?.unwrap_or_default();
                        if protocols.split_whitespace().any(|p| p == SAML2_PROTOCOL) {
                            seen_idp = true;
                            Place::Idp
                        } else {
                            Place::Other
                        }
                    }
                    Some(Place::Idp) if ns == Some(MD) && local == b"KeyDescriptor" => {
                        match attribute(e, b"use")?.as_deref() {
                            None | Some("signing") => Place::SigningKey,
                            _ => Place::Other,
                        }
                    }
                    Some(Place::SigningKey) if ns == Some(DS) && local == b"X509Certificate" => {
                        certificate_text.clear();
                        Place::Certificate
                    }
                    // KeyInfo and X509Data sit between KeyDescriptor and X509Certificate.
                    Some(Place::SigningKey)
                        if ns == Some(DS) && matches!(local, b"KeyInfo" | b"X509Data") =>
                    {
                        Place::SigningKey
                    }
                    Some(Place::Certificate) => {
                        return Err(invalid("X509Certificate holds an element"));
                    }
                    _ => Place::Other,
                };
                if matches!(event, Event::Start(_)) {
                    stack.push(place);
                } else if place == Place::Certificate {
                    return Err(invalid("an X509Certificate element is empty"));
                }
            }
            Event::End(_) => {
                if stack.pop() == Some(Place::Certificate) {
                    certificates.push(certificate(&certificate_text)?);
                }
            }
            Event::Text(ref t) => {
                let t = t.decode().map_err(invalid)?;
                if parent == Some(Place::Certificate) {
                    certificate_text.push_str(&t);
                } else if parent.is_none() && !t.trim().is_empty() {
                    return Err(invalid("text outside the root element"));
                }
            }
            Event::CData(ref t) => {
                if parent == Some(Place::Certificate) {
                    certificate_text.push_str(&t.decode().map_err(invalid)?);
                }
            }
            Event::GeneralRef(ref r) => {
                let resolved = match r.resolve_char_ref().map_err(invalid)? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(invalid)?;
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| invalid(format!("unknown entity &{name};")))?
                            .to_owned()
                    }
                };
                if parent.is_none() {
                    return Err(invalid("text outside the root element"));
                }
                if parent == Some(Place::Certificate) {
                    certificate_text.push_str(&resolved);
                }
            }
            Event::DocType(_) => {
                return Err(invalid("document type declarations are not allowed"));
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => {
                if !stack.is_empty() {
                    return Err(invalid("the document ends inside an element"));
                }
                break;
            }
        }
    }
    if !seen_root {
        return Err(invalid("the document has no root element"));
    }
    if entity_id.is_empty() || entity_id.chars().count() > 1024 {
        return Err(invalid(
            "the EntityDescriptor needs an entityID of 1 to 1024 characters",
        ));
    }
    if !seen_idp {
        return Err(invalid(
            "the EntityDescriptor has no IDPSSODescriptor that supports the SAML 2.0 protocol",
        ));
    }
    if certificates.is_empty() {
        return Err(invalid(
            "the IDPSSODescriptor names no signing certificate (KeyDescriptor/KeyInfo/X509Data/X509Certificate)",
        ));
    }
    Ok(SamlMetadata {
        entity_id,
        valid_until,
        signing_certificates: certificates,
    })
}

/// The unescaped value of the unqualified attribute `name`.
fn attribute(e: &BytesStart<'_>, name: &[u8]) -> IamResult<Option<String>> {
    for attr in e.attributes() {
        let attr = attr.map_err(invalid)?;
        if attr.key.as_ref() == name {
            return Ok(Some(attr.unescape_value().map_err(invalid)?.into_owned()));
        }
    }
    Ok(None)
}

/// A base64 certificate: whitespace removed, decoded, parsed.
fn certificate(text: &str) -> IamResult<String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let der = STANDARD
        .decode(&compact)
        .map_err(|_| invalid("an X509Certificate is not base64"))?;
    if !crate::x509::is_certificate_der(&der) {
        return Err(invalid(
            "an X509Certificate is not a valid X.509 certificate",
        ));
    }
    Ok(compact)
}

/// An `xs:dateTime` (UTC when it names no offset), in unix seconds.
fn parse_date_time(text: &str) -> IamResult<i64> {
    use time::format_description::well_known::Rfc3339;
    let text = text.trim();
    let has_offset = text.ends_with('Z')
        || text.rfind(['+', '-']).is_some_and(|i| {
            text.get(i..)
                .is_some_and(|o| o.len() == 6 && o.contains(':'))
        });
    let full = if has_offset {
        text.to_owned()
    } else {
        format!("{text}Z")
    };
    time::OffsetDateTime::parse(&full, &Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| invalid(format!("validUntil '{text}' is not an xs:dateTime")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const METADATA: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../server/tests/fixtures/saml-metadata.xml"
    ));

    #[test]
    fn reads_the_entity_id_and_signing_certificates() {
        let m = parse_metadata(METADATA).unwrap();
        assert_eq!(m.entity_id, "https://idp.example.com/saml");
        assert_eq!(m.signing_certificates.len(), 1);
        assert_eq!(m.valid_until, None);
        let with_date =
            METADATA.replace("entityID=", "validUntil=\"2100-01-01T00:00:00Z\" entityID=");
        assert_eq!(
            parse_metadata(&with_date).unwrap().valid_until,
            Some(4_102_444_800)
        );
        let no_offset =
            METADATA.replace("entityID=", "validUntil=\"2100-01-01T00:00:00\" entityID=");
        assert_eq!(
            parse_metadata(&no_offset).unwrap().valid_until,
            Some(4_102_444_800)
        );
    }

    #[test]
    fn refuses_what_is_not_idp_metadata() {
        let bad = [
            METADATA.replace("</md:EntityDescriptor>", ""),
            METADATA.replace("md:IDPSSODescriptor", "md:SPSSODescriptor"),
            METADATA.replace("use=\"signing\"", "use=\"encryption\""),
            METADATA.replace("<ds:X509Certificate>MII", "<ds:X509Certificate>!!!"),
            METADATA.replace("<ds:X509Certificate>MII", "<ds:X509Certificate>AAAA"),
            METADATA.replace("urn:oasis:names:tc:SAML:2.0:metadata", "urn:example"),
            METADATA.replace(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
                "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e \"boom\">]>",
            ),
            METADATA.replace("entityID=\"https://idp.example.com/saml\"", ""),
            format!("{METADATA}<second/>"),
            METADATA.replace("md:KeyDescriptor use", "xx:KeyDescriptor use"),
            "plain text".to_owned(),
        ];
        for (i, doc) in bad.iter().enumerate() {
            let err = parse_metadata(doc).expect_err(&format!("case {i} was accepted"));
            assert_eq!(err.code(), "InvalidInput", "case {i}: {err}");
        }
    }
}
