//! The policy document model: what a parsed policy says, with every pattern and condition value
//! already in the form evaluation uses (nothing is parsed again per request).

use std::fmt;

use crate::arn;
use crate::condition::Condition;
use crate::context::RequestContext;
use crate::glob::{Glob, match_pieces};
use crate::principal::{Grant, Principal, PrincipalEntry, excluded_by};
use crate::request::{Action, Resource};
use crate::variables::Template;

/// The policy language version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `2008-10-17`: policy variables are literal text.
    V2008_10_17,
    /// `2012-10-17`: the current version, with policy variables.
    V2012_10_17,
}

impl Version {
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V2008_10_17 => "2008-10-17",
            Version::V2012_10_17 => "2012-10-17",
        }
    }
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    Allow,
    Deny,
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        })
    }
}

/// A parsed policy document.
#[derive(Debug, Clone)]
pub struct Policy {
    /// `None` when the document has no Version (then variables are literal, as with 2008-10-17).
    pub version: Option<Version>,
    pub id: Option<String>,
    pub statements: Vec<Statement>,
}

impl Policy {
    /// Parses a document by the grammar alone, without the rules of any policy kind (use
    /// [`crate::parse_policy`] to validate as AWS does for a kind).
    pub fn parse(text: &str) -> Result<Policy, crate::PolicyError> {
        crate::parse::parse(text)
    }
}

/// One statement of a policy.
#[derive(Debug, Clone)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub principal: Option<PrincipalClause>,
    pub action: ActionClause,
    pub resource: Option<ResourceClause>,
    pub conditions: Vec<Condition>,
}

/// Principal or NotPrincipal.
#[derive(Debug, Clone)]
pub struct PrincipalClause {
    /// `true` for NotPrincipal.
    pub negated: bool,
    pub(crate) entries: Vec<PrincipalEntry>,
}

/// An IAM identity a Principal element names by ARN, as a service needs it to check that the
/// identity exists (AWS refuses a trust policy naming a user or role that does not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamedPrincipal {
    /// `arn:aws:iam::A:user/path/name`.
    User { account: String, name: String },
    /// `arn:aws:iam::A:role/path/name`.
    Role { account: String, name: String },
}

impl PrincipalClause {
    /// The users and roles this clause names by ARN (not accounts, sessions, services or `*`).
    pub fn named_principals(&self) -> Vec<NamedPrincipal> {
        self.entries
            .iter()
            .filter_map(|e| match e {
                PrincipalEntry::User(arn) => {
                    let account = arn::segments(arn)?[4].to_owned();
                    let name = arn.rsplit('/').next()?.to_owned();
                    Some(NamedPrincipal::User { account, name })
                }
                PrincipalEntry::Role { account, name } => Some(NamedPrincipal::Role {
                    account: account.clone(),
                    name: name.clone(),
                }),
                _ => None,
            })
            .collect()
    }
}

/// Action or NotAction.
#[derive(Debug, Clone)]
pub struct ActionClause {
    /// `true` for NotAction.
    pub negated: bool,
    pub patterns: Vec<ActionPattern>,
}

/// One action pattern such as `s3:Get*`, matched case-insensitively.
#[derive(Debug, Clone)]
pub struct ActionPattern {
    /// As written in the policy.
    pub text: String,
    /// The service prefix, lowercased, when it has no wildcard (`s3`); `None` for `*` or a
    /// wildcard service.
    pub(crate) service: Option<Box<str>>,
    /// The action name lowercased (`get*`), for patterns with a plain service.
    pub(crate) name: Glob,
    /// The whole pattern lowercased.
    pub(crate) full: Glob,
}

/// Resource or NotResource.
#[derive(Debug, Clone)]
pub struct ResourceClause {
    /// `true` for NotResource.
    pub negated: bool,
    pub patterns: Vec<ResourcePattern>,
}

/// One resource pattern, matched case-sensitively per ARN segment.
#[derive(Debug, Clone)]
pub struct ResourcePattern {
    /// As written in the policy.
    pub text: String,
    matcher: ResourceMatcher,
}

#[derive(Debug, Clone)]
enum ResourceMatcher {
    /// `*`.
    Any,
    /// An ARN whose first five segments have no wildcard: they are compared as one prefix
    /// (`arn:aws:s3:::`), then the resource part (which may hold policy variables).
    ArnPrefix {
        prefix: Box<str>,
        resource: ResourcePart,
    },
    /// An ARN with wildcards in its first five segments: matched segment by segment.
    Arn {
        head: Box<[Glob; 5]>,
        resource: ResourcePart,
    },
    /// Not an ARN: matched as one string.
    Whole(Glob),
}

#[derive(Debug, Clone)]
enum ResourcePart {
    Plain(Glob),
    Template(Template),
}

impl ActionClause {
    /// Whether the clause covers `action`: one of its patterns matches it (Action), or none
    /// does (NotAction).
    pub fn covers(&self, action: &Action) -> bool {
        self.patterns.iter().any(|p| p.matches(action)) != self.negated
    }
}

impl ActionPattern {
    pub(crate) fn new(text: &str) -> ActionPattern {
        let lower = text.to_lowercase();
        let (service, name) = match lower.split_once(':') {
            Some((service, name)) if !service.contains(['*', '?']) => {
                (Some(service.into()), Glob::new(name))
            }
            _ => (None, Glob::new(&lower)),
        };
        ActionPattern {
            text: text.to_owned(),
            service,
            name,
            full: Glob::new(&lower),
        }
    }

    /// Whether the pattern matches `action`.
    pub fn matches(&self, action: &Action) -> bool {
        match &self.service {
            Some(service) => **service == *action.service() && self.name.matches(action.name()),
            None => self.full.matches(action.as_str()),
        }
    }
}

