//! Principals: who makes a request ([`Principal`]), and whom a policy's Principal element names
//! ([`PrincipalEntry`]).

use std::fmt;

use crate::arn;
use crate::context::RequestContext;

/// The caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The root user of an account (`arn:aws:iam::A:root`).
    Root { account: String },
    /// An IAM user (`arn:aws:iam::A:user/path/name`).
    User {
        arn: String,
        account: String,
        name: String,
    },
    /// A role session (`arn:aws:sts::A:assumed-role/ROLE/SESSION`).
    AssumedRole {
        arn: String,
        account: String,
        role_name: String,
        /// The role's ARN, path included when known (`aws:PrincipalArn`).
        role_arn: String,
        session_name: String,
    },
    /// A GetFederationToken session (`arn:aws:sts::A:federated-user/NAME`).
    FederatedUser {
        arn: String,
        account: String,
        name: String,
        /// The ARN of the IAM user whose credentials made the session, when known: a
        /// resource-based policy that names that user reaches its sessions too, limited by
        /// the session policy.
        user_arn: Option<String>,
    },
    /// An AWS service acting as itself (`s3.amazonaws.com`).
    Service { name: String },
    /// A web-identity or SAML identity before it has a session: the identity provider
    /// (`accounts.google.com`, `arn:aws:iam::A:oidc-provider/...`).
    Federated { provider: String },
    /// An unsigned request.
    Anonymous,
}

impl Principal {
    /// Parses a caller: an ARN (root, user, assumed-role session, federated user, OIDC/SAML
    /// provider), a 12-digit account id (its root), `anonymous`, `service:NAME` or a bare
    /// `NAME.amazonaws.com` service, or `federated:PROVIDER`.
    pub fn parse(text: &str) -> Result<Principal, String> {
        let invalid =
            || format!("\"{text}\" is not a principal ARN, account id, service or \"anonymous\"");
        if text.eq_ignore_ascii_case("anonymous") || text == "*" {
            return Ok(Principal::Anonymous);
        }
        if arn::is_account_id(text) {
            return Ok(Principal::Root {
                account: text.to_owned(),
            });
        }
        if let Some(name) = text.strip_prefix("service:") {
            return Ok(Principal::Service {
                name: name.to_owned(),
            });
        }
        if let Some(provider) = text.strip_prefix("federated:") {
            return Ok(Principal::Federated {
                provider: provider.to_owned(),
            });
        }
        if !text.starts_with("arn:") {
            if text.ends_with(".amazonaws.com") && text != "cognito-identity.amazonaws.com" {
                return Ok(Principal::Service {
                    name: text.to_owned(),
                });
            }
            if text.contains('.') && !text.contains(char::is_whitespace) {
                return Ok(Principal::Federated {
                    provider: text.to_owned(),
                });
            }
            return Err(invalid());
        }
        let [_, partition, service, _, account, resource] =
            arn::segments(text).ok_or_else(invalid)?;
        if !arn::is_account_id(account) {
            return Err(invalid());
        }
        let account = account.to_owned();
        match service {
            "iam" if resource == "root" => Ok(Principal::Root { account }),
            "iam" if resource.starts_with("user/") => Ok(Principal::User {
                arn: text.to_owned(),
                name: resource.rsplit('/').next().unwrap_or_default().to_owned(),
                account,
            }),
            "iam"
                if resource.starts_with("oidc-provider/")
                    || resource.starts_with("saml-provider/") =>
            {
                Ok(Principal::Federated {
                    provider: text.to_owned(),
                })
            }
            "iam" if resource.starts_with("role/") => Err(format!(
                "\"{text}\" is a role: a role acts through sessions; give the session ARN \
                 arn:{partition}:sts::{account}:assumed-role/NAME/SESSION"
            )),
            "sts" => {
                if let Some(rest) = resource.strip_prefix("assumed-role/") {
                    let (role_name, session_name) = rest.split_once('/').ok_or_else(invalid)?;
                    if role_name.is_empty() || session_name.is_empty() {
                        return Err(invalid());
                    }
                    Ok(Principal::AssumedRole {
                        arn: text.to_owned(),
                        role_arn: format!("arn:{partition}:iam::{account}:role/{role_name}"),
                        role_name: role_name.to_owned(),
                        session_name: session_name.to_owned(),
                        account,
                    })
                } else if let Some(name) = resource.strip_prefix("federated-user/") {
                    if name.is_empty() {
                        return Err(invalid());
                    }
                    Ok(Principal::FederatedUser {
                        arn: text.to_owned(),
                        name: name.to_owned(),
                        account,
                        user_arn: None,
                    })
                } else {
                    Err(invalid())
                }
            }
            _ => Err(invalid()),
        }
    }

