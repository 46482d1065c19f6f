//! Authentication: a SigV4-signed request → the [`Caller`] it comes from.
//!
//! Long-term keys: the secret is looked up by the access key id in the current snapshot
//! (never the database). Temporary credentials: the session token is opened with the master
//! key and carries the secret itself. Either way the signature is compared in constant time
//! by `portcullis-sigv4`.

use std::sync::Arc;

use portcullis_iam::model::{KeyStatus, Tag};
use portcullis_iam::session::{SessionClaims, SessionPrincipal, TokenError};
use portcullis_iam::{IamService, PrincipalPolicies, Snapshot};
use portcullis_policy::Principal;
use portcullis_sigv4::{
    Error as SigError, Request as SignedRequest, SigningKey, UriEncoding, parse, verify_with_key,
};

use crate::error::ApiError;

/// Who the caller is, in IAM terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// The account's root user (long-term keys or a GetSessionToken session).
    Root,
    /// An IAM user (long-term keys or a GetSessionToken session).
    User { name: String },
    /// A role session.
    AssumedRole {
        role_name: String,
        session_name: String,
    },
    /// A GetFederationToken session, made by `federating_user`.
    FederatedUser {
        name: String,
        federating_user: String,
    },
    /// An unsigned request to a service that asks the authorization API: only a resource
    /// policy can allow it. Never a caller of the IAM or STS API.
    Anonymous,
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account_id: String,
    pub identity: Identity,
    /// `arn:aws:iam::A:root`, the user's ARN, or the session's ARN.
    pub arn: String,
    /// `aws:userid`: the account id for root, `AIDA…` for a user, `AROA…:session` for a role
    /// session, `account:name` for a federated user.
    pub user_id: String,
    pub principal: Principal,
    /// `aws:PrincipalTag/*`: the user's or role's tags, with session tags over them.
    pub tags: Vec<Tag>,
    pub access_key_id: String,
    /// The session, for temporary credentials.
    pub session: Option<Arc<SessionClaims>>,
}

impl Caller {
    /// The unique id of the IAM user or role whose attempts this caller's are (the
    /// access advisor's entity): a user's `AIDA…`, a role session's `AROA…`; `None` for root,
    /// federated users and anonymous callers.
    pub fn entity_id(&self) -> Option<&str> {
        match self.identity {
            Identity::User { .. } => Some(&self.user_id),
            Identity::AssumedRole { .. } => self.user_id.split(':').next(),
            Identity::Root | Identity::FederatedUser { .. } | Identity::Anonymous => None,
        }
    }

    /// The caller's identity policies and boundary: a user's own (and its groups'), a role
    /// session's role's, a federated user's federating user's (the root user's full access for
    /// its federation sessions). Root has none: the engine allows it its own account.
    pub fn policies(&self, snapshot: &Snapshot) -> Option<Arc<PrincipalPolicies>> {
        match &self.identity {
            Identity::Root | Identity::Anonymous => None,
            Identity::User { name } => snapshot.user_policies(&self.account_id, name),
            Identity::AssumedRole { role_name, .. } => {
                snapshot.role_policies(&self.account_id, role_name)
            }
            // The root user's federation session: the root user's full access, which its
            // session policy limits (without one it has no permissions, as for any).
            Identity::FederatedUser {
                federating_user, ..
            } if federating_user.is_empty() => Some(snapshot.root_policies(&self.account_id)),
            Identity::FederatedUser {
                federating_user, ..
            } => snapshot.user_policies(&self.account_id, federating_user),
        }
    }

    /// The caller of an unsigned request made to `account_id` (the account whose resource it
    /// asks for, so that a denial is sealed for that account): `anonymous`.
    pub fn anonymous(account_id: &str) -> Caller {
        Caller {
            account_id: account_id.to_owned(),
            identity: Identity::Anonymous,
            arn: "anonymous".to_owned(),
            user_id: "anonymous".to_owned(),
            principal: Principal::Anonymous,
            tags: Vec::new(),
            access_key_id: String::new(),
            session: None,
        }
    }

    /// Whether the caller uses temporary credentials.
    pub fn is_session(&self) -> bool {
        self.session.is_some()
    }
}

fn invalid_token() -> ApiError {
    ApiError::new(
        "InvalidClientTokenId",
        403,
        "The security token included in the request is invalid.",
    )
}

fn expired_token() -> ApiError {
    ApiError::new(
        "ExpiredToken",
        403,
        "The security token included in the request is expired",
    )
}

