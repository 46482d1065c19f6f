//! The decision algorithm (policy-semantics.md §1 and §1.1): explicit deny first, then RCPs and
//! SCPs, the resource-based policy, identity policies, the permissions boundary and the session
//! policy, with the same-account and cross-account rules. Every decision says why.

use std::fmt;

use crate::document::Effect;
use crate::policy_set::{Applicable, PolicySet, StatementId};
use crate::principal::{Grant, Principal};
use crate::request::Request;

/// Which policy (or group of policies) a statement or a missing Allow belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicySource {
    Identity,
    PermissionsBoundary,
    Session,
    Resource,
    /// One level of the organization hierarchy (0 = the root), for service control policies.
    ServiceControl(u16),
    /// One level of the organization hierarchy, for resource control policies.
    ResourceControl(u16),
}

impl fmt::Display for PolicySource {
    /// The names the simulation format uses: `identityPolicies`, `serviceControlPolicies[1]`...
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            PolicySource::Identity => f.write_str("identityPolicies"),
            PolicySource::PermissionsBoundary => f.write_str("permissionsBoundary"),
            PolicySource::Session => f.write_str("sessionPolicy"),
            PolicySource::Resource => f.write_str("resourcePolicy"),
            PolicySource::ServiceControl(l) => write!(f, "serviceControlPolicies[{l}]"),
            PolicySource::ResourceControl(l) => write!(f, "resourceControlPolicies[{l}]"),
        }
    }
}

/// The outcome of a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Allowed,
    ExplicitDeny,
    ImplicitDeny,
}

impl Outcome {
    /// `allowed`, `explicitDeny` or `implicitDeny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::ExplicitDeny => "explicitDeny",
            Outcome::ImplicitDeny => "implicitDeny",
        }
    }
}

/// Why a decision came out as it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// A Deny statement applies.
    ExplicitDeny,
    /// No applicable Allow in this policy (or level).
    MissingAllow(PolicySource),
    /// The account's root user, in its own account.
    Root,
    /// The resource-based policy names the caller (or its role, or everyone) and that grant
    /// suffices on its own.
    ResourcePolicy(Grant),
    /// The identity policies allow (and the boundary and session policy, where present).
    IdentityPolicies,
    /// Across accounts: the resource policy allows the caller and the caller's own policies
    /// allow the request.
    CrossAccount,
}

/// A statement that took part in a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchedStatement {
    pub source: PolicySource,
    pub id: StatementId,
    pub effect: Effect,
}

/// The answer to a request, with its explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Outcome,
    pub basis: Basis,
    /// For an explicit deny, the Deny statements that apply; otherwise the Allow statements
    /// that apply (for an implicit deny, those that allowed before a policy lacked an Allow).
    pub statements: Vec<MatchedStatement>,
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        self.outcome == Outcome::Allowed
    }

    /// For an implicit deny, which policy lacked an Allow.
    pub fn missing_allow(&self) -> Option<PolicySource> {
        match self.basis {
            Basis::MissingAllow(source) => Some(source),
            _ => None,
        }
    }
}

/// Everything that bears on a request, compiled. Fields left empty do not apply.
#[derive(Debug, Clone, Copy, Default)]
pub struct PolicyInputs<'a> {
    /// The principal's identity policies: a user's own and its groups', or a role's.
    pub identity: Option<&'a PolicySet>,
    pub boundary: Option<&'a PolicySet>,
    /// Session policies (inline and managed); they combine with OR among themselves.
    pub session: Option<&'a PolicySet>,
    /// The resource-based policy of the target (a role's trust policy for `sts:AssumeRole`).
    pub resource: Option<&'a PolicySet>,
    /// SCPs of the principal's account, one set per level from the organization root down.
    pub service_control: &'a [PolicySet],
    /// RCPs of the resource's account, one set per level.
    pub resource_control: &'a [PolicySet],
}

/// What one pass over a set found.
#[derive(Default)]
struct Scan {
    allowed: bool,
    grant: Option<Grant>,
}

