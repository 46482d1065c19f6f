//! Customer managed policies and their versions.

use portcullis_policy::{PolicyKind, policy_size};

use crate::aws_managed::aws_managed;
use crate::error::{IamError, IamResult};
use crate::ids::{IdKind, new_id};
use crate::model::{ManagedPolicy, PolicyDocument, PolicyVersion, Tag, now_timestamp};
use crate::names::{all_valid, check_name, check_path, check_tags};
use crate::state::{AccountState, IamState, Touched};

pub const MAX_POLICIES: usize = 1_500;
pub const MAX_VERSIONS: usize = 5;
pub const MAX_MANAGED_POLICY_SIZE: usize = 6_144;

/// Parses a managed policy document: `LimitExceeded` over 6,144 characters,
/// `MalformedPolicyDocument` when AWS would reject it.
pub fn parse_managed_document(text: &str, kind: PolicyKind) -> IamResult<PolicyDocument> {
    if policy_size(text) > MAX_MANAGED_POLICY_SIZE {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for PolicySize: {MAX_MANAGED_POLICY_SIZE}"
        )));
    }
    // Managed policies (CreatePolicy, CreatePolicyVersion) need the current language version:
    // AWS refuses one without a Version or with 2008-10-17 (inline policies may have either),
    // and says so before anything else it finds in a document that is JSON at all.
    let too_old = || {
        IamError::MalformedPolicyDocument(
            "Policy document must be version 2012-10-17 or greater.".into(),
        )
    };
    if let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(text) {
        match fields.get("Version") {
            None => return Err(too_old()),
            Some(serde_json::Value::String(v)) if v == "2008-10-17" => return Err(too_old()),
            _ => {}
        }
    }
    let document = PolicyDocument::parse(text, kind).map_err(IamError::MalformedPolicyDocument)?;
    if document.parsed.version != Some(portcullis_policy::Version::V2012_10_17) {
        return Err(too_old());
    }
    Ok(document)
}

pub fn policy_arn(account_id: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account_id}:policy{path}{name}")
}

/// The policy with `arn` in `account`, or NoSuchEntity.
pub fn find<'a>(account: &'a AccountState, arn: &str) -> IamResult<&'a ManagedPolicy> {
    account
        .policies
        .get(arn)
        .or_else(|| aws_managed(arn))
        .ok_or_else(|| {
            IamError::NoSuchEntity(format!("Policy {arn} does not exist or is not attachable."))
        })
}

fn find_own_mut<'a>(account: &'a mut AccountState, arn: &str) -> IamResult<&'a mut ManagedPolicy> {
    if aws_managed(arn).is_some() {
        return Err(IamError::InvalidInput(format!(
            "Policy {arn} is an AWS managed policy and cannot be changed."
        )));
    }
    account.policies.get_mut(arn).ok_or_else(|| {
        IamError::NoSuchEntity(format!("Policy {arn} does not exist or is not attachable."))
    })
}

#[allow(clippy::too_many_arguments)]
pub fn create_policy(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    name: &str,
    path: Option<&str>,
    document: &str,
    description: Option<&str>,
    tags: &[Tag],
) -> IamResult<ManagedPolicy> {
    let path = path.unwrap_or("/");
    all_valid([
        check_name("policyName", name, 128),
        check_path(path),
        check_tags(&[], tags).map(|_| ()),
    ])?;
    if description.is_some_and(|d| d.chars().count() > 1000) {
        return Err(IamError::ValidationError(
            "The description must be at most 1000 characters.".into(),
        ));
    }
    let tags = check_tags(&[], tags)?;
    let document = parse_managed_document(document, PolicyKind::Identity)?;
    let account = state.account_mut(account_id)?;
    let arn = policy_arn(account_id, path, name);
    if account
        .policies
        .values()
        .any(|p| p.name.eq_ignore_ascii_case(name) && p.path == path)
    {
        return Err(IamError::EntityAlreadyExists(format!(
            "A policy called {name} already exists. Duplicate names are not allowed."
        )));
    }
    if account.policies.len() >= MAX_POLICIES {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for PoliciesPerAccount: {MAX_POLICIES}."
        )));
    }
    let now = now_timestamp();
    let policy = ManagedPolicy {
        policy_id: new_id(IdKind::Policy),
        name: name.to_owned(),
        path: path.to_owned(),
        arn: arn.clone(),
        description: description.map(str::to_owned),
        create_date: now.clone(),
        update_date: now.clone(),
        default_version_id: "v1".to_owned(),
        versions: vec![PolicyVersion {
            version_id: "v1".to_owned(),
            document,
            create_date: now,
        }],
        next_version: 2,
        tags,
    };
    account.policies.insert(arn.clone(), policy.clone());
    touched.policy(account_id, &arn);
    Ok(policy)
}

/// How many entities each managed policy is attached to (users, groups, roles) and how many
/// users and roles have it as their permissions boundary: one pass over the account, for
/// listing many policies.
#[derive(Debug, Default)]
pub struct UsageCounts<'a> {
    counts: std::collections::HashMap<&'a str, (usize, usize)>,
}

