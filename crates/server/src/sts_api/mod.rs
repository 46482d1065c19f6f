//! The STS API (2011-06-15): temporary credentials.
//!
//! Credentials are `ASIA…` key ids with a secret and a sealed, self-contained session token
//! (`portcullis_iam::session`): issuing them writes nothing to the store.

use std::cell::Cell;
use std::sync::Arc;

use portcullis_iam::ids::{new_access_key_id, new_secret_key};
use portcullis_iam::model::{Role, Secret, Tag};
use portcullis_iam::ops::{self, mfa};
use portcullis_iam::session::{SessionClaims, SessionPrincipal};
use portcullis_iam::{IamError, IamService, Snapshot, authz_message, sts};

use portcullis_policy::Principal;

use crate::auth::{Caller, Identity, merge_tags};
use crate::authz::{self, CallKeys, Question, RequestEnv};
use crate::error::ApiError;
use crate::query::Params;
use crate::xml::Xml;

mod saml;
mod web_identity;

pub use saml::{SamlReplay, assume_role_with_saml};
pub use web_identity::assume_role_with_web_identity;

pub const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// What an STS handler sees of its request.
pub struct StsCall<'a> {
    pub params: &'a Params,
    pub caller: &'a Caller,
    pub service: &'a IamService,
    pub snapshot: Arc<Snapshot>,
    pub env: &'a RequestEnv,
    /// Set by [`StsCall::authorize`] (or [`StsCall::needs_no_policy`]): the dispatcher refuses
    /// to answer for a handler that did neither, as IAM's does.
    authorized: Cell<bool>,
}

impl StsCall<'_> {
    /// Asks the engine about the caller (the one authorization path, shared with IAM).
    fn authorize(&self, q: &Question<'_>) -> Result<(), ApiError> {
        self.authorized.set(true);
        authz::authorize(self.service, self.caller, &self.snapshot, self.env, q)
    }

    /// For the actions AWS serves to any caller, whatever its policies say
    /// (GetCallerIdentity, GetSessionToken).
    fn needs_no_policy(&self) {
        self.authorized.set(true);
    }
}

type Handler = fn(&StsCall<'_>) -> Result<Xml, ApiError>;

/// Every signed STS action served, with its handler (AssumeRoleWithWebIdentity, unsigned, is
/// routed before authentication).
const HANDLERS: &[(&str, Handler)] = &[
    ("GetCallerIdentity", get_caller_identity),
    ("AssumeRole", assume_role),
    ("GetSessionToken", get_session_token),
    ("GetFederationToken", get_federation_token),
    ("GetAccessKeyInfo", get_access_key_info),
    ("DecodeAuthorizationMessage", decode_authorization_message),
];

/// The names of the signed STS actions served.
pub fn action_names() -> impl Iterator<Item = &'static str> {
    HANDLERS.iter().map(|(name, _)| *name)
}

/// Runs one STS action for an authenticated caller.
pub fn dispatch(
    action: &str,
    params: &Params,
    caller: &Caller,
    service: &IamService,
    env: &RequestEnv,
) -> Result<Xml, ApiError> {
    let call = StsCall {
        params,
        caller,
        service,
        snapshot: service.snapshot(),
        env,
        authorized: Cell::new(false),
    };
    let result = match HANDLERS.iter().find(|(name, _)| *name == action) {
        Some((_, handler)) => handler(&call),
        None => Err(ApiError::new(
            "InvalidAction",
            400,
            format!("Could not find operation {action} for version 2011-06-15"),
        )),
    };
    if result.is_ok() && !call.authorized.get() {
        tracing::error!(action, "STS handler answered without authorizing the call");
        return Err(ApiError::new(
            "ServiceFailure",
            500,
            "The request was not authorized.",
        ));
    }
    result
}

