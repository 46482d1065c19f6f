//! What each kind of policy may contain (policy-semantics.md §2 and §7): the rules on top of the
//! grammar that depend on where a policy is used.

use std::fmt;
use std::str::FromStr;

use crate::document::{Effect, Policy};
use crate::finding::{Finding, PolicyError, Severity};
use crate::parse;

/// Where a policy is used; each kind has its own rules and size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// Attached to a user, group or role (managed or inline).
    Identity,
    /// Attached to a resource (a bucket policy, a key policy, ...).
    Resource,
    /// A role's trust policy (who may assume it).
    Trust,
    /// A permissions boundary on a user or role.
    Boundary,
    /// A session policy passed to AssumeRole or GetFederationToken.
    Session,
    /// An AWS Organizations service control policy.
    ServiceControl,
}

impl PolicyKind {
    pub const ALL: [PolicyKind; 6] = [
        PolicyKind::Identity,
        PolicyKind::Resource,
        PolicyKind::Trust,
        PolicyKind::Boundary,
        PolicyKind::Session,
        PolicyKind::ServiceControl,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Identity => "identity",
            PolicyKind::Resource => "resource",
            PolicyKind::Trust => "trust",
            PolicyKind::Boundary => "boundary",
            PolicyKind::Session => "session",
            PolicyKind::ServiceControl => "scp",
        }
    }

    /// The largest document AWS accepts, in characters, not counting whitespace outside
    /// strings: managed policies (identity, boundary) 6,144; trust policies 2,048; session
    /// policies 2,048; SCPs 5,120; resource policies 20,480 (S3's bucket-policy limit).
    pub fn max_size(self) -> usize {
        match self {
            PolicyKind::Identity | PolicyKind::Boundary => 6_144,
            PolicyKind::Trust | PolicyKind::Session => 2_048,
            PolicyKind::ServiceControl => 5_120,
            PolicyKind::Resource => 20_480,
        }
    }

    /// Whether statements must name a principal (resource-based and trust policies).
    fn requires_principal(self) -> bool {
        matches!(self, PolicyKind::Resource | PolicyKind::Trust)
    }

    /// Whether a principal is forbidden (policies attached to the caller's side).
    fn forbids_principal(self) -> bool {
        matches!(
            self,
            PolicyKind::Identity
                | PolicyKind::Boundary
                | PolicyKind::Session
                | PolicyKind::ServiceControl
        )
    }

    /// IAM's own Sid rule (`[0-9A-Za-z]*`); other services' resource policies allow more.
    fn alphanumeric_sid(self) -> bool {
        !matches!(self, PolicyKind::Resource)
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PolicyKind {
    type Err = String;

    fn from_str(s: &str) -> Result<PolicyKind, String> {
        match s.to_ascii_lowercase().as_str() {
            "identity" => Ok(PolicyKind::Identity),
            "resource" => Ok(PolicyKind::Resource),
            "trust" => Ok(PolicyKind::Trust),
            "boundary" => Ok(PolicyKind::Boundary),
            "session" => Ok(PolicyKind::Session),
            "scp" | "service-control" => Ok(PolicyKind::ServiceControl),
            other => Err(format!(
                "unknown policy kind \"{other}\" (expected identity, resource, trust, boundary, session or scp)"
            )),
        }
    }
}

/// The size AWS counts: characters, not counting whitespace outside strings.
pub fn policy_size(text: &str) -> usize {
    let mut size = 0;
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            size += 1;
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            size += 1;
        } else if !c.is_whitespace() {
            size += 1;
        }
    }
    size
}

/// Every finding for `text` used as a `kind` policy: errors (AWS rejects it) and warnings.
pub fn validate(text: &str, kind: PolicyKind) -> Vec<Finding> {
    let mut findings = Vec::new();
    if let Some((i, c)) = text
        .char_indices()
        .find(|&(_, c)| !matches!(c, '\u{9}' | '\u{a}' | '\u{d}' | '\u{20}'..='\u{ff}'))
    {
        findings.push(Finding::error(
            "",
            format!(
                "The policy contains the character U+{:04X} at byte {i}: a policy may contain only tab, line feed, carriage return and U+0020 to U+00FF.",
                c as u32
            ),
        ));
    }
    let size = policy_size(text);
    if size > kind.max_size() {
        findings.push(Finding::error(
            "",
            format!(
                "Cannot exceed quota for PolicySize: {} (this {} policy has {size} characters, not counting whitespace).",
                kind.max_size(),
                kind
            ),
        ));
    }
    let requires_resource = matches!(
        kind,
        PolicyKind::Identity
            | PolicyKind::Boundary
            | PolicyKind::Session
            | PolicyKind::ServiceControl
    );
    if let Some(policy) = parse::parse_into(text, requires_resource, &mut findings) {
        check_kind(&policy, kind, &mut findings);
    }
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    findings
}

/// Parses `text` as a `kind` policy: `Ok` when AWS would accept it.
pub fn parse_policy(text: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
    let findings = validate(text, kind);
    if findings.iter().any(Finding::is_error) {
        return Err(PolicyError { findings });
    }
    parse::parse(text)
}