impl<'a> UsageCounts<'a> {
    pub fn of(account: &'a AccountState) -> UsageCounts<'a> {
        let mut counts: std::collections::HashMap<&'a str, (usize, usize)> =
            std::collections::HashMap::new();
        let mut attached = |arns: &'a [String]| {
            for arn in arns {
                counts.entry(arn.as_str()).or_default().0 += 1;
            }
        };
        for u in account.users.values() {
            attached(&u.attached_policies);
        }
        for g in account.groups.values() {
            attached(&g.attached_policies);
        }
        for r in account.roles.values() {
            attached(&r.attached_policies);
        }
        let boundaries = account
            .users
            .values()
            .filter_map(|u| u.permissions_boundary.as_deref())
            .chain(
                account
                    .roles
                    .values()
                    .filter_map(|r| r.permissions_boundary.as_deref()),
            );
        for arn in boundaries {
            counts.entry(arn).or_default().1 += 1;
        }
        UsageCounts { counts }
    }

    /// (attachments, permissions-boundary uses) of the policy `arn`.
    pub fn get(&self, arn: &str) -> (usize, usize) {
        self.counts.get(arn).copied().unwrap_or_default()
    }
}

/// Entities a policy is attached to, and where it is a permissions boundary.
pub fn usage(account: &AccountState, arn: &str) -> (Vec<String>, Vec<String>, Vec<String>, usize) {
    let users = account
        .users
        .values()
        .filter(|u| u.attached_policies.iter().any(|a| a == arn))
        .map(|u| u.name.clone())
        .collect();
    let groups = account
        .groups
        .values()
        .filter(|g| g.attached_policies.iter().any(|a| a == arn))
        .map(|g| g.name.clone())
        .collect();
    let roles = account
        .roles
        .values()
        .filter(|r| r.attached_policies.iter().any(|a| a == arn))
        .map(|r| r.name.clone())
        .collect();
    let boundaries = account
        .users
        .values()
        .filter(|u| u.permissions_boundary.as_deref() == Some(arn))
        .count()
        + account
            .roles
            .values()
            .filter(|r| r.permissions_boundary.as_deref() == Some(arn))
            .count();
    (users, groups, roles, boundaries)
}

pub fn delete_policy(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    arn: &str,
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    let policy = find_own_mut(account, arn)?.clone();
    let (users, groups, roles, boundaries) = usage(account, arn);
    if !users.is_empty() || !groups.is_empty() || !roles.is_empty() || boundaries > 0 {
        return Err(IamError::DeleteConflict(
            "Cannot delete a policy attached to entities.".into(),
        ));
    }
    if policy.versions.len() > 1 {
        return Err(IamError::DeleteConflict(
            "Cannot delete a policy with non-default versions; delete them first.".into(),
        ));
    }
    account.policies.remove(arn);
    touched.policy(account_id, arn);
    Ok(())
}

pub fn create_policy_version(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    arn: &str,
    document: &str,
    set_as_default: bool,
) -> IamResult<PolicyVersion> {
    let document = parse_managed_document(document, PolicyKind::Identity)?;
    let account = state.account_mut(account_id)?;
    let policy = find_own_mut(account, arn)?;
    if policy.versions.len() >= MAX_VERSIONS {
        return Err(IamError::LimitExceeded(format!(
            "A managed policy can have up to {MAX_VERSIONS} versions. Before you create a new version, you must delete an existing version."
        )));
    }
    let version = PolicyVersion {
        version_id: format!("v{}", policy.next_version),
        document,
        create_date: now_timestamp(),
    };
    policy.next_version += 1;
    policy.versions.push(version.clone());
    if set_as_default {
        policy.default_version_id = version.version_id.clone();
    }
    policy.update_date = now_timestamp();
    touched.policy(account_id, arn);
    Ok(version)
}

pub fn delete_policy_version(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    arn: &str,
    version_id: &str,
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    let policy = find_own_mut(account, arn)?;
    if policy.default_version_id == version_id {
        return Err(IamError::DeleteConflict(
            "Cannot delete the default version of a policy.".into(),
        ));
    }
    let before = policy.versions.len();
    policy.versions.retain(|v| v.version_id != version_id);
    if policy.versions.len() == before {
        return Err(IamError::NoSuchEntity(format!(
            "Policy {arn} version {version_id} does not exist."
        )));
    }
    touched.policy(account_id, arn);
    Ok(())
}

pub fn set_default_policy_version(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    arn: &str,
    version_id: &str,
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    let policy = find_own_mut(account, arn)?;
    if !policy.versions.iter().any(|v| v.version_id == version_id) {
        return Err(IamError::NoSuchEntity(format!(
            "Policy {arn} version {version_id} does not exist."
        )));
    }
    policy.default_version_id = version_id.to_owned();
    policy.update_date = now_timestamp();
    touched.policy(account_id, arn);
    Ok(())
}

/// Tags a customer managed policy (AWS managed policies cannot be tagged).
pub fn tag_policy(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    arn: &str,
    tags: &[Tag],
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    let policy = find_own_mut(account, arn)?;
    policy.tags = check_tags(&policy.tags, tags)?;
    touched.policy(account_id, arn);
    Ok(())
}

pub fn untag_policy(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    arn: &str,
    keys: &[String],
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    let policy = find_own_mut(account, arn)?;
    policy
        .tags
        .retain(|t| !keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)));
    touched.policy(account_id, arn);
    Ok(())
}
