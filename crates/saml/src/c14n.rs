//! Exclusive XML Canonicalization 1.0, without comments
//! (<http://www.w3.org/2001/10/xml-exc-c14n#>), of one element's subtree, optionally leaving out
//! one subtree inside it (the enveloped signature). This is the only canonicalization the SAML
//! signature profile needs; nothing else is offered.
//!
//! An element carries the namespace declarations it visibly uses (its own prefix and its
//! attributes' prefixes), plus the prefixes of the `InclusiveNamespaces PrefixList` in scope,
//! unless the nearest output ancestor already declared the same binding. Declarations come
//! in prefix order (the default first), then attributes by namespace URI and local name; text
//! and attribute values are escaped as the specification says; comments are dropped.

use crate::xml::{Document, Node, NodeId, XML_NS};

/// A namespace binding as rendered: `None` is the default namespace.
type Binding = (Option<String>, String);

/// The canonical form of `apex`'s subtree without `excluded`'s.
///
/// `inclusive` is the `InclusiveNamespaces` prefix list (`#default` names the default
/// namespace).
pub fn exclusive(
    doc: &Document,
    apex: NodeId,
    excluded: Option<NodeId>,
    inclusive: &[String],
) -> Vec<u8> {
    let inclusive: Vec<Option<&str>> = inclusive
        .iter()
        .map(|p| {
            if p == "#default" {
                None
            } else {
                Some(p.as_str())
            }
        })
        .collect();
    let mut out = String::new();
    element(doc, apex, excluded, &inclusive, &[], &mut out);
    out.into_bytes()
}

fn element(
    doc: &Document,
    id: NodeId,
    excluded: Option<NodeId>,
    inclusive: &[Option<&str>],
    rendered: &[Binding],
    out: &mut String,
) {
    let Some(e) = doc.element(id) else { return };
    let mut needed: Vec<Option<&str>> = vec![e.prefix.as_deref()];
    for a in &e.attributes {
        if let Some(p) = a.prefix.as_deref() {
            needed.push(Some(p));
        }
    }
    for &p in inclusive {
        // Only what is in scope; an unbound inclusive prefix renders nothing.
        if doc.lookup(id, p).is_some_and(|uri| !uri.is_empty()) {
            needed.push(p);
        }
    }
    needed.sort();
    needed.dedup();
    let visible_in = |prefix: Option<&str>| {
        rendered
            .iter()
            .rev()
            .find(|(p, _)| p.as_deref() == prefix)
            .map(|(_, uri)| uri.as_str())
    };
    let mut declared: Vec<Binding> = Vec::new();
    for prefix in needed {
        if prefix == Some("xml") {
            continue;
        }
        let uri = doc.lookup(id, prefix).unwrap_or_default();
        let already = visible_in(prefix);
        let render = match prefix {
            // An empty default is rendered only to undo a non-empty one an ancestor rendered.
            None if uri.is_empty() => already.is_some_and(|u| !u.is_empty()),
            _ => already != Some(uri.as_str()),
        };
        if render {
            declared.push((prefix.map(str::to_owned), uri));
        }
    }
    out.push('<');
    push_qname(out, e.prefix.as_deref(), &e.local);
    for (prefix, uri) in &declared {
        match prefix {
            Some(p) => {
                out.push_str(" xmlns:");
                out.push_str(p);
            }
            None => out.push_str(" xmlns"),
        }
        out.push_str("=\"");
        escape_attribute(out, uri);
        out.push('"');
    }
    let mut attributes: Vec<_> = e.attributes.iter().collect();
    attributes.sort_by(|a, b| {
        (a.namespace.as_deref().unwrap_or(""), a.local.as_str())
            .cmp(&(b.namespace.as_deref().unwrap_or(""), b.local.as_str()))
    });
    for a in attributes {
        out.push(' ');
        let prefix = match a.namespace.as_deref() {
            Some(XML_NS) => Some("xml"),
            _ => a.prefix.as_deref(),
        };
        push_qname(out, prefix, &a.local);
        out.push_str("=\"");
        escape_attribute(out, &a.value);
        out.push('"');
    }
    out.push('>');
    let mut scope: Vec<Binding> = rendered.to_vec();
    scope.extend(declared);
    for &child in &e.children {
        if Some(child) == excluded {
            continue;
        }
        match doc.node(child) {
            Node::Element(_) => element(doc, child, excluded, inclusive, &scope, out),
            Node::Text(t) => escape_text(out, t),
            Node::Comment => {}
            Node::ProcessingInstruction { target, data } => {
                out.push_str("<?");
                out.push_str(target);
                if !data.is_empty() {
                    out.push(' ');
                    out.push_str(data);
                }
                out.push_str("?>");
            }
        }
    }
    out.push_str("</");
    push_qname(out, e.prefix.as_deref(), &e.local);
    out.push('>');
}

