//! Last-accessed data (IAM's access advisor): which services a user, group, role or managed
//! policy grants, and when the users and roles that hold those grants last attempted each
//! service and action. Generate/GetServiceLastAccessedDetails(WithEntities) and
//! ListPoliciesGrantingServiceAccess are built here.
//!
//! As AWS documents it:
//! - the services listed are those the subject's **permissions policies** allow some action
//!   of (an Allow statement whose Action or NotAction covers one of the service's actions in
//!   the service authorization reference); boundaries, resource policies and Deny statements
//!   do not remove a service;
//! - an attempt is any authenticated request's authorization, allowed or denied;
//! - the entities whose attempts count: the user (user report), the group's current members
//!   (group report), the role's sessions (role report), and every user and role the policy
//!   is attached to, directly or through a group (policy report);
//! - attempts older than the tracking period (400 days) are not reported.
//!
//! Pure: built from one snapshot of the state and the attempts recorded for the entities.

use std::collections::{BTreeMap, HashMap};

use portcullis_policy::{Effect, Policy};

use crate::aws_managed::aws_managed;
use crate::error::{IamError, IamResult};
use crate::model::{Group, ManagedPolicy, PolicyDocument, Role, User};
use crate::service_reference::{REFERENCE, Service};
use crate::state::{AccountState, IamState};

/// How long attempts are reported: AWS's tracking period.
pub const TRACKING_PERIOD_MS: i64 = 400 * 24 * 3600 * 1000;

/// One entity's last attempt at one action, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionUse {
    pub account_id: String,
    /// The user's or role's unique id (`AIDA…`, `AROA…`).
    pub entity_id: String,
    /// `service:action`, lowercased.
    pub action: String,
    /// Milliseconds since the epoch.
    pub time_ms: i64,
    pub region: String,
}

/// SERVICE_LEVEL or ACTION_LEVEL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Service,
    Action,
}

impl Granularity {
    pub fn parse(text: &str) -> Option<Granularity> {
        match text {
            "SERVICE_LEVEL" => Some(Granularity::Service),
            "ACTION_LEVEL" => Some(Granularity::Action),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Service => "SERVICE_LEVEL",
            Granularity::Action => "ACTION_LEVEL",
        }
    }
}

/// `USER`, `ROLE` or `GROUP` (AWS's policyOwnerEntityType).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityKind {
    User,
    Role,
    Group,
}

impl EntityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::User => "USER",
            EntityKind::Role => "ROLE",
            EntityKind::Group => "GROUP",
        }
    }
}

/// A user or role whose attempts a report counts (AWS's EntityInfo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityInfo {
    pub kind: EntityKind,
    pub arn: String,
    pub name: String,
    pub id: String,
    pub path: String,
}

/// What a report or a policy listing is about, found by its exact ARN.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    User(&'a User),
    Group(&'a Group),
    Role(&'a Role),
    Policy(&'a ManagedPolicy),
}

/// The subject `arn` names in `account_id`: InvalidInput for an ARN that names no IAM user,
/// group, role or policy, NoSuchEntity for one that does not exist (or is another account's).
pub fn subject<'a>(state: &'a IamState, account_id: &str, arn: &str) -> IamResult<Subject<'a>> {
    let invalid = || IamError::InvalidInput(format!("ARN {arn} is not valid."));
    let rest = arn.strip_prefix("arn:aws:iam::").ok_or_else(invalid)?;
    let (account, resource) = rest.split_once(':').ok_or_else(invalid)?;
    if arn == "arn:aws:iam::aws:policy" || account == "aws" {
        return aws_managed(arn)
            .map(Subject::Policy)
            .ok_or_else(|| IamError::NoSuchEntity(format!("Policy {arn} does not exist.")));
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let (kind, path_name) = resource.split_once('/').ok_or_else(invalid)?;
    let name = path_name.rsplit('/').next().filter(|n| !n.is_empty());
    let name = name.ok_or_else(invalid)?;
    let missing = || IamError::NoSuchEntity(format!("The entity {arn} does not exist."));
    if account != account_id {
        return Err(missing());
    }
    let acc = state.account(account_id)?;
    // An ARN is the entity's own text: path and name exactly as stored.
    let exact = |path: &str, stored: &str| format!("/{path_name}") == format!("{path}{stored}");
    match kind {
        "user" => acc
            .users
            .get(&name.to_lowercase())
            .filter(|u| exact(&u.path, &u.name))
            .map(Subject::User),
        "group" => acc
            .groups
            .get(&name.to_lowercase())
            .filter(|g| exact(&g.path, &g.name))
            .map(Subject::Group),
        "role" => acc
            .roles
            .get(&name.to_lowercase())
            .filter(|r| exact(&r.path, &r.name))
            .map(Subject::Role),
        "policy" => acc.policies.get(arn).map(Subject::Policy),
        _ => return Err(invalid()),
    }
    .ok_or_else(missing)
}

/// A permissions policy of a subject, with where it comes from.
struct Held<'a> {
    document: &'a Policy,
    grant: PolicyGrant,
}

