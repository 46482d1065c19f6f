//! Authorization of a call, shared by the IAM and STS APIs: the caller's compiled policies
//! (from the snapshot), its session policies, an optional resource policy, and the global
//! condition keys → the policy engine's decision → AWS's AccessDenied wording, with the
//! explanation of a denial sealed into its message for STS DecodeAuthorizationMessage.

use std::sync::Arc;

use portcullis_iam::authz_message::MAX_PLAINTEXT_LEN;
use portcullis_iam::model::Tag;
use portcullis_iam::{IamService, PrincipalPolicies, Snapshot};
use portcullis_policy::{
    Basis, Decision, Effect, PolicyInputs, PolicySet, PolicySource, Request, RequestContext,
};
use serde::Serialize;

use crate::auth::Caller;
use crate::error::ApiError;

/// Facts about the request that condition keys report.
#[derive(Debug, Clone)]
pub struct RequestEnv {
    /// `aws:SourceIp`; `None` when a service asking the authorization API does not say.
    pub source_ip: Option<String>,
    pub user_agent: String,
    pub secure_transport: bool,
    /// Unix seconds.
    pub now: i64,
    /// `aws:RequestedRegion`: the region the request's signature is scoped to.
    pub region: String,
}

/// Extra condition keys of one call.
#[derive(Default, Clone, Copy)]
pub struct CallKeys<'a> {
    /// Tags the request sets (`aws:RequestTag/*`, `aws:TagKeys`).
    pub request_tags: &'a [Tag],
    /// Keys the request removes (`aws:TagKeys` for Untag*).
    pub tag_keys: &'a [String],
    /// Tags of the target (`aws:ResourceTag/*`).
    pub resource_tags: &'a [Tag],
    /// Service-specific keys (`iam:PermissionsBoundary`, `sts:ExternalId`, ...).
    pub extra: &'a [(&'a str, &'a str)],
    /// Multivalued service-specific keys (`sts:TransitiveTagKeys`).
    pub multi: &'a [(&'a str, &'a [String])],
}

/// One question to the engine.
pub struct Question<'a> {
    pub action: &'a str,
    pub resource: &'a str,
    pub keys: CallKeys<'a>,
    /// The target's resource-based policy (a role's trust policy for `sts:AssumeRole`).
    pub resource_policy: Option<&'a PolicySet>,
    /// The account that owns the target, when it is not the caller's.
    pub resource_account: Option<&'a str>,
}

fn iso(unix: i64) -> Option<String> {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
}

/// Where condition keys go: the engine's context, or the list a denial reports.
trait KeySink {
    fn one(&mut self, key: &str, value: &str);
    fn many<'v>(&mut self, key: &str, values: impl Iterator<Item = &'v str>);
}

impl KeySink for RequestContext {
    fn one(&mut self, key: &str, value: &str) {
        self.insert(key, value);
    }

    fn many<'v>(&mut self, key: &str, values: impl Iterator<Item = &'v str>) {
        self.insert_multi(key, values);
    }
}

/// Condition keys as a denial message reports them: names as written, values in order.
#[derive(Default)]
struct KeyList(Vec<(String, Vec<String>)>);

impl KeyList {
    fn set(&mut self, key: &str, values: Vec<String>) {
        match self
            .0
            .iter_mut()
            .find(|(k, _)| k.to_lowercase() == key.to_lowercase())
        {
            Some(entry) => entry.1 = values,
            None => self.0.push((key.to_owned(), values)),
        }
    }
}

impl KeySink for KeyList {
    fn one(&mut self, key: &str, value: &str) {
        self.set(key, vec![value.to_owned()]);
    }

    fn many<'v>(&mut self, key: &str, values: impl Iterator<Item = &'v str>) {
        self.set(key, values.map(str::to_owned).collect());
    }
}

impl RequestEnv {
    fn add_keys(&self, sink: &mut impl KeySink) {
        if let Some(ip) = &self.source_ip {
            sink.one("aws:SourceIp", ip);
        }
        sink.one("aws:UserAgent", &self.user_agent);
        sink.one(
            "aws:SecureTransport",
            if self.secure_transport {
                "true"
            } else {
                "false"
            },
        );
        sink.one("aws:EpochTime", &self.now.to_string());
        if let Some(now) = iso(self.now) {
            sink.one("aws:CurrentTime", &now);
        }
        sink.one("aws:RequestedRegion", &self.region);
    }
}

