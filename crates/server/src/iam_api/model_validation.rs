//! A request checked against the IAM API model before its handler runs, as AWS validates a
//! request against its model first: every top-level member's constraints (required, string
//! length, pattern, enum, integer range, list length) from `data/iam-model.json`, which
//! `scripts/iam-model.py` writes from botocore's model. Every violation is listed in one
//! `ValidationError`, Coral's way: "2 validation errors detected: Value 'x' at 'userName'
//! failed to satisfy constraint: Member must ...; ...". A sensitive member's value is left
//! out of the message, as AWS leaves it out.
//!
//! Tags (`Tags`, `TagKeys`) and the elements of lists keep their own checks (`names`,
//! `model_constraints`), which list each element's violations by position.

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;
use serde::Deserialize;

use crate::query::{Params, lower_first};

#[derive(Deserialize)]
struct Model {
    operations: HashMap<String, Vec<(String, Constraints)>>,
}

#[derive(Deserialize)]
struct Constraints {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    required: bool,
    min: Option<i64>,
    max: Option<i64>,
    pattern: Option<String>,
    #[serde(default, rename = "enum")]
    enumeration: Option<Vec<String>>,
    #[serde(default)]
    sensitive: bool,
}

/// A member's compiled checks.
struct Member {
    name: String,
    constraints: Constraints,
    /// The pattern as a Rust regex anchored at both ends; `None` when there is no pattern or
    /// it uses what Rust's regex does not have (lookaround), which is then not checked.
    pattern: Option<Regex>,
}

fn model() -> &'static HashMap<String, Vec<Member>> {
    static MODEL: OnceLock<HashMap<String, Vec<Member>>> = OnceLock::new();
    MODEL.get_or_init(|| {
        let model: Model = serde_json::from_str(include_str!("../../data/iam-model.json"))
            .unwrap_or(Model {
                operations: HashMap::new(),
            });
        model
            .operations
            .into_iter()
            .map(|(op, members)| {
                let members = members
                    .into_iter()
                    .map(|(name, constraints)| Member {
                        pattern: constraints.pattern.as_deref().and_then(compile),
                        name,
                        constraints,
                    })
                    .collect();
                (op, members)
            })
            .collect()
    })
}

/// A Java pattern from the model as a Rust regex matching whole values: `\w` and `\d` are
/// ASCII in Java, Unicode in Rust, so they are spelled out.
fn compile(java: &str) -> Option<Regex> {
    let mut out = String::with_capacity(java.len() + 8);
    let mut in_class = false;
    let mut chars = java.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('w') if in_class => out.push_str("A-Za-z0-9_"),
                Some('w') => out.push_str("[A-Za-z0-9_]"),
                Some('d') if in_class => out.push_str("0-9"),
                Some('d') => out.push_str("[0-9]"),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            },
            '[' => {
                in_class = true;
                out.push(c);
            }
            ']' => {
                in_class = false;
                out.push(c);
            }
            c => out.push(c),
        }
    }
    Regex::new(&format!("^(?:{out})$")).ok()
}

/// Members whose checks live elsewhere (tags, by element).
const CHECKED_ELSEWHERE: [&str; 2] = ["Tags", "TagKeys"];

