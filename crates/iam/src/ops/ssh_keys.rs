//! SSH public keys: UploadSSHPublicKey, GetSSHPublicKey, ListSSHPublicKeys,
//! UpdateSSHPublicKey, DeleteSSHPublicKey. A key belongs to one user.

use crate::error::{IamError, IamResult};
use crate::ids::{IdKind, new_id};
use crate::model::{KeyStatus, SshPublicKey, now_timestamp};
use crate::ssh_public_key;
use crate::state::{AccountState, IamState, Touched};

/// The most SSH public keys a user may have.
pub const MAX_PER_USER: usize = 5;

/// The keys of `user_name`, oldest first.
pub fn list<'a>(account: &'a AccountState, user_name: &str) -> Vec<&'a SshPublicKey> {
    let mut keys: Vec<&SshPublicKey> = account
        .ssh_public_keys
        .values()
        .filter(|k| k.user_name.eq_ignore_ascii_case(user_name))
        .collect();
    keys.sort_by(|a, b| {
        a.upload_date
            .cmp(&b.upload_date)
            .then(a.ssh_public_key_id.cmp(&b.ssh_public_key_id))
    });
    keys
}

pub fn upload(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    user_name: &str,
    body: &str,
) -> IamResult<SshPublicKey> {
    let parsed = ssh_public_key::parse(body)?;
    let account = state.account_mut(account_id)?;
    let user = super::user(account, user_name)?.name.clone();
    let existing = list(account, &user);
    if existing.iter().any(|k| k.fingerprint == parsed.fingerprint) {
        return Err(IamError::DuplicateSshPublicKey(format!(
            "The SSH public key with fingerprint {} is already associated with user {user}.",
            parsed.fingerprint
        )));
    }
    if existing.len() >= MAX_PER_USER {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for SSHPublicKeysPerUser: {MAX_PER_USER}."
        )));
    }
    let key = SshPublicKey {
        ssh_public_key_id: new_id(IdKind::PublicKey),
        user_name: user,
        body_ssh: parsed.openssh,
        body_pem: parsed.pem,
        fingerprint: parsed.fingerprint,
        status: KeyStatus::Active,
        upload_date: now_timestamp(),
    };
    account
        .ssh_public_keys
        .insert(key.ssh_public_key_id.clone(), key.clone());
    touched.ssh_public_key(account_id, &key.ssh_public_key_id);
    Ok(key)
}

/// The key `key_id` of `user_name`.
pub fn get<'a>(
    account: &'a AccountState,
    user_name: &str,
    key_id: &str,
) -> IamResult<&'a SshPublicKey> {
    super::user(account, user_name)?;
    account
        .ssh_public_keys
        .get(key_id)
        .filter(|k| k.user_name.eq_ignore_ascii_case(user_name))
        .ok_or_else(|| {
            IamError::NoSuchEntity(format!("The Public Key with id {key_id} cannot be found."))
        })
}

pub fn update(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    user_name: &str,
    key_id: &str,
    status: KeyStatus,
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    get(account, user_name, key_id)?;
    if let Some(key) = account.ssh_public_keys.get_mut(key_id) {
        key.status = status;
    }
    touched.ssh_public_key(account_id, key_id);
    Ok(())
}

pub fn delete(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    user_name: &str,
    key_id: &str,
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    get(account, user_name, key_id)?;
    account.ssh_public_keys.remove(key_id);
    touched.ssh_public_key(account_id, key_id);
    Ok(())
}