/// A policy that grants a service (AWS's PolicyGrantingServiceAccess).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyGrant {
    pub name: String,
    /// `INLINE` or `MANAGED`.
    pub inline: bool,
    /// A managed policy's ARN.
    pub arn: Option<String>,
    /// An inline policy's holder.
    pub entity: Option<(EntityKind, String)>,
}

fn managed<'a>(account: &'a AccountState, arn: &str) -> Option<&'a ManagedPolicy> {
    account.policies.get(arn).or_else(|| aws_managed(arn))
}

fn managed_held<'a>(account: &'a AccountState, arns: &[String], out: &mut Vec<Held<'a>>) {
    for arn in arns {
        if let Some(p) = managed(account, arn) {
            if let Some(v) = p.default_version() {
                out.push(Held {
                    document: &v.document.parsed,
                    grant: PolicyGrant {
                        name: p.name.clone(),
                        inline: false,
                        arn: Some(p.arn.clone()),
                        entity: None,
                    },
                });
            }
        }
    }
}

fn inline_held<'a>(
    policies: &'a BTreeMap<String, PolicyDocument>,
    kind: EntityKind,
    holder: &str,
    out: &mut Vec<Held<'a>>,
) {
    for (name, doc) in policies {
        out.push(Held {
            document: &doc.parsed,
            grant: PolicyGrant {
                name: name.clone(),
                inline: true,
                arn: None,
                entity: Some((kind, holder.to_owned())),
            },
        });
    }
}

fn group_held<'a>(account: &'a AccountState, group: &'a Group, out: &mut Vec<Held<'a>>) {
    inline_held(&group.inline_policies, EntityKind::Group, &group.name, out);
    managed_held(account, &group.attached_policies, out);
}

/// The subject's permissions policies (no boundary): a user's own and its groups'.
fn held<'a>(account: &'a AccountState, subject: Subject<'a>) -> Vec<Held<'a>> {
    let mut out = Vec::new();
    match subject {
        Subject::User(user) => {
            inline_held(
                &user.inline_policies,
                EntityKind::User,
                &user.name,
                &mut out,
            );
            managed_held(account, &user.attached_policies, &mut out);
            for g in &user.groups {
                if let Some(group) = account.groups.get(&g.to_lowercase()) {
                    group_held(account, group, &mut out);
                }
            }
        }
        Subject::Group(group) => group_held(account, group, &mut out),
        Subject::Role(role) => {
            inline_held(
                &role.inline_policies,
                EntityKind::Role,
                &role.name,
                &mut out,
            );
            managed_held(account, &role.attached_policies, &mut out);
        }
        Subject::Policy(p) => managed_held(account, std::slice::from_ref(&p.arn), &mut out),
    }
    out
}

/// Whether `document` has an Allow statement covering some action of `service`.
fn grants(document: &Policy, service: &Service) -> bool {
    document
        .statements
        .iter()
        .any(|s| s.effect == Effect::Allow && service.granted_by(&s.action))
}

fn user_info(account_id: &str, u: &User) -> EntityInfo {
    EntityInfo {
        kind: EntityKind::User,
        arn: crate::ops::entity_arn(account_id, "user", &u.path, &u.name),
        name: u.name.clone(),
        id: u.user_id.clone(),
        path: u.path.clone(),
    }
}

fn role_info(account_id: &str, r: &Role) -> EntityInfo {
    EntityInfo {
        kind: EntityKind::Role,
        arn: crate::ops::entity_arn(account_id, "role", &r.path, &r.name),
        name: r.name.clone(),
        id: r.role_id.clone(),
        path: r.path.clone(),
    }
}