/// Every violation of `action`'s model in `params`, as Coral words each one.
pub fn violations(action: &str, params: &Params) -> Vec<String> {
    let Some(members) = model().get(action) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for member in members {
        if CHECKED_ELSEWHERE.contains(&member.name.as_str()) {
            continue;
        }
        let at = lower_first(&member.name);
        let c = &member.constraints;
        match c.kind.as_str() {
            "string" => {
                let Some(value) = params.get(&member.name) else {
                    if c.required {
                        out.push(format!(
                            "Value null at '{at}' failed to satisfy constraint: Member must not be null"
                        ));
                    }
                    continue;
                };
                let shown = if c.sensitive {
                    String::from("Value")
                } else {
                    format!("Value '{value}'")
                };
                let mut fail = |constraint: String| {
                    out.push(format!(
                        "{shown} at '{at}' failed to satisfy constraint: Member {constraint}"
                    ));
                };
                let len = value.chars().count() as i64;
                if let Some(allowed) = &c.enumeration
                    && !allowed.iter().any(|a| a == value)
                {
                    fail(format!(
                        "must satisfy enum value set: [{}]",
                        allowed.join(", ")
                    ));
                }
                if let Some(max) = c.max
                    && len > max
                {
                    fail(format!("must have length less than or equal to {max}"));
                }
                if let Some(min) = c.min
                    && len < min
                {
                    fail(format!("must have length greater than or equal to {min}"));
                }
                if let (Some(regex), Some(text)) = (&member.pattern, &c.pattern)
                    && !regex.is_match(value)
                {
                    fail(format!("must satisfy regular expression pattern: {text}"));
                }
            }
            "integer" => {
                let Some(value) = params.get(&member.name) else {
                    if c.required {
                        out.push(format!(
                            "Value null at '{at}' failed to satisfy constraint: Member must not be null"
                        ));
                    }
                    continue;
                };
                // Text that is not a number is the handler's to refuse.
                let Ok(n) = value.trim().parse::<i64>() else {
                    continue;
                };
                if let Some(max) = c.max
                    && n > max
                {
                    out.push(format!(
                        "Value '{value}' at '{at}' failed to satisfy constraint: Member must have value less than or equal to {max}"
                    ));
                }
                if let Some(min) = c.min
                    && n < min
                {
                    out.push(format!(
                        "Value '{value}' at '{at}' failed to satisfy constraint: Member must have value greater than or equal to {min}"
                    ));
                }
            }
            "list" => {
                let items = params.list(&member.name);
                if items.is_empty() {
                    if c.required {
                        out.push(format!(
                            "Value null at '{at}' failed to satisfy constraint: Member must not be null"
                        ));
                    }
                    continue;
                }
                let len = items.len() as i64;
                let shown = if c.sensitive {
                    String::from("Value")
                } else {
                    format!("Value '[{}]'", items.join(", "))
                };
                if let Some(max) = c.max
                    && len > max
                {
                    out.push(format!(
                        "{shown} at '{at}' failed to satisfy constraint: Member must have length less than or equal to {max}"
                    ));
                }
                if let Some(min) = c.min
                    && len < min
                {
                    out.push(format!(
                        "{shown} at '{at}' failed to satisfy constraint: Member must have length greater than or equal to {min}"
                    ));
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_of_the_model_compiles_but_the_one_with_a_lookahead() {
        let mut skipped = Vec::new();
        for members in model().values() {
            for m in members {
                if let Some(p) = &m.constraints.pattern
                    && m.pattern.is_none()
                {
                    skipped.push(p.clone());
                }
            }
        }
        skipped.sort();
        skipped.dedup();
        assert!(skipped.iter().all(|p| p.contains("(?!")), "{skipped:?}");
        assert!(model().len() > 150, "the model is loaded");
    }

    #[test]
    fn java_classes_are_ascii() {
        let name = compile("[\\w+=,.@-]+").expect("compiles");
        assert!(name.is_match("alice+1@x.y"));
        assert!(!name.is_match("élise"));
        assert!(!name.is_match("a b"));
        let path = compile("(\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)").expect("compiles");
        assert!(path.is_match("/"));
        assert!(path.is_match("/a/b/"));
        assert!(!path.is_match("/a"));
        let tag = compile("[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+").expect("compiles");
        assert!(tag.is_match("Équipe 1"));
    }

    #[test]
    fn a_request_gets_every_violation_of_its_members() {
        let params = Params::parse(b"UserName=bad%20name&Path=nopath");
        let found = violations("CreateUser", &params);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].starts_with("Value 'nopath' at 'path'"),
            "{found:?}"
        );
        assert!(
            found[1].ends_with("Member must satisfy regular expression pattern: [\\w+=,.@-]+"),
            "{found:?}"
        );
        let missing = violations("CreateUser", &Params::parse(b""));
        assert_eq!(
            missing,
            ["Value null at 'userName' failed to satisfy constraint: Member must not be null"]
        );
        let secret = violations(
            "CreateLoginProfile",
            &Params::parse(format!("UserName=u&Password={}", "p".repeat(200)).as_bytes()),
        );
        assert_eq!(
            secret,
            [
                "Value at 'password' failed to satisfy constraint: Member must have length less than or equal to 128"
            ]
        );
    }
}
