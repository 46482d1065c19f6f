//! Managed policies, their versions and attachments; inline policies of users, groups and
//! roles.

use portcullis_iam::aws_managed::AWS_MANAGED;
use portcullis_iam::model::{ManagedPolicy, PolicyVersion};
use portcullis_iam::ops::attachments::{self, Holder};
use portcullis_iam::ops::policies::UsageCounts;
use portcullis_iam::ops::{self, policies};
use portcullis_iam::state::AccountState;

use super::{Call, CallKeys, Entity, Target, page_footer, write_tags};
use crate::error::ApiError;
use crate::xml::{Xml, url_encode};

/// The members `Policy` and `ManagedPolicyDetail` share.
pub(super) fn write_policy_summary(
    x: &mut Xml,
    usage: &UsageCounts<'_>,
    p: &ManagedPolicy,
    description: bool,
) {
    let (attached, boundaries) = usage.get(&p.arn);
    x.text("PolicyName", &p.name)
        .text("PolicyId", &p.policy_id)
        .text("Arn", &p.arn)
        .text("Path", &p.path)
        .text("DefaultVersionId", &p.default_version_id)
        .num("AttachmentCount", attached)
        .num("PermissionsBoundaryUsageCount", boundaries)
        .bool("IsAttachable", true);
    if description {
        x.opt("Description", p.description.as_deref());
    }
    x.text("CreateDate", &p.create_date)
        .text("UpdateDate", &p.update_date);
}

/// How much of a policy an answer shows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shown {
    /// ListPolicies: no description, no tags.
    Listed,
    /// CreatePolicy: tags when given, no description (as AWS answers).
    Created,
    /// GetPolicy: the description, and `Tags` even when empty.
    Got,
}

fn write_policy(x: &mut Xml, usage: &UsageCounts<'_>, p: &ManagedPolicy, shown: Shown) {
    write_policy_summary(x, usage, p, shown == Shown::Got);
    match shown {
        Shown::Listed => {}
        Shown::Created if p.tags.is_empty() => {}
        Shown::Created | Shown::Got => write_tags(x, &p.tags),
    }
}

fn write_version(x: &mut Xml, p: &ManagedPolicy, v: &PolicyVersion) {
    x.text("Document", &url_encode(&v.document.text))
        .text("VersionId", &v.version_id)
        .bool("IsDefaultVersion", v.version_id == p.default_version_id)
        .text("CreateDate", &v.create_date);
}

fn account<'a>(call: &'a Call<'_>) -> Result<&'a AccountState, ApiError> {
    Ok(call.snapshot.state.account(call.account())?)
}

fn check_arn(arn: &str) -> Result<(), ApiError> {
    if arn.starts_with("arn:") && arn.splitn(6, ':').count() == 6 {
        Ok(())
    } else {
        Err(ApiError::new(
            "InvalidInput",
            400,
            format!("ARN {arn} is not valid."),
        ))
    }
}

pub fn create_policy(call: &Call<'_>) -> Result<Xml, ApiError> {
    let p = call.params;
    let name = p.required("PolicyName")?;
    let document = p.required("PolicyDocument")?;
    let path = p.get("Path");
    let tags = p.tags("Tags");
    let arn = policies::policy_arn(call.account(), path.unwrap_or("/"), name);
    call.authorize(
        "iam:CreatePolicy",
        &arn,
        CallKeys {
            request_tags: &tags,
            ..Default::default()
        },
    )?;
    let description = p.get("Description");
    let policy = call.service.write(|s, t| {
        policies::create_policy(
            s,
            t,
            call.account(),
            name,
            path,
            document,
            description,
            &tags,
        )
    })?;
    let snapshot = call.service.snapshot();
    let account = snapshot.state.account(call.account())?;
    let mut x = Xml::new();
    x.elem("Policy", |x| {
        write_policy(x, &UsageCounts::of(account), &policy, Shown::Created)
    });
    Ok(x)
}

pub fn get_policy(call: &Call<'_>) -> Result<Xml, ApiError> {
    let arn = call.params.required("PolicyArn")?;
    check_arn(arn)?;
    call.authorize_entity("iam:GetPolicy", Entity::Policy(arn), CallKeys::default())?;
    let account = account(call)?;
    let policy = policies::find(account, arn)?;
    let mut x = Xml::new();
    x.elem("Policy", |x| {
        write_policy(x, &UsageCounts::of(account), policy, Shown::Got)
    });
    Ok(x)
}

