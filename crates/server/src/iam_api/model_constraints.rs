//! Constraints of the IAM API model (botocore's `iam/2010-05-08/service-2.json`) on
//! parameters that mean the same in every action, checked before the handler runs, as AWS
//! validates a request against its model before anything else: `ValidationError` with AWS's
//! "1 validation error detected" message.

use portcullis_iam::names::{self, is_tag_char};

use crate::error::ApiError;
use crate::query::{Params, lower_first};

fn violation(name: &str, value: &str, constraint: &str) -> ApiError {
    ApiError::validation(format!(
        "1 validation error detected: Value '{value}' at '{}' failed to satisfy constraint: Member {constraint}",
        lower_first(name)
    ))
}

fn missing(name: &str) -> ApiError {
    ApiError::validation(format!(
        "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
        lower_first(name)
    ))
}

fn length(name: &str, value: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let n = value.chars().count();
    if (min..=max).contains(&n) {
        Ok(())
    } else {
        Err(violation(
            name,
            value,
            &format!(
                "must have length less than or equal to {max} and greater than or equal to {min}"
            ),
        ))
    }
}

/// Checks the model's constraints on `action`'s parameters: every top-level member
/// ([`super::model_validation`], with the tags' violations joined to them), then the shared
/// parameters below.
pub fn check(action: &str, params: &Params) -> Result<(), ApiError> {
    let found = super::model_validation::violations(action, params);
    if !found.is_empty() {
        let tags = names::check_tags(&[], &params.tags("Tags")).map(|_| ());
        return match names::all_valid([Err(names::coral(&found)), tags]) {
            Err(e) => Err(e.into()),
            Ok(()) => Ok(()),
        };
    }
    // arnType: 20 to 2,048 characters.
    for name in [
        "PolicyArn",
        "PermissionsBoundary",
        "OpenIDConnectProviderArn",
        "SAMLProviderArn",
    ] {
        if let Some(v) = params.get(name) {
            length(name, v, 20, 2048)?;
        }
    }
    // policyDocumentType: 1 to 131,072 characters.
    for name in ["PolicyDocument", "AssumeRolePolicyDocument"] {
        if let Some(v) = params.get(name) {
            length(name, v, 1, 131_072)?;
        }
    }
    // pathPrefixType, pathType and policyPathType all need 1-512 characters starting with `/`
    // among `\u0021-\u007F` (the least of the three).
    if let Some(v) = params.get("PathPrefix")
        && !(v.starts_with('/')
            && v.len() <= 512
            && v.chars().all(|c| ('\u{21}'..='\u{7f}').contains(&c)))
    {
        return Err(violation(
            "PathPrefix",
            v,
            "must satisfy regular expression pattern: \\u002F[\\u0021-\\u007F]*",
        ));
    }
    if let Some(v) = params.get("EntityFilter")
        && !matches!(
            v,
            "User" | "Role" | "Group" | "LocalManagedPolicy" | "AWSManagedPolicy"
        )
    {
        return Err(violation(
            "EntityFilter",
            v,
            "must satisfy enum value set: [User, Role, Group, LocalManagedPolicy, AWSManagedPolicy]",
        ));
    }
    // tagListType (Tags) and tagKeyListType (TagKeys): at most 50; required by every Tag*
    // and Untag* action.
    let tags = params.tags("Tags").len();
    let keys = params.list("TagKeys");
    for (name, count, required) in [
        ("Tags", tags, action.starts_with("Tag")),
        ("TagKeys", keys.len(), action.starts_with("Untag")),
    ] {
        if count > 50 {
            return Err(violation(
                name,
                "[...]",
                "must have length less than or equal to 50",
            ));
        }
        if required && count == 0 {
            return Err(missing(name));
        }
    }
    // tagKeyType: 1-128 tag characters.
    for key in &keys {
        length("TagKeys.member", key, 1, 128)?;
        if !key.chars().all(is_tag_char) {
            return Err(violation(
                "TagKeys.member",
                key,
                "must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+",
            ));
        }
    }
    Ok(())
}