/// The condition keys of the caller itself.
fn add_caller_keys(caller: &Caller, env: &RequestEnv, sink: &mut impl KeySink) {
    sink.one("aws:userid", &caller.user_id);
    for tag in &caller.tags {
        sink.one(&format!("aws:PrincipalTag/{}", tag.key), &tag.value);
    }
    if let Some(session) = &caller.session {
        if let Some(issued) = iso(session.issued_at) {
            sink.one("aws:TokenIssueTime", &issued);
        }
        match session.mfa_authenticated_at {
            Some(at) => {
                sink.one("aws:MultiFactorAuthPresent", "true");
                sink.one("aws:MultiFactorAuthAge", &(env.now - at).max(0).to_string());
            }
            None => sink.one("aws:MultiFactorAuthPresent", "false"),
        }
        if let Some(source) = &session.source_identity {
            sink.one("aws:SourceIdentity", source);
        }
        for (key, value) in &session.context {
            sink.one(key, value);
        }
    }
}

/// Every condition key of a call but those the engine derives from the principal.
fn add_keys(caller: &Caller, env: &RequestEnv, keys: CallKeys<'_>, sink: &mut impl KeySink) {
    env.add_keys(sink);
    add_caller_keys(caller, env, sink);
    for tag in keys.request_tags {
        sink.one(&format!("aws:RequestTag/{}", tag.key), &tag.value);
    }
    if !keys.request_tags.is_empty() {
        sink.many(
            "aws:TagKeys",
            keys.request_tags.iter().map(|t| t.key.as_str()),
        );
    } else if !keys.tag_keys.is_empty() {
        sink.many("aws:TagKeys", keys.tag_keys.iter().map(String::as_str));
    }
    for tag in keys.resource_tags {
        sink.one(&format!("aws:ResourceTag/{}", tag.key), &tag.value);
    }
    for (k, v) in keys.extra {
        sink.one(k, v);
    }
    for (k, values) in keys.multi {
        sink.many(k, values.iter().map(String::as_str));
    }
}

/// The request the engine decides.
fn request(caller: &Caller, env: &RequestEnv, q: &Question<'_>) -> Request {
    let mut context = RequestContext::new();
    add_keys(caller, env, q.keys, &mut context);
    let mut request = Request::new(caller.principal.clone(), q.action, q.resource, context);
    if let Some(account) = q.resource_account {
        request = request.with_resource_account(account);
    }
    request
}

/// Asks the engine about a caller that has no identity of its own (a web identity or SAML
/// identity before it has a session): only the resource policy can allow it.
pub fn decide_unauthenticated(
    principal: portcullis_policy::Principal,
    env: &RequestEnv,
    q: &Question<'_>,
) -> Decision {
    let mut context = RequestContext::new();
    env.add_keys(&mut context);
    let keys = q.keys;
    for (k, v) in keys.extra {
        context.insert(k, *v);
    }
    for (k, values) in keys.multi {
        context.insert_multi(k, values.iter().map(String::as_str));
    }
    let mut request = portcullis_policy::Request::new(principal, q.action, q.resource, context);
    if let Some(account) = q.resource_account {
        request = request.with_resource_account(account);
    }
    let inputs = PolicyInputs {
        resource: q.resource_policy,
        ..Default::default()
    };
    inputs.evaluate(&request)
}

/// The caller's compiled policies (shared, cached in the snapshot).
struct CallerPolicies {
    principal: Option<Arc<PrincipalPolicies>>,
    session: Option<Arc<PolicySet>>,
}

impl CallerPolicies {
    fn of(caller: &Caller, snapshot: &Snapshot) -> CallerPolicies {
        CallerPolicies {
            principal: caller.policies(snapshot),
            session: caller
                .session
                .as_ref()
                .and_then(|s| snapshot.session_policies(s)),
        }
    }

    fn inputs<'a>(&'a self, q: &Question<'a>) -> PolicyInputs<'a> {
        PolicyInputs {
            identity: self.principal.as_ref().map(|p| &p.identity),
            boundary: self.principal.as_ref().and_then(|p| p.boundary.as_ref()),
            session: self.session.as_deref(),
            resource: q.resource_policy,
            ..Default::default()
        }
    }
}

/// Asks the engine and turns a refusal into AWS's AccessDenied, whose message ends with the
/// explanation sealed for DecodeAuthorizationMessage.
pub fn authorize(
    service: &IamService,
    caller: &Caller,
    snapshot: &Snapshot,
    env: &RequestEnv,
    q: &Question<'_>,
) -> Result<(), ApiError> {
    decide_with(service, caller, snapshot, env, q, |decided| {
        if decided.decision.is_allowed() {
            Ok(())
        } else {
            Err(decided.denial(service))
        }
    })
}

/// The whole answer to a question: the decision, the statements that made it, and for a
/// refusal the AccessDenied [`authorize`] returns.
pub struct Ruling {
    pub decision: Decision,
    pub statements: Vec<MatchedItem>,
    pub denial: Option<ApiError>,
}

