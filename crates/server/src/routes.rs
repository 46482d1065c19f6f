//! The route file of forward auth (`--routes FILE`, TOML): which action and resource a request
//! to a protected service is, by host, method and path.
//!
//! ```toml
//! [[route]]
//! host = "files.example.com"           # optional: exact, or "*.example.com"
//! methods = ["GET", "HEAD"]            # optional: any method when left out
//! path = "/buckets/{bucket}/{key+}"    # {name}: one segment; {name+}: the rest (last only)
//! action = "s3:GetObject"
//! resource = "arn:aws:s3:::{bucket}/{key}"
//! signing_name = "s3"                  # the service name clients sign for
//! [route.context]                      # optional condition keys, from captures
//! "s3:prefix" = "{key}"
//! ```
//!
//! Routes are tried in order; the first that matches decides. Captures are percent-decoded
//! before they fill the templates, which may use the path's captures only. The whole file is
//! checked when it is read: an error names the file, the route and the problem.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    route: Vec<RouteInput>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteInput {
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    methods: Option<Vec<String>>,
    path: String,
    action: String,
    resource: String,
    signing_name: String,
    #[serde(default)]
    context: BTreeMap<String, String>,
}

/// One piece of a path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    /// One segment (no `/`), non-empty.
    Segment(String),
    /// The rest of the path, non-empty.
    Rest(String),
}

/// A template with `{capture}` holes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Template(Vec<Piece>);

/// One checked route.
#[derive(Debug, Clone)]
pub struct Route {
    host: Option<String>,
    methods: Option<Vec<String>>,
    path: Vec<Piece>,
    pub action: String,
    resource: Template,
    pub signing_name: String,
    context: Vec<(String, Template)>,
}

/// The routes of a file, in order.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    routes: Vec<Route>,
}

/// A request's route: the action, its resource and condition keys filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched<'r> {
    pub action: &'r str,
    pub resource: String,
    pub signing_name: &'r str,
    pub context: Vec<(String, String)>,
}

/// Splits `{name}` / `{name+}` holes from literal text.
fn parse_template(text: &str, allow_rest: bool) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            pieces.push(Piece::Literal(rest[..open].to_owned()));
        }
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .ok_or_else(|| format!("\"{text}\": a '{{' without its '}}'"))?;
        let name = &rest[open + 1..close];
        let (name, is_rest) = match name.strip_suffix('+') {
            Some(n) => (n, true),
            None => (name, false),
        };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(format!(
                "\"{text}\": a capture is {{name}} or {{name+}} with letters, digits and '_'"
            ));
        }
        if is_rest && !allow_rest {
            return Err(format!("\"{text}\": {{{name}+}} belongs in the path only"));
        }
        pieces.push(if is_rest {
            Piece::Rest(name.to_owned())
        } else {
            Piece::Segment(name.to_owned())
        });
        rest = &rest[close + 1..];
    }
    if rest.contains('}') {
        return Err(format!("\"{text}\": a '}}' without its '{{'"));
    }
    if !rest.is_empty() {
        pieces.push(Piece::Literal(rest.to_owned()));
    }
    Ok(pieces)
}

fn capture_names(pieces: &[Piece]) -> Vec<&str> {
    pieces
        .iter()
        .filter_map(|p| match p {
            Piece::Segment(n) | Piece::Rest(n) => Some(n.as_str()),
            Piece::Literal(_) => None,
        })
        .collect()
}

