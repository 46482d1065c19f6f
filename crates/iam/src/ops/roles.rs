//! Roles: CreateRole, UpdateRole, UpdateRoleDescription, UpdateAssumeRolePolicy, DeleteRole,
//! their tags and permissions boundaries. (Their inline and attached policies are
//! [`attachments`](super::attachments) with [`Holder::Role`](super::attachments::Holder).)

use portcullis_policy::NamedPrincipal;
use portcullis_policy::{PolicyKind, policy_size};

use crate::error::{IamError, IamResult};
use crate::ids::{IdKind, new_id};
use crate::model::{PolicyDocument, Role, Tag, now_timestamp};
use crate::names::{all_valid, check_name, check_path, check_tags};
use crate::state::{IamState, Touched};

/// The most roles an account may have.
pub const MAX_ROLES: usize = 1_000;
/// The largest trust policy, in characters not counting whitespace outside strings
/// (AWS's `ACLSizePerRole`).
pub const MAX_TRUST_POLICY_SIZE: usize = 2_048;
/// The longest role description.
pub const MAX_DESCRIPTION: usize = 1_000;
/// A role session may last this long unless the role says otherwise (seconds).
pub const DEFAULT_MAX_SESSION_DURATION: u32 = 3_600;
/// The range `MaxSessionDuration` may take (one to twelve hours).
pub const MAX_SESSION_DURATION_RANGE: std::ops::RangeInclusive<u32> = 3_600..=43_200;

/// What CreateRole is given.
#[derive(Debug, Default)]
pub struct NewRole<'a> {
    pub name: &'a str,
    pub path: Option<&'a str>,
    pub assume_role_policy: &'a str,
    pub description: Option<&'a str>,
    pub max_session_duration: Option<u32>,
    pub permissions_boundary: Option<&'a str>,
    pub tags: &'a [Tag],
}

/// Parses a role's trust policy: `LimitExceeded` over 2,048 characters,
/// `MalformedPolicyDocument` when it is not a valid trust policy (a Resource element, an
/// action outside STS, no Principal, ...).
pub fn parse_trust_policy(text: &str) -> IamResult<PolicyDocument> {
    if policy_size(text) > MAX_TRUST_POLICY_SIZE {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for ACLSizePerRole: {MAX_TRUST_POLICY_SIZE}"
        )));
    }
    PolicyDocument::parse(text, PolicyKind::Trust).map_err(IamError::MalformedPolicyDocument)
}

/// AWS refuses a trust policy that names a user or role that does not exist ("Invalid
/// principal in policy"): it resolves each to its unique id. Checked for the accounts this
/// deployment holds; an ARN in an account it does not hold cannot be checked and is kept.
pub fn check_trust_principals(state: &IamState, trust: &PolicyDocument) -> IamResult<()> {
    for statement in &trust.parsed.statements {
        let Some(clause) = &statement.principal else {
            continue;
        };
        for named in clause.named_principals() {
            let (account_id, name, kind) = match &named {
                NamedPrincipal::User { account, name } => (account, name, "user"),
                NamedPrincipal::Role { account, name } => (account, name, "role"),
            };
            let Some(account) = state.accounts.get(account_id) else {
                continue;
            };
            let exists = match named {
                NamedPrincipal::User { .. } => account
                    .users
                    .get(&name.to_lowercase())
                    .is_some_and(|u| &u.name == name),
                NamedPrincipal::Role { .. } => account
                    .roles
                    .get(&name.to_lowercase())
                    .is_some_and(|r| &r.name == name),
            };
            if !exists {
                return Err(IamError::MalformedPolicyDocument(format!(
                    "Invalid principal in policy: \"AWS\":\"arn:aws:iam::{account_id}:{kind}/{name}\""
                )));
            }
        }
    }
    Ok(())
}

/// Descriptions: at most 1,000 characters of tab, newlines and printable Latin-1.
pub fn check_description(description: &str) -> IamResult<()> {
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(IamError::ValidationError(format!(
            "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to {MAX_DESCRIPTION}"
        )));
    }
    let allowed = |c: char| matches!(c, '\u{9}' | '\u{a}' | '\u{d}' | '\u{20}'..='\u{7e}' | '\u{a1}'..='\u{ff}');
    if !description.chars().all(allowed) {
        return Err(IamError::ValidationError(
            "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u007E\\u00A1-\\u00FF]*".into(),
        ));
    }
    Ok(())
}