fn from_sigv4(e: &SigError) -> ApiError {
    match e {
        SigError::MissingAuthentication => ApiError::new(
            "MissingAuthenticationToken",
            403,
            "Request is missing Authentication Token",
        ),
        // IAM and STS answer clock skew as AWS does: SignatureDoesNotMatch, "Signature
        // expired: ... is now earlier than ..." (the sigv4 crate's code and text).
        other => ApiError::new(other.aws_code(), other.http_status(), other.to_string()),
    }
}

/// What a signature's credential scope must name: the API's signing name, and one of the
/// regions this deployment serves (any region when the list is empty).
#[derive(Debug, Clone, Copy)]
pub struct ExpectedScope<'a> {
    pub service: &'a str,
    pub regions: &'a [String],
}

impl ExpectedScope<'_> {
    /// AWS's answers for a request signed for another service or a region not served.
    fn check(&self, scope: &portcullis_sigv4::CredentialScope) -> Result<(), ApiError> {
        if scope.service != self.service {
            return Err(ApiError::new(
                "SignatureDoesNotMatch",
                403,
                format!(
                    "Credential should be scoped to correct service: '{}'. ",
                    self.service
                ),
            ));
        }
        if !self.regions.is_empty() && !self.regions.contains(&scope.region) {
            return Err(ApiError::new(
                "SignatureDoesNotMatch",
                403,
                format!(
                    "Credential should be scoped to a valid region, not '{}'. ",
                    truncated(&scope.region, 64)
                ),
            ));
        }
        Ok(())
    }
}

/// At most `max` characters of `text`, for echoing network input.
fn truncated(text: &str, max: usize) -> &str {
    text.char_indices()
        .nth(max)
        .map_or(text, |(at, _)| &text[..at])
}

/// Authenticates `request` at unix time `now`: the caller, and the region its signature is
/// scoped to (`aws:RequestedRegion`). A body must be covered by the signature.
pub fn authenticate(
    service: &IamService,
    snapshot: &Snapshot,
    request: &SignedRequest<'_>,
    now: i64,
    expected: ExpectedScope<'_>,
) -> Result<(Caller, String), ApiError> {
    // IAM, STS and the authorization API take no aws-chunked bodies (S3's streaming forms).
    let streaming = request
        .header_values("x-amz-content-sha256")
        .any(|v| portcullis_sigv4::Streaming::from_content_sha256(v.trim_ascii()).is_some());
    if streaming {
        return Err(from_sigv4(&SigError::UnsupportedPayloadHash));
    }
    let signed = authenticate_signature(service, snapshot, request, now, expected)?;
    // An unsigned payload could carry any Action: a body must be covered by the signature.
    if !signed.payload_signed && !request.body_bytes().is_empty() {
        return Err(ApiError::new(
            "IncompleteSignature",
            400,
            "The request body must be signed (UNSIGNED-PAYLOAD is not accepted with a body).",
        ));
    }
    Ok((signed.caller, signed.region))
}

/// What a verified signature establishes.
pub struct Authenticated {
    pub caller: Caller,
    /// The region the signature is scoped to (`aws:RequestedRegion`).
    pub region: String,
    /// Whether the signature covers the body (false for `UNSIGNED-PAYLOAD` with a body, and
    /// for an aws-chunked body, which its chunks cover).
    pub payload_signed: bool,
    /// For an aws-chunked body, what the service needs to check its chunks itself.
    pub streaming: Option<StreamingKey>,
}

/// The chain of an aws-chunked body's signatures: its form, the signing key of the request's
/// scope (one day, region and service: never the secret), the request time and the seed
/// signature. AWS services receive the same from IAM to verify streamed chunks.
pub struct StreamingKey {
    pub form: portcullis_sigv4::Streaming,
    pub key: portcullis_sigv4::SigningKey,
    pub request_time: i64,
    pub seed_signature: String,
}

