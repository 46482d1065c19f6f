//! An owned XML tree, as canonicalization and signature checking need it: each element keeps
//! its prefix, its namespace declarations and its attributes as written, and the namespace
//! each name resolves to. Text is kept as the parser delivers it to an application (line ends
//! normalized, references expanded); comments and processing instructions are kept as nodes,
//! so that text split by a comment is still read whole.
//!
//! Read with quick-xml. A document type declaration is refused, so no entity other than the
//! five predefined ones and character references is ever expanded; depth and node count are
//! bounded.

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::reader::Reader;

use crate::error::SamlError;

/// The XML namespace, bound to `xml` in every document.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
/// The deepest element nesting read.
pub const MAX_DEPTH: usize = 64;
/// The most nodes a document may have.
pub const MAX_NODES: usize = 50_000;

/// A node's index in its [`Document`].
pub type NodeId = usize;

/// An attribute (never a namespace declaration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// The prefix as written (`None` for an unprefixed attribute, which has no namespace).
    pub prefix: Option<String>,
    pub local: String,
    /// The namespace the prefix resolves to.
    pub namespace: Option<String>,
    /// The normalized value, references expanded.
    pub value: String,
}

/// An element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub prefix: Option<String>,
    pub local: String,
    /// The namespace the element's name resolves to (`None`: no namespace).
    pub namespace: Option<String>,
    /// The namespace declarations written on this element, in order: the prefix (`None` for
    /// the default namespace) and the URI (empty undeclares the default namespace).
    pub declarations: Vec<(Option<String>, String)>,
    pub attributes: Vec<Attribute>,
    pub children: Vec<NodeId>,
    pub parent: Option<NodeId>,
}

/// A node of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    Text(String),
    Comment,
    ProcessingInstruction { target: String, data: String },
}

/// A parsed document: its nodes, and the document element.
#[derive(Debug, Clone)]
pub struct Document {
    nodes: Vec<Node>,
    root: NodeId,
}

fn malformed(message: impl std::fmt::Display) -> SamlError {
    SamlError::Malformed(message.to_string())
}

