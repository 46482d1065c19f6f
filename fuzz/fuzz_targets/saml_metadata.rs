//! Any text as SAML metadata (as CreateSAMLProvider and UpdateSAMLProvider take it): the
//! reader must answer, never panic, and what it accepts must have an entityID and at least
//! one signing certificate.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(metadata) = portcullis_iam::saml_metadata::parse_metadata(text) {
        assert!(!metadata.entity_id.is_empty());
        assert!(!metadata.signing_certificates.is_empty());
    }
});