fn check_route(input: RouteInput) -> Result<Route, String> {
    if !input.path.starts_with('/') {
        return Err("path must start with '/'".into());
    }
    let path = parse_template(&input.path, true)?;
    for (i, piece) in path.iter().enumerate() {
        if let Piece::Rest(name) = piece
            && i + 1 != path.len()
        {
            return Err(format!("{{{name}+}} must end the path"));
        }
        if i > 0 && !matches!(path[i - 1], Piece::Literal(_)) && !matches!(piece, Piece::Literal(_))
        {
            return Err("two captures must be separated by literal text".into());
        }
    }
    let names: Vec<String> = capture_names(&path)
        .into_iter()
        .map(str::to_owned)
        .collect();
    let template = |text: &str, what: &str| -> Result<Template, String> {
        let pieces = parse_template(text, false)?;
        if let Some(unknown) = capture_names(&pieces)
            .into_iter()
            .find(|n| !names.iter().any(|m| m == n))
        {
            return Err(format!(
                "{what} uses {{{unknown}}}, which the path does not capture"
            ));
        }
        Ok(Template(pieces))
    };
    let (service, name) = input.action.split_once(':').unwrap_or_default();
    if service.is_empty() || name.is_empty() || input.action.contains(['*', '?']) {
        return Err(format!(
            "action \"{}\" must be one SERVICE:Action, without wildcards",
            input.action
        ));
    }
    let name_ok = !input.signing_name.is_empty()
        && input
            .signing_name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !name_ok {
        return Err("signing_name must be a-z, 0-9 and '-' (the service clients sign for)".into());
    }
    let methods = input
        .methods
        .map(|ms| {
            ms.into_iter()
                .map(|m| {
                    if !m.is_empty() && m.bytes().all(|b| b.is_ascii_alphabetic()) {
                        Ok(m.to_ascii_uppercase())
                    } else {
                        Err(format!("\"{m}\" is not an HTTP method"))
                    }
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let mut context = Vec::new();
    for (key, value) in &input.context {
        if !key.contains(':') || key.to_ascii_lowercase().starts_with("aws:") {
            return Err(format!(
                "context key \"{key}\" must be a service condition key (not aws:, which Portcullis sets)"
            ));
        }
        context.push((key.clone(), template(value, &format!("context \"{key}\""))?));
    }
    let resource = template(&input.resource, "resource")?;
    Ok(Route {
        host: input.host.map(|h| h.to_ascii_lowercase()),
        methods,
        path,
        resource,
        action: input.action,
        signing_name: input.signing_name,
        context,
    })
}

impl Routes {
    /// Parses and checks the text of a route file; errors name the route (1 first).
    pub fn parse(text: &str) -> Result<Routes, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let routes = file
            .route
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let path = r.path.clone();
                check_route(r).map_err(|e| format!("route {} (path \"{path}\"): {e}", i + 1))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if routes.is_empty() {
            return Err("the file has no [[route]]".into());
        }
        Ok(Routes { routes })
    }

    /// Reads a route file.
    pub fn load(path: &Path) -> Result<Routes, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Routes::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The first route matching `method`, `host` (without port) and the raw `path`.
    pub fn find(&self, method: &str, host: &str, path: &str) -> Option<Matched<'_>> {
        let host = host.to_ascii_lowercase();
        self.routes
            .iter()
            .find_map(|r| r.matches(method, &host, path))
    }
}

fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(domain) => host
            .strip_suffix(domain)
            .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
        None => pattern == host,
    }
}

/// Percent-decodes a capture; `None` when it is not UTF-8 or holds a control character.
fn decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .ok()
        .filter(|s| !s.chars().any(char::is_control))
}

impl Route {
    fn matches(&self, method: &str, host: &str, path: &str) -> Option<Matched<'_>> {
        if let Some(pattern) = &self.host
            && !host_matches(pattern, host)
        {
            return None;
        }
        if let Some(methods) = &self.methods
            && !methods.iter().any(|m| m.eq_ignore_ascii_case(method))
        {
            return None;
        }
        let captures = match_path(&self.path, path)?;
        let fill = |t: &Template| -> String {
            t.0.iter()
                .map(|p| match p {
                    Piece::Literal(l) => l.clone(),
                    Piece::Segment(n) | Piece::Rest(n) => captures
                        .iter()
                        .find(|(name, _)| name == n)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default(),
                })
                .collect()
        };
        Some(Matched {
            action: &self.action,
            resource: fill(&self.resource),
            signing_name: &self.signing_name,
            context: self
                .context
                .iter()
                .map(|(k, t)| (k.clone(), fill(t)))
                .collect(),
        })
    }
}