    /// The account the principal belongs to; `None` for anonymous callers, services and
    /// identity providers.
    pub fn account(&self) -> Option<&str> {
        match self {
            Principal::Root { account }
            | Principal::User { account, .. }
            | Principal::AssumedRole { account, .. }
            | Principal::FederatedUser { account, .. } => Some(account),
            _ => None,
        }
    }

    /// The value of `aws:PrincipalArn`: for a role session, the role's ARN.
    pub fn principal_arn(&self) -> Option<String> {
        match self {
            Principal::Root { account } => Some(format!("arn:aws:iam::{account}:root")),
            Principal::User { arn, .. } | Principal::FederatedUser { arn, .. } => Some(arn.clone()),
            Principal::AssumedRole { role_arn, .. } => Some(role_arn.clone()),
            _ => None,
        }
    }

    /// The value of `aws:PrincipalType`.
    pub fn principal_type(&self) -> &'static str {
        match self {
            Principal::Root { .. } => "Account",
            Principal::User { .. } => "User",
            Principal::AssumedRole { .. } => "AssumedRole",
            Principal::FederatedUser { .. } => "FederatedUser",
            Principal::Service { .. } => "Service",
            Principal::Federated { .. } => "WebIdentityUser",
            Principal::Anonymous => "Anonymous",
        }
    }

    /// Whether this is a session made by STS (its permissions may be narrowed by a session
    /// policy).
    pub fn is_session(&self) -> bool {
        matches!(
            self,
            Principal::AssumedRole { .. } | Principal::FederatedUser { .. }
        )
    }

    /// Adds the principal's global condition keys to `context`, keeping any already set:
    /// `aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalType`, `aws:username` (users
    /// only), and `aws:userid` where it follows from the principal alone.
    pub fn add_context_keys(&self, context: &mut RequestContext) {
        if let Some(arn) = self.principal_arn() {
            context.insert_default("aws:PrincipalArn", arn);
        }
        context.insert_default("aws:PrincipalType", self.principal_type());
        match self {
            Principal::Anonymous => {
                context.insert_default("aws:PrincipalAccount", "anonymous");
                context.insert_default("aws:userid", "anonymous");
            }
            Principal::Root { account } => {
                context.insert_default("aws:PrincipalAccount", account.as_str());
                context.insert_default("aws:userid", account.as_str());
            }
            Principal::User { account, name, .. } => {
                context.insert_default("aws:PrincipalAccount", account.as_str());
                context.insert_default("aws:username", name.as_str());
            }
            Principal::FederatedUser { account, name, .. } => {
                context.insert_default("aws:PrincipalAccount", account.as_str());
                context.insert_default("aws:userid", format!("{account}:{name}"));
            }
            Principal::AssumedRole { account, .. } => {
                context.insert_default("aws:PrincipalAccount", account.as_str());
            }
            Principal::Service { .. } => {
                context.insert_default("aws:PrincipalIsAWSService", "true");
            }
            Principal::Federated { .. } => {}
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Principal::Root { account } => write!(f, "arn:aws:iam::{account}:root"),
            Principal::User { arn, .. }
            | Principal::AssumedRole { arn, .. }
            | Principal::FederatedUser { arn, .. } => f.write_str(arn),
            Principal::Service { name } => f.write_str(name),
            Principal::Federated { provider } => f.write_str(provider),
            Principal::Anonymous => f.write_str("anonymous"),
        }
    }
}

