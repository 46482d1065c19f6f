//! SSH public key actions. Every action names its user (ListSSHPublicKeys defaults to the
//! caller's own keys).

use portcullis_iam::IamError;
use portcullis_iam::model::{KeyStatus, SshPublicKey};
use portcullis_iam::ops::{self, ssh_keys};

use super::{Call, CallKeys, Entity, page_footer};
use crate::auth::Identity;
use crate::error::ApiError;
use crate::xml::Xml;

/// `Status` of Update{SSHPublicKey,SigningCertificate}: `Active` or `Inactive`; `Expired`
/// is in the API's enum but is not a state a caller can set.
pub(super) fn parse_status(call: &Call<'_>) -> Result<KeyStatus, ApiError> {
    let status = call.params.required("Status")?;
    match KeyStatus::parse(status) {
        Some(s) => Ok(s),
        None if status == "Expired" => Err(IamError::InvalidInput(
            "The status Expired cannot be set: use Active or Inactive.".into(),
        )
        .into()),
        None => Err(ApiError::validation(format!(
            "1 validation error detected: Value '{status}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive, Expired]"
        ))),
    }
}

fn write_key(x: &mut Xml, key: &SshPublicKey, body: &str) {
    x.elem("SSHPublicKey", |x| {
        x.text("UserName", &key.user_name)
            .text("SSHPublicKeyId", &key.ssh_public_key_id)
            .text("Fingerprint", &key.fingerprint)
            .text("SSHPublicKeyBody", body)
            .text("Status", key.status.as_str())
            .text("UploadDate", &key.upload_date);
    });
}

/// Authorizes `action` on user `name`.
fn authorize_on(call: &Call<'_>, action: &str, name: &str) -> Result<(), ApiError> {
    call.authorize_entity(action, Entity::User(name), CallKeys::default())
        .map(drop)
}

pub fn upload_ssh_public_key(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("UserName")?;
    let body = call.params.required("SSHPublicKeyBody")?;
    authorize_on(call, "iam:UploadSSHPublicKey", name)?;
    let key = call
        .service
        .write(|s, t| ssh_keys::upload(s, t, call.account(), name, body))?;
    let mut x = Xml::new();
    write_key(&mut x, &key, &key.body_ssh);
    Ok(x)
}

pub fn get_ssh_public_key(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("UserName")?;
    let key_id = call.params.required("SSHPublicKeyId")?;
    let encoding = call.params.required("Encoding")?;
    let pem = match encoding {
        "SSH" => false,
        "PEM" => true,
        other => {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{other}' at 'encoding' failed to satisfy constraint: Member must satisfy enum value set: [SSH, PEM]"
            )));
        }
    };
    authorize_on(call, "iam:GetSSHPublicKey", name)?;
    let account = call.snapshot.state.account(call.account())?;
    let key = ssh_keys::get(account, name, key_id)?;
    let mut x = Xml::new();
    write_key(&mut x, key, if pem { &key.body_pem } else { &key.body_ssh });
    Ok(x)
}

pub fn list_ssh_public_keys(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = match (call.params.get("UserName"), &call.caller.identity) {
        (Some(n), _) => Some(n),
        (None, Identity::User { name }) => Some(name.as_str()),
        // Root has no SSH keys of its own.
        (None, Identity::Root) => None,
        (
            None,
            Identity::AssumedRole { .. } | Identity::FederatedUser { .. } | Identity::Anonymous,
        ) => {
            return Err(ApiError::validation(
                "Must specify userName when calling with non-User credentials",
            ));
        }
    };
    match name {
        Some(n) => authorize_on(call, "iam:ListSSHPublicKeys", n)?,
        None => {
            call.authorize_entity("iam:ListSSHPublicKeys", Entity::Caller, CallKeys::default())?;
        }
    }
    let account = call.snapshot.state.account(call.account())?;
    let keys = match name {
        Some(n) => {
            ops::user(account, n)?;
            ssh_keys::list(account, n)
        }
        None => Vec::new(),
    };
    let (page, next) = call.paginate(keys, |k| k.ssh_public_key_id.clone())?;
    let mut x = Xml::new();
    x.list("SSHPublicKeys", page, |x, k| {
        x.text("UserName", &k.user_name)
            .text("SSHPublicKeyId", &k.ssh_public_key_id)
            .text("Status", k.status.as_str())
            .text("UploadDate", &k.upload_date);
    });
    page_footer(&mut x, next);
    Ok(x)
}

pub fn update_ssh_public_key(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("UserName")?;
    let key_id = call.params.required("SSHPublicKeyId")?;
    let status = parse_status(call)?;
    authorize_on(call, "iam:UpdateSSHPublicKey", name)?;
    call.service
        .write(|s, t| ssh_keys::update(s, t, call.account(), name, key_id, status))?;
    Ok(Xml::new())
}

pub fn delete_ssh_public_key(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("UserName")?;
    let key_id = call.params.required("SSHPublicKeyId")?;
    authorize_on(call, "iam:DeleteSSHPublicKey", name)?;
    call.service
        .write(|s, t| ssh_keys::delete(s, t, call.account(), name, key_id))?;
    Ok(Xml::new())
}