pub(crate) fn iso(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

pub(super) fn write_credentials(x: &mut Xml, claims: &SessionClaims, token: &str) {
    x.elem("Credentials", |x| {
        x.text("AccessKeyId", &claims.access_key_id)
            .text("SecretAccessKey", claims.secret_access_key.expose())
            .text("SessionToken", token)
            .text("Expiration", &iso(claims.expires_at));
    });
}

/// Fresh credentials for a session.
pub(crate) fn new_claims(
    account_id: &str,
    principal: SessionPrincipal,
    now: i64,
    duration: i64,
) -> SessionClaims {
    SessionClaims {
        account_id: account_id.to_owned(),
        access_key_id: new_access_key_id(true, account_id),
        secret_access_key: Secret::new(new_secret_key()),
        principal,
        issued_at: now,
        expires_at: now + duration,
        policies: Vec::new(),
        policy_arns: Vec::new(),
        tags: Vec::new(),
        transitive_tag_keys: Vec::new(),
        source_identity: None,
        mfa_authenticated_at: None,
        chained: false,
        context: Vec::new(),
    }
}

/// `PolicyArns.member.N.arn`, in order: the managed session policies.
pub(super) fn policy_arns(p: &Params) -> Vec<String> {
    (1..)
        .map_while(|i| {
            p.get(&format!("PolicyArns.member.{i}.arn"))
                .map(str::to_owned)
        })
        .collect()
}

/// What every AssumeRole* takes for the session it makes: `Policy`, `PolicyArns` (their shape
/// checked) and `DurationSeconds`.
pub(super) fn role_session_parameters(p: &Params) -> Result<SessionParameters<'_>, ApiError> {
    let policy = p.get("Policy");
    let policy_arns = policy_arns(p);
    let duration = p.int("DurationSeconds", 900, 43_200)?;
    sts::check_session_policy_shape(policy, &policy_arns)?;
    Ok(SessionParameters {
        policy,
        policy_arns,
        duration,
    })
}

/// [`role_session_parameters`]' answer.
pub(super) struct SessionParameters<'a> {
    pub policy: Option<&'a str>,
    pub policy_arns: Vec<String>,
    pub duration: Option<i64>,
}

/// An ARN parameter's length, as the model bounds it (20 to 2048).
pub(super) fn check_arn_length(name: &str, value: &str) -> Result<(), ApiError> {
    if (20..=2048).contains(&value.len()) {
        return Ok(());
    }
    Err(ApiError::validation(format!(
        "1 validation error detected: Value '{value}' at '{name}' failed to satisfy constraint: Member must have length between 20 and 2048"
    )))
}

/// The claims of a new session of `role`.
pub(super) fn role_session(
    role_account: &str,
    role: &Role,
    session_name: &str,
    now: i64,
    seconds: i64,
) -> SessionClaims {
    new_claims(
        role_account,
        SessionPrincipal::AssumedRole {
            role_name: role.name.clone(),
            role_path: role.path.clone(),
            role_id: role.role_id.clone(),
            session_name: session_name.to_owned(),
        },
        now,
        seconds,
    )
}

/// `AssumedRoleUser`: the session's role id and ARN.
pub(super) fn write_assumed_role_user(
    x: &mut Xml,
    role_account: &str,
    role: &Role,
    session_name: &str,
) {
    x.elem("AssumedRoleUser", |x| {
        x.text("AssumedRoleId", &format!("{}:{session_name}", role.role_id))
            .text(
                "Arn",
                &format!(
                    "arn:aws:sts::{role_account}:assumed-role/{}/{session_name}",
                    role.name
                ),
            );
    });
}

/// Whether the role's trust policy lets a federated `principal` (a web identity or SAML
/// provider, proved by its token or response rather than SigV4) do `action` on the role.
pub(super) fn federated_may(
    principal: &Principal,
    env: &RequestEnv,
    action: &str,
    role_arn: &str,
    role_account: &str,
    trust: &portcullis_policy::PolicySet,
    keys: CallKeys<'_>,
) -> bool {
    authz::decide_unauthenticated(
        principal.clone(),
        env,
        &Question {
            action,
            resource: role_arn,
            keys,
            resource_policy: Some(trust),
            resource_account: Some(role_account),
        },
    )
    .is_allowed()
}