/// `MaxSessionDuration`: 3,600 to 43,200 seconds.
pub fn check_max_session_duration(seconds: u32) -> IamResult<()> {
    if MAX_SESSION_DURATION_RANGE.contains(&seconds) {
        Ok(())
    } else {
        Err(IamError::ValidationError(format!(
            "1 validation error detected: Value '{seconds}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value between {} and {}",
            MAX_SESSION_DURATION_RANGE.start(),
            MAX_SESSION_DURATION_RANGE.end()
        )))
    }
}

/// An empty description clears it.
fn description(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

pub fn create_role(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    new: &NewRole<'_>,
) -> IamResult<Role> {
    let path = new.path.unwrap_or("/");
    all_valid([
        check_name("roleName", new.name, 64),
        check_path(path),
        check_tags(&[], new.tags).map(|_| ()),
    ])?;
    if let Some(d) = new.description {
        check_description(d)?;
    }
    let max_session_duration = new
        .max_session_duration
        .unwrap_or(DEFAULT_MAX_SESSION_DURATION);
    check_max_session_duration(max_session_duration)?;
    let tags = check_tags(&[], new.tags)?;
    let trust = parse_trust_policy(new.assume_role_policy)?;
    check_trust_principals(state, &trust)?;
    if let Some(arn) = new.permissions_boundary {
        super::attachments::check_boundary_policy(state, account_id, arn)?;
    }
    let account = state.account_mut(account_id)?;
    if account.roles.contains_key(&new.name.to_lowercase()) {
        return Err(IamError::EntityAlreadyExists(format!(
            "Role with name {} already exists.",
            new.name
        )));
    }
    if account.roles.len() >= MAX_ROLES {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for RolesPerAccount: {MAX_ROLES}."
        )));
    }
    let role = Role {
        role_id: new_id(IdKind::Role),
        name: new.name.to_owned(),
        path: path.to_owned(),
        create_date: now_timestamp(),
        description: new.description.and_then(description),
        max_session_duration,
        assume_role_policy: trust,
        tags,
        permissions_boundary: new.permissions_boundary.map(str::to_owned),
        inline_policies: Default::default(),
        attached_policies: Vec::new(),
        last_used: None,
    };
    account.roles.insert(new.name.to_lowercase(), role.clone());
    touched.role(account_id, new.name);
    Ok(role)
}

/// UpdateRole and UpdateRoleDescription: what is given changes, the rest stays.
pub fn update_role(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    name: &str,
    new_description: Option<&str>,
    max_session_duration: Option<u32>,
) -> IamResult<Role> {
    if let Some(d) = new_description {
        check_description(d)?;
    }
    if let Some(s) = max_session_duration {
        check_max_session_duration(s)?;
    }
    let account = state.account_mut(account_id)?;
    let role = super::role_mut(account, name)?;
    if let Some(d) = new_description {
        role.description = description(d);
    }
    if let Some(s) = max_session_duration {
        role.max_session_duration = s;
    }
    let role = role.clone();
    touched.role(account_id, name);
    Ok(role)
}

pub fn update_assume_role_policy(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    name: &str,
    document: &str,
) -> IamResult<()> {
    let trust = parse_trust_policy(document)?;
    check_trust_principals(state, &trust)?;
    let account = state.account_mut(account_id)?;
    super::role_mut(account, name)?.assume_role_policy = trust;
    touched.role(account_id, name);
    Ok(())
}

/// Deletes a role that holds no policies and is in no instance profile, as AWS requires.
pub fn delete_role(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    name: &str,
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    let role = super::role(account, name)?;
    let conflict = if !super::instance_profiles::profiles_for_role(account, name).is_empty() {
        Some("remove roles from instance profile")
    } else if !role.attached_policies.is_empty() {
        Some("detach all policies")
    } else if !role.inline_policies.is_empty() {
        Some("delete policies")
    } else {
        None
    };
    if let Some(what) = conflict {
        return Err(IamError::DeleteConflict(format!(
            "Cannot delete entity, must {what} first."
        )));
    }
    account.roles.remove(&name.to_lowercase());
    touched.role(account_id, name);
    Ok(())
}

pub fn tag_role(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    name: &str,
    tags: &[Tag],
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    let role = super::role_mut(account, name)?;
    role.tags = check_tags(&role.tags, tags)?;
    touched.role(account_id, name);
    Ok(())
}

