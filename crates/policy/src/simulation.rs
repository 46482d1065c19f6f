//! The simulation format of `portcullis policy simulate`: a request plus the policies that bear
//! on it, in JSON, and the decision written back as JSON. The test suite uses the same format.
//!
//! ```json
//! {
//!   "request": {"principal": "arn:aws:iam::111122223333:user/alice", "action": "s3:GetObject",
//!               "resource": "arn:aws:s3:::bucket/key", "resourceAccount": "111122223333",
//!               "context": {"aws:SourceIp": "10.0.0.1", "aws:TagKeys": ["a", "b"]}},
//!   "identityPolicies": [{...}], "permissionsBoundary": {...}, "sessionPolicy": {...},
//!   "resourcePolicy": {...}, "serviceControlPolicies": [[{...}], [{...}]],
//!   "resourceControlPolicies": [[{...}]]
//! }
//! ```
//! For a federated-user principal (`arn:aws:sts::A:federated-user/NAME`),
//! `request.federatingUser` names the IAM user whose GetFederationToken call made the session
//! (`arn:aws:iam::A:user/NAME`): a resource policy naming that user reaches the session.
//! A policy may also be given as a string holding its JSON text. `sessionPolicy` may be an
//! array (inline and managed session policies together).

use serde_json::{Map, Value, json};

use crate::context::RequestContext;
use crate::evaluate::{Decision, PolicyInputs, is_trust_request};
use crate::json::Json;
use crate::policy_set::{LabeledPolicy, PolicySet};
use crate::principal::Principal;
use crate::request::Request;
use crate::validate::{PolicyKind, parse_policy};

/// A parsed and compiled simulation: ready to evaluate any number of times.
#[derive(Debug, Clone)]
pub struct Simulation {
    pub request: Request,
    identity: Option<PolicySet>,
    boundary: Option<PolicySet>,
    session: Option<PolicySet>,
    resource: Option<PolicySet>,
    service_control: Vec<PolicySet>,
    resource_control: Vec<PolicySet>,
}

/// A simulation input that cannot be used, with where the problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulationError(pub String);

impl std::fmt::Display for SimulationError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SimulationError {}

fn err<T>(message: impl Into<String>) -> Result<T, SimulationError> {
    Err(SimulationError(message.into()))
}

/// Parses simulation input text: one simulation object, or an array of them. The flag says
/// whether the input was an array (so the output should be one too).
pub fn parse_simulations(
    text: &str,
    now: time::OffsetDateTime,
) -> Result<(Vec<Simulation>, bool), SimulationError> {
    let json =
        Json::parse(text).map_err(|e| SimulationError(format!("input is not valid JSON: {e}")))?;
    match json {
        Json::Array(items) => {
            let sims = items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    Simulation::from_json(item, now)
                        .map_err(|e| SimulationError(format!("[{i}]: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok((sims, true))
        }
        other => Ok((vec![Simulation::from_json(&other, now)?], false)),
    }
}

fn field<'j>(fields: &'j [(String, Json)], name: &str) -> Option<&'j Json> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn policy_text(value: &Json, at: &str) -> Result<String, SimulationError> {
    match value {
        Json::String(text) => Ok(text.clone()),
        obj @ Json::Object(_) => Ok(obj.to_text()),
        other => err(format!(
            "{at}: a policy must be a JSON object or a string, not {}",
            other.kind()
        )),
    }
}

fn compile(value: &Json, label: &str, kind: PolicyKind) -> Result<LabeledPolicy, SimulationError> {
    let text = policy_text(value, label)?;
    match parse_policy(&text, kind) {
        Ok(policy) => Ok(LabeledPolicy {
            label: label.to_owned(),
            policy,
        }),
        Err(e) => err(format!("{label} ({kind} policy): {e}")),
    }
}

fn policy_list(
    value: &Json,
    label: &str,
    kind: PolicyKind,
) -> Result<Vec<LabeledPolicy>, SimulationError> {
    match value {
        Json::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| compile(item, &format!("{label}[{i}]"), kind))
            .collect(),
        other => err(format!(
            "{label} must be an array of policies, not {}",
            other.kind()
        )),
    }
}

fn levels(value: &Json, label: &str, kind: PolicyKind) -> Result<Vec<PolicySet>, SimulationError> {
    let Json::Array(levels) = value else {
        return err(format!(
            "{label} must be an array of levels, each an array of policies"
        ));
    };
    levels
        .iter()
        .enumerate()
        .map(|(l, level)| policy_list(level, &format!("{label}[{l}]"), kind).map(PolicySet::new))
        .collect()
}

