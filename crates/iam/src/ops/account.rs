//! Account-wide operations: the password policy (Update/Get/DeleteAccountPasswordPolicy), the
//! account alias (Create/List/DeleteAccountAlias) and GetAccountSummary.

use crate::error::{IamError, IamResult};
use crate::model::PasswordPolicy;
use crate::state::{IamState, Touched};

/// The roles an account may have (AWS's default quota).
pub const MAX_ROLES: usize = 1_000;
/// Managed policies attached to one user, group or role.
pub const MAX_ATTACHED_POLICIES: usize = 10;

fn no_policy(account_id: &str) -> IamError {
    IamError::NoSuchEntity(format!(
        "The Password Policy with domain name {account_id} cannot be found."
    ))
}

/// Replaces the account's password policy (every field: what the caller left out takes its
/// default, as AWS does).
pub fn update_password_policy(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    policy: PasswordPolicy,
) -> IamResult<()> {
    state.account_mut(account_id)?.settings.password_policy = Some(policy);
    touched.account(account_id);
    Ok(())
}

/// When the account's root user was created, as far as is known: the account's creation is
/// not recorded, so its first root access key's creation is the earliest time known.
pub fn root_created<'a>(state: &'a IamState, account_id: &str) -> Option<&'a str> {
    state
        .access_keys
        .values()
        .filter(|k| k.account_id == account_id && k.user_name.is_none())
        .map(|k| k.create_date.as_str())
        .min()
}

pub fn get_password_policy(state: &IamState, account_id: &str) -> IamResult<PasswordPolicy> {
    state
        .account(account_id)?
        .settings
        .password_policy
        .clone()
        .ok_or_else(|| no_policy(account_id))
}

pub fn delete_password_policy(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    if account.settings.password_policy.take().is_none() {
        return Err(no_policy(account_id));
    }
    touched.account(account_id);
    Ok(())
}

/// AWS's alias rule: 3-63 lowercase letters, digits and single hyphens, starting and ending
/// with a letter or digit; and (so it cannot be mistaken for one) not a 12-digit account id.
pub fn check_alias(alias: &str) -> IamResult<()> {
    let bytes = alias.as_bytes();
    if !(3..=63).contains(&bytes.len()) {
        return Err(IamError::ValidationError(format!(
            "1 validation error detected: Value '{alias}' at 'accountAlias' failed to satisfy constraint: Member must have length less than or equal to 63 and greater than or equal to 3"
        )));
    }
    let allowed = bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
    let edges = bytes[0] != b'-' && bytes[bytes.len() - 1] != b'-';
    if !allowed || !edges || alias.contains("--") {
        return Err(IamError::ValidationError(format!(
            "1 validation error detected: Value '{alias}' at 'accountAlias' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-z0-9]([a-z0-9]|-(?!-)){{1,61}}[a-z0-9]$"
        )));
    }
    if bytes.len() == 12 && bytes.iter().all(u8::is_ascii_digit) {
        return Err(IamError::ValidationError(format!(
            "The account alias {alias} cannot be a 12-digit number: it would look like an account id."
        )));
    }
    Ok(())
}

/// SetSecurityTokenServicePreferences: `v1Token` or `v2Token`, the session tokens the global
/// STS endpoint issues (recorded and reported by GetAccountSummary; Portcullis's tokens are
/// valid in every region either way).
pub fn set_sts_preferences(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    version: &str,
) -> IamResult<()> {
    let version = match version {
        "v1Token" => 1,
        "v2Token" => 2,
        other => {
            return Err(IamError::ValidationError(format!(
                "1 validation error detected: Value '{other}' at 'globalEndpointTokenVersion' failed to satisfy constraint: Member must satisfy enum value set: [v1Token, v2Token]"
            )));
        }
    };
    state
        .account_mut(account_id)?
        .settings
        .global_endpoint_token_version = Some(version);
    touched.account(account_id);
    Ok(())
}

/// Gives the account its alias. An account has at most one, and an alias names at most one
/// account.
pub fn create_alias(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    alias: &str,
) -> IamResult<()> {
    check_alias(alias)?;
    let taken = state
        .accounts
        .values()
        .any(|a| a.settings.alias.as_deref() == Some(alias));
    if taken {
        return Err(IamError::EntityAlreadyExists(format!(
            "The account alias {alias} already exists."
        )));
    }
    let account = state.account_mut(account_id)?;
    if let Some(existing) = &account.settings.alias {
        return Err(IamError::EntityAlreadyExists(format!(
            "The account already has the alias {existing}: an account has at most one alias. Delete it first."
        )));
    }
    account.settings.alias = Some(alias.to_owned());
    touched.account(account_id);
    Ok(())
}