/// Which key of the Principal element an entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalType {
    Aws,
    Federated,
    Service,
    CanonicalUser,
}

impl PrincipalType {
    pub(crate) fn from_key(key: &str) -> Option<PrincipalType> {
        match key {
            "AWS" => Some(PrincipalType::Aws),
            "Federated" => Some(PrincipalType::Federated),
            "Service" => Some(PrincipalType::Service),
            "CanonicalUser" => Some(PrincipalType::CanonicalUser),
            _ => None,
        }
    }
}

/// One principal named in a policy's Principal or NotPrincipal element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PrincipalEntry {
    /// `"*"` or `{"AWS": "*"}`: everyone, anonymous callers included.
    Everyone,
    /// An account (`"A"` or `arn:aws:iam::A:root`): delegates to the account's own policies.
    Account(String),
    User(String),
    Role {
        account: String,
        name: String,
    },
    Session(String),
    FederatedUser(String),
    /// A unique id (`AIDA…`, `AROA…`), as AWS stores a principal it has resolved.
    UniqueId(String),
    Service(String),
    Federated(String),
    CanonicalUser(String),
}

/// How a resource-based policy's Allow reaches the caller; it decides what may still limit
/// the grant (policy-semantics.md §1 step 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Grant {
    /// The policy names the caller's account: it delegates to the caller's identity policies.
    Account,
    /// The policy names the role of the calling session: limited by the boundary and the
    /// session policy, not by the identity policies.
    Role,
    /// The policy names the IAM user who made the calling federated-user session
    /// (GetFederationToken): limited by the session policy.
    FederatingUser,
    /// The policy names the caller itself (user, session, federated user, service) or
    /// everyone: only an explicit deny limits it.
    Direct,
    /// The policy names everyone (`"*"`), or allows through NotPrincipal.
    Everyone,
}

impl PrincipalEntry {
    /// Parses one value of the Principal element, or says why it is invalid.
    pub(crate) fn parse(kind: PrincipalType, value: &str) -> Result<PrincipalEntry, String> {
        let invalid = || "Invalid principal in policy".to_owned();
        match kind {
            PrincipalType::Aws => {
                if value == "*" {
                    return Ok(PrincipalEntry::Everyone);
                }
                if value.contains(['*', '?']) {
                    return Err("Invalid principal in policy: a principal cannot contain a wildcard other than \"*\" alone".to_owned());
                }
                if arn::is_account_id(value) {
                    return Ok(PrincipalEntry::Account(value.to_owned()));
                }
                if is_unique_id(value) {
                    return Ok(PrincipalEntry::UniqueId(value.to_owned()));
                }
                let [prefix, _, service, _, account, resource] =
                    arn::segments(value).ok_or_else(invalid)?;
                if prefix != "arn" || !arn::is_account_id(account) {
                    return Err(invalid());
                }
                match service {
                    "iam" if resource == "root" => Ok(PrincipalEntry::Account(account.to_owned())),
                    "iam" if resource.starts_with("user/") && resource.len() > 5 => {
                        Ok(PrincipalEntry::User(value.to_owned()))
                    }
                    "iam" if resource.starts_with("role/") && resource.len() > 5 => {
                        Ok(PrincipalEntry::Role {
                            account: account.to_owned(),
                            name: resource.rsplit('/').next().unwrap_or_default().to_owned(),
                        })
                    }
                    "sts"
                        if resource.starts_with("assumed-role/")
                            && resource[13..].contains('/') =>
                    {
                        Ok(PrincipalEntry::Session(value.to_owned()))
                    }
                    "sts" if resource.starts_with("federated-user/") && resource.len() > 15 => {
                        Ok(PrincipalEntry::FederatedUser(value.to_owned()))
                    }
                    _ => Err(invalid()),
                }
            }
            PrincipalType::Service | PrincipalType::Federated | PrincipalType::CanonicalUser => {
                if value.is_empty() || value.contains(char::is_whitespace) {
                    return Err(invalid());
                }
                if value != "*" && value.contains(['*', '?']) {
                    return Err("Invalid principal in policy: a principal cannot contain a wildcard other than \"*\" alone".to_owned());
                }
                Ok(match kind {
                    PrincipalType::Service => PrincipalEntry::Service(value.to_owned()),
                    PrincipalType::Federated => PrincipalEntry::Federated(value.to_owned()),
                    _ => PrincipalEntry::CanonicalUser(value.to_owned()),
                })
            }
        }
    }

