//! Any text as a SAML response (AssumeRoleWithSAML's `SAMLAssertion`, after base64): the
//! checks must answer, never panic, and accept nothing without a trusted key. Whatever parses
//! canonicalizes idempotently: the canonical form parsed again canonicalizes to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_saml::xml::Document;
use portcullis_saml::{Expectations, c14n};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(doc) = Document::parse(text) {
        let once = c14n::exclusive(&doc, doc.root(), None, &["#default".to_owned()]);
        let again = Document::parse(std::str::from_utf8(&once).expect("canonical XML is UTF-8"))
            .expect("canonical XML parses");
        let twice = c14n::exclusive(&again, again.root(), None, &["#default".to_owned()]);
        assert_eq!(once, twice);
    }
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    let any = |_: &str| true;
    let result = portcullis_saml::verify(
        &encoded,
        &Expectations {
            issuer: "https://idp.example.com/saml",
            keys: &[],
            now: 1_800_000_000,
            skew: 60,
            recipient: &any,
            audience: &any,
            decryption_keys: &[],
        },
    );
    assert!(result.is_err(), "nothing verifies without a key");
});