/// Like [`authorize`] (the same evaluation), answering with the decision and its matched
/// statements: what the authorization API reports to a service.
pub fn rule(
    service: &IamService,
    caller: &Caller,
    snapshot: &Snapshot,
    env: &RequestEnv,
    q: &Question<'_>,
) -> Ruling {
    decide_with(service, caller, snapshot, env, q, |decided| Ruling {
        statements: matched_items(decided.inputs, &decided.decision),
        denial: (!decided.decision.is_allowed()).then(|| decided.denial(service)),
        decision: decided.decision.clone(),
    })
}

/// A decision with what it was made from.
struct Decided<'a> {
    caller: &'a Caller,
    env: &'a RequestEnv,
    q: &'a Question<'a>,
    inputs: &'a PolicyInputs<'a>,
    request: &'a Request,
    decision: Decision,
}

impl Decided<'_> {
    /// AWS's AccessDenied for this (refused) request, with the sealed explanation: sealed for
    /// the caller's account, or for an anonymous caller the account that owns the resource.
    fn denial(&self, service: &IamService) -> ApiError {
        let (caller, q) = (self.caller, self.q);
        let explanation = explain(
            caller,
            self.env,
            q,
            self.inputs,
            self.request,
            &self.decision,
        );
        let account = match caller.identity {
            crate::auth::Identity::Anonymous => q.resource_account.unwrap_or(&caller.account_id),
            _ => &caller.account_id,
        };
        let encoded = service.seal_authorization_message(account, &explanation);
        let mut denied = access_denied(caller, q.action, q.resource, &self.decision);
        denied.message = format!(
            "{}. Encoded authorization failure message: {encoded}",
            denied.message
        );
        denied
    }
}

/// The one evaluation of a caller's question: its policies from the snapshot, the session's,
/// the resource policy and the condition keys → the engine's decision, handed to `answer`.
/// The attempt is noted for the access advisor.
fn decide_with<R>(
    service: &IamService,
    caller: &Caller,
    snapshot: &Snapshot,
    env: &RequestEnv,
    q: &Question<'_>,
    answer: impl FnOnce(Decided<'_>) -> R,
) -> R {
    let request = request(caller, env, q);
    let policies = CallerPolicies::of(caller, snapshot);
    let inputs = policies.inputs(q);
    let decision = inputs.evaluate(&request);
    // Every attempt of a user or role, allowed or not, is last-accessed data.
    if let Some(entity) = caller.entity_id() {
        service.record_action_use(&caller.account_id, entity, q.action, &env.region);
    }
    if crate::audit::recording() {
        crate::audit::note_decision(
            q.action,
            q.resource,
            &decision,
            &matched_items(&inputs, &decision),
        );
    }
    answer(Decided {
        caller,
        env,
        q,
        inputs: &inputs,
        request: &request,
        decision,
    })
}

/// Keys the engine adds from the principal, under the names AWS documents (the engine keeps
/// keys lowercased).
const PRINCIPAL_KEYS: [&str; 5] = [
    "aws:PrincipalArn",
    "aws:PrincipalAccount",
    "aws:PrincipalType",
    "aws:username",
    "aws:userid",
];

/// `{"items": [...]}`, as AWS's decoded messages wrap every list.
#[derive(Clone, Copy, Serialize)]
struct Items<'a, T> {
    items: &'a [T],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DecodedMessage<'a> {
    allowed: bool,
    explicit_deny: bool,
    matched_statements: Items<'a, MatchedItem>,
    /// For an implicit deny, the kind of policy that lacked an Allow (`identityPolicies`,
    /// `permissionsBoundary`, `sessionPolicy`, `resourcePolicy`).
    #[serde(skip_serializing_if = "Option::is_none")]
    missing_allow: Option<String>,
    failures: Items<'a, ()>,
    context: MessageContext<'a>,
}

/// A statement that took part in a decision, as decoded messages and the authorization API
/// report it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MatchedItem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement_id: Option<String>,
    pub effect: &'static str,
    /// The label of the statement's policy: a managed policy's ARN, `user/NAME:POLICY` for
    /// an inline policy, `ROLE_ARN trust policy`...
    pub policy: String,
    pub policy_type: String,
    pub statement_index: u32,
}

/// The statements of `decision`, each with the label of its policy.
fn matched_items(inputs: &PolicyInputs<'_>, decision: &Decision) -> Vec<MatchedItem> {
    decision
        .statements
        .iter()
        .filter_map(|m| {
            let set = inputs.set(m.source)?;
            let labeled = set.policies().get(m.id.policy as usize)?;
            let statement = set.statement(m.id)?;
            Some(MatchedItem {
                statement_id: statement.sid.clone(),
                effect: match m.effect {
                    Effect::Allow => "ALLOW",
                    Effect::Deny => "DENY",
                },
                policy: labeled.label.clone(),
                policy_type: m.source.to_string(),
                statement_index: m.id.statement,
            })
        })
        .collect()
}

