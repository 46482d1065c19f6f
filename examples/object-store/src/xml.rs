//! S3's XML answers, written with escaping.

pub const NAMESPACE: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// An XML document under construction.
pub struct Xml(String);

impl Xml {
    /// `<?xml ...?><ROOT xmlns="...">`.
    pub fn new(root: &str) -> Xml {
        Xml(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root} xmlns=\"{NAMESPACE}\">"
        ))
    }

    pub fn open(&mut self, name: &str) -> &mut Xml {
        self.0.push('<');
        self.0.push_str(name);
        self.0.push('>');
        self
    }

    pub fn close(&mut self, name: &str) -> &mut Xml {
        self.0.push_str("</");
        self.0.push_str(name);
        self.0.push('>');
        self
    }

    /// `<name>text</name>`, the text escaped.
    pub fn element(&mut self, name: &str, text: &str) -> &mut Xml {
        self.open(name);
        for c in text.chars() {
            match c {
                '<' => self.0.push_str("&lt;"),
                '>' => self.0.push_str("&gt;"),
                '&' => self.0.push_str("&amp;"),
                '"' => self.0.push_str("&quot;"),
                '\'' => self.0.push_str("&apos;"),
                // XML 1.0 cannot carry other control characters; S3 answers them encoded.
                c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {
                    self.0.push_str(&format!("&#x{:x};", c as u32));
                }
                c => self.0.push(c),
            }
        }
        self.close(name)
    }

    pub fn finish(mut self, root: &str) -> String {
        self.close(root);
        self.0
    }
}
