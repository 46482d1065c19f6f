//! The target of an IAM action: the ARN the engine authorizes and the tags
//! `aws:ResourceTag/*` sees, built one way for every kind of entity. Every handler that acts
//! on an existing entity asks [`Call::target`] and authorizes with [`Call::authorize_on`], so
//! no action on a tagged entity can forget its tags.
//!
//! An entity that does not exist yet (or at all) is authorized on the ARN it would have (the
//! root path for one named by name, the ARN as given for one named by ARN) with no tags; the
//! operation then answers NoSuchEntity, after authorization, as AWS does.

use portcullis_iam::model::Tag;
use portcullis_iam::ops::server_certificates::server_certificate_arn;
use portcullis_iam::ops::{mfa, oidc_providers, saml_providers};

use super::{Call, CallKeys};
use crate::auth::Identity;
use crate::error::ApiError;

/// An entity an action is on, as the request names it.
#[derive(Debug, Clone, Copy)]
pub enum Entity<'p> {
    /// The account's root user (a root caller's own keys and certificates).
    Root,
    /// The caller itself (ChangePassword, List* of one's own credentials): its user when it is
    /// one, else its own ARN.
    Caller,
    User(&'p str),
    Group(&'p str),
    Role(&'p str),
    /// A managed policy, by ARN (customer managed or AWS managed).
    Policy(&'p str),
    InstanceProfile(&'p str),
    /// An OpenID Connect provider, by ARN.
    OidcProvider(&'p str),
    /// A SAML provider, by ARN.
    SamlProvider(&'p str),
    ServerCertificate(&'p str),
    /// A virtual MFA device, by serial number (its ARN).
    MfaDevice(&'p str),
}

impl<'p> Entity<'p> {
    /// The user, group, role or managed policy an IAM ARN of `account` names (by its last
    /// part; the operation then checks the path); `None` for any other ARN.
    pub fn named_by_arn(arn: &'p str, account: &str) -> Option<Entity<'p>> {
        let rest = arn.strip_prefix("arn:aws:iam::")?;
        let (owner, resource) = rest.split_once(':')?;
        let (kind, path_name) = resource.split_once('/')?;
        let name = path_name.rsplit('/').next().filter(|n| !n.is_empty())?;
        if kind == "policy" && (owner == account || owner == "aws") {
            return Some(Entity::Policy(arn));
        }
        if owner != account {
            return None;
        }
        match kind {
            "user" => Some(Entity::User(name)),
            "group" => Some(Entity::Group(name)),
            "role" => Some(Entity::Role(name)),
            _ => None,
        }
    }
}

/// What the engine is asked about.
#[derive(Debug)]
pub struct Target<'a> {
    /// The entity's ARN as stored (or as it would be).
    pub arn: String,
    /// Its tags (`aws:ResourceTag/*`); none for groups, which IAM does not tag.
    pub tags: &'a [Tag],
    /// Its permissions boundary (users and roles), for `iam:PermissionsBoundary`.
    pub boundary: Option<&'a str>,
}

impl<'a> Target<'a> {
    fn found(arn: String, tags: &'a [Tag], boundary: Option<&'a str>) -> Target<'a> {
        Target {
            arn,
            tags,
            boundary,
        }
    }

    fn missing(arn: String) -> Target<'a> {
        Target {
            arn,
            tags: &[],
            boundary: None,
        }
    }
}

impl Call<'_> {
    /// Whose credentials (access keys, signing certificates) an action is on: the user named
    /// by `UserName`, else the caller itself (`None` and [`Entity::Root`] for root); role and
    /// federated sessions must name a user.
    pub fn credentials_owner(&self) -> Result<(Option<&str>, Entity<'_>), ApiError> {
        match (self.params.get("UserName"), &self.caller.identity) {
            (Some(name), _) => Ok((Some(name), Entity::User(name))),
            (None, Identity::User { name }) => Ok((Some(name.as_str()), Entity::User(name))),
            (None, Identity::Root) => Ok((None, Entity::Root)),
            (
                None,
                Identity::AssumedRole { .. } | Identity::FederatedUser { .. } | Identity::Anonymous,
            ) => Err(ApiError::validation(
                "Must specify userName when calling with non-User credentials",
            )),
        }
    }

    /// The target `entity` names in the caller's account.
    pub fn target(&self, entity: Entity<'_>) -> Result<Target<'_>, ApiError> {
        let account = self.snapshot.state.account(self.account())?;
        let id = self.account();
        Ok(match entity {
            Entity::Root => Target::found(format!("arn:aws:iam::{id}:root"), &[], None),
            Entity::Caller => match &self.caller.identity {
                Identity::User { name } => return self.target(Entity::User(name)),
                Identity::Root => return self.target(Entity::Root),
                Identity::AssumedRole { .. }
                | Identity::FederatedUser { .. }
                | Identity::Anonymous => Target::found(self.caller.arn.clone(), &[], None),
            },
            Entity::User(name) => match account.users.get(&name.to_lowercase()) {
                Some(u) => Target::found(
                    self.arn("user", &u.path, &u.name),
                    &u.tags,
                    u.permissions_boundary.as_deref(),
                ),
                None => Target::missing(self.arn("user", "/", name)),
            },
            Entity::Group(name) => match account.groups.get(&name.to_lowercase()) {
                Some(g) => Target::found(self.arn("group", &g.path, &g.name), &[], None),
                None => Target::missing(self.arn("group", "/", name)),
            },
            Entity::Role(name) => match account.roles.get(&name.to_lowercase()) {
                Some(r) => Target::found(
                    self.arn("role", &r.path, &r.name),
                    &r.tags,
                    r.permissions_boundary.as_deref(),
                ),
                None => Target::missing(self.arn("role", "/", name)),
            },
            Entity::Policy(arn) => match account.policies.get(arn) {
                Some(p) => Target::found(arn.to_owned(), &p.tags, None),
                None => Target::missing(arn.to_owned()),
            },
            Entity::InstanceProfile(name) => {
                match account.instance_profiles.get(&name.to_lowercase()) {
                    Some(p) => Target::found(
                        self.arn("instance-profile", &p.path, &p.name),
                        &p.tags,
                        None,
                    ),
                    None => Target::missing(self.arn("instance-profile", "/", name)),
                }
            }
            Entity::OidcProvider(arn) => match oidc_providers::find(account, arn) {
                Ok(p) => {
                    Target::found(oidc_providers::oidc_provider_arn(id, &p.url), &p.tags, None)
                }
                Err(_) => Target::missing(arn.to_owned()),
            },
            Entity::SamlProvider(arn) => match saml_providers::find(account, arn) {
                Ok(p) => Target::found(
                    saml_providers::saml_provider_arn(id, &p.name),
                    &p.tags,
                    None,
                ),
                Err(_) => Target::missing(arn.to_owned()),
            },
            Entity::ServerCertificate(name) => {
                match account.server_certificates.get(&name.to_lowercase()) {
                    Some(c) => {
                        Target::found(server_certificate_arn(id, &c.path, &c.name), &c.tags, None)
                    }
                    None => Target::missing(server_certificate_arn(id, "/", name)),
                }
            }
            Entity::MfaDevice(serial) => match mfa::find(account, id, serial) {
                Ok(d) => Target::found(mfa::serial_number(id, &d.path, &d.name), &d.tags, None),
                Err(_) => Target::missing(serial.to_owned()),
            },
        })
    }

    /// Authorizes `action` on `target`: its ARN, `aws:ResourceTag/*` from its tags, and `keys`.
    pub fn authorize_on(
        &self,
        action: &str,
        target: &Target<'_>,
        keys: CallKeys<'_>,
    ) -> Result<(), ApiError> {
        self.authorize(
            action,
            &target.arn,
            CallKeys {
                resource_tags: target.tags,
                ..keys
            },
        )
    }

    /// Finds the target `entity` names and authorizes `action` on it; returns the target.
    pub fn authorize_entity<'s>(
        &'s self,
        action: &str,
        entity: Entity<'_>,
        keys: CallKeys<'_>,
    ) -> Result<Target<'s>, ApiError> {
        let target = self.target(entity)?;
        self.authorize_on(action, &target, keys)?;
        Ok(target)
    }
}