#[derive(Serialize)]
struct MessageContext<'a> {
    principal: MessagePrincipal<'a>,
    action: &'a str,
    resource: &'a str,
    conditions: Items<'a, ConditionItem>,
}

#[derive(Serialize)]
struct MessagePrincipal<'a> {
    id: &'a str,
    arn: &'a str,
}

#[derive(Serialize)]
struct ConditionItem {
    key: String,
    values: ConditionValues,
}

impl ConditionItem {
    fn size(&self) -> usize {
        self.key.len()
            + self
                .values
                .items
                .iter()
                .map(|v| v.value.len())
                .sum::<usize>()
    }
}

#[derive(Serialize)]
struct ConditionValues {
    items: Vec<ConditionValue>,
}

#[derive(Serialize)]
struct ConditionValue {
    value: String,
}

/// The explanation of a denial, in the shape of AWS's decoded authorization messages: the
/// decision, the statements that made it (each with the label of its policy, so a reader can
/// find it), which kind of policy lacked an Allow for an implicit deny, and the request with
/// its condition keys. Kept within what DecodeAuthorizationMessage accepts: the largest
/// condition values are left out first, then the last statements.
fn explain(
    caller: &Caller,
    env: &RequestEnv,
    q: &Question<'_>,
    inputs: &PolicyInputs<'_>,
    request: &Request,
    decision: &Decision,
) -> String {
    let mut statements = matched_items(inputs, decision);

    let mut keys = KeyList::default();
    add_keys(caller, env, q.keys, &mut keys);
    let mut conditions = keys.0;
    for (lower, entry) in request.context.iter() {
        if conditions.iter().any(|(k, _)| k.to_lowercase() == lower) {
            continue;
        }
        let name = PRINCIPAL_KEYS
            .iter()
            .find(|k| k.eq_ignore_ascii_case(lower))
            .map_or_else(|| lower.to_owned(), |k| (*k).to_owned());
        let values = entry
            .values()
            .iter()
            .map(|v| v.as_str().to_owned())
            .collect();
        conditions.push((name, values));
    }
    conditions.sort_by(|a, b| a.0.cmp(&b.0));
    let mut conditions: Vec<ConditionItem> = conditions
        .into_iter()
        .map(|(key, values)| ConditionItem {
            key,
            values: ConditionValues {
                items: values
                    .into_iter()
                    .map(|value| ConditionValue { value })
                    .collect(),
            },
        })
        .collect();

    loop {
        let message = DecodedMessage {
            allowed: false,
            explicit_deny: decision.basis == Basis::ExplicitDeny,
            matched_statements: Items { items: &statements },
            missing_allow: decision.missing_allow().map(|m| m.to_string()),
            failures: Items { items: &[] },
            context: MessageContext {
                principal: MessagePrincipal {
                    id: &caller.user_id,
                    arn: &caller.arn,
                },
                action: q.action,
                resource: q.resource,
                conditions: Items { items: &conditions },
            },
        };
        let text = serde_json::to_string(&message).unwrap_or_default();
        if text.len() <= MAX_PLAINTEXT_LEN {
            return text;
        }
        if let Some((largest, _)) = conditions.iter().enumerate().max_by_key(|(_, c)| c.size()) {
            conditions.remove(largest);
        } else if statements.pop().is_none() {
            // Only the principal, action and resource are left, each of bounded length.
            return text;
        }
    }
}

/// `User: ARN is not authorized to perform: ACTION on resource: RESOURCE because ...`.
pub fn access_denied(
    caller: &Caller,
    action: &str,
    resource: &str,
    decision: &Decision,
) -> ApiError {
    let why = match decision.basis {
        Basis::ExplicitDeny => {
            let kind = match decision.statements.first().map(|s| s.source) {
                Some(PolicySource::PermissionsBoundary) => "a permissions boundary",
                Some(PolicySource::Session) => "a session policy",
                Some(PolicySource::Resource) => "a resource-based policy",
                _ => "an identity-based policy",
            };
            format!("with an explicit deny in {kind}")
        }
        Basis::MissingAllow(PolicySource::PermissionsBoundary) => {
            format!("because no permissions boundary allows the {action} action")
        }
        Basis::MissingAllow(PolicySource::Session) => {
            format!("because no session policy allows the {action} action")
        }
        Basis::MissingAllow(PolicySource::Resource) => {
            format!("because no resource-based policy allows the {action} action")
        }
        _ => format!("because no identity-based policy allows the {action} action"),
    };
    ApiError::access_denied(format!(
        "User: {} is not authorized to perform: {action} on resource: {resource} {why}",
        caller.arn
    ))
}
