//! `POST /v1/instance-credentials` (JSON): the role credentials of an instance profile, for
//! the `portcullis agent` that serves them to a host's workloads as EC2's instance metadata
//! service does.
//!
//! The agent signs with its own credentials (signing name `portcullis`). Each call is judged
//! as EC2 judges launching an instance with a profile, and as EC2 then assumes its role:
//! - the agent must be allowed `iam:PassRole` on the profile's role, with
//!   `iam:PassedToService` = `ec2.amazonaws.com` and `iam:AssociatedResourceArn` = the
//!   instance's ARN (every call: a profile emptied of its role, or a PassRole taken away, ends
//!   the deliveries);
//! - the role's trust policy must allow `sts:AssumeRole` to `Service: ec2.amazonaws.com`.
//!
//! The session is `assumed-role/ROLE/INSTANCE_ID`; every request it signs carries
//! `ec2:RoleDelivery` and `ec2:SourceInstanceARN`, as AWS sets them for instance credentials.
//! The answer is the JSON the instance metadata service serves at
//! `/latest/meta-data/iam/security-credentials/ROLE`, plus the profile and role.

use portcullis_iam::ops;
use portcullis_iam::session::SessionPrincipal;
use portcullis_policy::Principal;
use serde::{Deserialize, Serialize};

use crate::app::{AppState, Incoming};
use crate::audit::Facts;
use crate::authorize_api::{ServiceCall, authenticate_service, refusal};
use crate::authz::{self, CallKeys, Question};
use crate::error::ApiError;
use crate::sts_api::iso;

/// Where the API is served.
pub const PATH: &str = "/v1/instance-credentials";
/// The service principal instance roles trust.
pub const EC2: &str = "ec2.amazonaws.com";
/// The shortest session this API issues: shorter than STS's 900 s, so that renewal can be
/// seen within a test; the agent asks for an hour by default.
pub const MIN_DURATION: i64 = 60;
/// The longest: six hours, as EC2's instance credentials, within the role's maximum.
pub const MAX_DURATION: i64 = 6 * 3600;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Input {
    instance_profile_name: String,
    /// `i-` and 8 or 17 hex digits, chosen (and kept) by the agent.
    instance_id: String,
    #[serde(default)]
    duration_seconds: Option<i64>,
    /// Whether the agent requires IMDSv2 tokens (`ec2:RoleDelivery` 2.0) or also serves
    /// IMDSv1 (1.0).
    #[serde(default = "imds_v2")]
    imds_v2_required: bool,
}

fn imds_v2() -> bool {
    true
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Answer<'a> {
    code: &'static str,
    last_updated: String,
    #[serde(rename = "Type")]
    kind: &'static str,
    access_key_id: &'a str,
    secret_access_key: &'a str,
    token: &'a str,
    expiration: String,
    instance_profile_arn: String,
    instance_profile_id: &'a str,
    role_name: &'a str,
    role_arn: String,
    instance_arn: String,
    account_id: &'a str,
    region: &'a str,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new("InvalidParameterValue", 400, message)
}

/// `i-` and 8 or 17 lowercase hex digits, as EC2 names instances.
fn is_instance_id(id: &str) -> bool {
    id.strip_prefix("i-").is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17)
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

pub(crate) fn handle(
    state: &AppState,
    incoming: &Incoming,
    request_id: &str,
    facts: &mut Facts,
) -> (u16, String) {
    facts.portcullis_call("GetInstanceCredentials");
    facts.request_parameters = serde_json::from_slice(&incoming.body).ok();
    match deliver(state, incoming, facts) {
        Ok(body) => {
            facts.answered(|| serde_json::from_str(&body).ok());
            (200, body)
        }
        Err(e) => refusal(&e, request_id),
    }
}