/// `SerialNumber` and `TokenCode`, when given: the code is checked against the caller's own
/// MFA device (and used up). Returns the time of the MFA authentication.
fn verify_mfa(call: &StsCall<'_>) -> Result<Option<i64>, ApiError> {
    let serial = call.params.get("SerialNumber");
    let code = call.params.get("TokenCode");
    let (serial, code) = match (serial, code) {
        (None, None) => return Ok(None),
        (Some(s), Some(c)) => (s, c),
        _ => {
            return Err(ApiError::validation(
                "SerialNumber and TokenCode must be given together.",
            ));
        }
    };
    if !(9..=256).contains(&serial.len()) {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{serial}' at 'serialNumber' failed to satisfy constraint: Member must have length less than or equal to 256 and greater than or equal to 9"
        )));
    }
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::validation(
            "1 validation error detected: Value at 'tokenCode' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\d]*",
        ));
    }
    let user = match (&call.caller.identity, call.caller.is_session()) {
        (Identity::User { name }, false) => name.clone(),
        _ => {
            return Err(ApiError::access_denied(
                "MultiFactorAuthentication failed: only an IAM user's long-term credentials can present an MFA code.",
            ));
        }
    };
    let now = call.env.now;
    let account = call.caller.account_id.clone();
    // Checked against the snapshot first; a locked device is refused like a wrong code.
    call.service.write_with_mfa_code(
        mfa::CodeKind::SignIn,
        &account,
        serial,
        |state, touched| mfa::check_user_code(state, touched, &account, &user, serial, code, now),
    )?;
    Ok(Some(now))
}

fn get_caller_identity(call: &StsCall<'_>) -> Result<Xml, ApiError> {
    // Always allowed, as in AWS: no policy can deny a caller knowing who it is.
    call.needs_no_policy();
    let mut x = Xml::new();
    x.text("UserId", &call.caller.user_id)
        .text("Account", &call.caller.account_id)
        .text("Arn", &call.caller.arn);
    Ok(x)
}

/// The account of `arn:aws:iam::A:role/path/name`: ValidationError when `RoleArn` is not a
/// role ARN. Whether it names a role is for [`ops::role_by_arn`] to say.
pub(super) fn role_arn_account(arn: &str) -> Result<String, ApiError> {
    ops::split_iam_arn(arn, "role")
        .filter(|(_, resource)| resource.len() > 1 && !resource.ends_with('/'))
        .map(|(account, _)| account.to_owned())
        .ok_or_else(|| ApiError::validation(format!("{arn} is invalid")))
}

/// AWS's one answer to an AssumeRole that is not allowed, whatever the reason (no such role,
/// a trust policy that does not trust the caller, an identity policy that does not allow it):
/// the same text, so a caller cannot tell which roles exist.
fn not_authorized(caller: &Caller, action: &str, role_arn: &str) -> ApiError {
    ApiError::access_denied(format!(
        "User: {} is not authorized to perform: {action} on resource: {role_arn}",
        caller.arn
    ))
}

/// What a role chain may not change: a transitive tag the calling session carries cannot be
/// set again (AWS: the call fails), and a source identity, once set, stays as it is.
fn check_chain(
    caller: &Caller,
    tags: &[Tag],
    source_identity: Option<&str>,
) -> Result<(), ApiError> {
    let Some(session) = &caller.session else {
        return Ok(());
    };
    if let Some(tag) = tags.iter().find(|t| {
        session
            .transitive_tag_keys
            .iter()
            .any(|k| k.eq_ignore_ascii_case(&t.key))
    }) {
        return Err(ApiError::new(
            "InvalidParameterValue",
            400,
            format!(
                "The session tag {} is a transitive tag of the calling session and cannot be set again in a role chain.",
                tag.key
            ),
        ));
    }
    match (&session.source_identity, source_identity) {
        (Some(set), Some(asked)) if set != asked => Err(ApiError::new(
            "InvalidParameterValue",
            400,
            "The source identity of a role chain cannot be changed once it is set.",
        )),
        _ => Ok(()),
    }
}