impl<'a> PolicyInputs<'a> {
    /// The set a source names.
    pub fn set(&self, source: PolicySource) -> Option<&'a PolicySet> {
        match source {
            PolicySource::Identity => self.identity,
            PolicySource::PermissionsBoundary => self.boundary,
            PolicySource::Session => self.session,
            PolicySource::Resource => self.resource,
            PolicySource::ServiceControl(l) => self.service_control.get(usize::from(l)),
            PolicySource::ResourceControl(l) => self.resource_control.get(usize::from(l)),
        }
    }

    /// Decides `request`.
    pub fn evaluate(&self, request: &Request) -> Decision {
        let principal = &request.principal;
        let is_root = matches!(principal, Principal::Root { .. });
        let has_account = principal.account().is_some();
        let identity_side = has_account && !is_root;
        let mut allows = Vec::new();
        let mut denies = Vec::new();
        let mut scan =
            |set: Option<&PolicySet>, source: PolicySource, check_principal: bool| -> Scan {
                let mut found = Scan::default();
                if let Some(set) = set {
                    set.for_each_applicable(request, check_principal, |a: Applicable| {
                        let matched = MatchedStatement {
                            source,
                            id: a.id,
                            effect: a.effect,
                        };
                        match a.effect {
                            Effect::Deny => denies.push(matched),
                            Effect::Allow => {
                                found.allowed = true;
                                found.grant = found.grant.max(Some(a.grant));
                                allows.push(matched);
                            }
                        }
                    });
                }
                found
            };

        let (identity, boundary, session) = if identity_side {
            (
                scan(self.identity, PolicySource::Identity, false),
                scan(self.boundary, PolicySource::PermissionsBoundary, false),
                scan(self.session, PolicySource::Session, false),
            )
        } else {
            Default::default()
        };
        let resource = scan(self.resource, PolicySource::Resource, true);
        let mut missing_level = None;
        if has_account {
            for (level, set) in self.service_control.iter().enumerate() {
                let source = PolicySource::ServiceControl(level as u16);
                if !scan(Some(set), source, true).allowed && missing_level.is_none() {
                    missing_level = Some(source);
                }
            }
        }
        for (level, set) in self.resource_control.iter().enumerate() {
            let source = PolicySource::ResourceControl(level as u16);
            // RCPs are checked before SCPs (policy-semantics.md §1 step 2).
            if !scan(Some(set), source, true).allowed
                && !matches!(missing_level, Some(PolicySource::ResourceControl(_)))
            {
                missing_level = Some(source);
            }
        }

        let deny = |basis: Basis, statements: Vec<MatchedStatement>| Decision {
            outcome: Outcome::ImplicitDeny,
            basis,
            statements,
        };
        let allow = |basis: Basis, statements: Vec<MatchedStatement>| Decision {
            outcome: Outcome::Allowed,
            basis,
            statements,
        };

        // 1. Explicit deny anywhere.
        if !denies.is_empty() {
            return Decision {
                outcome: Outcome::ExplicitDeny,
                basis: Basis::ExplicitDeny,
                statements: denies,
            };
        }
        // 2-3. Every RCP and SCP level needs an Allow.
        if let Some(source) = missing_level {
            return deny(Basis::MissingAllow(source), allows);
        }
        let explicit_resource_allow = requires_resource_policy_allow(request);
        // Callers with no account (anonymous, services, identity providers) have nothing but
        // the resource policy.
        if !has_account {
            return match resource.grant {
                Some(grant) => allow(Basis::ResourcePolicy(grant), allows),
                None => deny(Basis::MissingAllow(PolicySource::Resource), allows),
            };
        }
        if request.is_cross_account() {
            // Trusting side: the resource policy must allow the caller.
            if resource.grant.is_none() {
                return deny(Basis::MissingAllow(PolicySource::Resource), allows);
            }
            // Trusted side: the caller's own policies must allow too.
            if is_root {
                return allow(Basis::CrossAccount, allows);
            }
            return match self.identity_chain(principal, &identity, &boundary, &session) {
                Some(missing) => deny(Basis::MissingAllow(missing), allows),
                None => allow(Basis::CrossAccount, allows),
            };
        }
        // Same account.
        if is_root {
            if explicit_resource_allow && resource.grant.is_none() {
                return deny(Basis::MissingAllow(PolicySource::Resource), allows);
            }
            return allow(Basis::Root, allows);
        }
        match resource.grant {
            Some(grant @ (Grant::Direct | Grant::Everyone)) => {
                allow(Basis::ResourcePolicy(grant), allows)
            }
            Some(Grant::Role) => {
                // Limited by the boundary and the session policy, not the identity policies.
                if self.boundary.is_some() && !boundary.allowed {
                    return deny(
                        Basis::MissingAllow(PolicySource::PermissionsBoundary),
                        allows,
                    );
                }
                if let Some(missing) = self.session_check(principal, &session) {
                    return deny(Basis::MissingAllow(missing), allows);
                }
                allow(Basis::ResourcePolicy(Grant::Role), allows)
            }
            Some(Grant::FederatingUser) => {
                // Added to the user's permissions before the session was made: the session
                // policy limits it (policy-semantics.md §1 step 4).
                if let Some(missing) = self.session_check(principal, &session) {
                    return deny(Basis::MissingAllow(missing), allows);
                }
                allow(Basis::ResourcePolicy(Grant::FederatingUser), allows)
            }
            None if explicit_resource_allow => {
                deny(Basis::MissingAllow(PolicySource::Resource), allows)
            }
            Some(Grant::Account) | None => {
                match self.identity_chain(principal, &identity, &boundary, &session) {
                    Some(missing) => deny(Basis::MissingAllow(missing), allows),
                    None => allow(Basis::IdentityPolicies, allows),
                }
            }
        }
    }

    /// Steps 5-7: identity policies, boundary, session policy. Returns the source that lacks an
    /// Allow, if any.
    fn identity_chain(
        &self,
        principal: &Principal,
        identity: &Scan,
        boundary: &Scan,
        session: &Scan,
    ) -> Option<PolicySource> {
        if !identity.allowed {
            return Some(PolicySource::Identity);
        }
        if self.boundary.is_some() && !boundary.allowed {
            return Some(PolicySource::PermissionsBoundary);
        }
        self.session_check(principal, session)
    }

    /// Step 7. A session policy, when present, must allow. Without one, a role session is not
    /// narrowed, but a federated-user session has no permissions (GetFederationToken grants
    /// only what its session policy allows).
    fn session_check(&self, principal: &Principal, session: &Scan) -> Option<PolicySource> {
        match self.session {
            Some(_) if !session.allowed => Some(PolicySource::Session),
            None if matches!(principal, Principal::FederatedUser { .. }) => {
                Some(PolicySource::Session)
            }
            _ => None,
        }
    }
}

