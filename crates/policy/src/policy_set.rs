//! [`PolicySet`]: several policies compiled together, their statements indexed by action and
//! by resource so a decision looks only at statements whose Action and Resource can match.
//!
//! The action index maps a service prefix (`s3`) to the statements that name actions of that
//! service: exact names in a hash map, wildcard names in a list. Statements that could match any
//! service (`*`, a wildcard service, NotAction) sit in one more list. Each of these lists is a
//! [`Bucket`]: statements whose every Resource pattern begins with a literal through its first
//! `/` or `:` (`arn:aws:s3:::bucket-7/*`) are filed under those keys, the rest (`*`,
//! `arn:aws:s3:::logs-*`, NotResource, policy variables) in a list that is always scanned. A
//! request visits the statements of its resource's key and the rest, merged in statement
//! order, so the matched statements come out in the same order as a linear scan's: the index
//! changes the cost, never the decision or its explanation.

use rustc_hash::FxHashMap as HashMap;

use crate::document::{Effect, Policy, Statement};
use crate::glob::Glob;
use crate::principal::Grant;
use crate::request::Request;

/// A statement's place in a set: which policy, which statement of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

/// Statements filed by resource key, and those that every request must scan.
#[derive(Debug, Default, Clone)]
struct Bucket {
    keyed: HashMap<Box<str>, Vec<StatementId>>,
    rest: Vec<StatementId>,
}

impl Bucket {
    /// Files `id` under `keys` (or with the rest); ids arrive in ascending order.
    fn add(&mut self, id: StatementId, keys: Option<&[&str]>) {
        let push = |ids: &mut Vec<StatementId>| {
            if ids.last() != Some(&id) {
                ids.push(id);
            }
        };
        match keys {
            Some(keys) => {
                for key in keys {
                    match self.keyed.get_mut(*key) {
                        Some(ids) => push(ids),
                        None => {
                            self.keyed.insert((*key).into(), vec![id]);
                        }
                    }
                }
            }
            None => push(&mut self.rest),
        }
    }

    /// Whether `id` is filed under `key` or with the rest (both lists are in ascending order).
    fn contains(&self, key: &str, id: StatementId) -> bool {
        self.keyed
            .get(key)
            .is_some_and(|ids| ids.binary_search(&id).is_ok())
            || self.rest.binary_search(&id).is_ok()
    }

    /// Visits, in ascending order, the statements filed under `key` and the rest.
    fn visit(&self, key: &str, mut f: impl FnMut(StatementId)) {
        let keyed: &[StatementId] = self.keyed.get(key).map_or(&[], Vec::as_slice);
        let (mut a, mut b) = (keyed.iter().peekable(), self.rest.iter().peekable());
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x <= y => a.next(),
                (Some(_), Some(_)) => b.next(),
                (Some(_), None) => a.next(),
                (None, Some(_)) => b.next(),
                (None, None) => return,
            };
            if let Some(&id) = next {
                f(id);
            }
        }
    }
}

#[derive(Debug, Default, Clone)]
struct ServiceStatements {
    /// Exact action name (lowercased) → statements naming it.
    by_name: HashMap<Box<str>, Bucket>,
    /// Statements with wildcard action names in this service...
    patterns: Bucket,
    /// ...and those names.
    pattern_names: HashMap<StatementId, Vec<Glob>>,
}

/// Policies of one kind (a principal's identity policies, a boundary, a session policy, a
/// resource policy, one level of SCPs), compiled for evaluation.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    policies: Vec<LabeledPolicy>,
    services: HashMap<Box<str>, ServiceStatements>,
    /// Statements that may match an action of any service.
    universal: Bucket,
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
        let key = request.resource.index_key();
        if let Some(service) = self.services.get(action.service()) {
            // No allocation on the decision path: the exact names' bucket is visited, then
            // asked (binary search) whether a wildcard statement was visited already.
            let exact = service.by_name.get(action.name());
            if let Some(bucket) = exact {
                bucket.visit(key, &mut check);
            }
            service.patterns.visit(key, |id| {
                let names = service
                    .pattern_names
                    .get(&id)
                    .map_or(&[][..], Vec::as_slice);
                let seen = exact.is_some_and(|b| b.contains(key, id));
                if !seen && names.iter().any(|n| n.matches(action.name())) {
                    check(id);
                }
            });
        }
        self.universal.visit(key, |id| {
            if self.statement(id).is_some_and(|s| s.action_matches(action)) {
                check(id);
            }
        });
    }
}