/// The users and roles whose attempts count for `subject`.
fn entities(account_id: &str, account: &AccountState, subject: Subject<'_>) -> Vec<EntityInfo> {
    match subject {
        Subject::User(u) => vec![user_info(account_id, u)],
        Subject::Role(r) => vec![role_info(account_id, r)],
        Subject::Group(g) => account
            .users
            .values()
            .filter(|u| u.groups.iter().any(|n| n.eq_ignore_ascii_case(&g.name)))
            .map(|u| user_info(account_id, u))
            .collect(),
        Subject::Policy(p) => {
            let holds = |attached: &[String]| attached.contains(&p.arn);
            let mut out: Vec<EntityInfo> = account
                .users
                .values()
                .filter(|u| {
                    holds(&u.attached_policies)
                        || u.groups.iter().any(|n| {
                            account
                                .groups
                                .get(&n.to_lowercase())
                                .is_some_and(|g| holds(&g.attached_policies))
                        })
                })
                .map(|u| user_info(account_id, u))
                .collect();
            out.extend(
                account
                    .roles
                    .values()
                    .filter(|r| holds(&r.attached_policies))
                    .map(|r| role_info(account_id, r)),
            );
            out
        }
    }
}

/// A report to be made: the subject's granted services and the entities whose attempts
/// count. The caller fetches those entities' attempts, then calls [`Plan::report`].
#[derive(Debug)]
pub struct Plan {
    pub entities: Vec<EntityInfo>,
    services: Vec<&'static Service>,
}

/// Plans the report on the subject `arn` names.
pub fn plan(state: &IamState, account_id: &str, arn: &str) -> IamResult<Plan> {
    let subject = subject(state, account_id, arn)?;
    let account = state.account(account_id)?;
    let held = held(account, subject);
    let services = REFERENCE
        .services
        .iter()
        .filter(|s| held.iter().any(|h| grants(h.document, s)))
        .collect();
    Ok(Plan {
        entities: entities(account_id, account, subject),
        services,
    })
}

/// The latest attempt of something: when, by which entity, from which region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub time_ms: i64,
    pub entity_arn: String,
    pub region: String,
}

/// One service of a report (AWS's ServiceLastAccessed).
#[derive(Debug, Clone)]
pub struct ServiceLastAccessed {
    pub namespace: String,
    pub name: String,
    pub last: Option<Attempt>,
    pub total_entities: usize,
    /// ACTION_LEVEL only: the service's actions attempted, by AWS's name, in name order.
    pub actions: Option<Vec<(String, Attempt)>>,
}

/// A finished report.
#[derive(Debug, Clone)]
pub struct Report {
    pub granularity: Granularity,
    pub services: Vec<ServiceLastAccessed>,
    pub entities: Vec<EntityInfo>,
    /// Per service namespace: each entity (index into `entities`) that attempted it, and when.
    per_entity: HashMap<String, Vec<(usize, i64)>>,
}

fn later(slot: &mut Option<Attempt>, candidate: Attempt) {
    if slot.as_ref().is_none_or(|a| candidate.time_ms > a.time_ms) {
        *slot = Some(candidate);
    }
}

/// One service's attempts: each entity's last, and each action's last (by AWS's name).
type ServiceAttempts = (HashMap<usize, Attempt>, BTreeMap<String, Attempt>);