/// Matches the raw `path` against `pieces`; the decoded captures.
fn match_path(pieces: &[Piece], path: &str) -> Option<Vec<(String, String)>> {
    let mut captures = Vec::new();
    let mut rest = path;
    for (i, piece) in pieces.iter().enumerate() {
        match piece {
            Piece::Literal(l) => rest = rest.strip_prefix(l.as_str())?,
            Piece::Segment(name) => {
                // Up to the next literal's start, within one segment.
                let end = match pieces.get(i + 1) {
                    Some(Piece::Literal(next)) => rest.find(next.as_str())?,
                    _ => rest.len(),
                };
                let raw = &rest[..end];
                if raw.is_empty() || raw.contains('/') {
                    return None;
                }
                captures.push((name.clone(), decode(raw)?));
                rest = &rest[end..];
            }
            Piece::Rest(name) => {
                if rest.is_empty() {
                    return None;
                }
                captures.push((name.clone(), decode(rest)?));
                rest = "";
            }
        }
    }
    rest.is_empty().then_some(captures)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[[route]]
host = "*.example.com"
methods = ["get", "HEAD"]
path = "/buckets/{bucket}/{key+}"
action = "s3:GetObject"
resource = "arn:aws:s3:::{bucket}/{key}"
signing_name = "s3"
[route.context]
"s3:prefix" = "{key}"

[[route]]
path = "/items/{id}.json"
action = "execute-api:Invoke"
resource = "arn:aws:execute-api:us-east-1:111122223333:api/items/{id}"
signing_name = "execute-api"
"#;

    #[test]
    fn routes_match_in_order_and_fill_their_templates() {
        let routes = Routes::parse(FILE).expect("valid");
        let m = routes
            .find("GET", "files.example.com", "/buckets/b-1/a%20b/c.txt")
            .expect("match");
        assert_eq!(m.action, "s3:GetObject");
        assert_eq!(m.resource, "arn:aws:s3:::b-1/a b/c.txt");
        assert_eq!(
            m.context,
            vec![("s3:prefix".to_owned(), "a b/c.txt".to_owned())]
        );
        assert!(
            routes
                .find("PUT", "files.example.com", "/buckets/b/k")
                .is_none()
        );
        assert!(routes.find("GET", "example.com", "/buckets/b/k").is_none());
        assert!(
            routes
                .find("GET", "files.example.com", "/buckets/b/")
                .is_none()
        );
        let m = routes.find("POST", "any", "/items/42.json").expect("match");
        assert_eq!(
            m.resource,
            "arn:aws:execute-api:us-east-1:111122223333:api/items/42"
        );
        assert!(routes.find("POST", "any", "/items/4/2.json").is_none());
        assert!(routes.find("POST", "any", "/items/%ff.json").is_none());
    }

    #[test]
    fn bad_files_name_the_route_and_the_problem() {
        let bad = |text: &str, expected: &str| {
            let e = Routes::parse(text).expect_err(text);
            assert!(e.contains(expected), "{e}");
        };
        bad("", "no [[route]]");
        bad(
            "[[route]]\npath = \"/a\"\naction = \"s3:Get\"\nresource = \"*\"\nsigning_name = \"s3\"\ncolour = 1\n",
            "unknown field `colour`",
        );
        bad(
            "[[route]]\npath = \"/a/{x}\"\naction = \"s3:Get\"\nresource = \"{y}\"\nsigning_name = \"s3\"\n",
            "route 1 (path \"/a/{x}\"): resource uses {y}",
        );
        bad(
            "[[route]]\npath = \"/{x+}/a\"\naction = \"s3:Get\"\nresource = \"*\"\nsigning_name = \"s3\"\n",
            "must end the path",
        );
        bad(
            "[[route]]\npath = \"/a\"\naction = \"s3:*\"\nresource = \"*\"\nsigning_name = \"s3\"\n",
            "without wildcards",
        );
        bad(
            "[[route]]\npath = \"/a\"\naction = \"s3:Get\"\nresource = \"*\"\nsigning_name = \"s3\"\n[route.context]\n\"aws:SourceIp\" = \"1\"\n",
            "not aws:",
        );
    }
}