fn index_statement(
    services: &mut HashMap<Box<str>, ServiceStatements>,
    universal: &mut Bucket,
    id: StatementId,
    statement: &Statement,
) {
    let keys = statement.resource_keys();
    let keys = keys.as_deref();
    let clause = &statement.action;
    if clause.negated || clause.patterns.iter().any(|p| p.service.is_none()) {
        universal.add(id, keys);
        return;
    }
    for pattern in &clause.patterns {
        let Some(service) = &pattern.service else {
            continue;
        };
        let entry = services.entry(service.clone()).or_default();
        match pattern.name.exact() {
            Some(name) => entry.by_name.entry(name.into()).or_default().add(id, keys),
            None => {
                entry.patterns.add(id, keys);
                entry
                    .pattern_names
                    .entry(id)
                    .or_default()
                    .push(pattern.name.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::context::RequestContext;
    use crate::principal::Principal;
    use crate::validate::{PolicyKind, parse_policy};

    /// The order a plain scan visits statements in, without any index: those naming the
    /// action exactly, then by a wildcard name of its service, then those of any service,
    /// each group in statement order; every one checked in full.
    fn linear(set: &PolicySet, request: &Request, check_principal: bool) -> Vec<StatementId> {
        let action = &request.action;
        let mut groups: [Vec<StatementId>; 3] = Default::default();
        for (p, labeled) in set.policies.iter().enumerate() {
            for (s, statement) in labeled.policy.statements.iter().enumerate() {
                let id = StatementId {
                    policy: p as u32,
                    statement: s as u32,
                };
                let clause = &statement.action;
                let group = if clause.negated || clause.patterns.iter().any(|p| p.service.is_none())
                {
                    2
                } else if clause.patterns.iter().any(|p| {
                    p.service.as_deref() == Some(action.service())
                        && p.name.exact() == Some(action.name())
                }) {
                    0
                } else {
                    1
                };
                let applies = statement.action_matches(action)
                    && statement.resource_matches(&request.resource, &request.context)
                    && (!check_principal
                        || statement
                            .principal_grant(&request.principal, &request.context)
                            .is_some())
                    && statement.conditions_hold(&request.context);
                if applies {
                    groups[group].push(id);
                }
            }
        }
        groups.concat()
    }

    fn indexed(set: &PolicySet, request: &Request, check_principal: bool) -> Vec<StatementId> {
        let mut out = Vec::new();
        set.for_each_applicable(request, check_principal, |a| out.push(a.id));
        out
    }

    const ACTIONS: [&str; 8] = [
        "s3:GetObject",
        "s3:Get*",
        "s3:*",
        "s3:PutObject",
        "*",
        "s?:GetObject",
        "dynamodb:GetItem",
        "s3:List*",
    ];
    const RESOURCES: [&str; 14] = [
        "*",
        "arn:aws:s3:::a/*",
        "arn:aws:s3:::a",
        "arn:aws:s3:::a/x/*",
        "arn:aws:s3:::b/*",
        "arn:aws:s3:::a*",
        "arn:aws:s3:::?/*",
        "arn:aws:s3:::a/${aws:username}/*",
        "arn:aws:s3:::${aws:username}/*",
        "arn:*:s3:::a/*",
        "arn:aws:s3:::a:b/*",
        "arn:aws:dynamodb:us-east-1:111122223333:table/t",
        "arn:aws:dynamodb:us-east-1:111122223333:table/*",
        "arn:aws:s3:::a/x",
    ];
    const REQUESTS: [&str; 9] = [
        "arn:aws:s3:::a/x",
        "arn:aws:s3:::a",
        "arn:aws:s3:::a/x/y",
        "arn:aws:s3:::b/k",
        "arn:aws:s3:::ab/k",
        "arn:aws:s3:::a:b/k",
        "arn:aws:s3:::alice/k",
        "arn:aws:dynamodb:us-east-1:111122223333:table/t",
        "*",
    ];

    prop_compose! {
        fn statement()(
            deny in any::<bool>(),
            not_action in proptest::bool::weighted(0.15),
            not_resource in proptest::bool::weighted(0.15),
            actions in proptest::collection::vec(0..ACTIONS.len(), 1..3),
            resources in proptest::collection::vec(0..RESOURCES.len(), 1..3),
            condition in proptest::bool::weighted(0.2),
        ) -> serde_json::Value {
            let mut s = serde_json::json!({"Effect": if deny { "Deny" } else { "Allow" }});
            let actions: Vec<&str> = actions.iter().map(|&i| ACTIONS[i]).collect();
            let resources: Vec<&str> = resources.iter().map(|&i| RESOURCES[i]).collect();
            s[if not_action { "NotAction" } else { "Action" }] = serde_json::json!(actions);
            s[if not_resource { "NotResource" } else { "Resource" }] = serde_json::json!(resources);
            if condition {
                s["Condition"] = serde_json::json!({"StringEquals": {"aws:username": "alice"}});
            }
            s
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// The index visits exactly the statements a plain scan finds applicable, in the same
        /// order.
        #[test]
        fn the_index_visits_what_a_scan_finds(
            policies in proptest::collection::vec(proptest::collection::vec(statement(), 1..8), 1..4),
            action in 0..ACTIONS.len(),
            resource in 0..REQUESTS.len(),
            user in prop_oneof![Just("alice"), Just("bob")],
        ) {
            let set = PolicySet::new(
                policies
                    .iter()
                    .enumerate()
                    .map(|(i, statements)| {
                        let text = serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string();
                        LabeledPolicy {
                            label: format!("p{i}"),
                            policy: parse_policy(&text, PolicyKind::Identity).expect("valid policy"),
                        }
                    })
                    .collect(),
            );
            // Requests name concrete actions only.
            let action = ACTIONS[action].replace('*', "Object").replace('?', "3");
            let action = if action == "Object" { "s3:GetObject".to_owned() } else { action };
            let mut context = RequestContext::new();
            context.insert("aws:username", user);
            let principal = Principal::parse(&format!("arn:aws:iam::111122223333:user/{user}")).expect("principal");
            let request = Request::new(principal, &action, REQUESTS[resource], context);
            prop_assert_eq!(indexed(&set, &request, false), linear(&set, &request, false));
        }
    }
}