    /// How this entry reaches `caller`, if it does (Principal semantics).
    pub(crate) fn grant_to(&self, caller: &Principal, context: &RequestContext) -> Option<Grant> {
        match (self, caller) {
            (PrincipalEntry::Everyone, _) => Some(Grant::Everyone),
            (PrincipalEntry::Account(a), _) => {
                (caller.account() == Some(a)).then_some(Grant::Account)
            }
            (PrincipalEntry::User(arn), Principal::User { arn: c, .. }) => {
                (arn == c).then_some(Grant::Direct)
            }
            (
                PrincipalEntry::User(arn),
                Principal::FederatedUser {
                    user_arn: Some(c), ..
                },
            ) => (arn == c).then_some(Grant::FederatingUser),
            (
                PrincipalEntry::Role { account, name },
                Principal::AssumedRole {
                    account: a,
                    role_name,
                    ..
                },
            ) => (account == a && name == role_name).then_some(Grant::Role),
            (PrincipalEntry::Session(arn), Principal::AssumedRole { arn: c, .. }) => {
                (arn == c).then_some(Grant::Direct)
            }
            (PrincipalEntry::FederatedUser(arn), Principal::FederatedUser { arn: c, .. }) => {
                (arn == c).then_some(Grant::Direct)
            }
            (PrincipalEntry::UniqueId(id), Principal::User { .. }) => {
                (context.single_value("aws:userid") == Some(id)).then_some(Grant::Direct)
            }
            (PrincipalEntry::UniqueId(id), Principal::AssumedRole { .. }) => {
                let userid = context.single_value("aws:userid")?;
                let role_id = userid.split(':').next().unwrap_or(userid);
                (role_id == id).then_some(Grant::Role)
            }
            (PrincipalEntry::Service(s), Principal::Service { name }) => {
                (s == "*" || s.eq_ignore_ascii_case(name)).then_some(Grant::Direct)
            }
            (PrincipalEntry::Federated(p), Principal::Federated { provider }) => {
                (p == "*" || p.eq_ignore_ascii_case(provider)).then_some(Grant::Direct)
            }
            _ => None,
        }
    }

    /// Whether this entry names one exact identity of the caller, for NotPrincipal: a caller
    /// is excluded only when every identity it has (its account, its role, its session, or
    /// itself) is listed. `what` is that identity.
    fn lists(&self, what: &Identity<'_>, context: &RequestContext) -> bool {
        match (self, what) {
            (PrincipalEntry::Everyone, _) => true,
            (PrincipalEntry::Account(a), Identity::Account(b)) => a == b,
            (PrincipalEntry::User(a), Identity::User(b))
            | (PrincipalEntry::Session(a), Identity::Session(b))
            | (PrincipalEntry::FederatedUser(a), Identity::FederatedUser(b)) => a == b,
            (
                PrincipalEntry::Role { account, name },
                Identity::Role {
                    account: a,
                    name: n,
                },
            ) => account == a && name == n,
            (PrincipalEntry::UniqueId(id), Identity::User(_) | Identity::Role { .. }) => context
                .single_value("aws:userid")
                .is_some_and(|u| u.split(':').next() == Some(id)),
            (PrincipalEntry::Service(s), Identity::Service(n)) => s.eq_ignore_ascii_case(n),
            (PrincipalEntry::Federated(p), Identity::Federated(n)) => p.eq_ignore_ascii_case(n),
            _ => false,
        }
    }
}