impl Plan {
    /// The report from `uses` (the entities' recorded attempts; others are ignored), as of
    /// `now_ms`.
    pub fn report(self, granularity: Granularity, uses: &[ActionUse], now_ms: i64) -> Report {
        let since = now_ms - TRACKING_PERIOD_MS;
        let index: HashMap<&str, usize> = self
            .entities
            .iter()
            .enumerate()
            .map(|(i, e)| (e.id.as_str(), i))
            .collect();
        // namespace → (entity → its last attempt), (action → its last attempt)
        let mut by_service: HashMap<&str, ServiceAttempts> = HashMap::new();
        for u in uses.iter().filter(|u| u.time_ms >= since) {
            let Some(&entity) = index.get(u.entity_id.as_str()) else {
                continue;
            };
            let Some((prefix, _)) = u.action.split_once(':') else {
                continue;
            };
            let attempt = Attempt {
                time_ms: u.time_ms,
                entity_arn: self.entities[entity].arn.clone(),
                region: u.region.clone(),
            };
            let (per_entity, per_action) = by_service.entry(prefix).or_default();
            per_entity
                .entry(entity)
                .and_modify(|a| {
                    if attempt.time_ms > a.time_ms {
                        *a = attempt.clone();
                    }
                })
                .or_insert_with(|| attempt.clone());
            let name = REFERENCE
                .canonical_action(&u.action)
                .map(|(_, a)| a.name.clone())
                .unwrap_or_else(|| u.action[prefix.len() + 1..].to_owned());
            per_action
                .entry(name)
                .and_modify(|a| {
                    if attempt.time_ms > a.time_ms {
                        *a = attempt.clone();
                    }
                })
                .or_insert(attempt);
        }
        let mut per_entity_out = HashMap::new();
        let services = self
            .services
            .iter()
            .map(|s| {
                let found = by_service.get(s.prefix.as_str());
                let mut last = None;
                let mut total = 0;
                if let Some((entities, _)) = found {
                    total = entities.len();
                    for a in entities.values() {
                        later(&mut last, a.clone());
                    }
                    per_entity_out.insert(
                        s.prefix.clone(),
                        entities.iter().map(|(i, a)| (*i, a.time_ms)).collect(),
                    );
                }
                let actions = (granularity == Granularity::Action).then(|| {
                    found
                        .map(|(_, actions)| {
                            actions
                                .iter()
                                .map(|(n, a)| (n.clone(), a.clone()))
                                .collect()
                        })
                        .unwrap_or_default()
                });
                ServiceLastAccessed {
                    namespace: s.prefix.clone(),
                    name: s.name.clone(),
                    last,
                    total_entities: total,
                    actions,
                }
            })
            .collect();
        Report {
            granularity,
            services,
            entities: self.entities,
            per_entity: per_entity_out,
        }
    }
}

impl Report {
    /// GetServiceLastAccessedDetailsWithEntities: the entities that could have used the
    /// subject's grants to attempt `namespace`, each with its last attempt, most recent first
    /// (those that never attempted it last, by name). Empty when the subject grants no
    /// access to the service.
    pub fn entities_for(&self, namespace: &str) -> Vec<(&EntityInfo, Option<i64>)> {
        if !self
            .services
            .iter()
            .any(|s| s.namespace.eq_ignore_ascii_case(namespace))
        {
            return Vec::new();
        }
        let times: HashMap<usize, i64> = self
            .per_entity
            .get(&namespace.to_ascii_lowercase())
            .map(|v| v.iter().copied().collect())
            .unwrap_or_default();
        let mut out: Vec<(&EntityInfo, Option<i64>)> = self
            .entities
            .iter()
            .enumerate()
            .map(|(i, e)| (e, times.get(&i).copied()))
            .collect();
        out.sort_by(|(a, ta), (b, tb)| tb.cmp(ta).then_with(|| a.arn.cmp(&b.arn)));
        out
    }
}

