//! Authorization of a call, shared by the IAM and STS APIs: the caller's compiled policies
//! (from the snapshot), its session policies, an optional resource policy, and the global
//! condition keys → the policy engine's decision → AWS's AccessDenied wording.

use portcullis_iam::Snapshot;
use portcullis_iam::model::Tag;
use portcullis_policy::{Basis, Decision, PolicyInputs, PolicySet, PolicySource, RequestContext};

use crate::auth::Caller;
use crate::error::ApiError;

/// Facts about the request that condition keys report.
#[derive(Debug, Clone)]
pub struct RequestEnv {
    pub source_ip: String,
    pub user_agent: String,
    pub secure_transport: bool,
    /// Unix seconds.
    pub now: i64,
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

impl RequestEnv {
    fn add_keys(&self, context: &mut RequestContext) {
        context.insert("aws:SourceIp", self.source_ip.as_str());
        context.insert("aws:UserAgent", self.user_agent.as_str());
        context.insert(
            "aws:SecureTransport",
            if self.secure_transport {
                "true"
            } else {
                "false"
            },
        );
        context.insert("aws:EpochTime", self.now.to_string());
        if let Some(now) = iso(self.now) {
            context.insert("aws:CurrentTime", now);
        }
        context.insert("aws:RequestedRegion", "us-east-1");
    }
}

/// The condition keys of the caller itself.
fn add_caller_keys(caller: &Caller, env: &RequestEnv, context: &mut RequestContext) {
    context.insert("aws:userid", caller.user_id.as_str());
    for tag in &caller.tags {
        context.insert(&format!("aws:PrincipalTag/{}", tag.key), tag.value.as_str());
    }
    if let Some(session) = &caller.session {
        if let Some(issued) = iso(session.issued_at) {
            context.insert("aws:TokenIssueTime", issued);
        }
        match session.mfa_authenticated_at {
            Some(at) => {
                context.insert("aws:MultiFactorAuthPresent", "true");
                context.insert("aws:MultiFactorAuthAge", (env.now - at).max(0).to_string());
            }
            None => context.insert("aws:MultiFactorAuthPresent", "false"),
        }
        if let Some(source) = &session.source_identity {
            context.insert("aws:SourceIdentity", source.as_str());
        }
    }
}

/// Asks the engine.
pub fn decide(
    caller: &Caller,
    snapshot: &Snapshot,
    env: &RequestEnv,
    q: &Question<'_>,
) -> Decision {
    let policies = caller.policies(snapshot);
    let mut context = RequestContext::new();
    env.add_keys(&mut context);
    add_caller_keys(caller, env, &mut context);
    let keys = q.keys;
    for tag in keys.request_tags {
        context.insert(&format!("aws:RequestTag/{}", tag.key), tag.value.as_str());
    }
    if !keys.request_tags.is_empty() {
        context.insert_multi(
            "aws:TagKeys",
            keys.request_tags.iter().map(|t| t.key.as_str()),
        );
    } else if !keys.tag_keys.is_empty() {
        context.insert_multi("aws:TagKeys", keys.tag_keys.iter().map(String::as_str));
    }
    for tag in keys.resource_tags {
        context.insert(&format!("aws:ResourceTag/{}", tag.key), tag.value.as_str());
    }
    for (k, v) in keys.extra {
        context.insert(k, *v);
    }
    for (k, values) in keys.multi {
        context.insert_multi(k, values.iter().map(String::as_str));
    }
    let mut request =
        portcullis_policy::Request::new(caller.principal.clone(), q.action, q.resource, context);
    if let Some(account) = q.resource_account {
        request = request.with_resource_account(account);
    }
    let session = caller
        .session
        .as_ref()
        .and_then(|s| snapshot.session_policies(s));
    let inputs = PolicyInputs {
        identity: policies.as_ref().map(|p| &p.identity),
        boundary: policies.as_ref().and_then(|p| p.boundary.as_ref()),
        session: session.as_deref(),
        resource: q.resource_policy,
        ..Default::default()
    };
    inputs.evaluate(&request)
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

/// Asks the engine and turns a refusal into AWS's AccessDenied.
pub fn authorize(
    caller: &Caller,
    snapshot: &Snapshot,
    env: &RequestEnv,
    q: &Question<'_>,
) -> Result<(), ApiError> {
    let decision = decide(caller, snapshot, env, q);
    if decision.is_allowed() {
        Ok(())
    } else {
        Err(access_denied(caller, q.action, q.resource, &decision))
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
