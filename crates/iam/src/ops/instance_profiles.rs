//! Instance profiles: CreateInstanceProfile, DeleteInstanceProfile, AddRoleToInstanceProfile,
//! RemoveRoleFromInstanceProfile, and their tags.

use crate::error::{IamError, IamResult};
use crate::ids::{IdKind, new_id};
use crate::model::{InstanceProfile, Tag, now_timestamp};
use crate::names::{all_valid, check_name, check_path, check_tags};
use crate::state::{AccountState, IamState, Touched};

/// The most instance profiles an account may have.
pub const MAX_INSTANCE_PROFILES: usize = 1_000;
/// The most roles an instance profile may hold (AWS's `InstanceSessionsPerInstanceProfile`).
pub const MAX_ROLES_PER_INSTANCE_PROFILE: usize = 1;

pub fn create_instance_profile(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    name: &str,
    path: Option<&str>,
    tags: &[Tag],
) -> IamResult<InstanceProfile> {
    let path = path.unwrap_or("/");
    all_valid([
        check_name("instanceProfileName", name, 128),
        check_path(path),
        check_tags(&[], tags).map(|_| ()),
    ])?;
    let tags = check_tags(&[], tags)?;
    let account = state.account_mut(account_id)?;
    if account.instance_profiles.contains_key(&name.to_lowercase()) {
        return Err(IamError::EntityAlreadyExists(format!(
            "Instance Profile {name} already exists."
        )));
    }
    if account.instance_profiles.len() >= MAX_INSTANCE_PROFILES {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for InstanceProfilesPerAccount: {MAX_INSTANCE_PROFILES}."
        )));
    }
    let profile = InstanceProfile {
        instance_profile_id: new_id(IdKind::InstanceProfile),
        name: name.to_owned(),
        path: path.to_owned(),
        create_date: now_timestamp(),
        roles: Vec::new(),
        tags,
    };
    account
        .instance_profiles
        .insert(name.to_lowercase(), profile.clone());
    touched.instance_profile(account_id, name);
    Ok(profile)
}

/// The instance profiles that hold the role named `role_name`, in name order.
pub fn profiles_for_role<'a>(
    account: &'a AccountState,
    role_name: &str,
) -> Vec<&'a InstanceProfile> {
    account
        .instance_profiles
        .values()
        .filter(|p| p.roles.iter().any(|r| r.eq_ignore_ascii_case(role_name)))
        .collect()
}

/// Deletes an instance profile that holds no role, as AWS requires.
pub fn delete_instance_profile(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    name: &str,
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    if !super::instance_profile(account, name)?.roles.is_empty() {
        return Err(IamError::DeleteConflict(
            "Cannot delete entity, must remove roles from instance profile first.".into(),
        ));
    }
    account.instance_profiles.remove(&name.to_lowercase());
    touched.instance_profile(account_id, name);
    Ok(())
}

pub fn add_role_to_instance_profile(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    profile_name: &str,
    role_name: &str,
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    let role = super::role(account, role_name)?.name.clone();
    let profile = super::instance_profile_mut(account, profile_name)?;
    if profile.roles.len() >= MAX_ROLES_PER_INSTANCE_PROFILE {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for InstanceSessionsPerInstanceProfile: {MAX_ROLES_PER_INSTANCE_PROFILE}"
        )));
    }
    profile.roles.push(role);
    touched.instance_profile(account_id, profile_name);
    Ok(())
}

pub fn remove_role_from_instance_profile(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    profile_name: &str,
    role_name: &str,
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    super::role(account, role_name)?;
    let profile = super::instance_profile_mut(account, profile_name)?;
    let before = profile.roles.len();
    profile.roles.retain(|r| !r.eq_ignore_ascii_case(role_name));
    if profile.roles.len() == before {
        return Err(IamError::NoSuchEntity(format!(
            "The role {role_name} is not in the instance profile {profile_name}."
        )));
    }
    touched.instance_profile(account_id, profile_name);
    Ok(())
}

pub fn tag_instance_profile(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    name: &str,
    tags: &[Tag],
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    let profile = super::instance_profile_mut(account, name)?;
    profile.tags = check_tags(&profile.tags, tags)?;
    touched.instance_profile(account_id, name);
    Ok(())
}

pub fn untag_instance_profile(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    name: &str,
    keys: &[String],
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    let profile = super::instance_profile_mut(account, name)?;
    profile
        .tags
        .retain(|t| !keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)));
    touched.instance_profile(account_id, name);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "111122223333";

    #[test]
    fn an_account_holds_at_most_1000_instance_profiles() {
        let mut s = IamState::default();
        s.accounts
            .insert(ACCOUNT.to_owned(), AccountState::default());
        let mut t = Touched::default();
        for i in 0..MAX_INSTANCE_PROFILES {
            create_instance_profile(&mut s, &mut t, ACCOUNT, &format!("p{i}"), None, &[]).unwrap();
        }
        assert!(matches!(
            create_instance_profile(&mut s, &mut t, ACCOUNT, "one-more", None, &[]),
            Err(IamError::LimitExceeded(_))
        ));
        assert!(matches!(
            create_instance_profile(&mut s, &mut t, ACCOUNT, "P1", None, &[]),
            Err(IamError::EntityAlreadyExists(_))
        ));
    }
}