/// ListPoliciesGrantingServiceAccess: for each namespace (in the order asked), the policies
/// of the user, group or role `arn` names that grant some action of it.
pub fn policies_granting(
    state: &IamState,
    account_id: &str,
    arn: &str,
    namespaces: &[String],
) -> IamResult<Vec<(String, Vec<PolicyGrant>)>> {
    let subject = subject(state, account_id, arn)?;
    if let Subject::Policy(_) = subject {
        return Err(IamError::InvalidInput(format!(
            "ARN {arn} is not valid: a user, group or role is required."
        )));
    }
    let account = state.account(account_id)?;
    let held = held(account, subject);
    Ok(namespaces
        .iter()
        .map(|ns| {
            let grants_of = match REFERENCE.service(ns) {
                Some(service) => held
                    .iter()
                    .filter(|h| grants(h.document, service))
                    .map(|h| h.grant.clone())
                    .collect(),
                None => Vec::new(),
            };
            (ns.clone(), grants_of)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::attachments::{Holder, put_inline};
    use crate::ops::users::create_user;
    use crate::state::{AccountState, Touched};

    const A: &str = "111122223333";

    fn state() -> IamState {
        let mut state = IamState::default();
        state.accounts.insert(A.into(), AccountState::default());
        let mut t = Touched::default();
        create_user(&mut state, &mut t, A, "alice", Some("/team/"), None, &[]).unwrap();
        put_inline(
            &mut state,
            &mut t,
            A,
            Holder::User,
            "alice",
            "p",
            r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":"s3:GetObject","Resource":"*"},
                {"Effect":"Deny","Action":"ec2:*","Resource":"*"},
                {"Effect":"Allow","NotAction":["s3:*","iam:*"],"Resource":"arn:aws:dynamodb:*:*:table/x"}]}"#,
        )
        .unwrap();
        state
    }

    fn attempt(entity: &str, action: &str, time_ms: i64) -> ActionUse {
        ActionUse {
            account_id: A.into(),
            entity_id: entity.into(),
            action: action.into(),
            time_ms,
            region: "eu-west-1".into(),
        }
    }

    #[test]
    fn a_subject_is_named_by_its_exact_arn() {
        let s = state();
        assert!(matches!(
            subject(&s, A, "arn:aws:iam::111122223333:user/team/alice"),
            Ok(Subject::User(_))
        ));
        for wrong in [
            "arn:aws:iam::111122223333:user/alice",
            "arn:aws:iam::111122223333:user/team/ALICE",
            "arn:aws:iam::444455556666:user/team/alice",
            "arn:aws:iam::111122223333:group/team/alice",
        ] {
            assert!(
                matches!(subject(&s, A, wrong), Err(IamError::NoSuchEntity(_))),
                "{wrong}"
            );
        }
        for invalid in [
            "arn:aws:s3:::b",
            "arn:aws:iam::1:user/x",
            "arn:aws:iam::111122223333:thing/x",
        ] {
            assert!(
                matches!(subject(&s, A, invalid), Err(IamError::InvalidInput(_))),
                "{invalid}"
            );
        }
    }

    #[test]
    fn granted_services_ignore_denies_and_resources_and_follow_not_action() {
        let s = state();
        let plan = plan(&s, A, "arn:aws:iam::111122223333:user/team/alice").unwrap();
        let prefixes: Vec<&str> = plan.services.iter().map(|s| s.prefix.as_str()).collect();
        assert!(prefixes.contains(&"s3"));
        // NotAction grants every other service, ec2 too: a Deny does not remove a service.
        assert!(prefixes.contains(&"ec2") && prefixes.contains(&"dynamodb"));
        assert!(!prefixes.contains(&"iam"));
    }

    #[test]
    fn attempts_are_the_latest_per_service_and_action_within_the_tracking_period() {
        let s = state();
        let arn = "arn:aws:iam::111122223333:user/team/alice";
        let id = subject(&s, A, arn)
            .map(|s| match s {
                Subject::User(u) => u.user_id.clone(),
                _ => unreachable!(),
            })
            .unwrap();
        let now = 1_000 * TRACKING_PERIOD_MS;
        let uses = [
            attempt(&id, "s3:getobject", now - 10),
            attempt(&id, "s3:getobject", now - 20),
            attempt(&id, "s3:putobject", now - 5),
            attempt(&id, "ec2:runinstances", now - TRACKING_PERIOD_MS - 1),
            attempt("AIDAOTHER", "s3:deleteobject", now),
        ];
        let report = plan(&s, A, arn)
            .unwrap()
            .report(Granularity::Action, &uses, now);
        let s3 = report
            .services
            .iter()
            .find(|s| s.namespace == "s3")
            .unwrap();
        let last = s3.last.as_ref().unwrap();
        assert_eq!((last.time_ms, last.entity_arn.as_str()), (now - 5, arn));
        assert_eq!(s3.total_entities, 1);
        let actions: Vec<(&str, i64)> = s3
            .actions
            .as_ref()
            .unwrap()
            .iter()
            .map(|(n, a)| (n.as_str(), a.time_ms))
            .collect();
        assert_eq!(actions, [("GetObject", now - 10), ("PutObject", now - 5)]);
        let ec2 = report
            .services
            .iter()
            .find(|s| s.namespace == "ec2")
            .unwrap();
        assert!(ec2.last.is_none(), "older than 400 days");
        assert_eq!(report.entities_for("S3")[0].1, Some(now - 5));
    }
}
