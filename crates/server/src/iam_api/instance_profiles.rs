//! Instance profile actions.

use portcullis_iam::model::{InstanceProfile, Tag};
use portcullis_iam::ops::{self, instance_profiles};
use portcullis_iam::state::AccountState;

use super::roles::{RoleView, role_target, write_role};
use super::{Call, CallKeys, page_footer, write_tags};
use crate::error::ApiError;
use crate::xml::Xml;

/// The `<InstanceProfile>` shape, with its role.
pub(super) fn write_profile(
    x: &mut Xml,
    call: &Call<'_>,
    account: &AccountState,
    p: &InstanceProfile,
) {
    x.text("Path", &p.path)
        .text("InstanceProfileName", &p.name)
        .text("InstanceProfileId", &p.instance_profile_id)
        .text("Arn", &call.arn("instance-profile", &p.path, &p.name))
        .text("CreateDate", &p.create_date);
    x.list(
        "Roles",
        p.roles
            .iter()
            .filter_map(|r| account.roles.get(&r.to_lowercase())),
        |x, r| write_role(x, call, r, RoleView::Listed),
    );
    if !p.tags.is_empty() {
        write_tags(x, &p.tags);
    }
}

/// The ARN and tags of the instance profile named `name` (an ARN with the root path when it
/// does not exist: the operation itself then answers NoSuchEntity, after authorization).
fn profile_target<'a>(call: &'a Call<'_>, name: &str) -> Result<(String, &'a [Tag]), ApiError> {
    let account = call.snapshot.state.account(call.account())?;
    Ok(match account.instance_profiles.get(&name.to_lowercase()) {
        Some(p) => (call.arn("instance-profile", &p.path, &p.name), &p.tags),
        None => (call.arn("instance-profile", "/", name), &[]),
    })
}

/// Authorizes `action` on the instance profile named by `InstanceProfileName`.
fn authorize_on_profile<'a>(
    call: &'a Call<'_>,
    action: &str,
    keys: impl FnOnce(&'a [Tag]) -> CallKeys<'a>,
) -> Result<&'a str, ApiError> {
    let name = call.params.required("InstanceProfileName")?;
    let (arn, tags) = profile_target(call, name)?;
    call.authorize(action, &arn, keys(tags))?;
    Ok(name)
}

fn resource_tags(tags: &[Tag]) -> CallKeys<'_> {
    CallKeys {
        resource_tags: tags,
        ..Default::default()
    }
}

pub fn create_instance_profile(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("InstanceProfileName")?;
    let path = call.params.get("Path");
    let tags = call.params.tags("Tags");
    call.authorize(
        "iam:CreateInstanceProfile",
        &call.arn("instance-profile", path.unwrap_or("/"), name),
        CallKeys {
            request_tags: &tags,
            ..Default::default()
        },
    )?;
    let profile = call.service.write(|s, t| {
        instance_profiles::create_instance_profile(s, t, call.account(), name, path, &tags)
    })?;
    let account = call.snapshot.state.account(call.account())?;
    let mut x = Xml::new();
    x.elem("InstanceProfile", |x| {
        write_profile(x, call, account, &profile)
    });
    Ok(x)
}

pub fn get_instance_profile(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = authorize_on_profile(call, "iam:GetInstanceProfile", resource_tags)?;
    let account = call.snapshot.state.account(call.account())?;
    let profile = ops::instance_profile(account, name)?;
    let mut x = Xml::new();
    x.elem("InstanceProfile", |x| {
        write_profile(x, call, account, profile)
    });
    Ok(x)
}