pub fn list_policies(call: &Call<'_>) -> Result<Xml, ApiError> {
    let p = call.params;
    let scope = p.get("Scope").unwrap_or("All");
    if !matches!(scope, "All" | "AWS" | "Local") {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{scope}' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]"
        )));
    }
    let usage_filter = p.get("PolicyUsageFilter");
    if usage_filter.is_some_and(|f| !matches!(f, "PermissionsPolicy" | "PermissionsBoundary")) {
        return Err(ApiError::validation(
            "1 validation error detected: Value at 'policyUsageFilter' failed to satisfy constraint: Member must satisfy enum value set: [PermissionsPolicy, PermissionsBoundary]",
        ));
    }
    let only_attached = p.bool("OnlyAttached")?.unwrap_or(false);
    let prefix = p.get("PathPrefix");
    call.authorize(
        "iam:ListPolicies",
        &format!("arn:aws:iam::{}:policy/", call.account()),
        CallKeys::default(),
    )?;
    let account = account(call)?;
    let mut all: Vec<&ManagedPolicy> = Vec::new();
    if scope != "Local" {
        all.extend(AWS_MANAGED.iter());
    }
    if scope != "AWS" {
        all.extend(account.policies.values());
    }
    let usage = UsageCounts::of(account);
    all.retain(|pol| {
        let (attached, boundaries) = usage.get(&pol.arn);
        ops::path_matches(&pol.path, prefix)
            && (!only_attached || attached + boundaries > 0)
            && match usage_filter {
                Some("PermissionsPolicy") => attached > 0,
                Some("PermissionsBoundary") => boundaries > 0,
                _ => true,
            }
    });
    let (page, next) = call.paginate(all, |pol| pol.arn.clone())?;
    let mut x = Xml::new();
    x.list("Policies", page, |x, pol| {
        write_policy(x, &usage, pol, Shown::Listed)
    });
    page_footer(&mut x, next);
    Ok(x)
}

pub fn delete_policy(call: &Call<'_>) -> Result<Xml, ApiError> {
    let arn = call.params.required("PolicyArn")?;
    check_arn(arn)?;
    call.authorize_entity("iam:DeletePolicy", Entity::Policy(arn), CallKeys::default())?;
    call.service
        .write(|s, t| policies::delete_policy(s, t, call.account(), arn))?;
    Ok(Xml::new())
}

pub fn create_policy_version(call: &Call<'_>) -> Result<Xml, ApiError> {
    let arn = call.params.required("PolicyArn")?;
    let document = call.params.required("PolicyDocument")?;
    let set_default = call.params.bool("SetAsDefault")?.unwrap_or(false);
    check_arn(arn)?;
    call.authorize_entity(
        "iam:CreatePolicyVersion",
        Entity::Policy(arn),
        CallKeys::default(),
    )?;
    let version = call.service.write(|s, t| {
        policies::create_policy_version(s, t, call.account(), arn, document, set_default)
    })?;
    let mut x = Xml::new();
    x.elem("PolicyVersion", |x| {
        x.text("VersionId", &version.version_id)
            .bool("IsDefaultVersion", set_default)
            .text("CreateDate", &version.create_date);
    });
    Ok(x)
}

pub fn get_policy_version(call: &Call<'_>) -> Result<Xml, ApiError> {
    let arn = call.params.required("PolicyArn")?;
    let version_id = call.params.required("VersionId")?;
    check_arn(arn)?;
    call.authorize_entity(
        "iam:GetPolicyVersion",
        Entity::Policy(arn),
        CallKeys::default(),
    )?;
    let policy = policies::find(account(call)?, arn)?;
    let version = policy
        .versions
        .iter()
        .find(|v| v.version_id == version_id)
        .ok_or_else(|| {
            ApiError::from(portcullis_iam::IamError::NoSuchEntity(format!(
                "Policy {arn} version {version_id} does not exist or is not attachable."
            )))
        })?;
    let mut x = Xml::new();
    x.elem("PolicyVersion", |x| write_version(x, policy, version));
    Ok(x)
}

pub fn list_policy_versions(call: &Call<'_>) -> Result<Xml, ApiError> {
    let arn = call.params.required("PolicyArn")?;
    check_arn(arn)?;
    call.authorize_entity(
        "iam:ListPolicyVersions",
        Entity::Policy(arn),
        CallKeys::default(),
    )?;
    let policy = policies::find(account(call)?, arn)?;
    let mut versions: Vec<&PolicyVersion> = policy.versions.iter().collect();
    versions.reverse();
    let (page, next) = call.paginate(versions, |v| v.version_id.clone())?;
    let mut x = Xml::new();
    x.list("Versions", page, |x, v| {
        x.text("VersionId", &v.version_id)
            .bool(
                "IsDefaultVersion",
                v.version_id == policy.default_version_id,
            )
            .text("CreateDate", &v.create_date);
    });
    page_footer(&mut x, next);
    Ok(x)
}

