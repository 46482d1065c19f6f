//! A request to authorize: who, what action, on which resource, in what context.
//!
//! Everything a decision compares is prepared here once (action lowercased and split, resource
//! ARN split, principal keys added to the context), so evaluation only compares.

use crate::arn;
use crate::context::RequestContext;
use crate::principal::Principal;

/// An action such as `s3:GetObject`, lowercased (actions match case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    lower: Box<str>,
    /// Length of the service prefix; the name starts after the colon that follows it.
    service_len: usize,
}

impl Action {
    /// Parses `service:Name`. An action without a colon has an empty service.
    pub fn new(action: &str) -> Action {
        let lower: Box<str> = action.to_lowercase().into();
        let service_len = lower.find(':').unwrap_or(0);
        Action { lower, service_len }
    }

    pub fn as_str(&self) -> &str {
        &self.lower
    }

    pub fn service(&self) -> &str {
        &self.lower[..self.service_len]
    }

    pub fn name(&self) -> &str {
        if self.service_len == 0 && !self.lower.starts_with(':') {
            &self.lower
        } else {
            &self.lower[self.service_len + 1..]
        }
    }
}

/// A resource ARN (or `*` for actions that take no resource), split into segments once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    text: Box<str>,
    /// Byte offsets of the five colons that separate the six ARN segments.
    colons: Option<[usize; 5]>,
}

impl Resource {
    pub fn new(resource: &str) -> Resource {
        let mut colons = [0usize; 5];
        let mut found = 0;
        for (i, b) in resource.bytes().enumerate() {
            if b == b':' {
                colons[found] = i;
                found += 1;
                if found == 5 {
                    break;
                }
            }
        }
        Resource {
            text: resource.into(),
            colons: (found == 5).then_some(colons),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The six ARN segments, or `None` when the resource is not an ARN.
    pub(crate) fn segments(&self) -> Option<[&str; 6]> {
        let c = self.colons?;
        let t = &*self.text;
        Some([
            &t[..c[0]],
            &t[c[0] + 1..c[1]],
            &t[c[1] + 1..c[2]],
            &t[c[2] + 1..c[3]],
            &t[c[3] + 1..c[4]],
            &t[c[4] + 1..],
        ])
    }

    /// The ARN up to and including its fifth colon, and the resource part after it.
    pub(crate) fn split_head(&self) -> Option<(&str, &str)> {
        let c = self.colons?;
        Some(self.text.split_at(c[4] + 1))
    }

    /// The key under which [`crate::PolicySet`] finds the statements whose Resource can match:
    /// the ARN through the first `/` or `:` of its resource part (`arn:aws:s3:::bucket/`), or
    /// the whole text.
    pub(crate) fn index_key(&self) -> &str {
        let Some(c) = self.colons else {
            return &self.text;
        };
        let start = c[4] + 1;
        match self.text[start..].find(['/', ':']) {
            Some(at) => &self.text[..start + at + 1],
            None => &self.text,
        }
    }

    /// The account segment, if the resource is an ARN that has one.
    pub fn account(&self) -> Option<&str> {
        self.segments().map(|s| s[4]).filter(|a| !a.is_empty())
    }
}

/// One request to authorize.
#[derive(Debug, Clone)]
pub struct Request {
    pub principal: Principal,
    pub action: Action,
    pub resource: Resource,
    /// The account that owns the resource.
    pub resource_account: Option<String>,
    pub context: RequestContext,
}

impl Request {
    /// Builds a request. The resource's account defaults to the account in its ARN, else the
    /// principal's; the principal's global condition keys are added to `context` unless
    /// already set.
    pub fn new(
        principal: Principal,
        action: &str,
        resource: &str,
        mut context: RequestContext,
    ) -> Request {
        principal.add_context_keys(&mut context);
        let resource = Resource::new(resource);
        let resource_account = resource
            .account()
            .filter(|a| arn::is_account_id(a))
            .or(principal.account())
            .map(str::to_owned);
        Request {
            principal,
            action: Action::new(action),
            resource,
            resource_account,
            context,
        }
    }

    /// Sets the account that owns the resource.
    pub fn with_resource_account(mut self, account: impl Into<String>) -> Request {
        self.resource_account = Some(account.into());
        self
    }

    /// Whether the principal and the resource are in different accounts (anonymous callers,
    /// services and identity providers have no account, so for them it is always true).
    pub fn is_cross_account(&self) -> bool {
        match (self.principal.account(), self.resource_account.as_deref()) {
            (Some(p), Some(r)) => p != r,
            (Some(_), None) => false,
            (None, _) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_splits_service_and_name() {
        let a = Action::new("S3:GetObject");
        assert_eq!(a.service(), "s3");
        assert_eq!(a.name(), "getobject");
        assert_eq!(a.as_str(), "s3:getobject");
    }

    #[test]
    fn resource_segments() {
        let r = Resource::new("arn:aws:s3:::bucket/a:b");
        assert_eq!(
            r.segments().unwrap(),
            ["arn", "aws", "s3", "", "", "bucket/a:b"]
        );
        assert_eq!(Resource::new("*").segments(), None);
        assert_eq!(
            Resource::new("arn:aws:iam::111122223333:user/x").account(),
            Some("111122223333")
        );
    }
}