fn push_qname(out: &mut String, prefix: Option<&str>, local: &str) {
    if let Some(p) = prefix {
        out.push_str(p);
        out.push(':');
    }
    out.push_str(local);
}

fn escape_text(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn escape_attribute(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(text: &str, inclusive: &[&str]) -> String {
        let doc = Document::parse(text).expect("parses");
        let inclusive: Vec<String> = inclusive.iter().map(|s| s.to_string()).collect();
        String::from_utf8(exclusive(&doc, doc.root(), None, &inclusive)).expect("utf-8")
    }

    fn canon_child(text: &str) -> String {
        let doc = Document::parse(text).expect("parses");
        let child = doc.child_elements(doc.root()).next().expect("child");
        String::from_utf8(exclusive(&doc, child, None, &[])).expect("utf-8")
    }

    /// The W3C Exclusive C14N recommendation, section 2.2's example: the outer
    /// declarations an inner element does not use are not carried into its canonical form.
    #[test]
    fn unused_ancestor_declarations_are_left_out() {
        let text = "<n0:local xmlns:n0=\"foo:bar\" xmlns:n3=\"ftp://example.org\"><n1:elem2 xmlns:n1=\"http://example.net\" xml:lang=\"en\"><n3:stuff xmlns:n3=\"ftp://example.org\"/></n1:elem2></n0:local>";
        assert_eq!(
            canon_child(text),
            "<n1:elem2 xmlns:n1=\"http://example.net\" xml:lang=\"en\"><n3:stuff xmlns:n3=\"ftp://example.org\"></n3:stuff></n1:elem2>"
        );
    }

    #[test]
    fn declarations_then_attributes_are_sorted_and_values_escaped() {
        let text = "<r xmlns=\"urn:d\" xmlns:b=\"urn:b\" xmlns:a=\"urn:a\" z=\"1\" b:y=\"&lt;&quot;&#9;\" a:x=\"2\" unused:no=\"\" xmlns:unused=\"urn:u\">t &amp; &gt;&#xD;</r>";
        assert_eq!(
            canon(text, &[]),
            "<r xmlns=\"urn:d\" xmlns:a=\"urn:a\" xmlns:b=\"urn:b\" xmlns:unused=\"urn:u\" z=\"1\" a:x=\"2\" b:y=\"&lt;&quot;&#x9;\" unused:no=\"\">t &amp; &gt;&#xD;</r>"
        );
    }

    #[test]
    fn comments_are_dropped_and_the_inclusive_list_is_honoured() {
        let text = "<p:r xmlns:p=\"urn:p\" xmlns:xs=\"urn:xs\" xmlns=\"urn:d\"><!-- c --><p:c>a<!-- x -->b</p:c></p:r>";
        assert_eq!(
            canon(text, &[]),
            "<p:r xmlns:p=\"urn:p\"><p:c>ab</p:c></p:r>"
        );
        assert_eq!(
            canon(text, &["xs", "#default"]),
            "<p:r xmlns=\"urn:d\" xmlns:p=\"urn:p\" xmlns:xs=\"urn:xs\"><p:c>ab</p:c></p:r>"
        );
    }

    #[test]
    fn an_empty_default_is_rendered_only_to_undo_one() {
        let text = "<r xmlns=\"urn:d\"><c xmlns=\"\"><d/></c></r>";
        assert_eq!(
            canon(text, &[]),
            "<r xmlns=\"urn:d\"><c xmlns=\"\"><d></d></c></r>"
        );
        assert_eq!(canon("<c xmlns=\"\"/>", &[]), "<c></c>");
    }
}
