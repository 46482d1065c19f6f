//! The server's one audit point. Every request that reaches a door (the Query API for IAM,
//! STS and CloudTrail, the authorization API, forward auth, instance credentials) is served
//! inside an [`Audit`]: the door writes what it learns into the request's [`Facts`], every
//! decision `authz` makes on the request's thread is noted, and when the door has answered,
//! [`Audit::finish`] builds one CloudTrail event and hands it to the request's unit, which
//! commits it with the request's changes (or appends it: durable before the answer leaves,
//! or for an allowed read within the trail's batch window; see `Trail::durability_of`).

use std::cell::RefCell;
use std::collections::BTreeMap;

use portcullis_iam::audit::{
    AuditEvent, DecisionRecord, EVENT_VERSION, Resource, SessionAttributes, SessionContext,
    SessionIssuer, UserIdentity, redact,
};
use portcullis_iam::session::SessionPrincipal;
use portcullis_iam::{IamService, Recorded, Unit};
use serde_json::{Map, Value};

use crate::auth::{Caller, Identity};
use crate::authz::MatchedItem;
use crate::error::ApiError;
use crate::query::Params;

thread_local! {
    /// The decisions of the request served on this thread; `None` when nothing reads them
    /// (no trail, no metrics), so the decision path builds no record.
    static DECISIONS: RefCell<Option<Vec<DecisionRecord>>> = const { RefCell::new(None) };
}

/// Whether the request served on this thread keeps its decisions (ask before building the
/// arguments of [`note_decision`]).
pub(crate) fn recording() -> bool {
    DECISIONS.with(|d| d.borrow().is_some())
}

fn keep(record: DecisionRecord) {
    DECISIONS.with(|d| {
        if let Some(kept) = d.borrow_mut().as_mut() {
            kept.push(record);
        }
    });
}

/// Records a decision made on this thread for the request being served (called by `authz`
/// for every question it answers).
pub(crate) fn note_decision(
    action: &str,
    resource: &str,
    decision: &portcullis_policy::Decision,
    statements: &[MatchedItem],
) {
    let record = DecisionRecord {
        action: action.to_owned(),
        resource: resource.to_owned(),
        decision: if decision.is_allowed() {
            "Allow"
        } else if decision.basis == portcullis_policy::Basis::ExplicitDeny {
            "ExplicitDeny"
        } else {
            "ImplicitDeny"
        }
        .to_owned(),
        matched_statements: statements
            .iter()
            .map(|m| match &m.statement_id {
                Some(sid) => format!("{} {} #{} ({sid})", m.effect, m.policy, m.statement_index),
                None => format!("{} {} #{}", m.effect, m.policy, m.statement_index),
            })
            .collect(),
        missing_allow: decision.missing_allow().map(|m| m.to_string()),
    };
    keep(record);
}

/// The event source of Portcullis's own APIs for other services.
pub(crate) const PORTCULLIS_SOURCE: &str = "portcullis.amazonaws.com";

/// The authorization API's input as `requestParameters`: the question without the client's
/// headers and body (which carry its signature and session token).
pub(crate) fn authorize_parameters(body: &[u8]) -> Option<Value> {
    let mut v: Value = serde_json::from_slice(body).ok()?;
    if let Some(request) = v.get_mut("request").and_then(Value::as_object_mut) {
        request.remove("headers");
        request.remove("body");
    }
    Some(v)
}

/// The code and message of an error answer, XML (`<Code>`) or JSON (`error.code`).
fn error_of(body: &str) -> Option<(String, String)> {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        let e = v.get("error")?;
        return Some((
            e.get("code")?.as_str()?.to_owned(),
            e.get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        ));
    }
    let text = |tag: &str| {
        let open = format!("<{tag}>");
        let start = body.find(&open)? + open.len();
        let end = body[start..].find(&format!("</{tag}>"))? + start;
        Some(body[start..end].to_owned())
    };
    Some((text("Code")?, text("Message").unwrap_or_default()))
}

