//! Validation of names, paths and tags (policy-semantics.md §7): AWS's messages, AWS's limits.

use crate::error::{IamError, IamResult};
use crate::model::Tag;

/// User and role names: 1-64 characters of `[\w+=,.@-]`; groups, policies and instance
/// profiles allow 128.
pub fn check_name(what: &str, name: &str, max: usize) -> IamResult<()> {
    if name.is_empty() || name.chars().count() > max {
        return Err(IamError::ValidationError(format!(
            "1 validation error detected: Value '{name}' at '{what}' failed to satisfy constraint: Member must have length less than or equal to {max} and greater than or equal to 1"
        )));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
    {
        return Err(IamError::ValidationError(format!(
            "1 validation error detected: Value '{name}' at '{what}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
        )));
    }
    Ok(())
}

/// Paths: `/` or `/a/b/`, at most 512 characters of printable ASCII without spaces.
pub fn check_path(path: &str) -> IamResult<()> {
    let valid = !path.is_empty()
        && path.len() <= 512
        && path.starts_with('/')
        && path.ends_with('/')
        && !path.contains("//")
        && path.chars().all(|c| ('\u{21}'..='\u{7e}').contains(&c));
    if valid {
        Ok(())
    } else {
        Err(IamError::ValidationError(format!(
            "1 validation error detected: Value '{path}' at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)"
        )))
    }
}

/// Inline policy names: 1-128 characters of `[\w+=,.@-]`.
pub fn check_policy_name(name: &str) -> IamResult<()> {
    check_name("policyName", name, 128)
}

/// Tags: key 1-128 and value 0-256 characters of letters, digits, spaces and `_.:/=+-@`;
/// keys unique case-insensitively; keys may not start with `aws:`; at most 50 in all.
pub fn check_tags(existing: &[Tag], new: &[Tag]) -> IamResult<Vec<Tag>> {
    let allowed = |s: &str| {
        s.chars()
            .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
    };
    let mut seen = std::collections::HashSet::new();
    for tag in new {
        if tag.key.is_empty() || tag.key.chars().count() > 128 || !allowed(&tag.key) {
            return Err(IamError::InvalidInput(format!(
                "The tag key '{}' is not valid: 1 to 128 characters of letters, numbers, spaces and _.:/=+-@.",
                tag.key
            )));
        }
        if tag.value.chars().count() > 256 || !allowed(&tag.value) {
            return Err(IamError::InvalidInput(format!(
                "The value of tag '{}' is not valid: up to 256 characters of letters, numbers, spaces and _.:/=+-@.",
                tag.key
            )));
        }
        if tag.key.to_lowercase().starts_with("aws:") {
            return Err(IamError::InvalidInput(
                "Tag keys starting with 'aws:' are reserved for AWS use.".into(),
            ));
        }
        if !seen.insert(tag.key.to_lowercase()) {
            return Err(IamError::InvalidInput(format!(
                "Duplicate tag key '{}': tag keys must be unique (ignoring case).",
                tag.key
            )));
        }
    }
    let mut merged: Vec<Tag> = existing
        .iter()
        .filter(|t| !new.iter().any(|n| n.key.eq_ignore_ascii_case(&t.key)))
        .cloned()
        .collect();
    merged.extend(new.iter().cloned());
    if merged.len() > 50 {
        return Err(IamError::LimitExceeded(
            "Cannot exceed quota for TagsPerEntity: 50.".into(),
        ));
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        assert!(check_name("userName", "alice+ops@example.com", 64).is_ok());
        assert!(check_name("userName", "", 64).is_err());
        assert!(check_name("userName", &"a".repeat(65), 64).is_err());
        assert!(check_name("userName", "bad name", 64).is_err());
        assert!(check_path("/").is_ok());
        assert!(check_path("/division/team/").is_ok());
        assert!(check_path("division/").is_err());
        assert!(check_path("/a//b/").is_err());
    }

    #[test]
    fn tags_merge_case_insensitively_and_cap_at_50() {
        let t = |k: &str, v: &str| Tag {
            key: k.into(),
            value: v.into(),
        };
        let merged = check_tags(&[t("Team", "a")], &[t("team", "b")]).unwrap();
        assert_eq!(merged, [t("team", "b")]);
        let many: Vec<Tag> = (0..51).map(|i| t(&format!("k{i}"), "")).collect();
        assert!(matches!(
            check_tags(&[], &many),
            Err(IamError::LimitExceeded(_))
        ));
        assert!(check_tags(&[], &[t("aws:x", "")]).is_err());
    }
}
