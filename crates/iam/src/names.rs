//! Validation of names, paths and tags (policy-semantics.md §7): AWS's messages, AWS's limits.

use crate::error::{IamError, IamResult};
use crate::model::Tag;

/// User and role names: 1-64 characters of `[\w+=,.@-]`; groups, policies and instance
/// profiles allow 128.
pub fn check_name(what: &str, name: &str, max: usize) -> IamResult<()> {
    let mut violations = Vec::new();
    if name.is_empty() || name.chars().count() > max {
        violations.push(format!(
            "Value '{name}' at '{what}' failed to satisfy constraint: Member must have length less than or equal to {max} and greater than or equal to 1"
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
    {
        violations.push(format!(
            "Value '{name}' at '{what}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
        ));
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(coral(&violations))
    }
}

/// The checks of one request's parameters, as AWS's request validation reports them: every
/// violation of the model in one `ValidationError` ("2 validation errors detected: ...");
/// when there is none, the first other error.
pub fn all_valid(results: impl IntoIterator<Item = IamResult<()>>) -> IamResult<()> {
    let mut violations = Vec::new();
    let mut other = None;
    for result in results {
        match result {
            Ok(()) => {}
            Err(IamError::ValidationError(m)) if m.contains(" detected: ") => {
                let listed = m.split_once(" detected: ").map_or("", |(_, v)| v);
                violations.extend(listed.split("; ").map(str::to_owned));
            }
            Err(e) => {
                other.get_or_insert(e);
            }
        }
    }
    match (violations.is_empty(), other) {
        (false, _) => Err(coral(&violations)),
        (true, Some(e)) => Err(e),
        (true, None) => Ok(()),
    }
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

/// A character of `[\p{L}\p{Z}\p{N}_.:/=+\-@]`, the tag pattern: letters, numbers, space
/// separators (not tabs or line breaks) and `_.:/=+-@`.
pub fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric()
        || "_.:/=+-@".contains(c)
        || matches!(
            c,
            ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
                ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
        )
}

const TAG_PATTERN: &str = "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]";

/// Tags: key 1-128 and value 0-256 tag characters (AWS's model constraints: ValidationError);
/// at most 50 in one request; keys unique case-insensitively and not starting with `aws:`
/// (InvalidInput); at most 50 on the entity (LimitExceeded).
pub fn check_tags(existing: &[Tag], new: &[Tag]) -> IamResult<Vec<Tag>> {
    // Every constraint of the model that the tags break, listed together as AWS's request
    // validation does.
    let mut violations = Vec::new();
    let mut violation = |value: &str, at: String, constraint: String| {
        violations.push(format!(
            "Value '{value}' at '{at}' failed to satisfy constraint: Member {constraint}"
        ));
    };
    if new.len() > 50 {
        violation(
            "[...]",
            "tags".into(),
            "must have length less than or equal to 50".into(),
        );
    }
    // A key (1-128) or a value (0-256) of tag characters.
    let mut text = |text: &str, at: String, min: usize, max: usize| {
        if !(min..=max).contains(&text.chars().count()) {
            violation(
                text,
                at.clone(),
                format!(
                    "must have length less than or equal to {max} and greater than or equal to {min}"
                ),
            );
        }
        if !text.chars().all(is_tag_char) {
            let repeat = if min == 0 { '*' } else { '+' };
            violation(
                text,
                at,
                format!("must satisfy regular expression pattern: {TAG_PATTERN}{repeat}"),
            );
        }
    };
    for (i, tag) in new.iter().enumerate() {
        text(&tag.key, format!("tags.{}.member.key", i + 1), 1, 128);
        text(&tag.value, format!("tags.{}.member.value", i + 1), 0, 256);
    }
    if !violations.is_empty() {
        return Err(coral(&violations));
    }
    let mut seen = std::collections::HashSet::new();
    for tag in new {
        if tag.key.to_lowercase().starts_with("aws:") {
            return Err(IamError::InvalidInput(
                "Tag keys starting with 'aws:' are reserved for AWS use.".into(),
            ));
        }
        if !seen.insert(tag.key.to_lowercase()) {
            return Err(IamError::InvalidInput(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.".into(),
            ));
        }
    }
    // A key already there keeps its place and takes the new value; new keys go last.
    let mut merged: Vec<Tag> = existing.to_vec();
    for tag in new {
        match merged
            .iter_mut()
            .find(|t| t.key.eq_ignore_ascii_case(&tag.key))
        {
            Some(old) => *old = tag.clone(),
            None => merged.push(tag.clone()),
        }
    }
    if merged.len() > 50 {
        return Err(IamError::LimitExceeded(
            "Cannot exceed quota for TagsPerEntity: 50.".into(),
        ));
    }
    Ok(merged)
}

/// AWS's request-validation error listing every violation: `1 validation error detected: A`
/// or `2 validation errors detected: A; B`.
pub fn coral(violations: &[String]) -> IamError {
    let n = violations.len();
    IamError::ValidationError(format!(
        "{n} validation error{} detected: {}",
        if n == 1 { "" } else { "s" },
        violations.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(key: &str, value: &str) -> Tag {
        Tag {
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn a_requests_violations_are_listed_together() {
        let long = "a".repeat(65);
        let err = all_valid([
            check_name("userName", &format!("{long}!"), 64),
            check_path("nopath"),
            check_tags(&[], &[tag("aws:x", "v")]).map(|_| ()),
        ])
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("3 validation errors detected: Value '"),
            "{text}"
        );
        assert!(
            text.contains("at 'userName' failed to satisfy constraint: Member must have length")
        );
        assert!(text.contains(
            "at 'userName' failed to satisfy constraint: Member must satisfy regular expression"
        ));
        assert!(text.contains("Value 'nopath' at 'path'"));
        // Without a model violation, the first other error is answered.
        let err = all_valid([
            check_name("userName", "ok", 64),
            check_tags(&[], &[tag("aws:x", "v")]).map(|_| ()),
        ])
        .unwrap_err();
        assert_eq!(
            err,
            IamError::InvalidInput(
                "Tag keys starting with 'aws:' are reserved for AWS use.".into()
            )
        );
        assert!(all_valid([check_name("userName", "ok", 64), check_path("/")]).is_ok());
    }

    #[test]
    fn tags_list_every_violation_and_retag_in_place() {
        let long = "k".repeat(129);
        let err = check_tags(&[], &[tag(&long, "ok"), tag("fine", "bad\u{7}")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "2 validation errors detected: Value '{long}' at 'tags.1.member.key' failed to satisfy constraint: Member must have length less than or equal to 128 and greater than or equal to 1; Value 'bad\u{7}' at 'tags.2.member.value' failed to satisfy constraint: Member must satisfy regular expression pattern: {TAG_PATTERN}*"
            )
        );
        let err = check_tags(&[], &[tag("", "")]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("1 validation error detected: Value '' at 'tags.1.member.key'")
        );
        let err = check_tags(&[], &[tag("Team", "a"), tag("team", "b")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Duplicate tag keys found. Please note that Tag keys are case insensitive."
        );
        let merged = check_tags(
            &[tag("a", "1"), tag("b", "2"), tag("c", "3")],
            &[tag("B", "two"), tag("d", "4")],
        )
        .unwrap();
        let keys: Vec<(&str, &str)> = merged
            .iter()
            .map(|t| (t.key.as_str(), t.value.as_str()))
            .collect();
        assert_eq!(keys, [("a", "1"), ("B", "two"), ("c", "3"), ("d", "4")]);
    }

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
            Err(IamError::ValidationError(_))
        ));
        assert!(matches!(
            check_tags(&[t("old", "")], &many[..50]),
            Err(IamError::LimitExceeded(_))
        ));
        assert!(matches!(
            check_tags(&[], &[t("k", "a\nb")]),
            Err(IamError::ValidationError(_))
        ));
        assert!(check_tags(&[], &[t("k", "a b\u{a0}c")]).is_ok());
        assert!(check_tags(&[], &[t("aws:x", "")]).is_err());
    }
}