/// Line ends as an XML processor delivers them: `\r\n` and a lone `\r` become `\n`.
fn normalize_line_ends(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// An attribute value as XML 1.0 normalizes it (section 3.3.3): each literal whitespace
/// character (after line-end normalization) becomes a space; references are expanded after,
/// so `&#xA;` stays a line feed.
fn attribute_value(raw: &str) -> Result<String, SamlError> {
    let spaced = normalize_line_ends(raw).replace(['\t', '\n'], " ");
    quick_xml::escape::unescape(&spaced)
        .map(|v| v.into_owned())
        .map_err(|e| malformed(format!("attribute value: {e}")))
}

/// Whether `name` is an XML `NCName` (a name without a colon). Outside ASCII, any
/// alphanumeric character is taken, a little more than XML's table.
fn is_ncname(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let start =
        |c: char| c == '_' || c.is_ascii_alphabetic() || (!c.is_ascii() && c.is_alphanumeric());
    start(first) && chars.all(|c| start(c) || c.is_ascii_digit() || c == '-' || c == '.')
}

/// A qualified name's prefix and local part; `None` when it is not `NCName` or
/// `NCName:NCName`.
fn split_name(qname: &str) -> Option<(Option<String>, String)> {
    match qname.split_once(':') {
        Some((prefix, local)) => (is_ncname(prefix) && is_ncname(local))
            .then(|| (Some(prefix.to_owned()), local.to_owned())),
        None => is_ncname(qname).then(|| (None, qname.to_owned())),
    }
}

fn text_of_ref(reference: &BytesRef<'_>) -> Result<String, SamlError> {
    if let Some(c) = reference
        .resolve_char_ref()
        .map_err(|e| malformed(format!("character reference: {e}")))?
    {
        return Ok(c.to_string());
    }
    let name = reference
        .decode()
        .map_err(|e| malformed(format!("entity reference: {e}")))?;
    match name.as_ref() {
        "amp" => Ok("&".into()),
        "lt" => Ok("<".into()),
        "gt" => Ok(">".into()),
        "quot" => Ok("\"".into()),
        "apos" => Ok("'".into()),
        other => Err(malformed(format!("undeclared entity &{other};"))),
    }
}

impl Document {
    /// Parses `text` (UTF-8). Exactly one document element; no document type declaration.
    pub fn parse(text: &str) -> Result<Self, SamlError> {
        let mut reader = Reader::from_str(text);
        reader.config_mut().check_end_names = true;
        let mut doc = Document {
            nodes: Vec::new(),
            root: 0,
        };
        let mut open: Vec<NodeId> = Vec::new();
        let mut root = None;
        loop {
            let event = reader
                .read_event()
                .map_err(|e| malformed(format!("at byte {}: {e}", reader.error_position())))?;
            if doc.nodes.len() >= MAX_NODES {
                return Err(malformed("the document has too many nodes"));
            }
            match event {
                Event::Start(start) | Event::Empty(start) if open.is_empty() && root.is_some() => {
                    let _ = start;
                    return Err(malformed("more than one document element"));
                }
                Event::Start(start) => {
                    if open.len() >= MAX_DEPTH {
                        return Err(malformed("elements are nested too deeply"));
                    }
                    let id = doc.push_element(&start, open.last().copied())?;
                    root.get_or_insert(id);
                    open.push(id);
                }
                Event::Empty(start) => {
                    let id = doc.push_element(&start, open.last().copied())?;
                    root.get_or_insert(id);
                }
                Event::End(_) => {
                    open.pop();
                }
                Event::Text(t) => {
                    let content = t
                        .xml10_content()
                        .map_err(|e| malformed(format!("text: {e}")))?;
                    doc.push_text(&open, &content)?;
                }
                Event::GeneralRef(r) => {
                    let content = text_of_ref(&r)?;
                    doc.push_text(&open, &content)?;
                }
                Event::CData(c) => {
                    let content = c.decode().map_err(|e| malformed(format!("CDATA: {e}")))?;
                    doc.push_text(&open, &normalize_line_ends(&content))?;
                }
                Event::Comment(_) => {
                    if let Some(&parent) = open.last() {
                        doc.push_child(parent, Node::Comment);
                    }
                }
                Event::PI(pi) => {
                    if let Some(&parent) = open.last() {
                        let target = String::from_utf8_lossy(pi.target()).into_owned();
                        let data = String::from_utf8_lossy(pi.content())
                            .trim_start()
                            .to_owned();
                        doc.push_child(parent, Node::ProcessingInstruction { target, data });
                    }
                }
                Event::Decl(decl) => {
                    if let Some(Ok(encoding)) = decl.encoding()
                        && !encoding.eq_ignore_ascii_case(b"utf-8")
                    {
                        return Err(malformed("the document must be encoded in UTF-8"));
                    }
                }
                Event::DocType(_) => {
                    return Err(malformed("document type declarations are not accepted"));
                }
                Event::Eof => break,
            }
        }
        if !open.is_empty() {
            return Err(malformed("the document ends inside an element"));
        }
        doc.root = root.ok_or_else(|| malformed("the document has no element"))?;
        Ok(doc)
    }

    fn push_child(&mut self, parent: NodeId, node: Node) -> NodeId {
        let id = self.nodes.len();
        self.nodes.push(node);
        if let Node::Element(e) = &mut self.nodes[parent] {
            e.children.push(id);
        }
        id
    }

    fn push_text(&mut self, open: &[NodeId], content: &str) -> Result<(), SamlError> {
        let Some(&parent) = open.last() else {
            if content.trim_matches([' ', '\t', '\n', '\r']).is_empty() {
                return Ok(());
            }
            return Err(malformed("text outside the document element"));
        };
        // Adjacent text (a reference between two runs) is one text node, as in the DOM.
        if let Node::Element(e) = &self.nodes[parent]
            && let Some(&last) = e.children.last()
            && let Node::Text(t) = &mut self.nodes[last]
        {
            t.push_str(content);
            return Ok(());
        }
        self.push_child(parent, Node::Text(content.to_owned()));
        Ok(())
    }

    fn push_element(
        &mut self,
        start: &BytesStart<'_>,
        parent: Option<NodeId>,
    ) -> Result<NodeId, SamlError> {
        let qname = std::str::from_utf8(start.name().as_ref())
            .map_err(|_| malformed("a name is not UTF-8"))?
            .to_owned();
        let (prefix, local) =
            split_name(&qname).ok_or_else(|| malformed(format!("{qname:?} is not an XML name")))?;
        let mut declarations = Vec::new();
        let mut raw_attributes = Vec::new();
        for attribute in start.attributes() {
            let attribute = attribute.map_err(|e| malformed(format!("in <{qname}>: {e}")))?;
            let key = std::str::from_utf8(attribute.key.as_ref())
                .map_err(|_| malformed("a name is not UTF-8"))?;
            let raw = std::str::from_utf8(&attribute.value)
                .map_err(|_| malformed("a value is not UTF-8"))?;
            let value = attribute_value(raw)?;
            if split_name(key).is_none() {
                return Err(malformed(format!("{key:?} is not an XML name")));
            }
            if key == "xmlns" {
                declarations.push((None, value));
            } else if let Some(p) = key.strip_prefix("xmlns:") {
                if value.is_empty() {
                    return Err(malformed(format!("xmlns:{p} cannot be empty")));
                }
                declarations.push((Some(p.to_owned()), value));
            } else {
                raw_attributes.push((key.to_owned(), value));
            }
        }
        let id = self.nodes.len();
        self.nodes.push(Node::Element(Element {
            prefix: prefix.clone(),
            local,
            namespace: None,
            declarations,
            attributes: Vec::new(),
            children: Vec::new(),
            parent,
        }));
        if let Some(p) = parent
            && let Node::Element(e) = &mut self.nodes[p]
        {
            e.children.push(id);
        }
        let namespace = match &prefix {
            Some(p) => Some(
                self.lookup(id, Some(p))
                    .ok_or_else(|| malformed(format!("prefix {p} is not declared")))?,
            ),
            None => self.lookup(id, None).filter(|u| !u.is_empty()),
        };
        let mut attributes = Vec::with_capacity(raw_attributes.len());
        for (key, value) in raw_attributes {
            let (prefix, local) = split_name(&key).unwrap_or((None, key.clone()));
            let namespace = match &prefix {
                Some(p) => Some(
                    self.lookup(id, Some(p))
                        .ok_or_else(|| malformed(format!("prefix {p} is not declared")))?,
                ),
                None => None,
            };
            if attributes.iter().any(|a: &Attribute| {
                a.local == local && a.namespace == namespace && namespace.is_some()
            }) {
                return Err(malformed(format!("attribute {key} is repeated")));
            }
            attributes.push(Attribute {
                prefix,
                local,
                namespace,
                value,
            });
        }
        if let Node::Element(e) = &mut self.nodes[id] {
            e.namespace = namespace;
            e.attributes = attributes;
        }
        Ok(id)
    }

    /// The URI `prefix` (`None`: the default namespace) is bound to at element `id`.
    pub fn lookup(&self, id: NodeId, prefix: Option<&str>) -> Option<String> {
        if prefix == Some("xml") {
            return Some(XML_NS.to_owned());
        }
        let mut at = Some(id);
        while let Some(i) = at {
            let e = self.element(i)?;
            if let Some((_, uri)) = e
                .declarations
                .iter()
                .rev()
                .find(|(p, _)| p.as_deref() == prefix)
            {
                return Some(uri.clone());
            }
            at = e.parent;
        }
        None
    }

    /// Every prefix in scope at element `id` and its URI (`None`: the default namespace;
    /// an undeclared default namespace is left out).
    pub fn in_scope(&self, id: NodeId) -> Vec<(Option<String>, String)> {
        let mut seen: Vec<(Option<String>, String)> = Vec::new();
        let mut at = Some(id);
        while let Some(i) = at {
            let Some(e) = self.element(i) else { break };
            for (p, uri) in e.declarations.iter().rev() {
                if !seen.iter().any(|(q, _)| q == p) {
                    seen.push((p.clone(), uri.clone()));
                }
            }
            at = e.parent;
        }
        seen.retain(|(p, uri)| p.is_some() || !uri.is_empty());
        seen
    }

    pub fn root(&self) -> NodeId {
        self.root
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    /// The element at `id`, if it is one.
    pub fn element(&self, id: NodeId) -> Option<&Element> {
        match self.nodes.get(id) {
            Some(Node::Element(e)) => Some(e),
            _ => None,
        }
    }

    /// Whether `id` is the element `{namespace}local`.
    pub fn is(&self, id: NodeId, namespace: &str, local: &str) -> bool {
        self.element(id)
            .is_some_and(|e| e.local == local && e.namespace.as_deref() == Some(namespace))
    }

    /// The element children of `id`.
    pub fn child_elements(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        self.element(id)
            .map(|e| e.children.as_slice())
            .unwrap_or_default()
            .iter()
            .copied()
            .filter(|&c| self.element(c).is_some())
    }

    /// The element children of `id` named `{namespace}local`.
    pub fn children_named<'a>(
        &'a self,
        id: NodeId,
        namespace: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = NodeId> + 'a {
        self.child_elements(id)
            .filter(move |&c| self.is(c, namespace, local))
    }

    /// The one child named `{namespace}local`, if there is exactly one.
    pub fn only_child(&self, id: NodeId, namespace: &str, local: &str) -> Option<NodeId> {
        let mut found = self.children_named(id, namespace, local);
        let first = found.next()?;
        found.next().is_none().then_some(first)
    }

    /// An unprefixed attribute's value.
    pub fn attribute(&self, id: NodeId, local: &str) -> Option<&str> {
        self.element(id)?
            .attributes
            .iter()
            .find(|a| a.namespace.is_none() && a.local == local)
            .map(|a| a.value.as_str())
    }

    /// All the text directly inside `id`, across comments and processing instructions.
    pub fn text(&self, id: NodeId) -> String {
        let mut out = String::new();
        if let Some(e) = self.element(id) {
            for &c in &e.children {
                if let Node::Text(t) = &self.nodes[c] {
                    out.push_str(t);
                }
            }
        }
        out
    }

    /// Every element of the document, in document order.
    pub fn elements(&self) -> impl Iterator<Item = NodeId> + '_ {
        (0..self.nodes.len()).filter(|&i| self.element(i).is_some())
    }

    /// Whether `id` is `ancestor` or inside it.
    pub fn is_within(&self, id: NodeId, ancestor: NodeId) -> bool {
        let mut at = Some(id);
        while let Some(i) = at {
            if i == ancestor {
                return true;
            }
            at = self.element(i).and_then(|e| e.parent);
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_and_text_is_read_whole() {
        let doc = Document::parse(
            "<?xml version=\"1.0\"?><a:r xmlns:a=\"urn:a\" xmlns=\"urn:d\"><b x=\"1&#xA;2\ty\">one<!-- c -->&amp;two</b></a:r>",
        )
        .expect("parses");
        let root = doc.root();
        assert!(doc.is(root, "urn:a", "r"));
        let b = doc.child_elements(root).next().expect("b");
        assert!(doc.is(b, "urn:d", "b"));
        assert_eq!(doc.attribute(b, "x"), Some("1\n2 y"));
        assert_eq!(doc.text(b), "one&two");
    }

    #[test]
    fn a_doctype_an_unknown_entity_and_an_undeclared_prefix_are_refused() {
        for bad in [
            "<!DOCTYPE r [<!ENTITY e \"x\">]><r>&e;</r>",
            "<r>&e;</r>",
            "<p:r/>",
            "<r/><r/>",
            "<r>",
            "<p??//>",
            "<r a:b:c=\"1\" xmlns:a=\"urn:a\"/>",
            "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><r/>",
        ] {
            assert!(Document::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn depth_is_bounded() {
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert!(Document::parse(&deep).is_err());
    }
}