pub fn delete_policy_version(call: &Call<'_>) -> Result<Xml, ApiError> {
    let arn = call.params.required("PolicyArn")?;
    let version_id = call.params.required("VersionId")?;
    check_arn(arn)?;
    call.authorize_entity(
        "iam:DeletePolicyVersion",
        Entity::Policy(arn),
        CallKeys::default(),
    )?;
    call.service
        .write(|s, t| policies::delete_policy_version(s, t, call.account(), arn, version_id))?;
    Ok(Xml::new())
}

pub fn set_default_policy_version(call: &Call<'_>) -> Result<Xml, ApiError> {
    let arn = call.params.required("PolicyArn")?;
    let version_id = call.params.required("VersionId")?;
    check_arn(arn)?;
    call.authorize_entity(
        "iam:SetDefaultPolicyVersion",
        Entity::Policy(arn),
        CallKeys::default(),
    )?;
    call.service.write(|s, t| {
        policies::set_default_policy_version(s, t, call.account(), arn, version_id)
    })?;
    Ok(Xml::new())
}

pub fn list_entities_for_policy(call: &Call<'_>) -> Result<Xml, ApiError> {
    let arn = call.params.required("PolicyArn")?;
    check_arn(arn)?;
    call.authorize_entity(
        "iam:ListEntitiesForPolicy",
        Entity::Policy(arn),
        CallKeys::default(),
    )?;
    let account = account(call)?;
    policies::find(account, arn)?;
    let filter = call.params.get("EntityFilter");
    let (users, groups, roles, _) = policies::usage(account, arn);
    let want = |kind: &str| filter.is_none_or(|f| f == kind);
    let mut x = Xml::new();
    x.list(
        "PolicyGroups",
        groups.iter().filter(|_| want("Group")),
        |x, g| {
            x.text("GroupName", g);
            if let Some(group) = account.groups.get(&g.to_lowercase()) {
                x.text("GroupId", &group.group_id);
            }
        },
    );
    x.list(
        "PolicyUsers",
        users.iter().filter(|_| want("User")),
        |x, u| {
            x.text("UserName", u);
            if let Some(user) = account.users.get(&u.to_lowercase()) {
                x.text("UserId", &user.user_id);
            }
        },
    );
    x.list(
        "PolicyRoles",
        roles.iter().filter(|_| want("Role")),
        |x, r| {
            x.text("RoleName", r);
            if let Some(role) = account.roles.get(&r.to_lowercase()) {
                x.text("RoleId", &role.role_id);
            }
        },
    );
    page_footer(&mut x, None);
    Ok(x)
}

/// The user, group or role a policy call is about.
struct HolderTarget<'a> {
    name: &'a str,
    target: Target<'a>,
}

impl HolderTarget<'_> {
    /// The condition keys of a call on the holder: its boundary (`iam:PermissionsBoundary`)
    /// and `extra` (its tags come with the target).
    fn keys<'k>(&'k self, extra: &'k mut Vec<(&'k str, &'k str)>) -> CallKeys<'k> {
        if let Some(b) = self.target.boundary {
            extra.push(("iam:PermissionsBoundary", b));
        }
        CallKeys {
            extra,
            ..Default::default()
        }
    }
}

/// The holder named by `UserName`, `GroupName` or `RoleName`.
fn holder<'a>(call: &'a Call<'_>, holder: Holder) -> Result<HolderTarget<'a>, ApiError> {
    let field = match holder {
        Holder::User => "UserName",
        Holder::Group => "GroupName",
        Holder::Role => "RoleName",
    };
    let name = call.params.required(field)?;
    let entity = match holder {
        Holder::User => Entity::User(name),
        Holder::Group => Entity::Group(name),
        Holder::Role => Entity::Role(name),
    };
    Ok(HolderTarget {
        name,
        target: call.target(entity)?,
    })
}

fn attach(call: &Call<'_>, kind: Holder, action: &str) -> Result<Xml, ApiError> {
    let target = holder(call, kind)?;
    let policy_arn = call.params.required("PolicyArn")?;
    check_arn(policy_arn)?;
    let mut extra = vec![("iam:PolicyARN", policy_arn)];
    call.authorize_on(action, &target.target, target.keys(&mut extra))?;
    let name = target.name;
    call.service
        .write(|s, t| attachments::attach(s, t, call.account(), kind, name, policy_arn))?;
    Ok(Xml::new())
}