/// Requests whose resource policy must allow the caller explicitly, even in the same account
/// (an identity policy alone is not enough): role trust and KMS key policies. Such a policy
/// may still delegate to the identity policies by naming the account.
fn requires_resource_policy_allow(request: &Request) -> bool {
    is_trust_request(request)
        || (request.action.service() == "kms"
            && request
                .resource
                .segments()
                .is_some_and(|s| s[2] == "kms" && s[5].starts_with("key/")))
}

/// `sts:AssumeRole*` (and the actions checked with it) on a role: the resource policy is the
/// role's trust policy.
pub(crate) fn is_trust_request(request: &Request) -> bool {
    let action = &request.action;
    let sts_trust_action = action.service() == "sts"
        && (action.name().starts_with("assumerole")
            || matches!(
                action.name(),
                "tagsession" | "setsourceidentity" | "setcontext"
            ));
    sts_trust_action
        && request
            .resource
            .segments()
            .is_some_and(|s| s[2] == "iam" && s[5].starts_with("role/"))
}

impl fmt::Display for Basis {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Basis::ExplicitDeny => f.write_str("a Deny statement applies"),
            Basis::MissingAllow(PolicySource::Identity) => {
                f.write_str("no identity-based policy allows the request")
            }
            Basis::MissingAllow(PolicySource::PermissionsBoundary) => {
                f.write_str("the permissions boundary does not allow the request")
            }
            Basis::MissingAllow(PolicySource::Session) => {
                f.write_str("the session policy does not allow the request (a federated-user session without a session policy has no permissions)")
            }
            Basis::MissingAllow(PolicySource::Resource) => {
                f.write_str("the resource-based policy does not allow this principal (required across accounts, for anonymous callers and for role trust)")
            }
            Basis::MissingAllow(PolicySource::ServiceControl(l)) => {
                write!(f, "no service control policy at level {l} of the organization allows the request")
            }
            Basis::MissingAllow(PolicySource::ResourceControl(l)) => {
                write!(f, "no resource control policy at level {l} of the organization allows the request")
            }
            Basis::Root => f.write_str("the root user of the account has full access to its own account"),
            Basis::ResourcePolicy(Grant::Role) => f.write_str(
                "the resource-based policy names the caller's role; the boundary and session policy allow it",
            ),
            Basis::ResourcePolicy(Grant::FederatingUser) => f.write_str(
                "the resource-based policy names the IAM user who made the federated-user session; the session policy allows it",
            ),
            Basis::ResourcePolicy(Grant::Everyone) => f.write_str("the resource-based policy allows everyone"),
            Basis::ResourcePolicy(_) => f.write_str("the resource-based policy names the caller"),
            Basis::IdentityPolicies => f.write_str("the identity-based policies allow the request"),
            Basis::CrossAccount => f.write_str(
                "across accounts: the resource-based policy allows the caller and the caller's own policies allow the request",
            ),
        }
    }
}
