//! Instance profile actions.

use portcullis_iam::model::InstanceProfile;
use portcullis_iam::ops::{self, instance_profiles};
use portcullis_iam::state::AccountState;

use super::roles::{RoleView, write_role};
use super::{Call, CallKeys, Entity, page_footer, write_tags};
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

/// Authorizes `action` on the instance profile named by `InstanceProfileName`.
fn authorize_on_profile<'a>(
    call: &'a Call<'_>,
    action: &str,
    keys: CallKeys<'_>,
) -> Result<&'a str, ApiError> {
    let name = call.params.required("InstanceProfileName")?;
    call.authorize_entity(action, Entity::InstanceProfile(name), keys)?;
    Ok(name)
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
    let name = authorize_on_profile(call, "iam:GetInstanceProfile", CallKeys::default())?;
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
    let name = authorize_on_profile(call, "iam:DeleteInstanceProfile", CallKeys::default())?;
    call.service
        .write(|s, t| instance_profiles::delete_instance_profile(s, t, call.account(), name))?;
    Ok(Xml::new())
}

pub fn add_role_to_instance_profile(call: &Call<'_>) -> Result<Xml, ApiError> {
    let role = call.params.required("RoleName")?;
    let name = authorize_on_profile(call, "iam:AddRoleToInstanceProfile", CallKeys::default())?;
    // Whoever can launch with the profile acts as the role: adding it is passing the role.
    call.authorize_entity("iam:PassRole", Entity::Role(role), CallKeys::default())?;
    call.service.write(|s, t| {
        instance_profiles::add_role_to_instance_profile(s, t, call.account(), name, role)
    })?;
    Ok(Xml::new())
}

pub fn remove_role_from_instance_profile(call: &Call<'_>) -> Result<Xml, ApiError> {
    let role = call.params.required("RoleName")?;
    let name = authorize_on_profile(
        call,
        "iam:RemoveRoleFromInstanceProfile",
        CallKeys::default(),
    )?;
    call.service.write(|s, t| {
        instance_profiles::remove_role_from_instance_profile(s, t, call.account(), name, role)
    })?;
    Ok(Xml::new())
}

pub fn list_instance_profiles_for_role(call: &Call<'_>) -> Result<Xml, ApiError> {
    let role = call.params.required("RoleName")?;
    call.authorize_entity(
        "iam:ListInstanceProfilesForRole",
        Entity::Role(role),
        CallKeys::default(),
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
    let name = authorize_on_profile(
        call,
        "iam:TagInstanceProfile",
        CallKeys {
            request_tags: &tags,
            ..Default::default()
        },
    )?;
    call.service
        .write(|s, t| instance_profiles::tag_instance_profile(s, t, call.account(), name, &tags))?;
    Ok(Xml::new())
}

pub fn untag_instance_profile(call: &Call<'_>) -> Result<Xml, ApiError> {
    let keys = call.params.list("TagKeys");
    let name = authorize_on_profile(
        call,
        "iam:UntagInstanceProfile",
        CallKeys {
            tag_keys: &keys,
            ..Default::default()
        },
    )?;
    call.service.write(|s, t| {
        instance_profiles::untag_instance_profile(s, t, call.account(), name, &keys)
    })?;
    Ok(Xml::new())
}

pub fn list_instance_profile_tags(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = authorize_on_profile(call, "iam:ListInstanceProfileTags", CallKeys::default())?;
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
