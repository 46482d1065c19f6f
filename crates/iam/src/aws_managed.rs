//! AWS managed policies (`arn:aws:iam::aws:policy/...`): every one AWS publishes, built in,
//! read-only, attachable in every account. From `data/aws-managed-policies.json`, written by
//! `scripts/aws-data.py` from a maintained MIT package (never edited by hand): each policy's
//! path, default version id, dates and the default version's document. Parsed once, on first
//! use.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, OnceLock};

use portcullis_policy::PolicyKind;
use serde::Deserialize;

use crate::model::{ManagedPolicy, PolicyDocument, PolicyVersion};

const DATA: &str = include_str!("../data/aws-managed-policies.json");

#[derive(Deserialize)]
struct RawPolicies {
    policies: Vec<RawPolicy>,
}

#[derive(Deserialize)]
struct RawPolicy {
    name: String,
    path: String,
    id: String,
    version: String,
    created: String,
    updated: String,
    document: String,
}

/// One policy of the data file, made into a [`ManagedPolicy`] when first asked for.
struct Entry {
    arn: String,
    raw: RawPolicy,
    policy: OnceLock<Option<ManagedPolicy>>,
}

impl Entry {
    /// The policy; `None` if its document does not parse (a test checks that none fails).
    fn policy(&self) -> Option<&ManagedPolicy> {
        self.policy
            .get_or_init(|| {
                let p = &self.raw;
                // Generated from AWS's own documents: parsed without a customer policy's
                // validation (the test validates every one).
                let parsed = portcullis_policy::Policy::parse(&p.document).ok()?;
                let document = PolicyDocument {
                    text: p.document.clone(),
                    kind: PolicyKind::Identity,
                    parsed: Arc::new(parsed),
                };
                Some(ManagedPolicy {
                    policy_id: p.id.clone(),
                    arn: self.arn.clone(),
                    name: p.name.clone(),
                    path: p.path.clone(),
                    description: None,
                    create_date: p.created.clone(),
                    update_date: p.updated.clone(),
                    default_version_id: p.version.clone(),
                    versions: vec![PolicyVersion {
                        version_id: p.version.clone(),
                        document,
                        create_date: p.updated.clone(),
                    }],
                    next_version: 0,
                    tags: Vec::new(),
                })
            })
            .as_ref()
    }
}

/// The policies, in name order, and their index by ARN. A policy's document is parsed the
/// first time the policy is asked for (listing all of them parses all, about 0.2 s).
pub struct AwsManaged {
    entries: Vec<Entry>,
    by_arn: HashMap<String, usize>,
}

impl AwsManaged {
    fn parse(text: &str) -> AwsManaged {
        let raw: RawPolicies = match serde_json::from_str(text) {
            Ok(r) => r,
            Err(e) => {
                // Generated and checked by this crate's tests: a broken file is a build
                // defect, reported rather than panicking in a request.
                tracing::error!(error = %e, "the embedded AWS managed policies do not parse");
                RawPolicies {
                    policies: Vec::new(),
                }
            }
        };
        let entries: Vec<Entry> = raw
            .policies
            .into_iter()
            .map(|raw| Entry {
                arn: format!("arn:aws:iam::aws:policy{}{}", raw.path, raw.name),
                raw,
                policy: OnceLock::new(),
            })
            .collect();
        let by_arn = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.arn.clone(), i))
            .collect();
        AwsManaged { entries, by_arn }
    }

    /// Every policy, in name order.
    pub fn iter(&self) -> impl Iterator<Item = &ManagedPolicy> {
        self.entries.iter().filter_map(Entry::policy)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The built-in policies, read on first use.
pub static AWS_MANAGED: LazyLock<AwsManaged> = LazyLock::new(|| AwsManaged::parse(DATA));

/// The AWS managed policy with this ARN.
pub fn aws_managed(arn: &str) -> Option<&'static ManagedPolicy> {
    if !arn.starts_with("arn:aws:iam::aws:policy/") {
        return None;
    }
    let all = &*AWS_MANAGED;
    all.by_arn
        .get(arn)
        .and_then(|i| all.entries.get(*i))
        .and_then(Entry::policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_aws_managed_policy_is_valid_as_aws_accepts_it() {
        let all = AwsManaged::parse(DATA);
        assert!(all.len() > 1400, "{}", all.len());
        let refused: Vec<(&str, String)> = all
            .entries
            .iter()
            .filter_map(|e| {
                PolicyDocument::parse_unbounded(&e.raw.document, PolicyKind::Identity)
                    .err()
                    .map(|m| (e.raw.name.as_str(), m))
            })
            .collect();
        assert!(refused.is_empty(), "{refused:?}");
        assert_eq!(all.iter().count(), all.len());
    }

    #[test]
    fn policies_are_found_by_their_arn_with_their_path() {
        let admin = aws_managed("arn:aws:iam::aws:policy/AdministratorAccess").unwrap();
        assert_eq!(admin.path, "/");
        assert_eq!(admin.default_version_id, "v1");
        assert_eq!(admin.create_date, "2015-02-06T18:39:46Z");
        assert!(admin.policy_id.starts_with("ANPA") && admin.policy_id.len() == 21);
        let role = aws_managed("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
            .unwrap();
        assert_eq!(role.path, "/service-role/");
        assert!(aws_managed("arn:aws:iam::aws:policy/AWSLambdaBasicExecutionRole").is_none());
        let s3 = aws_managed("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess").unwrap();
        assert!(s3.versions[0].document.text.contains("s3:Get*"));
    }
}
