//! AssumeRoleWithWebIdentity: credentials for the holder of an OpenID Connect ID token.

use portcullis_iam::IamService;
use portcullis_iam::model::Role;
use portcullis_iam::ops;
use portcullis_iam::state::AccountState;
use portcullis_iam::sts;
use portcullis_policy::Principal;

use super::{
    SessionParameters, check_arn_length, federated_may, role_arn_account, role_session,
    role_session_parameters, write_assumed_role_user, write_credentials,
};
use crate::authz::{CallKeys, RequestEnv};
use crate::error::ApiError;
use crate::query::Params;
use crate::web_identity::{self, JwksCache};
use crate::xml::Xml;

/// AssumeRoleWithWebIdentity: unsigned; the caller is the web identity token's provider.
/// The token is verified (signature, issuer, audience, times) against the role's account's OIDC
/// provider, then the role's trust policy must allow `sts:AssumeRoleWithWebIdentity` for
/// `Federated: arn:aws:iam::A:oidc-provider/{url}` with the token's condition keys.
pub fn assume_role_with_web_identity(
    params: &Params,
    service: &IamService,
    jwks: &JwksCache,
    env: &RequestEnv,
) -> Result<Xml, ApiError> {
    let p = params;
    let role_arn = p.required("RoleArn")?;
    check_arn_length("roleArn", role_arn)?;
    let session_name = p.required("RoleSessionName")?;
    sts::check_session_name(session_name)?;
    let token = p.required("WebIdentityToken")?;
    if !(4..=20_000).contains(&token.len()) {
        return Err(ApiError::validation(
            "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length between 4 and 20000",
        ));
    }
    if let Some(id) = p.get("ProviderId") {
        // Only for OAuth 2.0 access tokens of Amazon/Facebook; OIDC ID tokens ignore it.
        if !(4..=2048).contains(&id.len()) {
            return Err(ApiError::validation(
                "1 validation error detected: Value at 'providerId' failed to satisfy constraint: Member must have length between 4 and 2048",
            ));
        }
    }
    let SessionParameters {
        policy,
        policy_arns,
        duration,
    } = role_session_parameters(p)?;
    let role_account = role_arn_account(role_arn)?;

    let snapshot = service.snapshot();
    let state = &snapshot.state;
    // An account this deployment does not hold has no provider: it answers as an account
    // without one does, so the answer does not tell which accounts exist.
    let no_account = AccountState::default();
    let account = state.accounts.get(&role_account).unwrap_or(&no_account);
    let verified = web_identity::verify(token, &role_account, account, jwks, env.now)?;

    let denied = || {
        ApiError::access_denied(format!(
            "Not authorized to perform sts:AssumeRoleWithWebIdentity on resource: {role_arn}"
        ))
    };
    let role: &Role = ops::role_by_arn(state, role_arn).ok_or_else(denied)?;
    let trust = snapshot
        .trust_policy(&role_account, &role.name)
        .ok_or_else(denied)?;
    let source_identity = verified.source_identity();
    if let Some(s) = source_identity {
        sts::check_source_identity(s)?;
    }
    let (single, multi) = verified.condition_keys();
    let mut extra: Vec<(&str, &str)> = single
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    extra.push(("sts:RoleSessionName", session_name));
    if let Some(s) = source_identity {
        extra.push(("sts:SourceIdentity", s));
    }
    let multi: Vec<(&str, &[String])> = multi
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_slice()))
        .collect();
    let keys = CallKeys {
        extra: &extra,
        multi: &multi,
        ..CallKeys::default()
    };
    let principal = Principal::Federated {
        provider: verified.provider_arn.clone(),
    };
    let ask = |action: &'static str| {
        federated_may(
            &principal,
            env,
            action,
            role_arn,
            &role_account,
            &trust,
            keys,
        )
        .then_some(())
        .ok_or_else(denied)
    };
    ask("sts:AssumeRoleWithWebIdentity")?;
    if source_identity.is_some() {
        ask("sts:SetSourceIdentity")?;
    }

    let seconds = sts::role_session_duration(duration, role.max_session_duration, false)?;
    let packed = sts::check_session_policies(account, policy, &policy_arns)?;
    let mut claims = role_session(&role_account, role, session_name, env.now, seconds);
    claims.policies = policy.map(str::to_owned).into_iter().collect();
    claims.policy_arns = policy_arns;
    claims.source_identity = source_identity.map(str::to_owned);
    let token = service.seal_session(&claims);

    let mut x = Xml::new();
    write_credentials(&mut x, &claims, &token);
    x.text("SubjectFromWebIdentityToken", &verified.subject);
    write_assumed_role_user(&mut x, &role_account, role, session_name);
    x.num("PackedPolicySize", packed);
    x.text("Provider", &verified.issuer);
    x.text("Audience", &verified.audience);
    x.opt("SourceIdentity", claims.source_identity.as_deref());
    Ok(x)
}
