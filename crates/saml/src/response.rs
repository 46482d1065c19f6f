//! A SAML 2.0 `samlp:Response`, checked as the Web Browser SSO profile's service provider
//! checks it (SAML 2.0 profiles, section 4.1.4.3), for AssumeRoleWithSAML:
//!
//! - well-formed, no document type, every `ID` in the document distinct, exactly one
//!   `saml:Assertion` and it a child of the response;
//! - an encrypted assertion decrypted with the service's keys;
//! - the response, the assertion or both signed by a key of the provider's metadata; every
//!   signature present verifies, and everything read afterwards is read from the node the
//!   signature covers (never found again by name or ID elsewhere: wrapped copies are ignored);
//! - status Success; issuer the provider's `entityID`;
//! - a bearer `SubjectConfirmation` addressed to the service (`Recipient`) and unexpired;
//! - `Conditions` times, and an `AudienceRestriction` naming the service;
//! - issued no longer ago than a response may be redeemed.
//!
//! What the assertion says (subject, attributes, session end) is returned for STS to apply.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::dsig::{self, TrustedKey};
use crate::error::SamlError;
use crate::xml::{Document, NodeId};
use crate::xmlenc::{self, DecryptionKey};

/// The SAML 2.0 protocol namespace (`samlp:`).
pub const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
/// The SAML 2.0 assertion namespace (`saml:`).
pub const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
/// How long after its issue a response may be redeemed (AWS: "Token must be redeemed within
/// 5 minutes of issuance").
pub const REDEEM_WITHIN: i64 = 300;

/// What the service expects of a response: the provider that must have issued it and the
/// service's own addresses.
pub struct Expectations<'a> {
    /// The provider's metadata `entityID`.
    pub issuer: &'a str,
    /// The keys of the provider's signing certificates.
    pub keys: &'a [TrustedKey],
    /// Now, in unix seconds.
    pub now: i64,
    /// The clock skew tolerated either way, in seconds.
    pub skew: i64,
    /// Whether a `Recipient` is the service's assertion consumer address.
    pub recipient: &'a dyn Fn(&str) -> bool,
    /// Whether an `Audience` names the service.
    pub audience: &'a dyn Fn(&str) -> bool,
    /// The service's keys that assertions may be encrypted to.
    pub decryption_keys: &'a [DecryptionKey],
}

/// A response that passed every check, and what its assertion says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub issuer: String,
    /// The assertion's `ID` (with the issuer, what identifies it against replay).
    pub assertion_id: String,
    /// The subject's `NameID`, read whole.
    pub name_id: String,
    /// The `NameID`'s `Format`, if given.
    pub name_id_format: Option<String>,
    /// The `Recipient` of the bearer confirmation that was accepted.
    pub recipient: String,
    /// When the assertion stops being redeemable (the earliest of its conditions' and its
    /// confirmation's `NotOnOrAfter`), unix seconds: how long to remember it against replay.
    pub not_on_or_after: i64,
    /// The authentication statement's `SessionNotOnOrAfter`, unix seconds.
    pub session_not_on_or_after: Option<i64>,
    /// Whether the assertion came encrypted.
    pub encrypted: bool,
    /// The attributes: name, and values in order. A name given twice keeps both value lists,
    /// joined.
    pub attributes: Vec<(String, Vec<String>)>,
}

