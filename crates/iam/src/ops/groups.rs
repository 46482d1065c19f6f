//! Groups and membership: CreateGroup, GetGroup, ListGroups, UpdateGroup, DeleteGroup,
//! AddUserToGroup, RemoveUserFromGroup, ListGroupsForUser.

use crate::error::{IamError, IamResult};
use crate::ids::{IdKind, new_id};
use crate::model::{Group, User, now_timestamp};
use crate::names::{all_valid, check_name, check_path};
use crate::state::{AccountState, IamState, Touched};

pub const MAX_GROUPS: usize = 300;
pub const MAX_GROUPS_PER_USER: usize = 10;

pub fn create_group(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    name: &str,
    path: Option<&str>,
) -> IamResult<Group> {
    let path = path.unwrap_or("/");
    all_valid([check_name("groupName", name, 128), check_path(path)])?;
    let account = state.account_mut(account_id)?;
    if account.groups.contains_key(&name.to_lowercase()) {
        return Err(IamError::EntityAlreadyExists(format!(
            "Group with name {name} already exists."
        )));
    }
    if account.groups.len() >= MAX_GROUPS {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for GroupsPerAccount: {MAX_GROUPS}."
        )));
    }
    let group = Group {
        group_id: new_id(IdKind::Group),
        name: name.to_owned(),
        path: path.to_owned(),
        create_date: now_timestamp(),
        inline_policies: Default::default(),
        attached_policies: Vec::new(),
    };
    account.groups.insert(name.to_lowercase(), group.clone());
    touched.group(account_id, name);
    Ok(group)
}

/// The users in a group, in name order.
pub fn members<'a>(account: &'a AccountState, group_name: &str) -> Vec<&'a User> {
    account
        .users
        .values()
        .filter(|u| u.groups.iter().any(|g| g.eq_ignore_ascii_case(group_name)))
        .collect()
}

pub fn update_group(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    name: &str,
    new_name: Option<&str>,
    new_path: Option<&str>,
) -> IamResult<()> {
    if let Some(n) = new_name {
        check_name("newGroupName", n, 128)?;
    }
    if let Some(p) = new_path {
        check_path(p)?;
    }
    let account = state.account_mut(account_id)?;
    let mut group = super::group(account, name)?.clone();
    if let Some(p) = new_path {
        group.path = p.to_owned();
    }
    if let Some(n) = new_name {
        if !n.eq_ignore_ascii_case(name) && account.groups.contains_key(&n.to_lowercase()) {
            return Err(IamError::EntityAlreadyExists(format!(
                "Group with name {n} already exists."
            )));
        }
        let member_keys: Vec<String> = members(account, name)
            .iter()
            .map(|u| u.name.to_lowercase())
            .collect();
        for key in member_keys {
            if let Some(user) = account.users.get_mut(&key) {
                for g in &mut user.groups {
                    if g.eq_ignore_ascii_case(name) {
                        *g = n.to_owned();
                    }
                }
                touched.user(account_id, &key);
            }
        }
        account.groups.remove(&name.to_lowercase());
        touched.group(account_id, name);
        group.name = n.to_owned();
    }
    touched.group(account_id, &group.name);
    account.groups.insert(group.name.to_lowercase(), group);
    Ok(())
}

pub fn delete_group(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    name: &str,
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    let group = super::group(account, name)?;
    if !members(account, name).is_empty() {
        return Err(IamError::DeleteConflict(
            "Cannot delete entity, must remove users from group first.".into(),
        ));
    }
    if !group.attached_policies.is_empty() {
        return Err(IamError::DeleteConflict(
            "Cannot delete entity, must detach all policies first.".into(),
        ));
    }
    if !group.inline_policies.is_empty() {
        return Err(IamError::DeleteConflict(
            "Cannot delete entity, must delete policies first.".into(),
        ));
    }
    account.groups.remove(&name.to_lowercase());
    touched.group(account_id, name);
    Ok(())
}

pub fn add_user_to_group(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    group_name: &str,
    user_name: &str,
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    let group = super::group(account, group_name)?.name.clone();
    let user = super::user_mut(account, user_name)?;
    if user.groups.iter().any(|g| g.eq_ignore_ascii_case(&group)) {
        return Ok(());
    }
    if user.groups.len() >= MAX_GROUPS_PER_USER {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for GroupsPerUser: {MAX_GROUPS_PER_USER}."
        )));
    }
    user.groups.push(group);
    touched.user(account_id, user_name);
    Ok(())
}

pub fn remove_user_from_group(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    group_name: &str,
    user_name: &str,
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    super::group(account, group_name)?;
    let user = super::user_mut(account, user_name)?;
    let before = user.groups.len();
    user.groups.retain(|g| !g.eq_ignore_ascii_case(group_name));
    if user.groups.len() == before {
        return Err(IamError::NoSuchEntity(format!(
            "The user {user_name} is not in the group {group_name}."
        )));
    }
    touched.user(account_id, user_name);
    Ok(())
}
