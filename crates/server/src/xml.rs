//! XML responses in the shape botocore and the AWS SDKs parse:
//! `<{Action}Response xmlns=...><{Action}Result>...</{Action}Result><ResponseMetadata>...`.

use std::fmt::Write;

/// Whether `c` may appear in an XML 1.0 document.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Escapes text for element content. Characters XML 1.0 cannot carry at all (NUL and other
/// control characters, U+FFFE, U+FFFF), which an error message may echo from the input, are
/// replaced with U+FFFD so that the document still parses.
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().all(is_xml_char) {
        return quick_xml::escape::escape(text);
    }
    let clean: String = text
        .chars()
        .map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' })
        .collect();
    std::borrow::Cow::Owned(quick_xml::escape::escape(&clean).into_owned())
}

/// RFC 3986 percent-encoding, as AWS encodes policy documents in responses.
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3 / 2);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Builds the inside of a `<...Result>` element.
#[derive(Default)]
pub struct Xml {
    out: String,
}

impl Xml {
    pub fn new() -> Xml {
        Xml::default()
    }

    /// `<name>text</name>`.
    pub fn text(&mut self, name: &str, text: &str) -> &mut Xml {
        let _ = write!(self.out, "<{name}>{}</{name}>", escape(text));
        self
    }

    /// Bare text (a list member that is a plain string).
    pub fn text_only(&mut self, text: &str) -> &mut Xml {
        self.out.push_str(&escape(text));
        self
    }

    /// `<name>text</name>` when there is a text.
    pub fn opt(&mut self, name: &str, text: Option<&str>) -> &mut Xml {
        if let Some(t) = text {
            self.text(name, t);
        }
        self
    }

    pub fn bool(&mut self, name: &str, value: bool) -> &mut Xml {
        self.text(name, if value { "true" } else { "false" })
    }

    pub fn num(&mut self, name: &str, value: impl std::fmt::Display) -> &mut Xml {
        let _ = write!(self.out, "<{name}>{value}</{name}>");
        self
    }

    /// `<name>...</name>` around what `inner` writes.
    pub fn elem(&mut self, name: &str, inner: impl FnOnce(&mut Xml)) -> &mut Xml {
        let _ = write!(self.out, "<{name}>");
        inner(self);
        let _ = write!(self.out, "</{name}>");
        self
    }

    /// `<name><member>..</member>...</name>`.
    pub fn list<T>(
        &mut self,
        name: &str,
        items: impl IntoIterator<Item = T>,
        mut each: impl FnMut(&mut Xml, T),
    ) -> &mut Xml {
        let _ = write!(self.out, "<{name}>");
        for item in items {
            self.out.push_str("<member>");
            each(self, item);
            self.out.push_str("</member>");
        }
        let _ = write!(self.out, "</{name}>");
        self
    }

    /// What has been written (the inside of the result element).
    pub fn as_str(&self) -> &str {
        &self.out
    }

    /// The full response document.
    pub fn into_response(self, action: &str, namespace: &str, request_id: &str) -> String {
        format!(
            "<{action}Response xmlns=\"{namespace}\"><{action}Result>{}</{action}Result><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>",
            self.out
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_aws() {
        assert_eq!(
            url_encode("{\"a\": \"b/c\"}"),
            "%7B%22a%22%3A%20%22b%2Fc%22%7D"
        );
        let mut x = Xml::new();
        x.text("UserName", "a<b").list("Tags", ["x"], |x, t| {
            x.text("Key", t);
        });
        assert_eq!(
            escape("a\u{0}b\u{1b}c\u{FFFF}<"),
            "a\u{FFFD}b\u{FFFD}c\u{FFFD}&lt;"
        );
        assert_eq!(
            x.into_response("GetUser", "ns", "rid"),
            "<GetUserResponse xmlns=\"ns\"><GetUserResult><UserName>a&lt;b</UserName><Tags><member><Key>x</Key></member></Tags></GetUserResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></GetUserResponse>"
        );
    }
}
