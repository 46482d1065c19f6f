//! Access keys: CreateAccessKey, ListAccessKeys, UpdateAccessKey, DeleteAccessKey.
//! A key belongs to a user, or (`user_name` None) to the account's root user.

use crate::error::{IamError, IamResult};
use crate::ids::{new_access_key_id, new_secret_key};
use crate::model::{AccessKey, KeyStatus, Secret, now_timestamp};
use crate::state::{IamState, Touched};

pub const MAX_KEYS_PER_USER: usize = 2;

fn owned_by(key: &AccessKey, account_id: &str, user: Option<&str>) -> bool {
    key.account_id == account_id
        && match (&key.user_name, user) {
            (Some(k), Some(u)) => k.eq_ignore_ascii_case(u),
            (None, None) => true,
            _ => false,
        }
}

/// The keys of a user (or of root), oldest first.
pub fn list<'a>(state: &'a IamState, account_id: &str, user: Option<&str>) -> Vec<&'a AccessKey> {
    let mut keys: Vec<&AccessKey> = state
        .access_keys
        .values()
        .filter(|k| owned_by(k, account_id, user))
        .collect();
    keys.sort_by(|a, b| {
        a.create_date
            .cmp(&b.create_date)
            .then(a.access_key_id.cmp(&b.access_key_id))
    });
    keys
}

pub fn create(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    user: Option<&str>,
) -> IamResult<AccessKey> {
    let user_name = match user {
        Some(u) => Some(super::user(state.account(account_id)?, u)?.name.clone()),
        None => None,
    };
    if list(state, account_id, user).len() >= MAX_KEYS_PER_USER {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS_PER_USER}"
        )));
    }
    let key = AccessKey {
        access_key_id: new_access_key_id(false, account_id),
        account_id: account_id.to_owned(),
        user_name,
        status: KeyStatus::Active,
        create_date: now_timestamp(),
        secret: Secret::new(new_secret_key()),
        last_used: None,
    };
    state
        .access_keys
        .insert(key.access_key_id.clone(), key.clone());
    touched.access_key(account_id, &key.access_key_id);
    Ok(key)
}

fn owned_mut<'a>(
    state: &'a mut IamState,
    account_id: &str,
    user: Option<&str>,
    key_id: &str,
) -> IamResult<&'a mut AccessKey> {
    if let Some(u) = user {
        super::user(state.account(account_id)?, u)?;
    }
    state
        .access_keys
        .get_mut(key_id)
        .filter(|k| owned_by(k, account_id, user))
        .ok_or_else(|| {
            IamError::NoSuchEntity(format!("The Access Key with id {key_id} cannot be found."))
        })
}

pub fn update(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    user: Option<&str>,
    key_id: &str,
    status: KeyStatus,
) -> IamResult<()> {
    owned_mut(state, account_id, user, key_id)?.status = status;
    touched.access_key(account_id, key_id);
    Ok(())
}

pub fn delete(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    user: Option<&str>,
    key_id: &str,
) -> IamResult<()> {
    owned_mut(state, account_id, user, key_id)?;
    state.access_keys.remove(key_id);
    touched.access_key(account_id, key_id);
    Ok(())
}
