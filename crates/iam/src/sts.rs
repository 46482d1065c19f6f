//! STS input rules (policy-semantics.md §6-7): session names, external ids, source identity,
//! session tags, durations, session policies.

use portcullis_policy::{PolicyKind, policy_size};

use crate::error::{IamError, IamResult};
use crate::model::Tag;
use crate::ops::policies;
use crate::state::AccountState;

/// The most characters of session policy (inline plus managed ARNs) a session may carry.
pub const MAX_SESSION_POLICY_SIZE: usize = 2_048;
/// The most managed session policies.
pub const MAX_SESSION_POLICY_ARNS: usize = 10;
/// The longest a chained role session may last.
pub const ROLE_CHAINING_MAX_SECONDS: i64 = 3_600;

fn validation(field: &str, value: &str, rule: &str) -> IamError {
    IamError::ValidationError(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {rule}"
    ))
}

fn check_chars(
    field: &str,
    value: &str,
    min: usize,
    max: usize,
    extra: &str,
    pattern: &str,
) -> IamResult<()> {
    let len = value.chars().count();
    if len < min || len > max {
        return Err(validation(
            field,
            value,
            &format!(
                "Member must have length less than or equal to {max} and greater than or equal to {min}"
            ),
        ));
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || extra.contains(c))
    {
        return Err(validation(
            field,
            value,
            &format!("Member must satisfy regular expression pattern: {pattern}"),
        ));
    }
    Ok(())
}

/// `RoleSessionName`: 2-64 of `[\w+=,.@-]`.
pub fn check_session_name(name: &str) -> IamResult<()> {
    check_chars("roleSessionName", name, 2, 64, "+=,.@-", "[\\w+=,.@-]*")
}

/// `ExternalId`: 2-1224 of `[\w+=,.@:/-]`.
pub fn check_external_id(id: &str) -> IamResult<()> {
    check_chars("externalId", id, 2, 1224, "+=,.@:/-", "[\\w+=,.@:\\/-]*")
}

/// `SourceIdentity`: 2-64 of `[\w+=,.@-]`, not starting with `aws:`.
pub fn check_source_identity(id: &str) -> IamResult<()> {
    check_chars("sourceIdentity", id, 2, 64, "+=,.@-", "[\\w+=,.@-]*")?;
    if id.to_lowercase().starts_with("aws:") {
        return Err(validation(
            "sourceIdentity",
            id,
            "Member must not start with 'aws:'",
        ));
    }
    Ok(())
}

/// A federated user's name (GetFederationToken): 2-32 of `[\w+=,.@-]`.
pub fn check_federated_name(name: &str) -> IamResult<()> {
    check_chars("name", name, 2, 32, "+=,.@-", "[\\w+=,.@-]*")
}

