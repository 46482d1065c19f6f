//! Role actions. (A role's inline and attached policies are in `policies.rs`.)

use portcullis_iam::model::Role;
use portcullis_iam::ops;
use portcullis_iam::ops::roles::{self, NewRole};

use super::{Call, CallKeys, Entity, page_footer, write_tags};
use crate::error::ApiError;
use crate::xml::{Xml, url_encode};

/// How much of a role a response shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RoleView {
    /// ListRoles and the roles of an instance profile: no tags, boundary or last use, as
    /// AWS's lists leave them out.
    Listed,
    /// CreateRole: what was just set.
    Created,
    /// GetRole and UpdateRoleDescription: everything, `RoleLastUsed` included.
    Full,
}

/// The `<Role>` shape.
pub(super) fn write_role(x: &mut Xml, call: &Call<'_>, role: &Role, view: RoleView) {
    x.text("Path", &role.path)
        .text("RoleName", &role.name)
        .text("RoleId", &role.role_id)
        .text("Arn", &call.arn("role", &role.path, &role.name))
        .text("CreateDate", &role.create_date)
        .text(
            "AssumeRolePolicyDocument",
            &url_encode(&role.assume_role_policy.text),
        )
        .opt("Description", role.description.as_deref())
        .num("MaxSessionDuration", role.max_session_duration);
    if view == RoleView::Listed {
        return;
    }
    if let Some(arn) = &role.permissions_boundary {
        x.elem("PermissionsBoundary", |x| {
            x.text("PermissionsBoundaryType", "PermissionsBoundaryPolicy")
                .text("PermissionsBoundaryArn", arn);
        });
    }
    if !role.tags.is_empty() {
        write_tags(x, &role.tags);
    }
    if view == RoleView::Full {
        let last_used = call.service.role_last_used(call.account(), &role.name);
        x.elem("RoleLastUsed", |x| {
            if let Some(used) = &last_used {
                x.text("LastUsedDate", &used.last_used_date)
                    .text("Region", &used.region);
            }
        });
    }
}

/// `MaxSessionDuration`, when given: ValidationError outside 3,600..=43,200.
fn max_session_duration(call: &Call<'_>) -> Result<Option<u32>, ApiError> {
    let range = roles::MAX_SESSION_DURATION_RANGE;
    let value = call.params.int(
        "MaxSessionDuration",
        i64::from(*range.start()),
        i64::from(*range.end()),
    )?;
    Ok(value.and_then(|v| u32::try_from(v).ok()))
}

pub fn create_role(call: &Call<'_>) -> Result<Xml, ApiError> {
    let p = call.params;
    let name = p.required("RoleName")?;
    let document = p.required("AssumeRolePolicyDocument")?;
    let path = p.get("Path");
    let boundary = p.get("PermissionsBoundary");
    let tags = p.tags("Tags");
    let extra: Vec<(&str, &str)> = boundary
        .map(|b| ("iam:PermissionsBoundary", b))
        .into_iter()
        .collect();
    call.authorize(
        "iam:CreateRole",
        &call.arn("role", path.unwrap_or("/"), name),
        CallKeys {
            request_tags: &tags,
            extra: &extra,
            ..Default::default()
        },
    )?;
    let new = NewRole {
        name,
        path,
        assume_role_policy: document,
        description: p.get("Description"),
        max_session_duration: max_session_duration(call)?,
        permissions_boundary: boundary,
        tags: &tags,
    };
    let role = call
        .service
        .write(|s, t| roles::create_role(s, t, call.account(), &new))?;
    let mut x = Xml::new();
    x.elem("Role", |x| write_role(x, call, &role, RoleView::Created));
    Ok(x)
}

pub fn get_role(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("RoleName")?;
    call.authorize_entity("iam:GetRole", Entity::Role(name), CallKeys::default())?;
    let account = call.snapshot.state.account(call.account())?;
    let role = ops::role(account, name)?;
    let mut x = Xml::new();
    x.elem("Role", |x| write_role(x, call, role, RoleView::Full));
    Ok(x)
}

