//! Access key actions. Without `UserName`, a call acts on the caller's own keys (root's
//! when the caller is root).

use portcullis_iam::model::{AccessKey, KeyStatus};
use portcullis_iam::ops::access_keys;

use super::users::user_target;
use super::{Call, CallKeys, page_footer};
use crate::auth::Identity;
use crate::error::ApiError;
use crate::xml::Xml;

/// Whose keys: `Some(user)` or `None` for root; and the ARN to authorize against.
fn owner<'a>(call: &'a Call<'_>) -> Result<(Option<&'a str>, String), ApiError> {
    match (call.params.get("UserName"), &call.caller.identity) {
        (Some(name), _) => Ok((Some(name), user_target(call, name)?.0)),
        (None, Identity::User { name, .. }) => Ok((Some(name.as_str()), call.caller.arn.clone())),
        (None, Identity::Root) => Ok((None, call.caller.arn.clone())),
        (None, Identity::AssumedRole { .. } | Identity::FederatedUser { .. }) => Err(
            ApiError::validation("Must specify userName when calling with non-User credentials"),
        ),
    }
}

fn write_key_metadata(x: &mut Xml, key: &AccessKey, root_name: &str) {
    x.text("UserName", key.user_name.as_deref().unwrap_or(root_name))
        .text("AccessKeyId", &key.access_key_id)
        .text("Status", key.status.as_str())
        .text("CreateDate", &key.create_date);
}

pub fn create_access_key(call: &Call<'_>) -> Result<Xml, ApiError> {
    let (user, arn) = owner(call)?;
    call.authorize("iam:CreateAccessKey", &arn, CallKeys::default())?;
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
    let (user, arn) = owner(call)?;
    call.authorize("iam:ListAccessKeys", &arn, CallKeys::default())?;
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
    let (user, arn) = owner(call)?;
    let key_id = call.params.required("AccessKeyId")?;
    let status = call.params.required("Status")?;
    let status = KeyStatus::parse(status).ok_or_else(|| {
        ApiError::validation(format!(
            "1 validation error detected: Value '{status}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]"
        ))
    })?;
    call.authorize("iam:UpdateAccessKey", &arn, CallKeys::default())?;
    call.service
        .write(|s, t| access_keys::update(s, t, call.account(), user, key_id, status))?;
    Ok(Xml::new())
}

pub fn delete_access_key(call: &Call<'_>) -> Result<Xml, ApiError> {
    let (user, arn) = owner(call)?;
    let key_id = call.params.required("AccessKeyId")?;
    call.authorize("iam:DeleteAccessKey", &arn, CallKeys::default())?;
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
    let arn = match key.and_then(|k| k.user_name.as_deref()) {
        Some(u) => user_target(call, u)?.0,
        None => call.caller.arn.clone(),
    };
    call.authorize("iam:GetAccessKeyLastUsed", &arn, CallKeys::default())?;
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
