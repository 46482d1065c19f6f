//! Login profiles (console passwords): CreateLoginProfile, GetLoginProfile,
//! UpdateLoginProfile, DeleteLoginProfile, ChangePassword.
//!
//! argon2id is slow on purpose, so a new password is checked and hashed by [`prepare`]
//! against a snapshot, outside the writer lock; the write then applies it only if the user's
//! password and the account's policy are still the ones it was checked against (else
//! `EntityTemporarilyUnmodifiable`: retry).

use crate::attempts::Attempts;
use crate::error::{IamError, IamResult};
use crate::model::{LoginProfile, PasswordPolicy, now_timestamp};
use crate::passwords::{self, MAX_HISTORY};
use crate::state::{IamState, Touched};

/// A new password, checked and hashed, ready for a write.
pub struct PreparedPassword {
    hash: String,
    /// The user's current password hash when the check ran (`None`: no login profile).
    checked_against: Option<String>,
    policy: Option<PasswordPolicy>,
}

impl std::fmt::Debug for PreparedPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("PreparedPassword(..)")
    }
}

/// Why a password is being set.
#[derive(Clone, Copy)]
pub enum Purpose<'a> {
    /// An administrator sets it (CreateLoginProfile, UpdateLoginProfile).
    Set,
    /// The user changes its own (ChangePassword), proving it knows the current one; each
    /// verification of `old_password` is counted by `attempts` (per user per minute).
    Change {
        old_password: &'a str,
        attempts: &'a Attempts,
    },
}

fn no_profile(user: &str) -> IamError {
    IamError::NoSuchEntity(format!("Login Profile for User {user} cannot be found."))
}

/// The view of a login profile that GetLoginProfile answers with.
#[derive(Debug, Clone)]
pub struct LoginProfileView {
    pub user_name: String,
    pub create_date: String,
    /// Set by an administrator, or because the password has outlived `MaxPasswordAge`.
    pub password_reset_required: bool,
}

/// Checks `new_password` for `user` (format, the account's policy, reuse, and for a change
/// the old password and the policy's permission to change) and hashes it. `now` is unix
/// seconds.
///
/// The cheap checks come first. For a change, the old password is verified (one argon2
/// hash, counted: `Throttling` past the per-minute bound, without hashing) before the
/// reuse check, and the reuse check compares the new password with the old one directly
/// instead of hashing it against the current password's entry: a change runs at most
/// `PasswordReusePrevention` + 1 hashes (25), a wrong old password one.
pub fn prepare(
    state: &IamState,
    account_id: &str,
    user_name: &str,
    new_password: &str,
    purpose: Purpose<'_>,
    now: i64,
) -> IamResult<PreparedPassword> {
    let account = state.account(account_id)?;
    let user = super::user(account, user_name)?;
    let policy = account.settings.password_policy.as_ref();
    let field = match purpose {
        Purpose::Set => "password",
        Purpose::Change { .. } => "newPassword",
    };
    if let Purpose::Change { old_password, .. } = purpose {
        passwords::check_format("oldPassword", old_password)?;
    }
    passwords::check_format(field, new_password)?;
    let alias = account.settings.alias.as_deref().unwrap_or_default();
    passwords::check_policy(policy, new_password, &[account_id, alias])?;
    let mut known_current = None;
    if let Purpose::Change {
        old_password,
        attempts,
    } = purpose
    {
        let profile = user
            .login_profile
            .as_ref()
            .ok_or_else(|| no_profile(&user.name))?;
        if policy.is_some_and(|p| !p.allow_users_to_change_password) {
            return Err(IamError::PasswordPolicyViolation(
                "The account password policy does not allow users to change their own passwords; ask an administrator to change it."
                    .into(),
            ));
        }
        let set_date = profile
            .password_set_date
            .as_ref()
            .unwrap_or(&profile.create_date);
        if policy.is_some_and(|p| p.hard_expiry) && passwords::expired(policy, set_date, now) {
            return Err(IamError::PasswordPolicyViolation(
                "The password has expired and the account password policy (HardExpiry) does not let users set a new one; ask an administrator to reset it."
                    .into(),
            ));
        }
        attempts.password_check(account_id, &user.name)?;
        if !passwords::verify(&profile.password_hash, old_password) {
            return Err(IamError::AccessDenied(
                "The old password is incorrect.".into(),
            ));
        }
        known_current = Some((profile.password_hash.as_str(), old_password));
    }
    if let Some(n) = policy.and_then(|p| p.password_reuse_prevention) {
        if passwords::reused(
            &user.password_history,
            n as usize,
            new_password,
            known_current,
        ) {
            return Err(IamError::PasswordPolicyViolation(format!(
                "Password should not be one of the last {n} passwords used (the account password policy prevents reusing them)"
            )));
        }
    }
    Ok(PreparedPassword {
        hash: passwords::hash(new_password)?,
        checked_against: user.login_profile.as_ref().map(|p| p.password_hash.clone()),
        policy: policy.cloned(),
    })
}