fn detach(call: &Call<'_>, kind: Holder, action: &str) -> Result<Xml, ApiError> {
    let target = holder(call, kind)?;
    let policy_arn = call.params.required("PolicyArn")?;
    check_arn(policy_arn)?;
    let mut extra = vec![("iam:PolicyARN", policy_arn)];
    call.authorize_on(action, &target.target, target.keys(&mut extra))?;
    let name = target.name;
    call.service
        .write(|s, t| attachments::detach(s, t, call.account(), kind, name, policy_arn))?;
    Ok(Xml::new())
}

fn list_attached(call: &Call<'_>, kind: Holder, action: &str) -> Result<Xml, ApiError> {
    let target = holder(call, kind)?;
    call.authorize_on(action, &target.target, target.keys(&mut Vec::new()))?;
    let account = account(call)?;
    let (attached, _) = attachments::parts(account, kind, target.name)?;
    let prefix = call.params.get("PathPrefix");
    let found: Vec<&ManagedPolicy> = attached
        .iter()
        .filter_map(|a| policies::find(account, a).ok())
        .filter(|p| ops::path_matches(&p.path, prefix))
        .collect();
    let (page, next) = call.paginate(found, |p| p.arn.clone())?;
    let mut x = Xml::new();
    x.list("AttachedPolicies", page, |x, p| {
        x.text("PolicyName", &p.name).text("PolicyArn", &p.arn);
    });
    page_footer(&mut x, next);
    Ok(x)
}

fn put_inline(call: &Call<'_>, kind: Holder, action: &str) -> Result<Xml, ApiError> {
    let target = holder(call, kind)?;
    let policy_name = call.params.required("PolicyName")?;
    let document = call.params.required("PolicyDocument")?;
    call.authorize_on(action, &target.target, target.keys(&mut Vec::new()))?;
    let name = target.name;
    call.service.write(|s, t| {
        attachments::put_inline(s, t, call.account(), kind, name, policy_name, document)
    })?;
    Ok(Xml::new())
}

fn get_inline(
    call: &Call<'_>,
    kind: Holder,
    action: &str,
    name_field: &str,
) -> Result<Xml, ApiError> {
    let target = holder(call, kind)?;
    let policy_name = call.params.required("PolicyName")?;
    call.authorize_on(action, &target.target, target.keys(&mut Vec::new()))?;
    let account = account(call)?;
    let (_, inline) = attachments::parts(account, kind, target.name)?;
    let doc = inline.get(policy_name).ok_or_else(|| {
        ApiError::from(portcullis_iam::IamError::NoSuchEntity(format!(
            "The {} policy with name {policy_name} cannot be found.",
            kind.noun()
        )))
    })?;
    let mut x = Xml::new();
    x.text(name_field, target.name)
        .text("PolicyName", policy_name)
        .text("PolicyDocument", &url_encode(&doc.text));
    Ok(x)
}

fn delete_inline(call: &Call<'_>, kind: Holder, action: &str) -> Result<Xml, ApiError> {
    let target = holder(call, kind)?;
    let policy_name = call.params.required("PolicyName")?;
    call.authorize_on(action, &target.target, target.keys(&mut Vec::new()))?;
    let name = target.name;
    call.service
        .write(|s, t| attachments::delete_inline(s, t, call.account(), kind, name, policy_name))?;
    Ok(Xml::new())
}

fn list_inline(call: &Call<'_>, kind: Holder, action: &str) -> Result<Xml, ApiError> {
    let target = holder(call, kind)?;
    call.authorize_on(action, &target.target, target.keys(&mut Vec::new()))?;
    let account = account(call)?;
    let (_, inline) = attachments::parts(account, kind, target.name)?;
    let (page, next) = call.paginate(inline.keys().collect(), |n| (*n).clone())?;
    let mut x = Xml::new();
    x.list("PolicyNames", page, |x, n| {
        x.text_only(n);
    });
    page_footer(&mut x, next);
    Ok(x)
}

