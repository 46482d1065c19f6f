//! Service-specific credentials (Create/List/Reset/Update/DeleteServiceSpecificCredential):
//! credentials of an IAM user that only one service accepts. CodeCommit and Keyspaces take a
//! user name (`USER-at-ACCOUNT`) and a password; Bedrock and CloudWatch Logs an alias and a
//! secret (API keys, which may expire). At most two per user and service, as AWS allows. The
//! secret is returned once; only its argon2id hash is stored, hashed by the caller before the
//! write (argon2 is slow by design, and the writer's turn is not held for it).

use crate::error::{IamError, IamResult};
use crate::ids::{IdKind, new_id};
use crate::model::{KeyStatus, ServiceCredential, now_timestamp};
use crate::state::{AccountState, IamState, Touched};

/// Credentials per user and service (AWS's quota).
pub const MAX_PER_SERVICE: usize = 2;

/// How a service's credentials are shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A service user name and a password.
    UserAndPassword,
    /// An alias and a secret (an API key), optionally expiring.
    AliasAndSecret,
}

/// The services that take service-specific credentials, and their shape.
pub fn shape(service_name: &str) -> IamResult<Shape> {
    match service_name {
        "codecommit.amazonaws.com" | "cassandra.amazonaws.com" => Ok(Shape::UserAndPassword),
        "bedrock.amazonaws.com" | "logs.amazonaws.com" => Ok(Shape::AliasAndSecret),
        other => Err(IamError::NotSupportedService(format!(
            "No such service {other} is supported for Service-Specific Credentials"
        ))),
    }
}

/// A new secret: a password of 44 characters, or an API key secret of 60, from the letters,
/// digits and `+/=` (as AWS's look).
pub fn new_secret(shape: Shape) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let len = match shape {
        Shape::UserAndPassword => 44,
        Shape::AliasAndSecret => 60,
    };
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

fn find<'a>(
    account: &'a mut AccountState,
    user_name: &str,
    id: &str,
) -> IamResult<&'a mut ServiceCredential> {
    let user = super::user_mut(account, user_name)?;
    user.service_credentials
        .iter_mut()
        .find(|c| c.id == id)
        .ok_or_else(|| {
            IamError::NoSuchEntity(format!(
                "No such service-specific credential: {id} for user {user_name}."
            ))
        })
}

/// CreateServiceSpecificCredential, with `secret_hash` the hash of the secret to return.
#[allow(clippy::too_many_arguments)]
pub fn create(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    user_name: &str,
    service_name: &str,
    age_days: Option<u32>,
    secret_hash: String,
) -> IamResult<ServiceCredential> {
    let shape = shape(service_name)?;
    let account = state.account_mut(account_id)?;
    let user = super::user_mut(account, user_name)?;
    if user
        .service_credentials
        .iter()
        .filter(|c| c.service_name == service_name)
        .count()
        >= MAX_PER_SERVICE
    {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: {MAX_PER_SERVICE}"
        )));
    }
    let now = time::OffsetDateTime::now_utc();
    let at = |t: time::OffsetDateTime| {
        t.replace_nanosecond(0)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(now_timestamp)
    };
    let expiration_date = match (shape, age_days) {
        (Shape::AliasAndSecret, Some(days)) => {
            Some(at(now + time::Duration::days(i64::from(days))))
        }
        _ => None,
    };
    let login = format!("{}-at-{account_id}", user.name);
    let credential = ServiceCredential {
        id: new_id(IdKind::ServiceCredential),
        service_name: service_name.to_owned(),
        service_user_name: (shape == Shape::UserAndPassword).then(|| login.clone()),
        alias: (shape == Shape::AliasAndSecret).then_some(login),
        secret_hash,
        status: KeyStatus::Active,
        create_date: at(now),
        expiration_date,
    };
    user.service_credentials.push(credential.clone());
    let name = user.name.clone();
    touched.user(account_id, &name);
    Ok(credential)
}

/// ListServiceSpecificCredentials: `user_name`'s, or every user's (`None`), of one service or
/// all, oldest first.
pub fn list<'a>(
    account: &'a AccountState,
    user_name: Option<&str>,
    service_name: Option<&str>,
) -> IamResult<Vec<(&'a str, &'a ServiceCredential)>> {
    if let Some(service) = service_name {
        shape(service)?;
    }
    let users: Vec<_> = match user_name {
        Some(name) => vec![super::user(account, name)?],
        None => account.users.values().collect(),
    };
    let mut out: Vec<(&str, &ServiceCredential)> = users
        .into_iter()
        .flat_map(|u| {
            u.service_credentials
                .iter()
                .filter(|c| service_name.is_none_or(|s| c.service_name == s))
                .map(move |c| (u.name.as_str(), c))
        })
        .collect();
    out.sort_by(|a, b| {
        a.1.create_date
            .cmp(&b.1.create_date)
            .then(a.1.id.cmp(&b.1.id))
    });
    Ok(out)
}

/// ResetServiceSpecificCredential: a new secret (hashed by the caller) for the credential.
pub fn reset(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    user_name: &str,
    id: &str,
    secret_hash: String,
) -> IamResult<ServiceCredential> {
    let credential = find(state.account_mut(account_id)?, user_name, id)?;
    credential.secret_hash = secret_hash;
    let out = credential.clone();
    touched.user(account_id, user_name);
    Ok(out)
}

/// UpdateServiceSpecificCredential: Active or Inactive.
pub fn update(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    user_name: &str,
    id: &str,
    status: KeyStatus,
) -> IamResult<()> {
    find(state.account_mut(account_id)?, user_name, id)?.status = status;
    touched.user(account_id, user_name);
    Ok(())
}

/// DeleteServiceSpecificCredential.
pub fn delete(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    user_name: &str,
    id: &str,
) -> IamResult<()> {
    find(state.account_mut(account_id)?, user_name, id)?;
    let user = super::user_mut(state.account_mut(account_id)?, user_name)?;
    user.service_credentials.retain(|c| c.id != id);
    touched.user(account_id, user_name);
    Ok(())
}
