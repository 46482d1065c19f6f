//! Policy variables: `${aws:username}`, `${aws:PrincipalTag/team, 'default'}`, and the special
//! characters `${*}`, `${?}` and `${$}`.
//!
//! A template is parsed once; at evaluation it resolves to wildcard pieces whose substituted
//! parts are always literal (a `*` that comes from the request context is not a wildcard).

use crate::context::RequestContext;
use crate::glob::{OwnedPiece, Piece, split_wildcards};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// Text from the policy, already split on wildcards when wildcards apply.
    Text(Vec<OwnedPiece>),
    /// A context key (lowercased), with its default when the key is missing.
    Variable {
        key: Box<str>,
        default: Option<Box<str>>,
    },
    /// `${*}`, `${?}` or `${$}`: a literal character.
    Literal(&'static str),
}

/// Text that contains at least one policy variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses `text`; `None` when it has no variable (then it is plain text). With `wildcards`,
    /// `*` and `?` in the policy's own text are wildcards.
    pub(crate) fn parse(text: &str, wildcards: bool) -> Option<Template> {
        if !text.contains("${") {
            return None;
        }
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        let mut found = false;
        while let Some(start) = rest.find("${") {
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else { break };
            let Some(part) = parse_variable(&after[..end]) else {
                // Not a variable: keep "${" as text and go on after it.
                literal.push_str(&rest[..start + 2]);
                rest = after;
                continue;
            };
            literal.push_str(&rest[..start]);
            push_text(&mut parts, &literal, wildcards);
            literal.clear();
            parts.push(part);
            found = true;
            rest = &after[end + 1..];
        }
        if !found {
            return None;
        }
        literal.push_str(rest);
        push_text(&mut parts, &literal, wildcards);
        Some(Template { parts })
    }

    /// Resolves against `context` into `out`. Returns `false` when a variable has no value and
    /// no default: such a value matches nothing.
    pub(crate) fn resolve<'a>(
        &'a self,
        context: &'a RequestContext,
        out: &mut Vec<Piece<'a>>,
    ) -> bool {
        for part in &self.parts {
            match part {
                Part::Text(pieces) => out.extend(pieces.iter().map(OwnedPiece::as_piece)),
                Part::Literal(s) => out.push(Piece::Lit(s)),
                Part::Variable { key, default } => match context.single_value(key) {
                    Some(value) => out.push(Piece::Lit(value)),
                    None => match default {
                        Some(d) => out.push(Piece::Lit(d)),
                        None => return false,
                    },
                },
            }
        }
        true
    }
}

fn push_text(parts: &mut Vec<Part>, text: &str, wildcards: bool) {
    if text.is_empty() {
        return;
    }
    let mut pieces = Vec::new();
    if wildcards {
        split_wildcards(text, &mut pieces);
    } else {
        pieces.push(OwnedPiece::Lit(text.into()));
    }
    parts.push(Part::Text(pieces));
}

/// Parses what is between `${` and `}`.
fn parse_variable(inner: &str) -> Option<Part> {
    match inner {
        "*" => return Some(Part::Literal("*")),
        "?" => return Some(Part::Literal("?")),
        "$" => return Some(Part::Literal("$")),
        _ => {}
    }
    let (key, default) = match inner.split_once(',') {
        Some((key, default)) => {
            let default = default.trim_start();
            let quoted = default.strip_prefix('\'')?.strip_suffix('\'')?;
            (key.trim(), Some(quoted.into()))
        }
        None => (inner.trim(), None),
    };
    let valid = !key.is_empty()
        && key.contains(':')
        && !key.contains(char::is_whitespace)
        && !key.contains(['$', '{', '}', '*', '?']);
    valid.then(|| Part::Variable {
        key: key.to_lowercase().into(),
        default,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::glob::match_pieces;

    fn ctx() -> RequestContext {
        let mut c = RequestContext::new();
        c.insert("aws:username", "alice");
        c.insert("aws:PrincipalTag/team", "a*b");
        c
    }

    fn matches(template: &str, text: &str) -> bool {
        let t = Template::parse(template, true).expect("has a variable");
        let c = ctx();
        let mut pieces = Vec::new();
        t.resolve(&c, &mut pieces) && match_pieces(&pieces, |p| *p, text)
    }

    #[test]
    fn substitutes_and_keeps_wildcards_of_the_policy_only() {
        assert!(matches("home/${aws:username}/*", "home/alice/x"));
        assert!(!matches("home/${aws:username}/*", "home/bob/x"));
        assert!(matches("${aws:PrincipalTag/TEAM}", "a*b"));
        assert!(!matches("${aws:PrincipalTag/team}", "axxb"));
        assert!(matches("${aws:PrincipalTag/dept, 'none'}", "none"));
        assert!(!matches("${aws:PrincipalTag/dept}", ""));
        assert!(matches("a${*}b", "a*b"));
        assert!(!matches("a${*}b", "axb"));
        assert!(matches("a${?}${$}", "a?$"));
    }

    #[test]
    fn text_without_variables_is_not_a_template() {
        assert!(Template::parse("plain/*", true).is_none());
        assert!(Template::parse("${not closed", true).is_none());
        assert!(Template::parse("${}", true).is_none());
    }
}
