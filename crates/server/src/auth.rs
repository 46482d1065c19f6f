//! Authentication: a SigV4-signed request → the [`Caller`] it comes from.
//!
//! The secret is looked up by the access key id the request names, in the current snapshot
//! (never the database); the signature is compared in constant time by `portcullis-sigv4`.

use portcullis_iam::Snapshot;
use portcullis_iam::model::{KeyStatus, Tag};
use portcullis_policy::Principal;
use portcullis_sigv4::{Error as SigError, Request as SignedRequest, parse, verify};

use crate::error::ApiError;

/// Who the caller is, in IAM terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// The account's root user.
    Root,
    /// An IAM user.
    User { name: String },
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account_id: String,
    pub identity: Identity,
    /// `arn:aws:iam::A:root` or the user's ARN.
    pub arn: String,
    /// `aws:userid`: the account id for root, the unique id (`AIDA…`) for a user.
    pub user_id: String,
    pub principal: Principal,
    /// `aws:PrincipalTag/*`.
    pub tags: Vec<Tag>,
    pub access_key_id: String,
}

fn invalid_token() -> ApiError {
    ApiError::new(
        "InvalidClientTokenId",
        403,
        "The security token included in the request is invalid.",
    )
}

fn from_sigv4(e: &SigError) -> ApiError {
    match e {
        SigError::MissingAuthentication => ApiError::new(
            "MissingAuthenticationToken",
            403,
            "Request is missing Authentication Token",
        ),
        SigError::RequestTimeTooSkewed { .. } => ApiError::new(
            "RequestTimeTooSkewed",
            403,
            format!("{e}: the request time is more than 15 minutes from the server's time."),
        ),
        other => ApiError::new(other.aws_code(), other.http_status(), other.to_string()),
    }
}

/// Authenticates `request` against the keys in `snapshot` at unix time `now`.
pub fn authenticate(
    snapshot: &Snapshot,
    request: &SignedRequest<'_>,
    now: i64,
) -> Result<Caller, ApiError> {
    let auth = parse(request).map_err(|e| from_sigv4(&e))?;
    if auth.session_token().is_some() {
        // Temporary credentials come with STS (not yet served): no session token is valid.
        return Err(invalid_token());
    }
    let key = snapshot
        .state
        .access_keys
        .get(auth.access_key_id())
        .ok_or_else(invalid_token)?;
    let verified = verify(&auth, request, key.secret.expose(), now).map_err(|e| from_sigv4(&e))?;
    // An unsigned payload could carry any Action: a body must be covered by the signature.
    if !verified.payload_signed() && !request.body_bytes().is_empty() {
        return Err(ApiError::new(
            "IncompleteSignature",
            400,
            "The request body must be signed (UNSIGNED-PAYLOAD is not accepted with a body).",
        ));
    }
    if key.status != KeyStatus::Active {
        return Err(invalid_token());
    }
    let account_id = key.account_id.clone();
    match &key.user_name {
        None => Ok(Caller {
            arn: format!("arn:aws:iam::{account_id}:root"),
            user_id: account_id.clone(),
            principal: Principal::Root {
                account: account_id.clone(),
            },
            identity: Identity::Root,
            tags: Vec::new(),
            access_key_id: key.access_key_id.clone(),
            account_id,
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
                access_key_id: key.access_key_id.clone(),
                account_id,
            })
        }
    }
}