impl Verified {
    /// The values of the attribute `name`.
    pub fn attribute(&self, name: &str) -> Option<&[String]> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

fn malformed(message: impl Into<String>) -> SamlError {
    SamlError::Malformed(message.into())
}

fn timestamp(doc: &Document, id: NodeId, name: &str) -> Result<Option<i64>, SamlError> {
    match doc.attribute(id, name) {
        None => Ok(None),
        Some(text) => OffsetDateTime::parse(text.trim(), &Rfc3339)
            .map(|t| Some(t.unix_timestamp()))
            .map_err(|_| malformed(format!("{name} {text:?} is not an xs:dateTime in UTC"))),
    }
}

/// Decodes, parses and checks the base64 response `encoded`.
pub fn verify(encoded: &str, expect: &Expectations<'_>) -> Result<Verified, SamlError> {
    let compact: String = encoded
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let bytes = STANDARD
        .decode(compact)
        .map_err(|_| malformed("the response is not base64"))?;
    let text = String::from_utf8(bytes).map_err(|_| malformed("the response is not UTF-8"))?;
    let doc = Document::parse(&text)?;
    verify_document(&doc, expect)
}

fn verify_document(doc: &Document, expect: &Expectations<'_>) -> Result<Verified, SamlError> {
    let response = doc.root();
    if !doc.is(response, PROTOCOL, "Response") {
        return Err(malformed("the document is not a samlp:Response"));
    }
    if doc.attribute(response, "Version") != Some("2.0") {
        return Err(malformed("the response is not SAML 2.0"));
    }
    // Distinct IDs: a reference can then only ever mean one element.
    let mut ids: Vec<&str> = doc
        .elements()
        .filter_map(|e| doc.attribute(e, "ID"))
        .collect();
    ids.sort_unstable();
    if ids.windows(2).any(|w| w[0] == w[1]) {
        return Err(malformed("two elements have the same ID"));
    }
    let all_assertions = doc
        .elements()
        .filter(|&e| {
            doc.is(e, ASSERTION, "Assertion") || doc.is(e, ASSERTION, "EncryptedAssertion")
        })
        .count();
    if all_assertions != 1 {
        return Err(malformed("the response must hold exactly one assertion"));
    }

    // Signatures first: nothing unsigned is looked at before.
    let response_signature = dsig::signature_of(doc, response)?;
    if let Some(signature) = response_signature {
        dsig::verify(doc, response, signature, expect.keys)?;
    }
    // The assertion; an encrypted one is decrypted into a document of its own.
    let decrypted: Document;
    let (adoc, assertion, encrypted) =
        if let Some(assertion) = doc.only_child(response, ASSERTION, "Assertion") {
            (doc, assertion, false)
        } else {
            let sealed = doc
                .only_child(response, ASSERTION, "EncryptedAssertion")
                .ok_or_else(|| malformed("the assertion must be a child of the response"))?;
            let plain = xmlenc::decrypt(doc, sealed, expect.decryption_keys)?;
            let text = String::from_utf8(plain)
                .map_err(|_| malformed("the decrypted assertion is not UTF-8"))?;
            decrypted = Document::parse(&text)?;
            let root = decrypted.root();
            let nested = decrypted
                .elements()
                .filter(|&e| {
                    decrypted.is(e, ASSERTION, "Assertion")
                        || decrypted.is(e, ASSERTION, "EncryptedAssertion")
                })
                .count();
            if !decrypted.is(root, ASSERTION, "Assertion") || nested != 1 {
                return Err(malformed("the encrypted assertion is not one assertion"));
            }
            let mut inner: Vec<&str> = decrypted
                .elements()
                .filter_map(|e| decrypted.attribute(e, "ID"))
                .collect();
            inner.extend(doc.elements().filter_map(|e| doc.attribute(e, "ID")));
            inner.sort_unstable();
            if inner.windows(2).any(|w| w[0] == w[1]) {
                return Err(malformed("two elements have the same ID"));
            }
            (&decrypted, root, true)
        };
    let assertion_signature = dsig::signature_of(adoc, assertion)?;
    if response_signature.is_none() && assertion_signature.is_none() {
        return Err(SamlError::Signature(
            "neither the response nor its assertion is signed".into(),
        ));
    }
    if let Some(signature) = assertion_signature {
        dsig::verify(adoc, assertion, signature, expect.keys)?;
    }

    let status = doc
        .only_child(response, PROTOCOL, "Status")
        .and_then(|s| doc.only_child(s, PROTOCOL, "StatusCode"))
        .and_then(|c| doc.attribute(c, "Value"))
        .ok_or_else(|| malformed("the response has no status code"))?;
    if status != SUCCESS {
        return Err(SamlError::Status(status.to_owned()));
    }

    if let Some(issuer) = doc.only_child(response, ASSERTION, "Issuer") {
        let issuer = doc.text(issuer);
        if issuer.trim() != expect.issuer {
            return Err(SamlError::Issuer(issuer));
        }
    }
    let issuer = adoc
        .only_child(assertion, ASSERTION, "Issuer")
        .map(|i| adoc.text(i))
        .ok_or_else(|| malformed("the assertion has no issuer"))?;
    if issuer.trim() != expect.issuer {
        return Err(SamlError::Issuer(issuer));
    }
    let assertion_id = adoc
        .attribute(assertion, "ID")
        .unwrap_or_default()
        .to_owned();
    if adoc.attribute(assertion, "Version") != Some("2.0") {
        return Err(malformed("the assertion is not SAML 2.0"));
    }

    let now = expect.now;
    let skew = expect.skew;
    let mut issued_at = Vec::with_capacity(2);
    for (at, element) in [(doc, response), (adoc, assertion)] {
        let issued = timestamp(at, element, "IssueInstant")?
            .ok_or_else(|| malformed("IssueInstant is required"))?;
        if issued > now + skew {
            return Err(SamlError::NotYetValid);
        }
        issued_at.push(issued);
    }

    // The subject, and a bearer confirmation for this service.
    let subject = adoc
        .only_child(assertion, ASSERTION, "Subject")
        .ok_or_else(|| malformed("the assertion has no subject"))?;
    let name_id = adoc
        .only_child(subject, ASSERTION, "NameID")
        .ok_or_else(|| malformed("the subject has no NameID"))?;
    let mut confirmed = None;
    let mut why = String::from("the subject has no bearer confirmation");
    for confirmation in adoc.children_named(subject, ASSERTION, "SubjectConfirmation") {
        if adoc.attribute(confirmation, "Method") != Some(BEARER) {
            continue;
        }
        let Some(data) = adoc.only_child(confirmation, ASSERTION, "SubjectConfirmationData") else {
            why = "a bearer confirmation has no SubjectConfirmationData".into();
            continue;
        };
        let recipient = adoc.attribute(data, "Recipient").unwrap_or_default();
        if !(expect.recipient)(recipient) {
            why = format!("the recipient {recipient:?} is not this service");
            continue;
        }
        let Some(until) = timestamp(adoc, data, "NotOnOrAfter")? else {
            why = "a bearer confirmation has no NotOnOrAfter".into();
            continue;
        };
        if until <= now - skew {
            return Err(SamlError::Expired);
        }
        if timestamp(adoc, data, "NotBefore")?.is_some_and(|t| t > now + skew) {
            return Err(SamlError::NotYetValid);
        }
        confirmed = Some((recipient.to_owned(), until));
        break;
    }
    let (recipient, confirmed_until) = confirmed.ok_or(SamlError::Recipient(why))?;

    // Conditions: times, and an audience restriction that names the service.
    let conditions = adoc
        .only_child(assertion, ASSERTION, "Conditions")
        .ok_or_else(|| malformed("the assertion has no conditions"))?;
    if timestamp(adoc, conditions, "NotBefore")?.is_some_and(|t| t > now + skew) {
        return Err(SamlError::NotYetValid);
    }
    let conditions_until = timestamp(adoc, conditions, "NotOnOrAfter")?;
    if conditions_until.is_some_and(|t| t <= now - skew) {
        return Err(SamlError::Expired);
    }
    let mut restrictions = adoc
        .children_named(conditions, ASSERTION, "AudienceRestriction")
        .peekable();
    if restrictions.peek().is_none() {
        return Err(SamlError::Audience);
    }
    for restriction in restrictions {
        let named = adoc
            .children_named(restriction, ASSERTION, "Audience")
            .any(|a| (expect.audience)(adoc.text(a).trim()));
        if !named {
            return Err(SamlError::Audience);
        }
    }

    // Unexpired, but issued longer ago than a response may be redeemed (checked after the
    // expiry, which says more when both apply).
    if issued_at
        .iter()
        .any(|&issued| now - issued > REDEEM_WITHIN + skew)
    {
        return Err(SamlError::TooOld);
    }

    let session_not_on_or_after = match adoc.only_child(assertion, ASSERTION, "AuthnStatement") {
        Some(statement) => timestamp(adoc, statement, "SessionNotOnOrAfter")?,
        None => None,
    };
    if session_not_on_or_after.is_some_and(|t| t <= now) {
        return Err(SamlError::Expired);
    }

    let mut attributes: Vec<(String, Vec<String>)> = Vec::new();
    for statement in adoc.children_named(assertion, ASSERTION, "AttributeStatement") {
        for attribute in adoc.children_named(statement, ASSERTION, "Attribute") {
            let name = adoc
                .attribute(attribute, "Name")
                .ok_or_else(|| malformed("an attribute has no Name"))?
                .to_owned();
            let values: Vec<String> = adoc
                .children_named(attribute, ASSERTION, "AttributeValue")
                .map(|v| adoc.text(v))
                .collect();
            match attributes.iter_mut().find(|(n, _)| *n == name) {
                Some((_, existing)) => existing.extend(values),
                None => attributes.push((name, values)),
            }
        }
    }

    Ok(Verified {
        issuer: issuer.trim().to_owned(),
        assertion_id,
        name_id: adoc.text(name_id),
        name_id_format: adoc.attribute(name_id, "Format").map(str::to_owned),
        recipient,
        not_on_or_after: conditions_until.map_or(confirmed_until, |c| c.min(confirmed_until)),
        session_not_on_or_after,
        encrypted,
        attributes,
    })
}
