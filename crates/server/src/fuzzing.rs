//! Entry points for the fuzz targets in `fuzz/` (not an API: hidden from the documentation).
//! Each runs one network-facing parser of the server as a request would, and checks what must
//! hold whatever the input; a violation panics, which is what a fuzzer reports.

use portcullis_iam::model::{OidcProvider, Tag};
use portcullis_iam::state::AccountState;

use crate::error::ApiError;
use crate::query::Params;
use crate::xml::{Xml, is_xml_char, url_encode};

/// The Query parser: `body` as a POST form, `query` as the URL's query, merged as the server
/// does; then every accessor on each of `names`. A name's value is its first occurrence in the
/// body, else in the query (what is signed is what is executed).
pub fn query(body: &[u8], query: &[u8], names: &[&str]) {
    let mut params = Params::parse(body);
    params.merge(Params::parse(query));
    for name in names {
        let first = form_urlencoded::parse(body)
            .chain(form_urlencoded::parse(query))
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned());
        assert_eq!(params.get(name), first.as_deref(), "{name}");
        assert_eq!(params.required(name).is_ok(), first.is_some());
        let _ = params.bool(name);
        if let Ok(Some(n)) = params.int(name, -5, 1000) {
            assert!((-5..=1000).contains(&n));
        }
        let list = params.list(name);
        assert!(list.len() <= body.len() + query.len());
        let tags: Vec<Tag> = params.tags(name);
        assert!(tags.len() <= body.len() + query.len());
    }
}

/// The XML writer: `texts` written as element content, list members and an error message;
/// returns the response and the error document, which must be well-formed XML 1.0 whose text
/// reads back as written (characters XML cannot carry are replaced).
pub fn xml(texts: &[&str]) -> (String, String) {
    let mut x = Xml::new();
    x.elem("Outer", |x| {
        for t in texts {
            x.text("Text", t).opt("Opt", Some(t)).num("Num", t.len());
        }
    })
    .list("List", texts, |x, t| {
        x.text_only(t);
    })
    .bool("Flag", texts.is_empty());
    for t in texts {
        let encoded = url_encode(t);
        assert!(encoded.bytes().all(|b| b.is_ascii_graphic()));
        let decoded: Vec<u8> = percent_decode(&encoded);
        assert_eq!(decoded, t.as_bytes());
    }
    let response = x.into_response("Fuzz", "https://iam.amazonaws.com/doc/2010-05-08/", "rid");
    let error = ApiError::validation(texts.concat())
        .to_xml("https://iam.amazonaws.com/doc/2010-05-08/", "rid");
    for doc in [&response, &error] {
        assert!(doc.chars().all(is_xml_char), "not XML 1.0 characters");
        let mut reader = quick_xml::Reader::from_str(doc);
        let mut depth = 0usize;
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Start(_)) => depth += 1,
                Ok(quick_xml::events::Event::End(_)) => depth -= 1,
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!("not well-formed: {e}: {doc}"),
            }
        }
        assert_eq!(depth, 0);
    }
    // One text element reads back as written, but for the characters XML cannot carry.
    for t in texts {
        let mut one = Xml::new();
        one.text("T", t);
        let doc = one.into_response("Fuzz", "ns", "rid");
        let start = doc.find("<T>").expect("element") + 3;
        let end = doc.find("</T>").expect("end");
        let read = quick_xml::escape::unescape(&doc[start..end]).expect("escaped");
        let clean: String = t
            .chars()
            .map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' })
            .collect();
        assert_eq!(read, clean);
    }
    (response, error)
}

fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ASCII");
            out.push(u8::from_str_radix(hex, 16).expect("hex"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// JWT verification up to the provider's keys: the header, the algorithm, the unverified
/// claims, the issuer → provider lookup. The account has one provider,
/// `https://issuer.example`; no keys are ever fetched (no runtime), so a token that gets that
/// far ends in `IDPCommunicationError`. Returns the error code.
pub fn web_identity_token(token: &str, now: i64) -> &'static str {
    let mut account = AccountState::default();
    account.oidc_providers.insert(
        "issuer.example".into(),
        OidcProvider {
            url: "issuer.example".into(),
            client_ids: vec!["client".into()],
            thumbprints: vec!["0".repeat(40)],
            create_date: "2026-01-01T00:00:00Z".into(),
            tags: vec![],
        },
    );
    let cache = crate::web_identity::JwksCache::new();
    match crate::web_identity::verify(token, "111122223333", &account, &cache, now) {
        Ok(_) => panic!("a token verified without keys"),
        Err(e) => {
            assert!(matches!(
                e.code,
                "InvalidIdentityToken" | "IDPCommunicationError" | "ExpiredTokenException"
            ));
            e.code
        }
    }
}