fn check_kind(policy: &Policy, kind: PolicyKind, findings: &mut Vec<Finding>) {
    if policy.id.is_some()
        && matches!(
            kind,
            PolicyKind::Identity | PolicyKind::Boundary | PolicyKind::Session
        )
    {
        findings.push(Finding::error("Id", "Policy document should not specify an Id: Id is not allowed in identity-based policies."));
    }
    for (i, s) in policy.statements.iter().enumerate() {
        let at = format!("Statement[{i}]");
        if let Some(sid) = &s.sid {
            if kind.alphanumeric_sid() && !sid.chars().all(|c| c.is_ascii_alphanumeric()) {
                findings.push(Finding::error(
                    at.clone(),
                    format!("Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*: \"{sid}\"."),
                ));
            }
        }
        match &s.principal {
            Some(_) if kind.forbids_principal() => {
                findings.push(Finding::error(
                    at.clone(),
                    "Policy document should not specify a principal.",
                ));
            }
            Some(p) if p.negated && kind == PolicyKind::Trust => {
                findings.push(Finding::error(
                    at.clone(),
                    "NotPrincipal is not allowed in a role trust policy.",
                ));
            }
            Some(p) if p.negated && s.effect == Effect::Allow => {
                findings.push(Finding::warning(
                    at.clone(),
                    "NotPrincipal with Allow grants access to everyone not listed, anonymous callers included; name the principals instead.",
                ));
            }
            None if kind.requires_principal() => {
                findings.push(Finding::error(
                    at.clone(),
                    "Missing required field Principal.",
                ));
            }
            _ => {}
        }
        match (&s.resource, kind) {
            (Some(_), PolicyKind::Trust) => {
                findings.push(Finding::error(
                    at.clone(),
                    "Has prohibited field Resource: a trust policy applies to its role.",
                ));
            }
            (Some(r), _) if r.negated && s.effect == Effect::Allow => {
                findings.push(Finding::warning(
                    at.clone(),
                    "Allow with NotResource grants the actions on every other resource, in every service they apply to.",
                ));
            }
            _ => {}
        }
        // IAM's own checks of the ARNs of the documents it stores (identity policies, inline
        // or managed, and boundaries).
        if matches!(kind, PolicyKind::Identity | PolicyKind::Boundary) {
            if let Some(r) = &s.resource {
                let element = if r.negated { "NotResource" } else { "Resource" };
                for p in &r.patterns {
                    if let Some(message) = iam_resource_error(&p.text) {
                        findings.push(Finding::error(format!("{at}.{element}"), message));
                    }
                }
            }
        }
        if kind == PolicyKind::Trust {
            for p in &s.action.patterns {
                let service = p.text.split_once(':').map(|(svc, _)| svc);
                if !service.is_some_and(|svc| svc.eq_ignore_ascii_case("sts")) {
                    findings.push(Finding::error(
                        format!("{at}.Action"),
                        format!(
                            "AssumeRole policy may only specify STS AssumeRole actions: \"{}\".",
                            p.text
                        ),
                    ));
                }
            }
        }
        if s.effect == Effect::Allow {
            for c in &s.conditions {
                if c.operator().qualifier == Some(crate::condition::SetQualifier::ForAllValues)
                    && !c.operator().operator.is_negated()
                {
                    findings.push(Finding {
                        severity: Severity::Warning,
                        location: format!("{at}.Condition"),
                        message: format!(
                            "{} on {} with Allow is true when the key is missing or empty: add a Null condition so a request without the key is not allowed.",
                            c.operator(),
                            c.key()
                        ),
                    });
                }
            }
        }
    }
}

/// AWS's partitions (and `*`); a policy variable may stand for one.
const PARTITIONS: [&str; 9] = [
    "*",
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
];

/// AWS's error for an ARN whose partition is none of AWS's: the ARN is shown with its missing
/// segments as `*`, as AWS shows it.
pub(crate) fn partition_error(text: &str) -> Option<String> {
    let rest = text.strip_prefix("arn:")?;
    let (partition, rest) = rest.split_once(':').unwrap_or((rest, ""));
    if PARTITIONS.contains(&partition) || partition.contains("${") {
        return None;
    }
    let parts: Vec<&str> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.splitn(4, ':').collect()
    };
    let at = |i: usize| {
        parts
            .get(i)
            .copied()
            .filter(|p| !p.is_empty() || i > 0 || parts.len() > 1)
            .unwrap_or("*")
    };
    Some(format!(
        "Partition \"{partition}\" is not valid for resource \"arn:{partition}:{}:{}:{}:{}\".",
        at(0),
        at(1),
        at(2),
        at(3)
    ))
}

/// What an IAM resource path may start with (besides `*` and `root`), as AWS lists it.
const IAM_RESOURCE_PATHS: [&str; 13] = [
    "user/",
    "federated-user/",
    "role/",
    "group/",
    "instance-profile/",
    "mfa/",
    "server-certificate/",
    "policy/",
    "sms-mfa/",
    "saml-provider/",
    "oidc-provider/",
    "report/",
    "access-report/",
];