/// Authenticates `request` at unix time `now`, leaving to the caller what to do with a body
/// the signature does not cover (the IAM API refuses it, [`authenticate`]; a service asking
/// the authorization API is told).
pub fn authenticate_signature(
    service: &IamService,
    snapshot: &Snapshot,
    request: &SignedRequest<'_>,
    now: i64,
    expected: ExpectedScope<'_>,
) -> Result<Authenticated, ApiError> {
    // S3 signs the path as sent; every other service normalizes and encodes it again.
    let single;
    let request = match UriEncoding::for_service(expected.service) {
        UriEncoding::Single => {
            single = request.clone().uri_encoding(UriEncoding::Single);
            &single
        }
        UriEncoding::Double => request,
    };
    let auth = parse(request).map_err(|e| from_sigv4(&e))?;
    expected.check(auth.scope())?;
    let region = auth.scope().region.clone();
    let (secret, session) = match auth.session_token() {
        Some(token) => {
            let claims = service.open_session(token, now).map_err(|e| match e {
                TokenError::Expired => expired_token(),
                TokenError::Invalid => invalid_token(),
            })?;
            if claims.access_key_id != auth.access_key_id() {
                return Err(invalid_token());
            }
            (claims.secret_access_key.clone(), Some(Arc::new(claims)))
        }
        None => {
            let key = snapshot
                .state
                .access_keys
                .get(auth.access_key_id())
                .ok_or_else(invalid_token)?;
            if key.status != KeyStatus::Active {
                return Err(invalid_token());
            }
            (key.secret.clone(), None)
        }
    };
    let key = SigningKey::derive(secret.expose(), auth.scope());
    let verified = verify_with_key(&auth, request, &key, now).map_err(|e| from_sigv4(&e))?;
    let streaming = verified.streaming().map(|form| StreamingKey {
        form,
        key,
        request_time: auth.request_time(),
        seed_signature: auth.signature_hex(),
    });
    let caller = match session {
        None => {
            let key = snapshot
                .state
                .access_keys
                .get(auth.access_key_id())
                .ok_or_else(invalid_token)?;
            long_term_caller(
                snapshot,
                &key.account_id,
                key.user_name.as_deref(),
                &key.access_key_id,
                None,
            )
        }
        Some(claims) => session_caller(snapshot, claims),
    }?;
    Ok(Authenticated {
        caller,
        region,
        payload_signed: verified.payload_signed(),
        streaming,
    })
}

/// A caller with long-term credentials (or a GetSessionToken session of the same identity).
fn long_term_caller(
    snapshot: &Snapshot,
    account_id: &str,
    user_name: Option<&str>,
    access_key_id: &str,
    session: Option<Arc<SessionClaims>>,
) -> Result<Caller, ApiError> {
    let account_id = account_id.to_owned();
    match user_name {
        None => Ok(Caller {
            arn: format!("arn:aws:iam::{account_id}:root"),
            user_id: account_id.clone(),
            principal: Principal::Root {
                account: account_id.clone(),
            },
            identity: Identity::Root,
            tags: Vec::new(),
            access_key_id: access_key_id.to_owned(),
            account_id,
            session,
        }),
        Some(name) => {
            let user = snapshot
                .state
                .accounts
                .get(&account_id)
                .and_then(|a| a.users.get(&name.to_lowercase()))
                .ok_or_else(invalid_token)?;
            let arn = format!("arn:aws:iam::{account_id}:user{}{}", user.path, user.name);
            Ok(Caller {
                principal: Principal::User {
                    arn: arn.clone(),
                    account: account_id.clone(),
                    name: user.name.clone(),
                },
                identity: Identity::User {
                    name: user.name.clone(),
                },
                arn,
                user_id: user.user_id.clone(),
                tags: user.tags.clone(),
                access_key_id: access_key_id.to_owned(),
                account_id,
                session,
            })
        }
    }
}

/// The API a call is made to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Iam,
    Sts,
}

impl Caller {
    /// What the caller's kind of credentials may call at all, before any policy is read (as
    /// AWS's STS documents it): a GetSessionToken session made without MFA may not call IAM,
    /// and calls only AssumeRole and GetCallerIdentity in STS; a federation token calls only
    /// `sts:GetCallerIdentity`, nothing of IAM.
    pub fn may_call(&self, api: Api, action: &str) -> Result<(), ApiError> {
        let Some(session) = &self.session else {
            return Ok(());
        };
        let refuse_sts = |kind: &str| {
            ApiError::access_denied(format!(
                "Cannot call {action} with {kind}: only {} are served to them.",
                if kind.starts_with("federation") {
                    "GetCallerIdentity"
                } else {
                    "AssumeRole and GetCallerIdentity"
                }
            ))
        };
        match (&session.principal, api) {
            (SessionPrincipal::User { .. }, Api::Iam) if session.mfa_authenticated_at.is_none() => {
                Err(invalid_token())
            }
            (SessionPrincipal::User { .. }, Api::Sts)
                if !matches!(action, "AssumeRole" | "GetCallerIdentity") =>
            {
                Err(refuse_sts("GetSessionToken credentials"))
            }
            (SessionPrincipal::FederatedUser { .. }, Api::Iam) => Err(invalid_token()),
            (SessionPrincipal::FederatedUser { .. }, Api::Sts) if action != "GetCallerIdentity" => {
                Err(refuse_sts("federation token credentials"))
            }
            _ => Ok(()),
        }
    }
}