/// Stores a prepared password on the user (creating the login profile when `create`).
fn apply(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    user_name: &str,
    password: PreparedPassword,
    reset_required: Option<bool>,
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    let policy_now = account.settings.password_policy.clone();
    let user = super::user_mut(account, user_name)?;
    let current = user.login_profile.as_ref().map(|p| &p.password_hash);
    if current != password.checked_against.as_ref() || policy_now != password.policy {
        return Err(IamError::EntityTemporarilyUnmodifiable(format!(
            "The login profile of user {} or the account password policy changed while the password was being checked; try again.",
            user.name
        )));
    }
    let now = now_timestamp();
    match &mut user.login_profile {
        Some(profile) => {
            profile.password_hash = password.hash.clone();
            profile.password_set_date = Some(now);
            if let Some(r) = reset_required {
                profile.password_reset_required = r;
            }
        }
        None => {
            user.login_profile = Some(LoginProfile {
                password_hash: password.hash.clone(),
                create_date: now.clone(),
                password_reset_required: reset_required.unwrap_or(false),
                password_set_date: Some(now),
            });
        }
    }
    user.password_history.push(password.hash);
    let excess = user.password_history.len().saturating_sub(MAX_HISTORY);
    user.password_history.drain(..excess);
    touched.user(account_id, user_name);
    Ok(())
}

pub fn create(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    user_name: &str,
    password: PreparedPassword,
    reset_required: bool,
) -> IamResult<LoginProfileView> {
    let user = super::user(state.account(account_id)?, user_name)?;
    if user.login_profile.is_some() {
        return Err(IamError::EntityAlreadyExists(format!(
            "Login Profile for user {} already exists.",
            user.name
        )));
    }
    apply(
        state,
        touched,
        account_id,
        user_name,
        password,
        Some(reset_required),
    )?;
    get(state, account_id, user_name, 0)
}

/// The login profile of `user_name` as of unix time `now` (`0`: without judging expiry).
pub fn get(
    state: &IamState,
    account_id: &str,
    user_name: &str,
    now: i64,
) -> IamResult<LoginProfileView> {
    let account = state.account(account_id)?;
    let user = super::user(account, user_name)?;
    let profile = user
        .login_profile
        .as_ref()
        .ok_or_else(|| no_profile(&user.name))?;
    let set_date = profile
        .password_set_date
        .as_ref()
        .unwrap_or(&profile.create_date);
    let expired =
        now > 0 && passwords::expired(account.settings.password_policy.as_ref(), set_date, now);
    Ok(LoginProfileView {
        user_name: user.name.clone(),
        create_date: profile.create_date.clone(),
        password_reset_required: profile.password_reset_required || expired,
    })
}