pub fn delete_alias(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    alias: &str,
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    if account.settings.alias.as_deref() != Some(alias) {
        return Err(IamError::NoSuchEntity(format!(
            "The account alias {alias} cannot be found."
        )));
    }
    account.settings.alias = None;
    touched.account(account_id);
    Ok(())
}

/// GetAccountSummary: what the account holds, and its quotas, under AWS's keys.
pub fn summary(state: &IamState, account_id: &str) -> IamResult<Vec<(&'static str, usize)>> {
    use super::{access_keys, groups, policies, signing_certificates};
    let account = state.account(account_id)?;
    let attachments = account
        .users
        .values()
        .map(|u| u.attached_policies.len())
        .chain(account.groups.values().map(|g| g.attached_policies.len()))
        .chain(account.roles.values().map(|r| r.attached_policies.len()))
        .sum();
    let root_keys = access_keys::list(state, account_id, None).len();
    let root_certificates = account
        .signing_certificates
        .values()
        .filter(|c| c.user_name.is_none())
        .count();
    let flag = |b: bool| usize::from(b);
    Ok(vec![
        ("Users", account.users.len()),
        ("UsersQuota", state.limits.max_users),
        ("Groups", account.groups.len()),
        ("GroupsQuota", groups::MAX_GROUPS),
        ("Roles", account.roles.len()),
        ("RolesQuota", MAX_ROLES),
        ("Policies", account.policies.len()),
        ("PoliciesQuota", policies::MAX_POLICIES),
        ("PolicySizeQuota", policies::MAX_MANAGED_POLICY_SIZE),
        ("PolicyVersionsInUse", attachments),
        ("PolicyVersionsInUseQuota", 10_000),
        ("VersionsPerPolicyQuota", policies::MAX_VERSIONS),
        ("UserPolicySizeQuota", 2_048),
        ("GroupPolicySizeQuota", 5_120),
        ("RolePolicySizeQuota", 10_240),
        ("AssumeRolePolicySizeQuota", 2_048),
        ("AccessKeysPerUserQuota", access_keys::MAX_KEYS_PER_USER),
        ("GroupsPerUserQuota", groups::MAX_GROUPS_PER_USER),
        ("AttachedPoliciesPerUserQuota", MAX_ATTACHED_POLICIES),
        ("AttachedPoliciesPerGroupQuota", MAX_ATTACHED_POLICIES),
        ("AttachedPoliciesPerRoleQuota", MAX_ATTACHED_POLICIES),
        (
            "SigningCertificatesPerUserQuota",
            signing_certificates::MAX_PER_USER,
        ),
        ("ServerCertificates", account.server_certificates.len()),
        ("ServerCertificatesQuota", 20),
        ("InstanceProfiles", account.instance_profiles.len()),
        ("InstanceProfilesQuota", 1_000),
        (
            "Providers",
            account.oidc_providers.len() + account.saml_providers.len(),
        ),
        ("MFADevices", account.mfa_devices.len()),
        (
            "MFADevicesInUse",
            account
                .mfa_devices
                .values()
                .filter(|d| d.user_name.is_some())
                .count(),
        ),
        ("AccountMFAEnabled", 0),
        ("AccountAccessKeysPresent", flag(root_keys > 0)),
        ("AccountPasswordPresent", 0),
        (
            "AccountSigningCertificatesPresent",
            flag(root_certificates > 0),
        ),
        (
            "GlobalEndpointTokenVersion",
            usize::from(account.settings.global_endpoint_token_version.unwrap_or(1)),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_rules() {
        for ok in [
            "abc",
            "my-company",
            "a1-b2-c3",
            &"a".repeat(63),
            "12345678901a",
        ] {
            assert!(check_alias(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "-abc",
            "abc-",
            "a--b",
            "ABC",
            "a_b",
            "a.b",
            "123456789012",
        ] {
            assert!(check_alias(bad).is_err(), "{bad}");
        }
    }
}
