//! Policies on users, groups and roles: managed policy attachments, inline policies,
//! permissions boundaries.

use std::collections::BTreeMap;

use portcullis_policy::{PolicyKind, policy_size};

use crate::error::{IamError, IamResult};
use crate::model::PolicyDocument;
use crate::names::check_policy_name;
use crate::state::{AccountState, IamState, Touched};

/// What a policy is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    User,
    Group,
    Role,
}

impl Holder {
    /// `user`, `group` or `role`, as AWS's messages name the holder.
    pub fn noun(self) -> &'static str {
        match self {
            Holder::User => "user",
            Holder::Group => "group",
            Holder::Role => "role",
        }
    }

    /// The quota name AWS's LimitExceeded message gives for attachments.
    fn attached_quota(self) -> &'static str {
        match self {
            Holder::User => "PoliciesPerUser",
            Holder::Group => "PoliciesPerGroup",
            Holder::Role => "PoliciesPerRole",
        }
    }

    /// Managed policies attached at most.
    pub fn max_attached(self) -> usize {
        10
    }

    /// Aggregate inline policy size at most (characters, whitespace outside strings excluded).
    pub fn max_inline_size(self) -> usize {
        match self {
            Holder::User => 2_048,
            Holder::Group => 5_120,
            Holder::Role => 10_240,
        }
    }

    fn touch(self, touched: &mut Touched, account_id: &str, name: &str) {
        match self {
            Holder::User => touched.user(account_id, name),
            Holder::Group => touched.group(account_id, name),
            Holder::Role => touched.role(account_id, name),
        }
    }
}

/// The attached ARNs and inline policies of a holder.
fn parts_mut<'a>(
    account: &'a mut AccountState,
    holder: Holder,
    name: &str,
) -> IamResult<(
    &'a mut Vec<String>,
    &'a mut BTreeMap<String, PolicyDocument>,
)> {
    Ok(match holder {
        Holder::User => {
            let u = super::user_mut(account, name)?;
            (&mut u.attached_policies, &mut u.inline_policies)
        }
        Holder::Group => {
            let g = super::group_mut(account, name)?;
            (&mut g.attached_policies, &mut g.inline_policies)
        }
        Holder::Role => {
            let r = super::role_mut(account, name)?;
            (&mut r.attached_policies, &mut r.inline_policies)
        }
    })
}

/// The attached ARNs and inline policies of a holder, read-only.
pub fn parts<'a>(
    account: &'a AccountState,
    holder: Holder,
    name: &str,
) -> IamResult<(&'a [String], &'a BTreeMap<String, PolicyDocument>)> {
    Ok(match holder {
        Holder::User => {
            let u = super::user(account, name)?;
            (&u.attached_policies, &u.inline_policies)
        }
        Holder::Group => {
            let g = super::group(account, name)?;
            (&g.attached_policies, &g.inline_policies)
        }
        Holder::Role => {
            let r = super::role(account, name)?;
            (&r.attached_policies, &r.inline_policies)
        }
    })
}

pub fn attach(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    holder: Holder,
    name: &str,
    arn: &str,
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    super::policies::find(account, arn)?;
    let (attached, _) = parts_mut(account, holder, name)?;
    if attached.iter().any(|a| a == arn) {
        return Ok(());
    }
    if attached.len() >= holder.max_attached() {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for {}: {}",
            holder.attached_quota(),
            holder.max_attached()
        )));
    }
    attached.push(arn.to_owned());
    holder.touch(touched, account_id, name);
    Ok(())
}

pub fn detach(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    holder: Holder,
    name: &str,
    arn: &str,
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    let (attached, _) = parts_mut(account, holder, name)?;
    let before = attached.len();
    attached.retain(|a| a != arn);
    if attached.len() == before {
        return Err(IamError::NoSuchEntity(format!(
            "Policy {arn} was not found."
        )));
    }
    holder.touch(touched, account_id, name);
    Ok(())
}

pub fn put_inline(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    holder: Holder,
    name: &str,
    policy_name: &str,
    document: &str,
) -> IamResult<()> {
    check_policy_name(policy_name)?;
    let doc = PolicyDocument::parse(document, PolicyKind::Identity).or_else(|message| {
        // The inline size limit is the holder's aggregate, checked below; the document's own
        // size finding is not the error AWS gives.
        if message.contains("quota for PolicySize") {
            PolicyDocument::parse_unbounded(document, PolicyKind::Identity)
        } else {
            Err(message)
        }
    });
    let doc = doc.map_err(IamError::MalformedPolicyDocument)?;
    let account = state.account_mut(account_id)?;
    let (_, inline) = parts_mut(account, holder, name)?;
    let others: usize = inline
        .iter()
        .filter(|(n, _)| n.as_str() != policy_name)
        .map(|(_, d)| policy_size(&d.text))
        .sum();
    if others + policy_size(document) > holder.max_inline_size() {
        return Err(IamError::LimitExceeded(format!(
            "Maximum policy size of {} bytes exceeded for {} {name}",
            holder.max_inline_size(),
            holder.noun()
        )));
    }
    inline.insert(policy_name.to_owned(), doc);
    holder.touch(touched, account_id, name);
    Ok(())
}

pub fn delete_inline(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    holder: Holder,
    name: &str,
    policy_name: &str,
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    let (_, inline) = parts_mut(account, holder, name)?;
    if inline.remove(policy_name).is_none() {
        return Err(IamError::NoSuchEntity(format!(
            "The {} policy with name {policy_name} cannot be found.",
            holder.noun()
        )));
    }
    holder.touch(touched, account_id, name);
    Ok(())
}

/// A permissions boundary must be an existing managed policy.
pub fn check_boundary_policy(state: &IamState, account_id: &str, arn: &str) -> IamResult<()> {
    let account = state.account(account_id)?;
    super::policies::find(account, arn)
        .map(|_| ())
        .map_err(|_| {
            IamError::InvalidInput(format!(
                "ARN {arn} is not valid: a permissions boundary must be an existing managed policy."
            ))
        })
}

pub fn put_user_boundary(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    user: &str,
    arn: &str,
) -> IamResult<()> {
    check_boundary_policy(state, account_id, arn)?;
    let account = state.account_mut(account_id)?;
    super::user_mut(account, user)?.permissions_boundary = Some(arn.to_owned());
    touched.user(account_id, user);
    Ok(())
}

pub fn delete_user_boundary(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    user: &str,
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    super::user_mut(account, user)?.permissions_boundary = None;
    touched.user(account_id, user);
    Ok(())
}