/// Session tags: at most 50, keys 1-128 and values 0-256 characters, keys unique without regard
/// to case; transitive keys must be among them.
pub fn check_session_tags(tags: &[Tag], transitive: &[String]) -> IamResult<()> {
    if tags.len() > 50 {
        return Err(validation(
            "tags",
            "...",
            "Member must have length less than or equal to 50",
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for tag in tags {
        if tag.key.is_empty() || tag.key.chars().count() > 128 {
            return Err(validation(
                "tags.member.key",
                &tag.key,
                "Member must have length less than or equal to 128 and greater than or equal to 1",
            ));
        }
        if tag.value.chars().count() > 256 {
            return Err(validation(
                "tags.member.value",
                &tag.value,
                "Member must have length less than or equal to 256",
            ));
        }
        if tag.key.to_lowercase().starts_with("aws:") {
            return Err(IamError::InvalidInput(
                "Tag keys starting with 'aws:' are reserved for AWS use.".into(),
            ));
        }
        if !seen.insert(tag.key.to_lowercase()) {
            return Err(IamError::InvalidInput(format!(
                "Duplicate tag key '{}' (tag keys are compared without regard to case).",
                tag.key
            )));
        }
    }
    if let Some(k) = transitive
        .iter()
        .find(|k| !seen.contains(&k.to_lowercase()))
    {
        return Err(IamError::InvalidInput(format!(
            "The transitive tag key {k} is not among the session tags."
        )));
    }
    Ok(())
}

/// The duration of a role session: default 3,600 s; 900 s up to the role's maximum; at most
/// one hour when a role session assumes a role (role chaining).
pub fn role_session_duration(
    requested: Option<i64>,
    role_max: u32,
    chained: bool,
) -> IamResult<i64> {
    let seconds = requested.unwrap_or(3_600);
    if seconds < 900 {
        return Err(validation(
            "durationSeconds",
            &seconds.to_string(),
            "Member must have value greater than or equal to 900",
        ));
    }
    if chained && seconds > ROLE_CHAINING_MAX_SECONDS {
        return Err(IamError::ValidationError(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.".into(),
        ));
    }
    if seconds > i64::from(role_max) {
        return Err(IamError::ValidationError(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
                .into(),
        ));
    }
    Ok(seconds)
}

/// The duration of a GetSessionToken or GetFederationToken session: 900 s-129,600 s (default
/// 43,200 s); root: at most 3,600 s.
pub fn token_session_duration(requested: Option<i64>, root: bool) -> IamResult<i64> {
    let max = if root { 3_600 } else { 129_600 };
    let seconds = requested.unwrap_or(if root { 3_600 } else { 43_200 });
    if !(900..=max).contains(&seconds) {
        return Err(validation(
            "durationSeconds",
            &seconds.to_string(),
            &format!(
                "Member must have value less than or equal to {max} and greater than or equal to 900"
            ),
        ));
    }
    Ok(seconds)
}

/// The model's constraints on session policies, checked before anything else (as AWS
/// validates a request before authorizing it): at most 10 ARNs, and the text as sent at most
/// 2,048 characters.
pub fn check_session_policy_shape(inline: Option<&str>, arns: &[String]) -> IamResult<()> {
    if arns.len() > MAX_SESSION_POLICY_ARNS {
        return Err(validation(
            "policyArns",
            "...",
            "Member must have length less than or equal to 10",
        ));
    }
    if inline.is_some_and(|text| text.chars().count() > MAX_SESSION_POLICY_SIZE) {
        return Err(validation(
            "policy",
            "...",
            "Member must have length less than or equal to 2048",
        ));
    }
    Ok(())
}

/// Session policies: the inline document (validated as a session policy) and the managed ARNs
/// (at most 10, each existing), together at most 2,048 characters. Returns the packed size as
/// a percentage of the limit, as `PackedPolicySize` reports it.
pub fn check_session_policies(
    account: &AccountState,
    inline: Option<&str>,
    arns: &[String],
) -> IamResult<u32> {
    check_session_policy_shape(inline, arns)?;
    let mut size = 0;
    if let Some(text) = inline {
        size += policy_size(text);
        if size > MAX_SESSION_POLICY_SIZE {
            return Err(IamError::PackedPolicyTooLarge(format!(
                "Packed size of consumed session policies exceeds the limit: {}% of allowed size.",
                size * 100 / MAX_SESSION_POLICY_SIZE
            )));
        }
        portcullis_policy::parse_policy(text, PolicyKind::Session)
            .map_err(|e| IamError::MalformedPolicyDocument(e.aws_message()))?;
    }
    for arn in arns {
        policies::find(account, arn)?;
        size += arn.len();
    }
    if size > MAX_SESSION_POLICY_SIZE {
        return Err(IamError::PackedPolicyTooLarge(format!(
            "Packed size of consumed session policies exceeds the limit: {}% of allowed size.",
            size * 100 / MAX_SESSION_POLICY_SIZE
        )));
    }
    Ok((size * 100 / MAX_SESSION_POLICY_SIZE) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_durations() {
        assert!(check_session_name("app-1@x").is_ok());
        assert!(check_session_name("a").is_err());
        assert!(check_session_name("has space").is_err());
        assert!(check_external_id("urn:acme:12/x").is_ok());
        assert!(check_source_identity("aws:me").is_err());
        assert_eq!(role_session_duration(None, 3600, false).unwrap(), 3600);
        assert!(role_session_duration(Some(7200), 3600, false).is_err());
        assert_eq!(
            role_session_duration(Some(7200), 43_200, false).unwrap(),
            7200
        );
        assert!(role_session_duration(Some(7200), 43_200, true).is_err());
        assert!(role_session_duration(Some(899), 3600, false).is_err());
        assert_eq!(token_session_duration(None, false).unwrap(), 43_200);
        assert!(token_session_duration(Some(7200), true).is_err());
    }
}
