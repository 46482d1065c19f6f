//! Access key actions. Without `UserName`, a call acts on the caller's own keys (root's
//! when the caller is root).

use portcullis_iam::model::{AccessKey, KeyStatus};
use portcullis_iam::ops::access_keys;

use super::{Call, CallKeys, Entity, page_footer};
use crate::error::ApiError;
use crate::xml::Xml;

fn write_key_metadata(x: &mut Xml, key: &AccessKey, root_name: &str) {
    x.text("UserName", key.user_name.as_deref().unwrap_or(root_name))
        .text("AccessKeyId", &key.access_key_id)
        .text("Status", key.status.as_str())
        .text("CreateDate", &key.create_date);
}

pub fn create_access_key(call: &Call<'_>) -> Result<Xml, ApiError> {
    let (user, owner) = call.credentials_owner()?;
    call.authorize_entity("iam:CreateAccessKey", owner, CallKeys::default())?;
    let key = call
        .service
        .write(|s, t| access_keys::create(s, t, call.account(), user))?;
    let mut x = Xml::new();
    x.elem("AccessKey", |x| {
        write_key_metadata(x, &key, call.account());
        // The only time the secret leaves the service.
        x.text("SecretAccessKey", key.secret.expose());
    });
    Ok(x)
}

pub fn list_access_keys(call: &Call<'_>) -> Result<Xml, ApiError> {
    let (user, owner) = call.credentials_owner()?;
    call.authorize_entity("iam:ListAccessKeys", owner, CallKeys::default())?;
    if let Some(u) = user {
        portcullis_iam::ops::user(call.snapshot.state.account(call.account())?, u)?;
    }
    let keys = access_keys::list(&call.snapshot.state, call.account(), user);
    let (page, next) = call.paginate(keys, |k| k.access_key_id.clone())?;
    let mut x = Xml::new();
    x.list("AccessKeyMetadata", page, |x, k| {
        write_key_metadata(x, k, call.account())
    });
    page_footer(&mut x, next);
    Ok(x)
}

pub fn update_access_key(call: &Call<'_>) -> Result<Xml, ApiError> {
    let (user, owner) = call.credentials_owner()?;
    let key_id = call.params.required("AccessKeyId")?;
    let status = call.params.required("Status")?;
    let status = KeyStatus::parse(status).ok_or_else(|| {
        ApiError::validation(format!(
            "1 validation error detected: Value '{status}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]"
        ))
    })?;
    call.authorize_entity("iam:UpdateAccessKey", owner, CallKeys::default())?;
    call.service
        .write(|s, t| access_keys::update(s, t, call.account(), user, key_id, status))?;
    Ok(Xml::new())
}

pub fn delete_access_key(call: &Call<'_>) -> Result<Xml, ApiError> {
    let (user, owner) = call.credentials_owner()?;
    let key_id = call.params.required("AccessKeyId")?;
    call.authorize_entity("iam:DeleteAccessKey", owner, CallKeys::default())?;
    call.service
        .write(|s, t| access_keys::delete(s, t, call.account(), user, key_id))?;
    Ok(Xml::new())
}

pub fn get_access_key_last_used(call: &Call<'_>) -> Result<Xml, ApiError> {
    let key_id = call.params.required("AccessKeyId")?;
    let key = call
        .snapshot
        .state
        .access_keys
        .get(key_id)
        .filter(|k| k.account_id == call.account());
    // The key's owner: its user, or the account's root for a root key (whoever asks). A key
    // this account does not hold is asked about on the caller's own ARN.
    match key {
        Some(k) => {
            let owner = k.user_name.as_deref().map_or(Entity::Root, Entity::User);
            call.authorize_entity("iam:GetAccessKeyLastUsed", owner, CallKeys::default())?;
        }
        None => call.authorize(
            "iam:GetAccessKeyLastUsed",
            &call.caller.arn,
            CallKeys::default(),
        )?,
    }
    let key = key.ok_or_else(|| {
        ApiError::from(portcullis_iam::IamError::NoSuchEntity(format!(
            "The Access Key with id {key_id} cannot be found."
        )))
    })?;
    let mut x = Xml::new();
    x.text(
        "UserName",
        key.user_name.as_deref().unwrap_or(call.account()),
    );
    let last_used = call.service.key_last_used(&key.access_key_id);
    x.elem("AccessKeyLastUsed", |x| match &last_used {
        Some(used) => {
            x.text("LastUsedDate", &used.date)
                .text("ServiceName", &used.service)
                .text("Region", &used.region);
        }
        None => {
            x.text("ServiceName", "N/A").text("Region", "N/A");
        }
    });
    Ok(x)
}