/// Records an action of the account's root user, which no policy decides.
pub(crate) fn note_root(action: &str, resource: &str) {
    if !recording() {
        return;
    }
    let record = DecisionRecord {
        action: action.to_owned(),
        resource: resource.to_owned(),
        decision: "Allow".to_owned(),
        matched_statements: vec!["ALLOW the account's root user".to_owned()],
        missing_allow: None,
    };
    keep(record);
}

/// What a door learned about its request.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    /// `iam.amazonaws.com`, `sts.amazonaws.com`, `portcullis.amazonaws.com`...
    pub event_source: String,
    pub event_name: String,
    pub region: String,
    pub source_ip: String,
    pub user_agent: String,
    /// Who made the request, once authenticated.
    pub caller: Option<Caller>,
    /// Who made it when no [`Caller`] exists (failed authentication, web identity).
    pub identity: Option<UserIdentity>,
    /// The account whose trail records the event (the caller's, or the one the request was
    /// made to).
    pub account_id: String,
    pub request_parameters: Option<Value>,
    pub response_elements: Option<Value>,
    pub error: Option<(String, String)>,
    /// Overrides the rule by name (Get*/List*/... are read-only).
    pub read_only: Option<bool>,
}

impl Facts {
    pub fn fail(&mut self, e: &ApiError) {
        self.error = Some((e.code.to_owned(), e.message.clone()));
    }

    /// A call to one of Portcullis's own APIs for other services (`Authorize`,
    /// `ForwardAuth`, `GetInstanceCredentials`): read-only, as every decision is.
    pub fn portcullis_call(&mut self, name: &str) {
        self.event_source = PORTCULLIS_SOURCE.to_owned();
        self.event_name = name.to_owned();
        self.read_only = Some(true);
    }

    /// Notes a successful answer's elements, as CloudTrail keeps them: for the actions that
    /// change something or issue credentials, not for reads (`elements` is not even built
    /// for those).
    pub fn answered(&mut self, elements: impl FnOnce() -> Option<Value>) {
        let read_only = self
            .read_only
            .unwrap_or_else(|| read_only_by_name(&self.event_name));
        if !read_only || ISSUES_CREDENTIALS.contains(&self.event_name.as_str()) {
            self.response_elements = elements();
        }
    }

    /// Notes who an authentication found (the caller, its account and region), or for a
    /// failed one the key `signed` presented; passes `result` on.
    pub fn authenticated(
        &mut self,
        signed: &portcullis_sigv4::Request<'_>,
        result: Result<(Caller, String), ApiError>,
    ) -> Result<(Caller, String), ApiError> {
        match &result {
            Ok((caller, region)) => {
                self.region = region.clone();
                self.account_id = caller.account_id.clone();
                self.caller = Some(caller.clone());
            }
            Err(_) => {
                let key = portcullis_sigv4::parse(signed).ok();
                self.identity = Some(unauthenticated(key.as_ref().map(|a| a.access_key_id())));
            }
        }
        result
    }
}

/// The audit of one request: open while the door serves it.
pub(crate) struct Audit<'a> {
    unit: Unit<'a>,
    pub facts: Facts,
    began: std::time::Instant,
}