fn string_field(fields: &[(String, Json)], name: &str) -> Result<Option<String>, SimulationError> {
    match field(fields, name) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s.clone())),
        Some(other) => err(format!(
            "request.{name} must be a string, not {}",
            other.kind()
        )),
    }
}

fn parse_context(
    value: Option<&Json>,
    now: time::OffsetDateTime,
) -> Result<RequestContext, SimulationError> {
    let mut context = RequestContext::new();
    match value {
        None | Some(Json::Null) => {}
        Some(Json::Object(entries)) => {
            for (key, value) in entries {
                match value {
                    Json::Array(items) => {
                        let values = items
                            .iter()
                            .map(|v| {
                                v.scalar_text().ok_or_else(|| {
                                    SimulationError(format!(
                                        "request.context.{key}: values must be strings"
                                    ))
                                })
                            })
                            .collect::<Result<Vec<String>, _>>()?;
                        context.insert_multi(key, values);
                    }
                    scalar => match scalar.scalar_text() {
                        Some(text) => context.insert(key, text),
                        None => {
                            return err(format!(
                                "request.context.{key}: a value must be a string or an array of strings"
                            ));
                        }
                    },
                }
            }
        }
        Some(other) => {
            return err(format!(
                "request.context must be an object, not {}",
                other.kind()
            ));
        }
    }
    if !context.contains("aws:CurrentTime") {
        let formatted = now.replace_nanosecond(0).ok().and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        });
        if let Some(formatted) = formatted {
            context.insert("aws:CurrentTime", formatted);
        }
    }
    context.insert_default("aws:EpochTime", now.unix_timestamp().to_string());
    Ok(context)
}

/// `request.federatingUser`: an IAM user of the session's own account.
fn federating_user(
    req: &[(String, Json)],
    account: &str,
) -> Result<Option<String>, SimulationError> {
    let Some(user) = string_field(req, "federatingUser")? else {
        return Ok(None);
    };
    match Principal::parse(&user) {
        Ok(Principal::User { account: a, .. }) if a == account => Ok(Some(user)),
        _ => err(format!(
            "request.federatingUser: \"{user}\" is not an IAM user of account {account} (arn:aws:iam::{account}:user/NAME)"
        )),
    }
}