pub fn list_instance_profiles(call: &Call<'_>) -> Result<Xml, ApiError> {
    let prefix = call.params.get("PathPrefix");
    call.authorize(
        "iam:ListInstanceProfiles",
        &call.arn("instance-profile", prefix.unwrap_or("/"), ""),
        CallKeys::default(),
    )?;
    let account = call.snapshot.state.account(call.account())?;
    let all: Vec<&InstanceProfile> = account
        .instance_profiles
        .values()
        .filter(|p| ops::path_matches(&p.path, prefix))
        .collect();
    let (page, next) = call.paginate(all, |p| p.name.to_lowercase())?;
    let mut x = Xml::new();
    x.list("InstanceProfiles", page, |x, p| {
        write_profile(x, call, account, p)
    });
    page_footer(&mut x, next);
    Ok(x)
}

pub fn delete_instance_profile(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = authorize_on_profile(call, "iam:DeleteInstanceProfile", resource_tags)?;
    call.service
        .write(|s, t| instance_profiles::delete_instance_profile(s, t, call.account(), name))?;
    Ok(Xml::new())
}

pub fn add_role_to_instance_profile(call: &Call<'_>) -> Result<Xml, ApiError> {
    let role = call.params.required("RoleName")?;
    let name = authorize_on_profile(call, "iam:AddRoleToInstanceProfile", resource_tags)?;
    call.service.write(|s, t| {
        instance_profiles::add_role_to_instance_profile(s, t, call.account(), name, role)
    })?;
    Ok(Xml::new())
}

pub fn remove_role_from_instance_profile(call: &Call<'_>) -> Result<Xml, ApiError> {
    let role = call.params.required("RoleName")?;
    let name = authorize_on_profile(call, "iam:RemoveRoleFromInstanceProfile", resource_tags)?;
    call.service.write(|s, t| {
        instance_profiles::remove_role_from_instance_profile(s, t, call.account(), name, role)
    })?;
    Ok(Xml::new())
}

pub fn list_instance_profiles_for_role(call: &Call<'_>) -> Result<Xml, ApiError> {
    let role = call.params.required("RoleName")?;
    let target = role_target(call, role)?;
    call.authorize(
        "iam:ListInstanceProfilesForRole",
        &target.arn,
        CallKeys {
            resource_tags: target.tags,
            ..Default::default()
        },
    )?;
    let account = call.snapshot.state.account(call.account())?;
    ops::role(account, role)?;
    let found = instance_profiles::profiles_for_role(account, role);
    let (page, next) = call.paginate(found, |p| p.name.to_lowercase())?;
    let mut x = Xml::new();
    x.list("InstanceProfiles", page, |x, p| {
        write_profile(x, call, account, p)
    });
    page_footer(&mut x, next);
    Ok(x)
}

pub fn tag_instance_profile(call: &Call<'_>) -> Result<Xml, ApiError> {
    let tags = call.params.tags("Tags");
    let name = authorize_on_profile(call, "iam:TagInstanceProfile", |resource_tags| CallKeys {
        request_tags: &tags,
        resource_tags,
        ..Default::default()
    })?;
    call.service
        .write(|s, t| instance_profiles::tag_instance_profile(s, t, call.account(), name, &tags))?;
    Ok(Xml::new())
}

pub fn untag_instance_profile(call: &Call<'_>) -> Result<Xml, ApiError> {
    let keys = call.params.list("TagKeys");
    let name = authorize_on_profile(call, "iam:UntagInstanceProfile", |resource_tags| CallKeys {
        tag_keys: &keys,
        resource_tags,
        ..Default::default()
    })?;
    call.service.write(|s, t| {
        instance_profiles::untag_instance_profile(s, t, call.account(), name, &keys)
    })?;
    Ok(Xml::new())
}

pub fn list_instance_profile_tags(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = authorize_on_profile(call, "iam:ListInstanceProfileTags", resource_tags)?;
    let account = call.snapshot.state.account(call.account())?;
    let profile = ops::instance_profile(account, name)?;
    let (page, next) = call.paginate(profile.tags.iter().collect(), |t| t.key.clone())?;
    let mut x = Xml::new();
    x.list("Tags", page, |x, t| {
        x.text("Key", &t.key).text("Value", &t.value);
    });
    page_footer(&mut x, next);
    Ok(x)
}
