//! The IAM operations, on the in-memory state. Each validates its input, enforces quotas,
//! changes the state and marks what it touched; the service commits and publishes.
//! Nothing here knows of HTTP or XML.

pub mod access_keys;
pub mod account;
pub mod attachments;
pub mod groups;
pub mod instance_profiles;
pub mod login_profiles;
pub mod mfa;
pub mod oidc_providers;
pub mod policies;
pub mod roles;
pub mod saml_providers;
pub mod server_certificates;
pub mod service_credentials;
pub mod signing_certificates;
pub mod ssh_keys;
pub mod users;

use crate::error::{IamError, IamResult};
use crate::model::{Group, InstanceProfile, Role, User};
use crate::state::AccountState;

/// The ARN of an IAM entity: `arn:aws:iam::A:user/path/name`.
pub fn entity_arn(account: &str, kind: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:{kind}{path}{name}")
}

pub fn user<'a>(account: &'a AccountState, name: &str) -> IamResult<&'a User> {
    account.users.get(&name.to_lowercase()).ok_or_else(|| {
        IamError::NoSuchEntity(format!("The user with name {name} cannot be found."))
    })
}

pub fn user_mut<'a>(account: &'a mut AccountState, name: &str) -> IamResult<&'a mut User> {
    account.users.get_mut(&name.to_lowercase()).ok_or_else(|| {
        IamError::NoSuchEntity(format!("The user with name {name} cannot be found."))
    })
}

pub fn group<'a>(account: &'a AccountState, name: &str) -> IamResult<&'a Group> {
    account.groups.get(&name.to_lowercase()).ok_or_else(|| {
        IamError::NoSuchEntity(format!("The group with name {name} cannot be found."))
    })
}

pub fn group_mut<'a>(account: &'a mut AccountState, name: &str) -> IamResult<&'a mut Group> {
    account.groups.get_mut(&name.to_lowercase()).ok_or_else(|| {
        IamError::NoSuchEntity(format!("The group with name {name} cannot be found."))
    })
}

pub fn role<'a>(account: &'a AccountState, name: &str) -> IamResult<&'a Role> {
    account.roles.get(&name.to_lowercase()).ok_or_else(|| {
        IamError::NoSuchEntity(format!("The role with name {name} cannot be found."))
    })
}

/// The role an ARN names exactly: `arn:aws:iam::{account}:role{path}{name}` with the path and
/// name as stored (names are unique without regard to case, but an ARN is the role's own text:
/// `role/dev/Admin` or `role/ADMIN` does not name the role `/Admin`). `None` when the ARN is
/// malformed or names no role.
pub fn role_by_arn<'a>(state: &'a crate::state::IamState, arn: &str) -> Option<&'a Role> {
    let (account_id, resource) = split_iam_arn(arn, "role")?;
    let name = resource.rsplit('/').next().filter(|n| !n.is_empty())?;
    let role = state
        .accounts
        .get(account_id)?
        .roles
        .get(&name.to_lowercase())?;
    (resource.len() == role.path.len() + role.name.len()
        && resource.starts_with(role.path.as_str())
        && resource.ends_with(role.name.as_str()))
    .then_some(role)
}

/// `arn:aws:iam::{12 digits}:{kind}{rest}` → (account, `{rest}` starting with `/`).
pub fn split_iam_arn<'a>(arn: &'a str, kind: &str) -> Option<(&'a str, &'a str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let resource = resource.strip_prefix(kind)?;
    resource.starts_with('/').then_some((account, resource))
}

pub fn role_mut<'a>(account: &'a mut AccountState, name: &str) -> IamResult<&'a mut Role> {
    account.roles.get_mut(&name.to_lowercase()).ok_or_else(|| {
        IamError::NoSuchEntity(format!("The role with name {name} cannot be found."))
    })
}

pub fn instance_profile<'a>(
    account: &'a AccountState,
    name: &str,
) -> IamResult<&'a InstanceProfile> {
    account
        .instance_profiles
        .get(&name.to_lowercase())
        .ok_or_else(|| IamError::NoSuchEntity(format!("Instance Profile {name} cannot be found.")))
}

pub fn instance_profile_mut<'a>(
    account: &'a mut AccountState,
    name: &str,
) -> IamResult<&'a mut InstanceProfile> {
    account
        .instance_profiles
        .get_mut(&name.to_lowercase())
        .ok_or_else(|| IamError::NoSuchEntity(format!("Instance Profile {name} cannot be found.")))
}

/// Items whose path starts with `prefix` (every item when there is none).
pub fn path_matches(path: &str, prefix: Option<&str>) -> bool {
    prefix.is_none_or(|p| path.starts_with(p))
}

/// The resource of `arn:aws:iam::{account_id}:{kind}/{resource}`: InvalidInput when `arn` is
/// not an IAM ARN of that kind, NoSuchEntity when it names another account's entity.
pub fn arn_resource<'a>(
    account_id: &str,
    arn: &'a str,
    kind: &str,
    what: &str,
) -> IamResult<&'a str> {
    let invalid = || IamError::InvalidInput(format!("ARN {arn} is not valid."));
    let rest = arn.strip_prefix("arn:aws:iam::").ok_or_else(invalid)?;
    let (account, rest) = rest.split_once(':').ok_or_else(invalid)?;
    let resource = rest
        .strip_prefix(kind)
        .and_then(|r| r.strip_prefix('/'))
        .filter(|r| !r.is_empty())
        .ok_or_else(invalid)?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    if account != account_id {
        return Err(IamError::NoSuchEntity(format!("{what} {arn} not found.")));
    }
    Ok(resource)
}

/// A random id of `len` characters of `[A-Z0-9]` (SAML provider UUIDs and key ids).
pub fn random_upper_alnum(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}