fn session_tags_with_inherited(caller: &Caller, tags: &[Tag]) -> (Vec<Tag>, Vec<String>) {
    // Transitive tags of a calling role session carry over (new tags override them).
    let mut inherited = Vec::new();
    let mut transitive = Vec::new();
    if let Some(session) = &caller.session {
        for key in &session.transitive_tag_keys {
            if let Some(tag) = session
                .tags
                .iter()
                .find(|t| t.key.eq_ignore_ascii_case(key))
            {
                inherited.push(tag.clone());
                transitive.push(key.clone());
            }
        }
    }
    (merge_tags(&inherited, tags), transitive)
}

fn assume_role(call: &StsCall<'_>) -> Result<Xml, ApiError> {
    let p = call.params;
    let role_arn = p.required("RoleArn")?;
    let session_name = p.required("RoleSessionName")?;
    sts::check_session_name(session_name)?;
    let external_id = p.get("ExternalId");
    if let Some(id) = external_id {
        sts::check_external_id(id)?;
    }
    let source_identity = p.get("SourceIdentity");
    if let Some(s) = source_identity {
        sts::check_source_identity(s)?;
    }
    let tags = p.tags("Tags");
    let transitive_keys = p.list("TransitiveTagKeys");
    sts::check_session_tags(&tags, &transitive_keys)?;
    let SessionParameters {
        policy,
        policy_arns,
        duration,
    } = role_session_parameters(p)?;
    if call.caller.identity == Identity::Root {
        return Err(ApiError::access_denied(
            "Roles may not be assumed by root accounts.",
        ));
    }
    let role_account = role_arn_account(role_arn)?;
    check_chain(call.caller, &tags, source_identity)?;
    // MFA given with this call, or carried by the calling session.
    let mfa_at = match verify_mfa(call)? {
        Some(at) => Some(at),
        None => call
            .caller
            .session
            .as_ref()
            .and_then(|s| s.mfa_authenticated_at),
    };
    let mfa_age = mfa_at.map(|at| (call.env.now - at).max(0).to_string());

    let denied = |action: &str| not_authorized(call.caller, action, role_arn);
    let state = &call.snapshot.state;
    // The role the ARN names exactly; authorized on its canonical ARN (the same text).
    let role: &Role = ops::role_by_arn(state, role_arn).ok_or_else(|| denied("sts:AssumeRole"))?;
    let trust = call
        .snapshot
        .trust_policy(&role_account, &role.name)
        .ok_or_else(|| denied("sts:AssumeRole"))?;
    let mut extra: Vec<(&str, &str)> = vec![("sts:RoleSessionName", session_name)];
    if let Some(id) = external_id {
        extra.push(("sts:ExternalId", id));
    }
    if let Some(s) = source_identity {
        extra.push(("sts:SourceIdentity", s));
    }
    if let Some(age) = &mfa_age {
        extra.push(("aws:MultiFactorAuthPresent", "true"));
        extra.push(("aws:MultiFactorAuthAge", age));
    }
    let multi: Vec<(&str, &[String])> = if transitive_keys.is_empty() {
        Vec::new()
    } else {
        vec![("sts:TransitiveTagKeys", transitive_keys.as_slice())]
    };
    let keys = CallKeys {
        request_tags: &tags,
        resource_tags: &role.tags,
        extra: &extra,
        multi: &multi,
        ..CallKeys::default()
    };
    let ask = |action: &'static str| {
        call.authorize(&Question {
            action,
            resource: role_arn,
            keys,
            resource_policy: Some(&*trust),
            resource_account: Some(&role_account),
        })
        .map_err(|_| denied(action))
    };
    ask("sts:AssumeRole")?;
    if !tags.is_empty() {
        ask("sts:TagSession")?;
    }
    if source_identity.is_some() {
        ask("sts:SetSourceIdentity")?;
    }

    let chained = matches!(call.caller.identity, Identity::AssumedRole { .. });
    let seconds = sts::role_session_duration(duration, role.max_session_duration, chained)?;
    let account = state
        .accounts
        .get(&role_account)
        .ok_or_else(|| denied("sts:AssumeRole"))?;
    let packed = sts::check_session_policies(account, policy, &policy_arns)?;
    let (all_tags, mut transitive) = session_tags_with_inherited(call.caller, &tags);
    if all_tags.len() > 50 {
        return Err(IamError::ValidationError(
            "A session may carry at most 50 session tags, inherited ones included.".into(),
        )
        .into());
    }
    for key in &transitive_keys {
        if !transitive.iter().any(|k| k.eq_ignore_ascii_case(key)) {
            transitive.push(key.clone());
        }
    }

    let mut claims = role_session(&role_account, role, session_name, call.env.now, seconds);
    claims.policies = policy.map(str::to_owned).into_iter().collect();
    claims.policy_arns = policy_arns;
    claims.tags = all_tags;
    claims.transitive_tag_keys = transitive;
    claims.chained = chained;
    claims.mfa_authenticated_at = mfa_at;
    claims.source_identity = source_identity.map(str::to_owned).or_else(|| {
        call.caller
            .session
            .as_ref()
            .and_then(|s| s.source_identity.clone())
    });
    let token = call.service.seal_session(&claims);
    call.service
        .record_role_use(&role_account, &role.name, &call.env.region);

    let mut x = Xml::new();
    write_credentials(&mut x, &claims, &token);
    write_assumed_role_user(&mut x, &role_account, role, session_name);
    x.num("PackedPolicySize", packed);
    x.opt("SourceIdentity", claims.source_identity.as_deref());
    Ok(x)
}

