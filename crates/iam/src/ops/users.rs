//! Users: CreateUser, GetUser, ListUsers, UpdateUser, DeleteUser, and their tags.

use crate::error::{IamError, IamResult};
use crate::ids::{IdKind, new_id};
use crate::model::{Tag, User, now_timestamp};
use crate::names::{all_valid, check_name, check_path, check_tags};
use crate::state::{AccountState, IamState, Touched};

pub fn create_user(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    name: &str,
    path: Option<&str>,
    boundary: Option<&str>,
    tags: &[Tag],
) -> IamResult<User> {
    let path = path.unwrap_or("/");
    all_valid([
        check_name("userName", name, 64),
        check_path(path),
        check_tags(&[], tags).map(|_| ()),
    ])?;
    let tags = check_tags(&[], tags)?;
    if let Some(arn) = boundary {
        super::attachments::check_boundary_policy(state, account_id, arn)?;
    }
    let max_users = state.limits.max_users;
    let account = state.account_mut(account_id)?;
    if account.users.contains_key(&name.to_lowercase()) {
        return Err(IamError::EntityAlreadyExists(format!(
            "User with name {name} already exists."
        )));
    }
    if account.users.len() >= max_users {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for UsersPerAccount: {max_users}."
        )));
    }
    let user = User {
        user_id: new_id(IdKind::User),
        name: name.to_owned(),
        path: path.to_owned(),
        create_date: now_timestamp(),
        tags,
        permissions_boundary: boundary.map(str::to_owned),
        inline_policies: Default::default(),
        attached_policies: Vec::new(),
        groups: Vec::new(),
        login_profile: None,
        password_last_used: None,
        password_history: Vec::new(),
        service_credentials: Vec::new(),
    };
    account.users.insert(name.to_lowercase(), user.clone());
    touched.user(account_id, name);
    Ok(user)
}

pub fn update_user(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    name: &str,
    new_name: Option<&str>,
    new_path: Option<&str>,
) -> IamResult<()> {
    if let Some(n) = new_name {
        check_name("newUserName", n, 64)?;
    }
    if let Some(p) = new_path {
        check_path(p)?;
    }
    let account = state.account_mut(account_id)?;
    let mut user = super::user(account, name)?.clone();
    if let Some(p) = new_path {
        user.path = p.to_owned();
    }
    if let Some(n) = new_name {
        if !n.eq_ignore_ascii_case(name) && account.users.contains_key(&n.to_lowercase()) {
            return Err(IamError::EntityAlreadyExists(format!(
                "User with name {n} already exists."
            )));
        }
        user.name = n.to_owned();
        account.users.remove(&name.to_lowercase());
        // Keys refer to their user by name.
        let renamed: Vec<String> = state
            .access_keys
            .values()
            .filter(|k| {
                k.account_id == account_id
                    && k.user_name
                        .as_deref()
                        .is_some_and(|u| u.eq_ignore_ascii_case(name))
            })
            .map(|k| k.access_key_id.clone())
            .collect();
        for id in renamed {
            if let Some(key) = state.access_keys.get_mut(&id) {
                key.user_name = Some(n.to_owned());
                touched.access_key(account_id, &id);
            }
        }
        rename_credentials(state.account_mut(account_id)?, touched, account_id, name, n);
        super::mfa::rename_user(state.account_mut(account_id)?, touched, account_id, name, n);
        touched.user(account_id, name);
    }
    let account = state.account_mut(account_id)?;
    touched.user(account_id, &user.name);
    account.users.insert(user.name.to_lowercase(), user);
    Ok(())
}

/// Points the SSH keys and signing certificates of user `old` at its new name `new`.
fn rename_credentials(
    account: &mut AccountState,
    touched: &mut Touched,
    account_id: &str,
    old: &str,
    new: &str,
) {
    let keys: Vec<String> = super::ssh_keys::list(account, old)
        .iter()
        .map(|k| k.ssh_public_key_id.clone())
        .collect();
    for id in keys {
        if let Some(key) = account.ssh_public_keys.get_mut(&id) {
            key.user_name = new.to_owned();
            touched.ssh_public_key(account_id, &id);
        }
    }
    let certs: Vec<String> = super::signing_certificates::list(account, Some(old))
        .iter()
        .map(|c| c.certificate_id.clone())
        .collect();
    for id in certs {
        if let Some(cert) = account.signing_certificates.get_mut(&id) {
            cert.user_name = Some(new.to_owned());
            touched.signing_certificate(account_id, &id);
        }
    }
}

/// Deletes a user that has nothing attached to it, as AWS requires.
pub fn delete_user(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    name: &str,
) -> IamResult<()> {
    let has_keys = state.access_keys.values().any(|k| {
        k.account_id == account_id
            && k.user_name
                .as_deref()
                .is_some_and(|u| u.eq_ignore_ascii_case(name))
    });
    let account = state.account_mut(account_id)?;
    let user = super::user(account, name)?;
    let conflict = if has_keys {
        Some("access keys")
    } else if !user.groups.is_empty() {
        Some("group memberships")
    } else if !user.attached_policies.is_empty() {
        Some("attached policies")
    } else if !user.inline_policies.is_empty() {
        Some("inline policies")
    } else if user.login_profile.is_some() {
        Some("a login profile")
    } else if !super::ssh_keys::list(account, name).is_empty() {
        Some("SSH public keys")
    } else if !super::signing_certificates::list(account, Some(name)).is_empty() {
        Some("signing certificates")
    } else if !super::mfa::list_for_user(account, name).is_empty() {
        Some("MFA devices")
    } else if !user.service_credentials.is_empty() {
        Some("service-specific credentials")
    } else {
        None
    };
    if let Some(what) = conflict {
        return Err(IamError::DeleteConflict(format!(
            "Cannot delete entity, must remove {what} first."
        )));
    }
    account.users.remove(&name.to_lowercase());
    touched.user(account_id, name);
    Ok(())
}

pub fn tag_user(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    name: &str,
    tags: &[Tag],
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    let user = super::user_mut(account, name)?;
    user.tags = check_tags(&user.tags, tags)?;
    touched.user(account_id, name);
    Ok(())
}

pub fn untag_user(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    name: &str,
    keys: &[String],
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    let user = super::user_mut(account, name)?;
    user.tags
        .retain(|t| !keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)));
    touched.user(account_id, name);
    Ok(())
}
