//! Service-specific credentials: Create/List/Reset/Update/DeleteServiceSpecificCredential. The
//! credential's user is the one named, or the calling user; the secret is answered once.

use portcullis_iam::model::{KeyStatus, ServiceCredential};
use portcullis_iam::ops::service_credentials::{self, Shape};
use portcullis_iam::passwords;

use super::{Call, CallKeys, Entity, page_footer};
use crate::error::ApiError;
use crate::xml::Xml;

/// The credential's user: `UserName`, or the calling IAM user.
fn owner<'a>(call: &'a Call<'_>) -> Result<&'a str, ApiError> {
    match call.credentials_owner()? {
        (Some(user), _) => Ok(user),
        (None, _) => Err(ApiError::validation(
            "Must specify userName when calling with non-User credentials",
        )),
    }
}

/// serviceSpecificCredentialId: 20 to 128 word characters.
fn credential_id<'a>(call: &'a Call<'_>) -> Result<&'a str, ApiError> {
    let id = call.params.required("ServiceSpecificCredentialId")?;
    if !(20..=128).contains(&id.len())
        || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{id}' at 'serviceSpecificCredentialId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w]+"
        )));
    }
    Ok(id)
}

fn status(c: &ServiceCredential, now: i64) -> &'static str {
    let expired = c.expiration_date.as_deref().is_some_and(|t| {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
            .is_ok_and(|t| t.unix_timestamp() <= now)
    });
    if expired {
        "Expired"
    } else {
        c.status.as_str()
    }
}

/// The fields common to a credential and its metadata.
fn write_metadata(x: &mut Xml, user: &str, c: &ServiceCredential, now: i64) {
    x.text("UserName", user)
        .text("Status", status(c, now))
        .opt("ServiceUserName", c.service_user_name.as_deref())
        .opt("ServiceCredentialAlias", c.alias.as_deref())
        .text("CreateDate", &c.create_date)
        .opt("ExpirationDate", c.expiration_date.as_deref())
        .text("ServiceSpecificCredentialId", &c.id)
        .text("ServiceName", &c.service_name);
}

/// `<ServiceSpecificCredential>` with the secret, shown this once.
fn write_with_secret(x: &mut Xml, user: &str, c: &ServiceCredential, secret: &str, now: i64) {
    x.elem("ServiceSpecificCredential", |x| {
        write_metadata(x, user, c, now);
        if c.alias.is_some() {
            x.text("ServiceCredentialSecret", secret);
        } else {
            x.text("ServicePassword", secret);
        }
    });
}

pub fn create_service_specific_credential(call: &Call<'_>) -> Result<Xml, ApiError> {
    let user = call.params.required("UserName")?;
    let service = call.params.required("ServiceName")?;
    let age = call.params.int("CredentialAgeDays", 1, 36_600)?;
    call.authorize_entity(
        "iam:CreateServiceSpecificCredential",
        Entity::User(user),
        CallKeys::default(),
    )?;
    let shape = service_credentials::shape(service)?;
    let secret = service_credentials::new_secret(shape);
    let hash = passwords::hash(&secret)?;
    let age = age.and_then(|d| u32::try_from(d).ok());
    let credential = call.service.write(|s, t| {
        service_credentials::create(s, t, call.account(), user, service, age, hash)
    })?;
    let stored = stored_user_name(call, user);
    let mut x = Xml::new();
    write_with_secret(&mut x, &stored, &credential, &secret, call.env.now);
    Ok(x)
}

/// The user's name as stored (the request may differ in case).
fn stored_user_name(call: &Call<'_>, user: &str) -> String {
    call.service
        .snapshot()
        .state
        .accounts
        .get(call.account())
        .and_then(|a| a.users.get(&user.to_lowercase()))
        .map_or_else(|| user.to_owned(), |u| u.name.clone())
}

pub fn list_service_specific_credentials(call: &Call<'_>) -> Result<Xml, ApiError> {
    let all_users = call.params.bool("AllUsers")?.unwrap_or(false);
    let service = call.params.get("ServiceName");
    let user = if all_users {
        call.authorize(
            "iam:ListServiceSpecificCredentials",
            &call.arn("user", "/", "*"),
            CallKeys::default(),
        )?;
        None
    } else {
        let user = owner(call)?;
        call.authorize_entity(
            "iam:ListServiceSpecificCredentials",
            Entity::User(user),
            CallKeys::default(),
        )?;
        Some(user)
    };
    let account = call.snapshot.state.account(call.account())?;
    let listed = service_credentials::list(account, user, service)?;
    let (page, next) = call.paginate(listed, |(_, c)| c.id.clone())?;
    let mut x = Xml::new();
    x.list("ServiceSpecificCredentials", page, |x, (user, c)| {
        write_metadata(x, user, c, call.env.now);
    });
    page_footer(&mut x, next);
    Ok(x)
}

pub fn reset_service_specific_credential(call: &Call<'_>) -> Result<Xml, ApiError> {
    let user = owner(call)?;
    let id = credential_id(call)?;
    call.authorize_entity(
        "iam:ResetServiceSpecificCredential",
        Entity::User(user),
        CallKeys::default(),
    )?;
    let shape = call
        .snapshot
        .state
        .account(call.account())?
        .users
        .get(&user.to_lowercase())
        .and_then(|u| u.service_credentials.iter().find(|c| c.id == id))
        .map_or(Shape::UserAndPassword, |c| {
            service_credentials::shape(&c.service_name).unwrap_or(Shape::UserAndPassword)
        });
    let secret = service_credentials::new_secret(shape);
    let hash = passwords::hash(&secret)?;
    let credential = call
        .service
        .write(|s, t| service_credentials::reset(s, t, call.account(), user, id, hash))?;
    let stored = stored_user_name(call, user);
    let mut x = Xml::new();
    write_with_secret(&mut x, &stored, &credential, &secret, call.env.now);
    Ok(x)
}

pub fn update_service_specific_credential(call: &Call<'_>) -> Result<Xml, ApiError> {
    let user = owner(call)?;
    let id = credential_id(call)?;
    let status = call.params.required("Status")?;
    let status = KeyStatus::parse(status).ok_or_else(|| {
        ApiError::validation(format!(
            "1 validation error detected: Value '{status}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]"
        ))
    })?;
    call.authorize_entity(
        "iam:UpdateServiceSpecificCredential",
        Entity::User(user),
        CallKeys::default(),
    )?;
    call.service
        .write(|s, t| service_credentials::update(s, t, call.account(), user, id, status))?;
    Ok(Xml::new())
}

pub fn delete_service_specific_credential(call: &Call<'_>) -> Result<Xml, ApiError> {
    let user = owner(call)?;
    let id = credential_id(call)?;
    call.authorize_entity(
        "iam:DeleteServiceSpecificCredential",
        Entity::User(user),
        CallKeys::default(),
    )?;
    call.service
        .write(|s, t| service_credentials::delete(s, t, call.account(), user, id))?;
    Ok(Xml::new())
}