fn get_session_token(call: &StsCall<'_>) -> Result<Xml, ApiError> {
    // No policy controls it (AWS: an authentication operation); only long-term keys may.
    call.needs_no_policy();
    let caller = call.caller;
    if caller.is_session() {
        return Err(ApiError::access_denied(
            "Cannot call GetSessionToken with session credentials",
        ));
    }
    let duration = call.params.int("DurationSeconds", 0, 129_600)?;
    let root = caller.identity == Identity::Root;
    let seconds = sts::token_session_duration(duration, root)?;
    let principal = match &caller.identity {
        Identity::Root => SessionPrincipal::User {
            user_name: None,
            user_id: caller.account_id.clone(),
        },
        Identity::User { name } => SessionPrincipal::User {
            user_name: Some(name.clone()),
            user_id: caller.user_id.clone(),
        },
        _ => {
            return Err(ApiError::access_denied(
                "Cannot call GetSessionToken with session credentials",
            ));
        }
    };
    let mut claims = new_claims(&caller.account_id, principal, call.env.now, seconds);
    claims.mfa_authenticated_at = verify_mfa(call)?;
    let token = call.service.seal_session(&claims);
    let mut x = Xml::new();
    write_credentials(&mut x, &claims, &token);
    Ok(x)
}

fn get_federation_token(call: &StsCall<'_>) -> Result<Xml, ApiError> {
    let caller = call.caller;
    let p = call.params;
    let name = p.required("Name")?;
    sts::check_federated_name(name)?;
    // An IAM user's long-term credentials, or the root user's (which AWS allows, with a
    // session of at most an hour); the root user is named by an empty federating user.
    let (federating_user, root) = match (&caller.identity, caller.is_session()) {
        (Identity::User { name }, false) => (name.clone(), false),
        (Identity::Root, false) => (String::new(), true),
        _ => {
            return Err(ApiError::access_denied(
                "GetFederationToken must be called with long-term credentials: an IAM user's or the root user's.",
            ));
        }
    };
    let policy = p.get("Policy");
    let policy_arns = policy_arns(p);
    let tags = p.tags("Tags");
    sts::check_session_tags(&tags, &[])?;
    let duration = p.int("DurationSeconds", 0, 129_600)?;
    sts::check_session_policy_shape(policy, &policy_arns)?;
    let seconds = sts::token_session_duration(duration, root)?;
    let arn = format!("arn:aws:sts::{}:federated-user/{name}", caller.account_id);
    let actions: &[&str] = if tags.is_empty() {
        &["sts:GetFederationToken"]
    } else {
        &["sts:GetFederationToken", "sts:TagSession"]
    };
    for action in actions {
        call.authorize(&Question {
            action,
            resource: &arn,
            keys: CallKeys {
                request_tags: &tags,
                ..CallKeys::default()
            },
            resource_policy: None,
            resource_account: None,
        })?;
    }
    let account = call.snapshot.state.account(&caller.account_id)?;
    let packed = sts::check_session_policies(account, policy, &policy_arns)?;
    let mut claims = new_claims(
        &caller.account_id,
        SessionPrincipal::FederatedUser {
            name: name.to_owned(),
            federating_user,
            federating_user_id: caller.user_id.clone(),
        },
        call.env.now,
        seconds,
    );
    claims.policies = policy.map(str::to_owned).into_iter().collect();
    claims.policy_arns = policy_arns;
    claims.tags = tags;
    let token = call.service.seal_session(&claims);
    let mut x = Xml::new();
    write_credentials(&mut x, &claims, &token);
    x.elem("FederatedUser", |x| {
        x.text("FederatedUserId", &format!("{}:{name}", caller.account_id))
            .text("Arn", &arn);
    });
    x.num("PackedPolicySize", packed);
    Ok(x)
}