fn deliver(state: &AppState, incoming: &Incoming, facts: &mut Facts) -> Result<String, ApiError> {
    let ServiceCall {
        caller,
        snapshot,
        env,
    } = authenticate_service(state, incoming, facts)?;
    let input: Input = serde_json::from_slice(&incoming.body)
        .map_err(|e| invalid(format!("The request body is not valid: {e}")))?;
    if !is_instance_id(&input.instance_id) {
        return Err(invalid(
            "instanceId must be i- followed by 8 or 17 lowercase hex digits.",
        ));
    }
    let account_id = &caller.account_id;
    let account = snapshot.state.accounts.get(account_id).ok_or_else(|| {
        ApiError::from(portcullis_iam::IamError::NoSuchEntity(
            "No such account.".into(),
        ))
    })?;
    let profile = ops::instance_profile(account, &input.instance_profile_name)?;
    let profile_arn = format!(
        "arn:aws:iam::{account_id}:instance-profile{}{}",
        profile.path, profile.name
    );
    let role_name = profile.roles.first().ok_or_else(|| {
        invalid(format!(
            "The instance profile {} has no role.",
            profile.name
        ))
    })?;
    let role = ops::role(account, role_name)?;
    let role_arn = format!("arn:aws:iam::{account_id}:role{}{}", role.path, role.name);
    let instance_arn = format!(
        "arn:aws:ec2:{}:{account_id}:instance/{}",
        env.region, input.instance_id
    );

    // Launching with the profile: PassRole to EC2, for this instance.
    let extra = [
        ("iam:PassedToService", EC2),
        ("iam:AssociatedResourceArn", instance_arn.as_str()),
    ];
    authz::authorize(
        &state.service,
        &caller,
        &snapshot,
        &env,
        &Question {
            action: "iam:PassRole",
            resource: &role_arn,
            keys: CallKeys {
                resource_tags: &role.tags,
                extra: &extra,
                ..CallKeys::default()
            },
            resource_policy: None,
            resource_account: None,
        },
    )?;

    // EC2 assuming the role: its trust policy must name the service.
    let trust = snapshot
        .trust_policy(account_id, &role.name)
        .ok_or_else(|| trust_refused(&role_arn))?;
    let decision = authz::decide_unauthenticated(
        Principal::Service { name: EC2.into() },
        &env,
        &Question {
            action: "sts:AssumeRole",
            resource: &role_arn,
            keys: CallKeys::default(),
            resource_policy: Some(&*trust),
            resource_account: Some(account_id),
        },
    );
    if !decision.is_allowed() {
        return Err(trust_refused(&role_arn));
    }

    let max = i64::from(role.max_session_duration).min(MAX_DURATION);
    let seconds = input.duration_seconds.unwrap_or(3600.min(max));
    if !(MIN_DURATION..=max).contains(&seconds) {
        return Err(invalid(format!(
            "durationSeconds must be {MIN_DURATION} to {max} (the role's maximum session duration, at most six hours)."
        )));
    }
    let mut claims = crate::sts_api::new_claims(
        account_id,
        SessionPrincipal::AssumedRole {
            role_name: role.name.clone(),
            role_path: role.path.clone(),
            role_id: role.role_id.clone(),
            session_name: input.instance_id.clone(),
        },
        env.now,
        seconds,
    );
    let delivery = if input.imds_v2_required { "2.0" } else { "1.0" };
    claims.context = vec![
        ("ec2:RoleDelivery".to_owned(), delivery.to_owned()),
        ("ec2:SourceInstanceARN".to_owned(), instance_arn.clone()),
    ];
    let token = state.service.seal_session(&claims);
    state
        .service
        .record_role_use(account_id, &role.name, &env.region);
    tracing::info!(
        caller = %caller.arn,
        role = %role_arn,
        instance = %instance_arn,
        access_key = %claims.access_key_id,
        "instance credentials delivered"
    );
    let answer = Answer {
        code: "Success",
        last_updated: iso(env.now),
        kind: "AWS-HMAC",
        access_key_id: &claims.access_key_id,
        secret_access_key: claims.secret_access_key.expose(),
        token: &token,
        expiration: iso(claims.expires_at),
        instance_profile_arn: profile_arn,
        instance_profile_id: &profile.instance_profile_id,
        role_name: &role.name,
        role_arn,
        instance_arn,
        account_id,
        region: &env.region,
    };
    serde_json::to_string(&answer)
        .map_err(|_| ApiError::new("ServiceFailure", 500, "The answer could not be written."))
}

fn trust_refused(role_arn: &str) -> ApiError {
    ApiError::access_denied(format!(
        "The trust policy of {role_arn} does not allow {EC2} to assume it (sts:AssumeRole), so it cannot be an instance's role."
    ))
}