/// One of the identities a caller has, for NotPrincipal.
enum Identity<'a> {
    Account(&'a str),
    User(&'a str),
    Role { account: &'a str, name: &'a str },
    Session(&'a str),
    FederatedUser(&'a str),
    Service(&'a str),
    Federated(&'a str),
    Anonymous,
}

/// Whether `entries` (a NotPrincipal list) exclude `caller`: every identity of the caller is
/// listed.
pub(crate) fn excluded_by(
    entries: &[PrincipalEntry],
    caller: &Principal,
    context: &RequestContext,
) -> bool {
    let identities: &[Identity<'_>] = &match caller {
        Principal::Root { account } => [
            Identity::Account(account),
            Identity::Account(account),
            Identity::Account(account),
        ],
        Principal::User { arn, account, .. } => [
            Identity::Account(account),
            Identity::User(arn),
            Identity::User(arn),
        ],
        Principal::AssumedRole {
            arn,
            account,
            role_name,
            ..
        } => [
            Identity::Account(account),
            Identity::Role {
                account,
                name: role_name,
            },
            Identity::Session(arn),
        ],
        Principal::FederatedUser { arn, account, .. } => [
            Identity::Account(account),
            Identity::FederatedUser(arn),
            Identity::FederatedUser(arn),
        ],
        Principal::Service { name } => [
            Identity::Service(name),
            Identity::Service(name),
            Identity::Service(name),
        ],
        Principal::Federated { provider } => [
            Identity::Federated(provider),
            Identity::Federated(provider),
            Identity::Federated(provider),
        ],
        Principal::Anonymous => [
            Identity::Anonymous,
            Identity::Anonymous,
            Identity::Anonymous,
        ],
    };
    identities
        .iter()
        .all(|identity| entries.iter().any(|e| e.lists(identity, context)))
}

/// `AIDA…`, `AROA…` and the other unique-id prefixes that can name a principal.
fn is_unique_id(s: &str) -> bool {
    const PREFIXES: [&str; 2] = ["AIDA", "AROA"];
    s.len() >= 16
        && PREFIXES.iter().any(|p| s.starts_with(p))
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_callers() {
        let p = Principal::parse("arn:aws:sts::111122223333:assumed-role/Admin/alice").unwrap();
        assert_eq!(
            p.principal_arn().unwrap(),
            "arn:aws:iam::111122223333:role/Admin"
        );
        assert_eq!(p.account(), Some("111122223333"));
        assert!(Principal::parse("arn:aws:iam::111122223333:role/Admin").is_err());
        assert_eq!(Principal::parse("anonymous").unwrap(), Principal::Anonymous);
        assert!(matches!(
            Principal::parse("ec2.amazonaws.com").unwrap(),
            Principal::Service { .. }
        ));
        assert!(Principal::parse("nonsense").is_err());
    }

    #[test]
    fn not_principal_needs_every_identity_listed() {
        let ctx = RequestContext::new();
        let user = Principal::parse("arn:aws:iam::111122223333:user/bob").unwrap();
        let only_user =
            [
                PrincipalEntry::parse(PrincipalType::Aws, "arn:aws:iam::111122223333:user/bob")
                    .unwrap(),
            ];
        assert!(!excluded_by(&only_user, &user, &ctx));
        let both = [
            only_user[0].clone(),
            PrincipalEntry::parse(PrincipalType::Aws, "111122223333").unwrap(),
        ];
        assert!(excluded_by(&both, &user, &ctx));
    }
}