/// UpdateLoginProfile: a new password (prepared), a new reset flag, or both.
pub fn update(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    user_name: &str,
    password: Option<PreparedPassword>,
    reset_required: Option<bool>,
) -> IamResult<()> {
    let user = super::user(state.account(account_id)?, user_name)?;
    if user.login_profile.is_none() {
        return Err(no_profile(&user.name));
    }
    if let Some(p) = password {
        return apply(state, touched, account_id, user_name, p, reset_required);
    }
    if let Some(r) = reset_required {
        let user = super::user_mut(state.account_mut(account_id)?, user_name)?;
        if let Some(profile) = user.login_profile.as_mut() {
            profile.password_reset_required = r;
            touched.user(account_id, user_name);
        }
    }
    Ok(())
}

/// ChangePassword: the user's own new password (prepared with [`Purpose::Change`]); clears
/// the reset flag.
pub fn change(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    user_name: &str,
    password: PreparedPassword,
) -> IamResult<()> {
    let user = super::user(state.account(account_id)?, user_name)?;
    if user.login_profile.is_none() {
        return Err(no_profile(&user.name));
    }
    apply(state, touched, account_id, user_name, password, Some(false))
}

pub fn delete(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    user_name: &str,
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    let user = super::user_mut(account, user_name)?;
    if user.login_profile.take().is_none() {
        return Err(no_profile(&user.name));
    }
    touched.user(account_id, user_name);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AccountSettings;
    use crate::state::AccountState;

    const A: &str = "111122223333";

    fn state_with_user() -> IamState {
        let mut state = IamState::default();
        state.accounts.insert(
            A.into(),
            AccountState {
                settings: AccountSettings {
                    account_id: A.into(),
                    ..Default::default()
                },
                ..Default::default()
            },
        );
        let mut t = Touched::default();
        crate::ops::users::create_user(&mut state, &mut t, A, "alice", None, None, &[]).unwrap();
        state
    }

    fn set(state: &mut IamState, password: &str) -> IamResult<()> {
        let p = prepare(state, A, "alice", password, Purpose::Set, 0)?;
        let mut t = Touched::default();
        if get(state, A, "alice", 0).is_ok() {
            update(state, &mut t, A, "alice", Some(p), None)
        } else {
            create(state, &mut t, A, "alice", p, false).map(|_| ())
        }
    }

    #[test]
    fn a_stale_preparation_is_not_applied() {
        let mut state = state_with_user();
        set(&mut state, "First-Password1").unwrap();
        let stale = prepare(&state, A, "alice", "Second-Password1", Purpose::Set, 0).unwrap();
        set(&mut state, "Third-Password1").unwrap();
        let mut t = Touched::default();
        let e = update(&mut state, &mut t, A, "alice", Some(stale), None).unwrap_err();
        assert_eq!(e.code(), "EntityTemporarilyUnmodifiable");
    }

    #[test]
    fn reuse_prevention_and_expiry_follow_the_policy() {
        let mut state = state_with_user();
        state.accounts.get_mut(A).unwrap().settings.password_policy = Some(PasswordPolicy {
            minimum_password_length: 8,
            allow_users_to_change_password: true,
            max_password_age: Some(1),
            password_reuse_prevention: Some(2),
            hard_expiry: true,
            ..Default::default()
        });
        set(&mut state, "password-one").unwrap();
        set(&mut state, "password-two").unwrap();
        assert_eq!(
            set(&mut state, "password-one").unwrap_err().code(),
            "PasswordPolicyViolation"
        );
        set(&mut state, "password-three").unwrap();
        set(&mut state, "password-one").unwrap();

        let tomorrow = time::OffsetDateTime::now_utc().unix_timestamp() + 86_400 + 60;
        assert!(
            get(&state, A, "alice", tomorrow)
                .unwrap()
                .password_reset_required
        );
        let attempts = Attempts::new(10, std::time::Duration::from_secs(1), 10);
        let change = Purpose::Change {
            old_password: "password-one",
            attempts: &attempts,
        };
        let e = prepare(&state, A, "alice", "password-four", change, tomorrow).unwrap_err();
        assert_eq!(e.code(), "PasswordPolicyViolation");
        assert!(prepare(&state, A, "alice", "password-four", change, 0).is_ok());
    }
}