pub fn list_roles(call: &Call<'_>) -> Result<Xml, ApiError> {
    let prefix = call.params.get("PathPrefix");
    call.authorize(
        "iam:ListRoles",
        &call.arn("role", prefix.unwrap_or("/"), ""),
        CallKeys::default(),
    )?;
    let account = call.snapshot.state.account(call.account())?;
    let all: Vec<&Role> = account
        .roles
        .values()
        .filter(|r| ops::path_matches(&r.path, prefix))
        .collect();
    let (page, next) = call.paginate(all, |r| r.name.to_lowercase())?;
    let mut x = Xml::new();
    x.list("Roles", page, |x, r| {
        write_role(x, call, r, RoleView::Listed)
    });
    page_footer(&mut x, next);
    Ok(x)
}

pub fn update_role(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("RoleName")?;
    call.authorize_entity("iam:UpdateRole", Entity::Role(name), CallKeys::default())?;
    let description = call.params.get("Description");
    let duration = max_session_duration(call)?;
    call.service
        .write(|s, t| roles::update_role(s, t, call.account(), name, description, duration))?;
    Ok(Xml::new())
}

pub fn update_role_description(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("RoleName")?;
    let description = call.params.required("Description")?;
    call.authorize_entity(
        "iam:UpdateRoleDescription",
        Entity::Role(name),
        CallKeys::default(),
    )?;
    let role = call
        .service
        .write(|s, t| roles::update_role(s, t, call.account(), name, Some(description), None))?;
    let mut x = Xml::new();
    x.elem("Role", |x| write_role(x, call, &role, RoleView::Full));
    Ok(x)
}

pub fn update_assume_role_policy(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("RoleName")?;
    let document = call.params.required("PolicyDocument")?;
    call.authorize_entity(
        "iam:UpdateAssumeRolePolicy",
        Entity::Role(name),
        CallKeys::default(),
    )?;
    call.service
        .write(|s, t| roles::update_assume_role_policy(s, t, call.account(), name, document))?;
    Ok(Xml::new())
}

pub fn delete_role(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("RoleName")?;
    call.authorize_entity("iam:DeleteRole", Entity::Role(name), CallKeys::default())?;
    call.service
        .write(|s, t| roles::delete_role(s, t, call.account(), name))?;
    Ok(Xml::new())
}

pub fn tag_role(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("RoleName")?;
    let tags = call.params.tags("Tags");
    call.authorize_entity(
        "iam:TagRole",
        Entity::Role(name),
        CallKeys {
            request_tags: &tags,
            ..Default::default()
        },
    )?;
    call.service
        .write(|s, t| roles::tag_role(s, t, call.account(), name, &tags))?;
    Ok(Xml::new())
}

pub fn untag_role(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("RoleName")?;
    let keys = call.params.list("TagKeys");
    call.authorize_entity(
        "iam:UntagRole",
        Entity::Role(name),
        CallKeys {
            tag_keys: &keys,
            ..Default::default()
        },
    )?;
    call.service
        .write(|s, t| roles::untag_role(s, t, call.account(), name, &keys))?;
    Ok(Xml::new())
}

pub fn list_role_tags(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("RoleName")?;
    call.authorize_entity("iam:ListRoleTags", Entity::Role(name), CallKeys::default())?;
    let account = call.snapshot.state.account(call.account())?;
    let role = ops::role(account, name)?;
    let (page, next) = call.paginate(role.tags.iter().collect(), |t| t.key.clone())?;
    let mut x = Xml::new();
    x.list("Tags", page, |x, t| {
        x.text("Key", &t.key).text("Value", &t.value);
    });
    page_footer(&mut x, next);
    Ok(x)
}

pub fn put_role_permissions_boundary(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("RoleName")?;
    let boundary = call.params.required("PermissionsBoundary")?;
    call.authorize_entity(
        "iam:PutRolePermissionsBoundary",
        Entity::Role(name),
        CallKeys {
            extra: &[("iam:PermissionsBoundary", boundary)],
            ..Default::default()
        },
    )?;
    call.service
        .write(|s, t| roles::put_role_boundary(s, t, call.account(), name, boundary))?;
    Ok(Xml::new())
}

pub fn delete_role_permissions_boundary(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("RoleName")?;
    let target = call.target(Entity::Role(name))?;
    let extra: Vec<(&str, &str)> = target
        .boundary
        .map(|b| ("iam:PermissionsBoundary", b))
        .into_iter()
        .collect();
    call.authorize_on(
        "iam:DeleteRolePermissionsBoundary",
        &target,
        CallKeys {
            extra: &extra,
            ..Default::default()
        },
    )?;
    call.service
        .write(|s, t| roles::delete_role_boundary(s, t, call.account(), name))?;
    Ok(Xml::new())
}
