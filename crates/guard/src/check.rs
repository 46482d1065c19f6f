//! What a request needs: one (action, resource) pair with what bears on it.

use std::collections::BTreeMap;

use serde::Serialize;

/// One (action, resource) pair to decide, with the resource's policy, tags and account and the
/// service's own condition keys (`s3:prefix`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub action: String,
    pub resource: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_policy: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub resource_tags: BTreeMap<String, String>,
    /// The account that owns the resource; by default the account in the resource's ARN, else
    /// the service's own account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_account: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub context: BTreeMap<String, ContextValue>,
}

/// A condition key's value: one string, or a set (a multivalued key such as `aws:TagKeys`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ContextValue {
    One(String),
    Many(Vec<String>),
}

impl Check {
    /// `action` (`s3:GetObject`) on `resource` (an ARN).
    pub fn new(action: impl Into<String>, resource: impl Into<String>) -> Check {
        Check {
            action: action.into(),
            resource: resource.into(),
            resource_policy: None,
            resource_tags: BTreeMap::new(),
            resource_account: None,
            context: BTreeMap::new(),
        }
    }

    /// The resource's own policy (a bucket policy), JSON text.
    pub fn resource_policy(mut self, policy: impl Into<String>) -> Check {
        self.resource_policy = Some(policy.into());
        self
    }

    /// The account that owns the resource.
    pub fn resource_account(mut self, account: impl Into<String>) -> Check {
        self.resource_account = Some(account.into());
        self
    }

    /// One tag of the resource (`aws:ResourceTag/KEY`).
    pub fn resource_tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Check {
        self.resource_tags.insert(key.into(), value.into());
        self
    }

    /// A single-valued service condition key (`s3:prefix`) and its value.
    pub fn context(mut self, key: impl Into<String>, value: impl Into<String>) -> Check {
        self.context
            .insert(key.into(), ContextValue::One(value.into()));
        self
    }

    /// A multivalued condition key and its set of values.
    pub fn context_values(
        mut self,
        key: impl Into<String>,
        values: impl IntoIterator<Item = impl Into<String>>,
    ) -> Check {
        let values = values.into_iter().map(Into::into).collect();
        self.context.insert(key.into(), ContextValue::Many(values));
        self
    }
}