pub fn attach_user_policy(call: &Call<'_>) -> Result<Xml, ApiError> {
    attach(call, Holder::User, "iam:AttachUserPolicy")
}
pub fn detach_user_policy(call: &Call<'_>) -> Result<Xml, ApiError> {
    detach(call, Holder::User, "iam:DetachUserPolicy")
}
pub fn list_attached_user_policies(call: &Call<'_>) -> Result<Xml, ApiError> {
    list_attached(call, Holder::User, "iam:ListAttachedUserPolicies")
}
pub fn attach_group_policy(call: &Call<'_>) -> Result<Xml, ApiError> {
    attach(call, Holder::Group, "iam:AttachGroupPolicy")
}
pub fn detach_group_policy(call: &Call<'_>) -> Result<Xml, ApiError> {
    detach(call, Holder::Group, "iam:DetachGroupPolicy")
}
pub fn list_attached_group_policies(call: &Call<'_>) -> Result<Xml, ApiError> {
    list_attached(call, Holder::Group, "iam:ListAttachedGroupPolicies")
}
pub fn put_user_policy(call: &Call<'_>) -> Result<Xml, ApiError> {
    put_inline(call, Holder::User, "iam:PutUserPolicy")
}
pub fn get_user_policy(call: &Call<'_>) -> Result<Xml, ApiError> {
    get_inline(call, Holder::User, "iam:GetUserPolicy", "UserName")
}
pub fn delete_user_policy(call: &Call<'_>) -> Result<Xml, ApiError> {
    delete_inline(call, Holder::User, "iam:DeleteUserPolicy")
}
pub fn list_user_policies(call: &Call<'_>) -> Result<Xml, ApiError> {
    list_inline(call, Holder::User, "iam:ListUserPolicies")
}
pub fn put_group_policy(call: &Call<'_>) -> Result<Xml, ApiError> {
    put_inline(call, Holder::Group, "iam:PutGroupPolicy")
}
pub fn get_group_policy(call: &Call<'_>) -> Result<Xml, ApiError> {
    get_inline(call, Holder::Group, "iam:GetGroupPolicy", "GroupName")
}
pub fn delete_group_policy(call: &Call<'_>) -> Result<Xml, ApiError> {
    delete_inline(call, Holder::Group, "iam:DeleteGroupPolicy")
}
pub fn list_group_policies(call: &Call<'_>) -> Result<Xml, ApiError> {
    list_inline(call, Holder::Group, "iam:ListGroupPolicies")
}
pub fn attach_role_policy(call: &Call<'_>) -> Result<Xml, ApiError> {
    attach(call, Holder::Role, "iam:AttachRolePolicy")
}
pub fn detach_role_policy(call: &Call<'_>) -> Result<Xml, ApiError> {
    detach(call, Holder::Role, "iam:DetachRolePolicy")
}
pub fn list_attached_role_policies(call: &Call<'_>) -> Result<Xml, ApiError> {
    list_attached(call, Holder::Role, "iam:ListAttachedRolePolicies")
}
pub fn put_role_policy(call: &Call<'_>) -> Result<Xml, ApiError> {
    put_inline(call, Holder::Role, "iam:PutRolePolicy")
}
pub fn get_role_policy(call: &Call<'_>) -> Result<Xml, ApiError> {
    get_inline(call, Holder::Role, "iam:GetRolePolicy", "RoleName")
}
pub fn delete_role_policy(call: &Call<'_>) -> Result<Xml, ApiError> {
    delete_inline(call, Holder::Role, "iam:DeleteRolePolicy")
}
pub fn list_role_policies(call: &Call<'_>) -> Result<Xml, ApiError> {
    list_inline(call, Holder::Role, "iam:ListRolePolicies")
}

pub fn tag_policy(call: &Call<'_>) -> Result<Xml, ApiError> {
    let arn = call.params.required("PolicyArn")?;
    let tags = call.params.tags("Tags");
    check_arn(arn)?;
    call.authorize_entity(
        "iam:TagPolicy",
        Entity::Policy(arn),
        CallKeys {
            request_tags: &tags,
            ..Default::default()
        },
    )?;
    call.service
        .write(|s, t| policies::tag_policy(s, t, call.account(), arn, &tags))?;
    Ok(Xml::new())
}

pub fn untag_policy(call: &Call<'_>) -> Result<Xml, ApiError> {
    let arn = call.params.required("PolicyArn")?;
    let keys = call.params.list("TagKeys");
    check_arn(arn)?;
    call.authorize_entity(
        "iam:UntagPolicy",
        Entity::Policy(arn),
        CallKeys {
            tag_keys: &keys,
            ..Default::default()
        },
    )?;
    call.service
        .write(|s, t| policies::untag_policy(s, t, call.account(), arn, &keys))?;
    Ok(Xml::new())
}

/// AWS managed policies have no tags: their list is empty.
pub fn list_policy_tags(call: &Call<'_>) -> Result<Xml, ApiError> {
    let arn = call.params.required("PolicyArn")?;
    check_arn(arn)?;
    call.authorize_entity(
        "iam:ListPolicyTags",
        Entity::Policy(arn),
        CallKeys {
            ..Default::default()
        },
    )?;
    let policy = policies::find(account(call)?, arn)?;
    super::tag_page(call, &policy.tags)
}