impl<'a> Audit<'a> {
    /// Opens the audit of the request served on this thread; its decisions are kept when
    /// the service is audited or `counted` (metrics are served).
    pub fn begin(service: &'a IamService, counted: bool) -> Audit<'a> {
        let keep = service.audited() || counted;
        DECISIONS.with(|d| *d.borrow_mut() = keep.then(Vec::new));
        Audit {
            unit: service.begin(),
            facts: Facts::default(),
            began: std::time::Instant::now(),
        }
    }

    /// Records the request and commits what it changed. An `Err` means nothing was changed
    /// or recorded: the door answers it instead of its own answer. The request is answered
    /// once the returned [`Recorded`] resolves to `Ok` (its event is durable then; an `Err`
    /// is answered as [`portcullis_iam::not_stored`]).
    pub fn finish(
        mut self,
        service: &IamService,
        metrics: Option<&crate::metrics::Metrics>,
        request_id: &str,
        status: u16,
        body: &str,
    ) -> Result<Recorded, ApiError> {
        if status >= 400 && self.facts.error.is_none() {
            self.facts.error = error_of(body);
        }
        let decisions = DECISIONS
            .with(|d| d.borrow_mut().take())
            .unwrap_or_default();
        if let Some(metrics) = metrics {
            metrics.observe(&crate::metrics::Observed {
                source: &self.facts.event_source,
                action: &self.facts.event_name,
                error_code: self.facts.error.as_ref().map(|(code, _)| code.as_str()),
                unauthenticated: self.facts.caller.is_none(),
                decisions: &decisions,
                seconds: self.began.elapsed().as_secs_f64(),
            });
        }
        let event = service
            .audited()
            .then(|| event(self.facts, decisions, service, request_id));
        self.unit.finish(event).map_err(ApiError::from)
    }
}

/// The read-only actions whose answer is recorded: the credentials they issue (secrets
/// redacted) say which key a later event's caller used.
const ISSUES_CREDENTIALS: &[&str] = &[
    "GetSessionToken",
    "GetFederationToken",
    "GetInstanceCredentials",
];

/// Whether CloudTrail marks an action read-only.
fn read_only_by_name(name: &str) -> bool {
    [
        "Get",
        "List",
        "Describe",
        "Lookup",
        "Simulate",
        "Decode",
        "Authorize",
    ]
    .iter()
    .any(|p| name.starts_with(p))
}

fn iso(unix_ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix_ms.div_euclid(1000))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// CloudTrail's resource type of an ARN.
fn resource_type(arn: &str) -> Option<&'static str> {
    let mut parts = arn.splitn(6, ':');
    let (_, _, service, _, _, rest) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let kind = rest.split('/').next()?;
    Some(match (service, kind) {
        ("iam", "user") => "AWS::IAM::User",
        ("iam", "group") => "AWS::IAM::Group",
        ("iam", "role") => "AWS::IAM::Role",
        ("iam", "policy") => "AWS::IAM::Policy",
        ("iam", "instance-profile") => "AWS::IAM::InstanceProfile",
        ("iam", "oidc-provider") => "AWS::IAM::OIDCProvider",
        ("iam", "saml-provider") => "AWS::IAM::SAMLProvider",
        ("iam", "server-certificate") => "AWS::IAM::ServerCertificate",
        ("iam", "mfa") => "AWS::IAM::VirtualMFADevice",
        ("iam", "root") => "AWS::IAM::Account",
        ("sts", "assumed-role") => "AWS::STS::AssumedRole",
        ("sts", "federated-user") => "AWS::STS::FederatedUser",
        ("s3", _) => "AWS::S3::Object",
        _ => return None,
    })
}