impl ResourcePattern {
    pub(crate) fn new(text: &str, variables: bool) -> ResourcePattern {
        let matcher = if text == "*" {
            ResourceMatcher::Any
        } else if let Some(seg) = arn::segments(text) {
            let resource = match variables.then(|| Template::parse(seg[5], true)).flatten() {
                Some(t) => ResourcePart::Template(t),
                None => ResourcePart::Plain(Glob::new(seg[5])),
            };
            let head = &text[..text.len() - seg[5].len()];
            if !head.contains(['*', '?']) {
                ResourceMatcher::ArnPrefix {
                    prefix: head.into(),
                    resource,
                }
            } else {
                ResourceMatcher::Arn {
                    head: Box::new([
                        Glob::new(seg[0]),
                        Glob::new(seg[1]),
                        Glob::new(seg[2]),
                        Glob::new(seg[3]),
                        Glob::new(seg[4]),
                    ]),
                    resource,
                }
            }
        } else {
            ResourceMatcher::Whole(Glob::new(text))
        };
        ResourcePattern {
            text: text.to_owned(),
            matcher,
        }
    }

    /// The key [`crate::PolicySet`] indexes this pattern under: its literal beginning through
    /// the first `/` or `:` of the resource part (`arn:aws:s3:::bucket/`), or the whole pattern
    /// when it has no wildcard. Any resource it matches has the same [`Resource::index_key`].
    /// `None` when a wildcard or a policy variable comes sooner (the pattern is scanned).
    pub(crate) fn index_key(&self) -> Option<&str> {
        let ResourceMatcher::ArnPrefix {
            prefix,
            resource: ResourcePart::Plain(_),
        } = &self.matcher
        else {
            return None;
        };
        let part = &self.text[prefix.len()..];
        let literal = part.find(['*', '?']).unwrap_or(part.len());
        match part[..literal].find(['/', ':']) {
            Some(at) => Some(&self.text[..prefix.len() + at + 1]),
            None if literal == part.len() => Some(&self.text),
            None => None,
        }
    }

    pub(crate) fn matches(&self, resource: &Resource, context: &RequestContext) -> bool {
        match &self.matcher {
            ResourceMatcher::Any => true,
            ResourceMatcher::Whole(glob) => glob.matches(resource.as_str()),
            ResourceMatcher::ArnPrefix {
                prefix,
                resource: part,
            } => {
                let Some((head, rest)) = resource.split_head() else {
                    return false;
                };
                part.matches(rest, context) && crate::glob::eq_short(head, prefix)
            }
            ResourceMatcher::Arn {
                head,
                resource: part,
            } => {
                let Some(seg) = resource.segments() else {
                    return false;
                };
                head.iter().zip(seg.iter()).all(|(p, s)| p.matches(s))
                    && part.matches(seg[5], context)
            }
        }
    }
}

impl ResourcePart {
    fn matches(&self, text: &str, context: &RequestContext) -> bool {
        match self {
            ResourcePart::Plain(glob) => glob.matches(text),
            ResourcePart::Template(template) => {
                let mut pieces = Vec::new();
                template.resolve(context, &mut pieces) && match_pieces(&pieces, |p| *p, text)
            }
        }
    }
}

impl Statement {
    /// Whether the Action/NotAction element matches `action`.
    pub(crate) fn action_matches(&self, action: &Action) -> bool {
        let hit = self.action.patterns.iter().any(|p| p.matches(action));
        hit != self.action.negated
    }

    /// Whether the Resource/NotResource element matches. A statement without one (a
    /// resource-based policy) applies to the resource the policy is attached to.
    pub(crate) fn resource_matches(&self, resource: &Resource, context: &RequestContext) -> bool {
        match &self.resource {
            None => true,
            Some(clause) => {
                let hit = clause.patterns.iter().any(|p| p.matches(resource, context));
                hit != clause.negated
            }
        }
    }

    /// The index keys of the Resource element's patterns, when every one has a key (see
    /// [`ResourcePattern::index_key`]); `None` for NotResource, no Resource, or a pattern
    /// without one.
    pub(crate) fn resource_keys(&self) -> Option<Vec<&str>> {
        let clause = self.resource.as_ref().filter(|c| !c.negated)?;
        clause
            .patterns
            .iter()
            .map(ResourcePattern::index_key)
            .collect()
    }

    /// Whether every condition holds.
    pub(crate) fn conditions_hold(&self, context: &RequestContext) -> bool {
        self.conditions.iter().all(|c| c.holds(context))
    }

    /// How the Principal/NotPrincipal element reaches the caller; `None` when it does not.
    /// A statement without one applies to every caller (identity policies, SCPs).
    pub(crate) fn principal_grant(
        &self,
        caller: &Principal,
        context: &RequestContext,
    ) -> Option<Grant> {
        let Some(clause) = &self.principal else {
            return Some(Grant::Account);
        };
        if clause.negated {
            return (!excluded_by(&clause.entries, caller, context)).then_some(Grant::Everyone);
        }
        let grant = clause
            .entries
            .iter()
            .filter_map(|e| e.grant_to(caller, context))
            .max()?;
        // `"*"` limited by an exact `aws:PrincipalArn` naming the caller's role names that role
        // (only the wildcard form is documented as unlimited).
        if let (Grant::Everyone, Principal::AssumedRole { role_arn, .. }) = (grant, caller) {
            let names_role = self
                .conditions
                .iter()
                .flat_map(Condition::exact_principal_role_arns)
                .any(|arn| arn == role_arn);
            if names_role {
                return Some(Grant::Role);
            }
        }
        Some(grant)
    }
}