impl Simulation {
    fn from_json(value: &Json, now: time::OffsetDateTime) -> Result<Simulation, SimulationError> {
        let Json::Object(fields) = value else {
            return err(format!(
                "a simulation must be a JSON object, not {}",
                value.kind()
            ));
        };
        const KNOWN: [&str; 7] = [
            "request",
            "identityPolicies",
            "permissionsBoundary",
            "sessionPolicy",
            "resourcePolicy",
            "serviceControlPolicies",
            "resourceControlPolicies",
        ];
        if let Some((unknown, _)) = fields
            .iter()
            .find(|(k, _)| !KNOWN.contains(&k.as_str()) && !k.starts_with('_'))
        {
            return err(format!(
                "unknown field \"{unknown}\" (expected one of {})",
                KNOWN.join(", ")
            ));
        }
        let Some(Json::Object(req)) = field(fields, "request") else {
            return err("\"request\" (an object) is required");
        };
        let principal_text = string_field(req, "principal")?
            .ok_or_else(|| SimulationError("request.principal is required".into()))?;
        let principal = Principal::parse(&principal_text)
            .map_err(|e| SimulationError(format!("request.principal: {e}")))?;
        let action = string_field(req, "action")?
            .ok_or_else(|| SimulationError("request.action is required".into()))?;
        let resource = string_field(req, "resource")?.unwrap_or_else(|| "*".to_owned());
        let context = parse_context(field(req, "context"), now)?;
        // A role session's role ARN (with its path) may be given as aws:PrincipalArn.
        let principal = match principal {
            Principal::AssumedRole {
                arn,
                account,
                role_name,
                session_name,
                role_arn,
            } => Principal::AssumedRole {
                role_arn: context
                    .single_value("aws:principalarn")
                    .map_or(role_arn, str::to_owned),
                arn,
                account,
                role_name,
                session_name,
            },
            Principal::FederatedUser {
                arn,
                account,
                name,
                user_arn: _,
            } => Principal::FederatedUser {
                user_arn: federating_user(req, &account)?,
                arn,
                account,
                name,
            },
            other => {
                if field(req, "federatingUser").is_some() {
                    return err(
                        "request.federatingUser applies only to a federated-user principal (arn:aws:sts::ACCOUNT:federated-user/NAME)",
                    );
                }
                other
            }
        };
        let mut request = Request::new(principal, &action, &resource, context);
        if let Some(account) = string_field(req, "resourceAccount")? {
            request = request.with_resource_account(account);
        }
        let trust = is_trust_request(&request);

        let identity = field(fields, "identityPolicies")
            .map(|v| policy_list(v, "identityPolicies", PolicyKind::Identity).map(PolicySet::new))
            .transpose()?;
        let boundary = field(fields, "permissionsBoundary")
            .map(|v| {
                compile(v, "permissionsBoundary", PolicyKind::Boundary)
                    .map(|p| PolicySet::new(vec![p]))
            })
            .transpose()?;
        let session = match field(fields, "sessionPolicy") {
            None | Some(Json::Null) => None,
            Some(list @ Json::Array(_)) => Some(PolicySet::new(policy_list(
                list,
                "sessionPolicy",
                PolicyKind::Session,
            )?)),
            Some(one) => Some(PolicySet::new(vec![compile(
                one,
                "sessionPolicy",
                PolicyKind::Session,
            )?])),
        };
        let resource_kind = if trust {
            PolicyKind::Trust
        } else {
            PolicyKind::Resource
        };
        let resource_policy = match field(fields, "resourcePolicy") {
            None | Some(Json::Null) => None,
            Some(v) => Some(PolicySet::new(vec![compile(
                v,
                "resourcePolicy",
                resource_kind,
            )?])),
        };
        let service_control = field(fields, "serviceControlPolicies")
            .map(|v| levels(v, "serviceControlPolicies", PolicyKind::ServiceControl))
            .transpose()?
            .unwrap_or_default();
        let resource_control = field(fields, "resourceControlPolicies")
            .map(|v| levels(v, "resourceControlPolicies", PolicyKind::Resource))
            .transpose()?
            .unwrap_or_default();
        Ok(Simulation {
            request,
            identity,
            boundary,
            session,
            resource: resource_policy,
            service_control,
            resource_control,
        })
    }

    /// The compiled policies, as the engine takes them.
    pub fn inputs(&self) -> PolicyInputs<'_> {
        PolicyInputs {
            identity: self.identity.as_ref(),
            boundary: self.boundary.as_ref(),
            session: self.session.as_ref(),
            resource: self.resource.as_ref(),
            service_control: &self.service_control,
            resource_control: &self.resource_control,
        }
    }

    pub fn evaluate(&self) -> Decision {
        self.inputs().evaluate(&self.request)
    }

    /// Total number of statements in all the policies.
    pub fn statement_count(&self) -> usize {
        let inputs = self.inputs();
        [
            inputs.identity,
            inputs.boundary,
            inputs.session,
            inputs.resource,
        ]
        .into_iter()
        .flatten()
        .chain(inputs.service_control)
        .chain(inputs.resource_control)
        .map(PolicySet::statement_count)
        .sum()
    }

    /// The result object of the simulation format.
    pub fn result_json(&self, decision: &Decision) -> Value {
        let inputs = self.inputs();
        let statements: Vec<Value> = decision
            .statements
            .iter()
            .filter_map(|m| {
                let set = inputs.set(m.source)?;
                let labeled = set.policies().get(m.id.policy as usize)?;
                let statement = set.statement(m.id)?;
                let mut obj = Map::new();
                obj.insert("policy".into(), json!(labeled.label));
                obj.insert("statementIndex".into(), json!(m.id.statement));
                obj.insert(
                    "sid".into(),
                    statement.sid.as_ref().map_or(Value::Null, |s| json!(s)),
                );
                obj.insert("effect".into(), json!(m.effect.to_string()));
                Some(Value::Object(obj))
            })
            .collect();
        let mut out = Map::new();
        out.insert("decision".into(), json!(decision.outcome.as_str()));
        out.insert("reason".into(), json!(decision.basis.to_string()));
        if let Some(missing) = decision.missing_allow() {
            out.insert("missingAllow".into(), json!(missing.to_string()));
        }
        out.insert("matchedStatements".into(), Value::Array(statements));
        Value::Object(out)
    }
}