fn get_access_key_info(call: &StsCall<'_>) -> Result<Xml, ApiError> {
    let key_id = call.params.required("AccessKeyId")?;
    if !(16..=128).contains(&key_id.len()) || !key_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{key_id}' at 'accessKeyId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w]*"
        )));
    }
    call.authorize(&Question {
        action: "sts:GetAccessKeyInfo",
        resource: "*",
        keys: CallKeys::default(),
        resource_policy: None,
        resource_account: None,
    })?;
    let account = call
        .snapshot
        .state
        .access_keys
        .get(key_id)
        .map(|k| k.account_id.clone())
        .or_else(|| (call.caller.access_key_id == key_id).then(|| call.caller.account_id.clone()))
        // Any other key, issued here or not: the account its id encodes, as AWS answers.
        .or_else(|| portcullis_iam::ids::account_of_access_key_id(key_id))
        .ok_or_else(|| {
            ApiError::new(
                "InvalidParameterValue",
                400,
                format!("The access key {key_id} does not encode an account."),
            )
        })?;
    let mut x = Xml::new();
    x.text("Account", &account);
    Ok(x)
}

/// The explanation sealed into an AccessDenied message, for a caller allowed
/// `sts:DecodeAuthorizationMessage`. Messages open only for callers of the account whose
/// caller was denied.
fn decode_authorization_message(call: &StsCall<'_>) -> Result<Xml, ApiError> {
    let encoded = call.params.required("EncodedMessage")?;
    if encoded.is_empty() || encoded.len() > authz_message::MAX_ENCODED_LEN {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at 'encodedMessage' failed to satisfy constraint: Member must have length between 1 and {}",
            authz_message::MAX_ENCODED_LEN
        )));
    }
    call.authorize(&Question {
        action: "sts:DecodeAuthorizationMessage",
        resource: "*",
        keys: CallKeys::default(),
        resource_policy: None,
        resource_account: None,
    })?;
    let decoded = call
        .service
        .open_authorization_message(&call.caller.account_id, encoded)
        .ok_or_else(|| {
            ApiError::new(
                "InvalidAuthorizationMessageException",
                400,
                "The encoded authorization message is invalid: it was altered, or was not issued by this service for this account.",
            )
        })?;
    let mut x = Xml::new();
    x.text("DecodedMessage", &decoded);
    Ok(x)
}