fn event(
    facts: Facts,
    decisions: Vec<DecisionRecord>,
    service: &IamService,
    request_id: &str,
) -> (AuditEvent, i64) {
    let time_ms = now_ms();
    let user_identity = match (&facts.caller, facts.identity) {
        (Some(caller), _) => identity(caller, service),
        (None, Some(identity)) => identity,
        (None, None) => UserIdentity {
            kind: "Unknown".into(),
            ..UserIdentity::default()
        },
    };
    let mut resources: Vec<Resource> = Vec::new();
    for d in &decisions {
        if let Some(kind) = resource_type(&d.resource) {
            if !resources.iter().any(|r| r.arn == d.resource) {
                let account_id = d.resource.split(':').nth(4).unwrap_or_default().to_owned();
                resources.push(Resource {
                    arn: d.resource.clone(),
                    account_id,
                    kind: kind.to_owned(),
                });
            }
        }
    }
    let read_only = facts
        .read_only
        .unwrap_or_else(|| read_only_by_name(&facts.event_name));
    let (error_code, error_message) = match facts.error {
        Some((c, m)) => (Some(c), Some(m)),
        None => (None, None),
    };
    let event = AuditEvent {
        event_version: EVENT_VERSION.to_owned(),
        user_identity,
        event_time: iso(time_ms),
        event_source: facts.event_source,
        event_name: facts.event_name,
        aws_region: facts.region,
        source_ip_address: facts.source_ip,
        user_agent: (!facts.user_agent.is_empty()).then_some(facts.user_agent),
        error_code,
        error_message,
        request_parameters: facts.request_parameters.map(redact),
        response_elements: facts.response_elements.map(redact),
        request_id: request_id.to_owned(),
        event_id: portcullis_iam::ids::new_request_id(),
        read_only,
        resources,
        event_type: "AwsApiCall".to_owned(),
        management_event: true,
        recipient_account_id: facts.account_id,
        portcullis_decisions: decisions,
    };
    (event, time_ms)
}

/// CloudTrail's `userIdentity` of an authenticated caller.
pub(crate) fn identity(caller: &Caller, service: &IamService) -> UserIdentity {
    let mut identity = UserIdentity {
        principal_id: Some(caller.user_id.clone()),
        arn: Some(caller.arn.clone()),
        account_id: Some(caller.account_id.clone()),
        access_key_id: (!caller.access_key_id.is_empty()).then(|| caller.access_key_id.clone()),
        ..UserIdentity::default()
    };
    identity.kind = match &caller.identity {
        Identity::Root => "Root",
        Identity::User { name } => {
            identity.user_name = Some(name.clone());
            "IAMUser"
        }
        Identity::AssumedRole { .. } => "AssumedRole",
        Identity::FederatedUser { .. } => "FederatedUser",
        Identity::Anonymous => {
            identity.access_key_id = None;
            "Unknown"
        }
    }
    .to_owned();
    if let Some(claims) = &caller.session {
        let issuer = match &claims.principal {
            SessionPrincipal::AssumedRole {
                role_name,
                role_path,
                role_id,
                ..
            } => Some(SessionIssuer {
                kind: "Role".into(),
                principal_id: role_id.clone(),
                arn: format!(
                    "arn:aws:iam::{}:role{role_path}{role_name}",
                    caller.account_id
                ),
                account_id: caller.account_id.clone(),
                user_name: role_name.clone(),
            }),
            SessionPrincipal::FederatedUser {
                federating_user,
                federating_user_id,
                ..
            } if federating_user.is_empty() => Some(SessionIssuer {
                kind: "Root".into(),
                principal_id: federating_user_id.clone(),
                arn: format!("arn:aws:iam::{}:root", caller.account_id),
                account_id: caller.account_id.clone(),
                user_name: "root".into(),
            }),
            SessionPrincipal::FederatedUser {
                federating_user,
                federating_user_id,
                ..
            } => {
                let path = service
                    .snapshot()
                    .state
                    .accounts
                    .get(&caller.account_id)
                    .and_then(|a| a.users.get(&federating_user.to_lowercase()))
                    .map(|u| u.path.clone())
                    .unwrap_or_else(|| "/".into());
                Some(SessionIssuer {
                    kind: "IAMUser".into(),
                    principal_id: federating_user_id.clone(),
                    arn: format!(
                        "arn:aws:iam::{}:user{path}{federating_user}",
                        caller.account_id
                    ),
                    account_id: caller.account_id.clone(),
                    user_name: federating_user.clone(),
                })
            }
            SessionPrincipal::User { .. } => None,
        };
        identity.session_context = Some(SessionContext {
            session_issuer: issuer,
            attributes: SessionAttributes {
                creation_date: iso(claims.issued_at * 1000),
                mfa_authenticated: claims.mfa_authenticated_at.is_some().to_string(),
            },
            source_identity: claims.source_identity.clone(),
        });
    }
    identity
}