/// Tags `base` with `overrides` on top (keys compared without regard to case).
pub fn merge_tags(base: &[Tag], overrides: &[Tag]) -> Vec<Tag> {
    let mut out: Vec<Tag> = base
        .iter()
        .filter(|t| !overrides.iter().any(|o| o.key.eq_ignore_ascii_case(&t.key)))
        .cloned()
        .collect();
    out.extend(overrides.iter().cloned());
    out
}

/// A caller with temporary credentials. The session's identity must still exist as it was:
/// a deleted role (or one re-created under the same name) ends its sessions at once.
fn session_caller(snapshot: &Snapshot, claims: Arc<SessionClaims>) -> Result<Caller, ApiError> {
    let account_id = claims.account_id.clone();
    let account = snapshot
        .state
        .accounts
        .get(&account_id)
        .ok_or_else(invalid_token)?;
    match &claims.principal {
        SessionPrincipal::User { user_name, user_id } => {
            if let Some(name) = user_name {
                let user = account
                    .users
                    .get(&name.to_lowercase())
                    .ok_or_else(invalid_token)?;
                if &user.user_id != user_id {
                    return Err(invalid_token());
                }
            }
            let (user_name, key) = (user_name.clone(), claims.access_key_id.clone());
            long_term_caller(
                snapshot,
                &account_id,
                user_name.as_deref(),
                &key,
                Some(claims),
            )
        }
        SessionPrincipal::AssumedRole {
            role_name,
            role_id,
            session_name,
            ..
        } => {
            let role = account
                .roles
                .get(&role_name.to_lowercase())
                .ok_or_else(invalid_token)?;
            if &role.role_id != role_id {
                return Err(invalid_token());
            }
            let arn = format!(
                "arn:aws:sts::{account_id}:assumed-role/{}/{session_name}",
                role.name
            );
            Ok(Caller {
                principal: Principal::AssumedRole {
                    arn: arn.clone(),
                    account: account_id.clone(),
                    role_name: role.name.clone(),
                    role_arn: format!("arn:aws:iam::{account_id}:role{}{}", role.path, role.name),
                    session_name: session_name.clone(),
                },
                identity: Identity::AssumedRole {
                    role_name: role.name.clone(),
                    session_name: session_name.clone(),
                },
                arn,
                user_id: format!("{}:{session_name}", role.role_id),
                tags: merge_tags(&role.tags, &claims.tags),
                access_key_id: claims.access_key_id.clone(),
                account_id,
                session: Some(claims),
            })
        }
        SessionPrincipal::FederatedUser {
            name,
            federating_user,
            federating_user_id,
        } => {
            // The root user's federation session names no user (and its federating id is the
            // account's); an IAM user's must still be that same user.
            let (user_arn, federating, user_tags) =
                if federating_user.is_empty() && *federating_user_id == account_id {
                    (None, String::new(), &[][..])
                } else {
                    let user = account
                        .users
                        .get(&federating_user.to_lowercase())
                        .filter(|u| &u.user_id == federating_user_id)
                        .ok_or_else(invalid_token)?;
                    (
                        Some(format!(
                            "arn:aws:iam::{account_id}:user{}{}",
                            user.path, user.name
                        )),
                        user.name.clone(),
                        &user.tags[..],
                    )
                };
            let arn = format!("arn:aws:sts::{account_id}:federated-user/{name}");
            Ok(Caller {
                principal: Principal::FederatedUser {
                    arn: arn.clone(),
                    account: account_id.clone(),
                    name: name.clone(),
                    user_arn,
                },
                identity: Identity::FederatedUser {
                    name: name.clone(),
                    federating_user: federating,
                },
                arn,
                user_id: format!("{account_id}:{name}"),
                tags: merge_tags(user_tags, &claims.tags),
                access_key_id: claims.access_key_id.clone(),
                account_id,
                session: Some(claims),
            })
        }
    }
}