pub fn untag_role(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    name: &str,
    keys: &[String],
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    let role = super::role_mut(account, name)?;
    role.tags
        .retain(|t| !keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)));
    touched.role(account_id, name);
    Ok(())
}

pub fn put_role_boundary(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    name: &str,
    arn: &str,
) -> IamResult<()> {
    super::attachments::check_boundary_policy(state, account_id, arn)?;
    let account = state.account_mut(account_id)?;
    super::role_mut(account, name)?.permissions_boundary = Some(arn.to_owned());
    touched.role(account_id, name);
    Ok(())
}

pub fn delete_role_boundary(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    name: &str,
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    super::role_mut(account, name)?.permissions_boundary = None;
    touched.role(account_id, name);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::attachments::{self, Holder};
    use crate::state::AccountState;

    const ACCOUNT: &str = "111122223333";
    const TRUST: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}"#;

    fn state() -> IamState {
        let mut state = IamState::default();
        state
            .accounts
            .insert(ACCOUNT.to_owned(), AccountState::default());
        state
    }

    fn new_role(name: &str) -> NewRole<'_> {
        NewRole {
            name,
            assume_role_policy: TRUST,
            ..NewRole::default()
        }
    }

    #[test]
    fn create_defaults_and_case_insensitive_names() {
        let mut s = state();
        let mut t = Touched::default();
        let role = create_role(&mut s, &mut t, ACCOUNT, &new_role("Builder")).unwrap();
        assert!(role.role_id.starts_with("AROA"));
        assert_eq!(role.path, "/");
        assert_eq!(role.max_session_duration, 3_600);
        assert!(matches!(
            create_role(&mut s, &mut t, ACCOUNT, &new_role("builder")),
            Err(IamError::EntityAlreadyExists(_))
        ));
    }

    #[test]
    fn trust_policies_are_checked_as_trust_policies() {
        let identity = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#;
        assert!(matches!(
            parse_trust_policy(identity),
            Err(IamError::MalformedPolicyDocument(_))
        ));
        let non_sts = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"s3:GetObject"}}"#;
        assert!(matches!(
            parse_trust_policy(non_sts),
            Err(IamError::MalformedPolicyDocument(_))
        ));
        let big = TRUST.replace(
            "ec2.amazonaws.com",
            &format!("{}.amazonaws.com", "x".repeat(2_100)),
        );
        assert!(matches!(
            parse_trust_policy(&big),
            Err(IamError::LimitExceeded(_))
        ));
        assert!(parse_trust_policy(TRUST).is_ok());
    }

    #[test]
    fn session_duration_and_description_bounds() {
        assert!(check_max_session_duration(3_599).is_err());
        assert!(check_max_session_duration(43_201).is_err());
        assert!(check_max_session_duration(43_200).is_ok());
        assert!(check_description(&"d".repeat(1_000)).is_ok());
        assert!(check_description(&"d".repeat(1_001)).is_err());
        assert!(check_description("snow \u{2603}").is_err());
    }

    #[test]
    fn delete_conflicts_until_policies_are_gone() {
        let mut s = state();
        let mut t = Touched::default();
        create_role(&mut s, &mut t, ACCOUNT, &new_role("r")).unwrap();
        attachments::put_inline(
            &mut s,
            &mut t,
            ACCOUNT,
            Holder::Role,
            "r",
            "p",
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
        )
        .unwrap();
        assert!(matches!(
            delete_role(&mut s, &mut t, ACCOUNT, "r"),
            Err(IamError::DeleteConflict(_))
        ));
        attachments::delete_inline(&mut s, &mut t, ACCOUNT, Holder::Role, "r", "p").unwrap();
        delete_role(&mut s, &mut t, ACCOUNT, "R").unwrap();
        assert!(s.accounts[ACCOUNT].roles.is_empty());
    }

    #[test]
    fn an_account_holds_at_most_1000_roles() {
        let mut s = state();
        let mut t = Touched::default();
        for i in 0..MAX_ROLES {
            let name = format!("r{i}");
            create_role(&mut s, &mut t, ACCOUNT, &new_role(&name)).unwrap();
        }
        assert!(matches!(
            create_role(&mut s, &mut t, ACCOUNT, &new_role("one-more")),
            Err(IamError::LimitExceeded(_))
        ));
    }
}
