//! [`PolicySet`]: several policies compiled together, their statements indexed by action so a
//! decision looks only at statements whose Action can match.
//!
//! The index maps a service prefix (`s3`) to the statements that name actions of that service:
//! exact names in a hash map, wildcard names in a short list. Statements that could match any
//! service (`*`, a wildcard service, NotAction) sit in one list that every request scans. A
//! request for `s3:GetObject` therefore never touches a statement about `ec2:*`.

use rustc_hash::FxHashMap as HashMap;

use crate::document::{Effect, Policy, Statement};
use crate::glob::Glob;
use crate::principal::Grant;
use crate::request::Request;

/// A statement's place in a set: which policy, which statement of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatementId {
    pub policy: u32,
    pub statement: u32,
}

/// A policy with the name it is reported under (a managed policy's ARN, an inline policy's
/// name, `identityPolicies[0]`, ...).
#[derive(Debug, Clone)]
pub struct LabeledPolicy {
    pub label: String,
    pub policy: Policy,
}

#[derive(Debug, Default, Clone)]
struct ServiceStatements {
    /// Exact action name (lowercased) → statements naming it.
    by_name: HashMap<Box<str>, Vec<StatementId>>,
    /// Statements with wildcard action names in this service, with those names.
    patterns: Vec<(StatementId, Vec<Glob>)>,
}

/// Policies of one kind (a principal's identity policies, a boundary, a session policy, a
/// resource policy, one level of SCPs), compiled for evaluation.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    policies: Vec<LabeledPolicy>,
    services: HashMap<Box<str>, ServiceStatements>,
    /// Statements that may match an action of any service.
    universal: Vec<StatementId>,
}

/// A statement that applies to a request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Applicable {
    pub(crate) id: StatementId,
    pub(crate) effect: Effect,
    /// How the statement's Principal reaches the caller (resource policies).
    pub(crate) grant: Grant,
}

impl PolicySet {
    /// Compiles and indexes `policies`.
    pub fn new(policies: Vec<LabeledPolicy>) -> PolicySet {
        let mut set = PolicySet {
            policies,
            ..PolicySet::default()
        };
        for (p, labeled) in set.policies.iter().enumerate() {
            for (s, statement) in labeled.policy.statements.iter().enumerate() {
                let id = StatementId {
                    policy: p as u32,
                    statement: s as u32,
                };
                index_statement(&mut set.services, &mut set.universal, id, statement);
            }
        }
        set
    }

    /// One policy.
    pub fn single(label: impl Into<String>, policy: Policy) -> PolicySet {
        PolicySet::new(vec![LabeledPolicy {
            label: label.into(),
            policy,
        }])
    }

    pub fn policies(&self) -> &[LabeledPolicy] {
        &self.policies
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// The statement `id` points at.
    pub fn statement(&self, id: StatementId) -> Option<&Statement> {
        self.policies
            .get(id.policy as usize)?
            .policy
            .statements
            .get(id.statement as usize)
    }

    /// Number of statements in the set.
    pub fn statement_count(&self) -> usize {
        self.policies
            .iter()
            .map(|p| p.policy.statements.len())
            .sum()
    }

    /// Calls `visit` for every statement that applies to `request`. With `check_principal`
    /// (resource policies, SCPs), the statement's Principal must reach the caller too.
    pub(crate) fn for_each_applicable(
        &self,
        request: &Request,
        check_principal: bool,
        mut visit: impl FnMut(Applicable),
    ) {
        let action = &request.action;
        let mut check = |id: StatementId| {
            let Some(statement) = self.statement(id) else {
                return;
            };
            if !statement.resource_matches(&request.resource, &request.context) {
                return;
            }
            let grant = if check_principal {
                match statement.principal_grant(&request.principal, &request.context) {
                    Some(g) => g,
                    None => return,
                }
            } else {
                Grant::Account
            };
            if statement.conditions_hold(&request.context) {
                visit(Applicable {
                    id,
                    effect: statement.effect,
                    grant,
                });
            }
        };
        if let Some(service) = self.services.get(action.service()) {
            let exact: &[StatementId] = service
                .by_name
                .get(action.name())
                .map_or(&[], Vec::as_slice);
            for &id in exact {
                check(id);
            }
            for (id, names) in &service.patterns {
                if !exact.contains(id) && names.iter().any(|n| n.matches(action.name())) {
                    check(*id);
                }
            }
        }
        for &id in &self.universal {
            if self.statement(id).is_some_and(|s| s.action_matches(action)) {
                check(id);
            }
        }
    }
}

fn index_statement(
    services: &mut HashMap<Box<str>, ServiceStatements>,
    universal: &mut Vec<StatementId>,
    id: StatementId,
    statement: &Statement,
) {
    let clause = &statement.action;
    if clause.negated || clause.patterns.iter().any(|p| p.service.is_none()) {
        universal.push(id);
        return;
    }
    for pattern in &clause.patterns {
        let Some(service) = &pattern.service else {
            continue;
        };
        let entry = services.entry(service.clone()).or_default();
        match pattern.name.exact() {
            Some(name) => {
                let ids = entry.by_name.entry(name.into()).or_default();
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            None => match entry.patterns.iter_mut().find(|(i, _)| *i == id) {
                Some((_, names)) => names.push(pattern.name.clone()),
                None => entry.patterns.push((id, vec![pattern.name.clone()])),
            },
        }
    }
}