/// The identity of a request whose authentication failed: only the key it presented.
pub(crate) fn unauthenticated(access_key_id: Option<&str>) -> UserIdentity {
    UserIdentity {
        kind: "Unknown".into(),
        access_key_id: access_key_id.map(str::to_owned),
        ..UserIdentity::default()
    }
}

/// The identity of an AssumeRoleWithWebIdentity request, before its token is checked: a web
/// identity user asking for the role.
pub(crate) fn web_identity(role_arn: &str) -> UserIdentity {
    UserIdentity {
        kind: "WebIdentityUser".into(),
        account_id: role_arn
            .split(':')
            .nth(4)
            .filter(|a| !a.is_empty())
            .map(str::to_owned),
        ..UserIdentity::default()
    }
}

/// The identity of an AssumeRoleWithSAML request, before its response is checked: a SAML
/// user asking for the role.
pub(crate) fn saml_user(role_arn: &str) -> UserIdentity {
    UserIdentity {
        kind: "SAMLUser".into(),
        ..web_identity(role_arn)
    }
}

/// `UserName` → `userName`, as CloudTrail names parameters.
fn camel(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

enum Tree {
    Leaf(String),
    Map(BTreeMap<String, Tree>),
    List(BTreeMap<u64, Tree>),
}

impl Tree {
    fn into_value(self) -> Value {
        match self {
            Tree::Leaf(s) => Value::String(s),
            Tree::Map(m) => Value::Object(
                m.into_iter()
                    .map(|(k, v)| (k, v.into_value()))
                    .collect::<Map<_, _>>(),
            ),
            Tree::List(l) => Value::Array(l.into_values().map(Tree::into_value).collect()),
        }
    }
}

/// A Query request's parameters as CloudTrail's `requestParameters`: `Tags.member.1.Key`
/// becomes `{"tags": [{"key": ...}]}`; `Action` and `Version` are not parameters.
pub(crate) fn query_parameters(params: &Params) -> Option<Value> {
    let mut root = BTreeMap::new();
    for (name, value) in params.pairs() {
        if matches!(name, "Action" | "Version") {
            continue;
        }
        let parts: Vec<&str> = name.split('.').collect();
        insert(&mut root, &parts, value);
    }
    (!root.is_empty()).then(|| Tree::Map(root).into_value())
}

fn insert(map: &mut BTreeMap<String, Tree>, parts: &[&str], value: &str) {
    let Some((first, rest)) = parts.split_first() else {
        return;
    };
    let key = camel(first);
    // `Name.member.N.rest` (and `entry`, for maps) is element N of the list `name`.
    if let [marker, index, tail @ ..] = rest {
        if matches!(*marker, "member" | "entry") {
            if let Ok(i) = index.parse::<u64>() {
                let list = map
                    .entry(key)
                    .or_insert_with(|| Tree::List(BTreeMap::new()));
                if let Tree::List(items) = list {
                    if tail.is_empty() {
                        items.insert(i, Tree::Leaf(value.to_owned()));
                    } else {
                        let item = items.entry(i).or_insert_with(|| Tree::Map(BTreeMap::new()));
                        if let Tree::Map(m) = item {
                            insert(m, tail, value);
                        }
                    }
                }
                return;
            }
        }
    }
    if rest.is_empty() {
        map.insert(key, Tree::Leaf(value.to_owned()));
    } else {
        let child = map.entry(key).or_insert_with(|| Tree::Map(BTreeMap::new()));
        if let Tree::Map(m) = child {
            insert(m, rest, value);
        }
    }
}

/// A response's result (the inside of `<ActionResult>`) as CloudTrail's `responseElements`:
/// elements become camelCase fields, `<member>` lists arrays. `None` for an empty result.
pub(crate) fn response_elements(result_xml: &str) -> Option<Value> {
    use quick_xml::events::Event;
    let wrapped = format!("<r>{result_xml}</r>");
    let mut reader = quick_xml::Reader::from_str(&wrapped);
    /// An open element: its name, its children so far, its text.
    type Open = (String, Vec<(String, Value)>, String);
    let mut stack: Vec<Open> = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                stack.push((name, Vec::new(), String::new()));
            }
            Ok(Event::Empty(e)) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if let Some(parent) = stack.last_mut() {
                    parent.1.push((name, Value::String(String::new())));
                }
            }
            Ok(Event::Text(t)) => {
                if let (Some(top), Ok(text)) = (stack.last_mut(), t.decode()) {
                    let text = quick_xml::escape::unescape(&text)
                        .map(|c| c.into_owned())
                        .unwrap_or_else(|_| text.into_owned());
                    top.2.push_str(&text);
                }
            }
            Ok(Event::GeneralRef(r)) => {
                if let Some(top) = stack.last_mut() {
                    let name = String::from_utf8_lossy(&r).into_owned();
                    let resolved = match name.as_str() {
                        "lt" => "<".to_owned(),
                        "gt" => ">".to_owned(),
                        "amp" => "&".to_owned(),
                        "quot" => "\"".to_owned(),
                        "apos" => "'".to_owned(),
                        _ => r
                            .resolve_char_ref()
                            .ok()
                            .flatten()
                            .map(String::from)
                            .unwrap_or_default(),
                    };
                    top.2.push_str(&resolved);
                }
            }
            Ok(Event::End(_)) => {
                let (name, children, text) = stack.pop()?;
                let value = if children.is_empty() {
                    Value::String(text)
                } else if children.iter().all(|(n, _)| n == "member") {
                    Value::Array(children.into_iter().map(|(_, v)| v).collect())
                } else {
                    Value::Object(
                        children
                            .into_iter()
                            .map(|(n, v)| (camel(&n), v))
                            .collect::<Map<_, _>>(),
                    )
                };
                match stack.last_mut() {
                    Some(parent) => parent.1.push((name, value)),
                    None => {
                        return match value {
                            Value::String(s) if s.is_empty() => None,
                            v => Some(v),
                        };
                    }
                }
            }
            Ok(Event::Eof) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_lists_and_maps_become_json() {
        let params = Params::parse(
            b"Action=CreateUser&Version=2010-05-08&UserName=bob&Tags.member.1.Key=team&Tags.member.1.Value=red&Tags.member.2.Key=env&PolicyArns.member.1.arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FX",
        );
        let v = query_parameters(&params).expect("parameters");
        assert_eq!(
            v,
            serde_json::json!({
                "userName": "bob",
                "tags": [{"key": "team", "value": "red"}, {"key": "env"}],
                "policyArns": [{"arn": "arn:aws:iam::aws:policy/X"}],
            })
        );
    }

    #[test]
    fn results_become_camel_case_json_with_member_lists() {
        let xml = "<User><UserName>bob &amp; co</UserName><Tags><member><Key>k</Key><Value>v</Value></member></Tags></User><IsTruncated>false</IsTruncated>";
        assert_eq!(
            response_elements(xml),
            Some(serde_json::json!({
                "user": {"userName": "bob & co", "tags": [{"key": "k", "value": "v"}]},
                "isTruncated": "false",
            }))
        );
        assert_eq!(response_elements(""), None);
    }

    #[test]
    fn secrets_in_results_are_hidden() {
        let xml = "<AccessKey><AccessKeyId>AKIA1</AccessKeyId><SecretAccessKey>s3cr3t</SecretAccessKey></AccessKey>";
        let v = redact(response_elements(xml).expect("elements"));
        assert_eq!(
            v["accessKey"]["secretAccessKey"],
            "HIDDEN_DUE_TO_SECURITY_REASONS"
        );
        assert_eq!(v["accessKey"]["accessKeyId"], "AKIA1");
    }
}