/// AWS's error for a resource ARN IAM refuses in a document it stores: an IAM ARN with a
/// region or a resource path that names no IAM resource type, an S3 bucket or object ARN
/// (no account) with a region.
fn iam_resource_error(text: &str) -> Option<String> {
    if let Some(message) = partition_error(text) {
        return Some(message);
    }
    let seg = crate::arn::segments(text).filter(|s| s[0] == "arn")?;
    let (service, region, account, resource) = (seg[2], seg[3], seg[4], seg[5]);
    match service {
        "iam" if !region.is_empty() => Some(format!(
            "IAM resource {text} cannot contain region information."
        )),
        "iam"
            if !(resource == "*"
                || resource == "root"
                || IAM_RESOURCE_PATHS.iter().any(|p| resource.starts_with(p))) =>
        {
            Some(format!(
                "IAM resource path must either be \"*\", root, or start with {}.",
                IAM_RESOURCE_PATHS.join(", ")
            ))
        }
        // A bucket or object ARN has neither region nor account; S3's other resources (access
        // points, Access Grants, Outposts) have both.
        "s3" if !region.is_empty()
            && account.is_empty()
            && !resource.starts_with("accesspoint/") =>
        {
            Some(format!(
                "Resource {text} can not contain region information."
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_refuses_iam_arns_with_a_region_or_a_bad_path_and_s3_arns_with_a_region() {
        let doc = |resource: &str| {
            format!(
                r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"s3:ListBucket","Resource":"{resource}"}}}}"#
            )
        };
        for (resource, message) in [
            (
                "arn:aws:iam:us-east-1:111122223333:user/x",
                "IAM resource arn:aws:iam:us-east-1:111122223333:user/x cannot contain region information.",
            ),
            (
                "arn:aws:iam:::example_bucket",
                "IAM resource path must either be \"*\", root, or start with user/, federated-user/, role/, group/, instance-profile/, mfa/, server-certificate/, policy/, sms-mfa/, saml-provider/, oidc-provider/, report/, access-report/.",
            ),
            (
                "arn:aws:s3:us-east-1::example_bucket",
                "Resource arn:aws:s3:us-east-1::example_bucket can not contain region information.",
            ),
        ] {
            let findings = validate(&doc(resource), PolicyKind::Identity);
            let errors: Vec<&str> = findings
                .iter()
                .filter(|f| f.is_error())
                .map(|f| f.message.as_str())
                .collect();
            assert_eq!(errors, [message], "{resource}");
            // A permissions boundary is IAM's to check too.
            assert!(
                validate(&doc(resource), PolicyKind::Boundary)
                    .iter()
                    .any(Finding::is_error)
            );
        }
        assert_eq!(
            validate(&doc("arn:b:s3:::bucket"), PolicyKind::Identity)
                .iter()
                .filter(|f| f.is_error())
                .map(|f| f.message.as_str())
                .collect::<Vec<_>>(),
            ["Partition \"b\" is not valid for resource \"arn:b:s3:::bucket\"."]
        );
        assert!(
            validate(&doc("arn:b:s3"), PolicyKind::Identity)
                .iter()
                .any(|f| f.message
                    == "Partition \"b\" is not valid for resource \"arn:b:s3:*:*:*\".")
        );
        for fine in [
            "arn:aws-cn:s3:::bucket",
            "arn:*:s3:::bucket",
            "arn:aws:iam::111122223333:root",
            "arn:aws:iam::*:role/*",
            "arn:aws:iam::111122223333:*",
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "arn:aws:s3:us-west-2:111122223333:accesspoint/ap",
            "arn:aws:s3:::bucket/*",
        ] {
            assert!(
                !validate(&doc(fine), PolicyKind::Identity)
                    .iter()
                    .any(Finding::is_error),
                "{fine}"
            );
        }
    }

    fn messages(text: &str, kind: PolicyKind) -> Vec<String> {
        validate(text, kind)
            .into_iter()
            .filter(Finding::is_error)
            .map(|f| f.to_string())
            .collect()
    }

    #[test]
    fn identity_policies_must_not_name_principals() {
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},
            {"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}"#;
        assert_eq!(
            messages(doc, PolicyKind::Identity),
            ["Statement[1]: Policy document should not specify a principal."]
        );
        assert_eq!(
            messages(doc, PolicyKind::Resource),
            ["Statement[0]: Missing required field Principal."]
        );
    }

    #[test]
    fn size_ignores_whitespace_outside_strings() {
        assert_eq!(policy_size("{ \"a b\" : 1 }"), 9);
        assert_eq!(policy_size(r#"{"a\"b":1}"#), 10);
    }

    #[test]
    fn characters_outside_the_allowed_range_are_rejected() {
        let doc = "{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::\u{2603}\"}}";
        assert!(messages(doc, PolicyKind::Identity)[0].contains("U+2603"));
    }
}
