//! Group actions.

use portcullis_iam::model::Group;
use portcullis_iam::ops::{self, groups};

use super::users::{target_user, write_user};
use super::{Call, CallKeys, Entity, page_footer};
use crate::error::ApiError;
use crate::xml::Xml;

fn write_group(x: &mut Xml, call: &Call<'_>, g: &Group) {
    x.text("Path", &g.path)
        .text("GroupName", &g.name)
        .text("GroupId", &g.group_id)
        .text("Arn", &call.arn("group", &g.path, &g.name))
        .text("CreateDate", &g.create_date);
}

pub fn create_group(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("GroupName")?;
    let path = call.params.get("Path");
    call.authorize(
        "iam:CreateGroup",
        &call.arn("group", path.unwrap_or("/"), name),
        CallKeys::default(),
    )?;
    let group = call
        .service
        .write(|s, t| groups::create_group(s, t, call.account(), name, path))?;
    let mut x = Xml::new();
    x.elem("Group", |x| write_group(x, call, &group));
    Ok(x)
}

pub fn get_group(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("GroupName")?;
    call.authorize_entity("iam:GetGroup", Entity::Group(name), CallKeys::default())?;
    let account = call.snapshot.state.account(call.account())?;
    let group = ops::group(account, name)?;
    let (page, next) = call.paginate(groups::members(account, name), |u| u.name.to_lowercase())?;
    let mut x = Xml::new();
    x.elem("Group", |x| write_group(x, call, group));
    x.list("Users", page, |x, u| write_user(x, call, u, false));
    page_footer(&mut x, next);
    Ok(x)
}

pub fn list_groups(call: &Call<'_>) -> Result<Xml, ApiError> {
    let prefix = call.params.get("PathPrefix");
    call.authorize(
        "iam:ListGroups",
        &call.arn("group", prefix.unwrap_or("/"), ""),
        CallKeys::default(),
    )?;
    let account = call.snapshot.state.account(call.account())?;
    let all: Vec<&Group> = account
        .groups
        .values()
        .filter(|g| ops::path_matches(&g.path, prefix))
        .collect();
    let (page, next) = call.paginate(all, |g| g.name.to_lowercase())?;
    let mut x = Xml::new();
    x.list("Groups", page, |x, g| write_group(x, call, g));
    page_footer(&mut x, next);
    Ok(x)
}

pub fn update_group(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("GroupName")?;
    call.authorize_entity("iam:UpdateGroup", Entity::Group(name), CallKeys::default())?;
    let (new_name, new_path) = (call.params.get("NewGroupName"), call.params.get("NewPath"));
    call.service
        .write(|s, t| groups::update_group(s, t, call.account(), name, new_name, new_path))?;
    Ok(Xml::new())
}

pub fn delete_group(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("GroupName")?;
    call.authorize_entity("iam:DeleteGroup", Entity::Group(name), CallKeys::default())?;
    call.service
        .write(|s, t| groups::delete_group(s, t, call.account(), name))?;
    Ok(Xml::new())
}

pub fn add_user_to_group(call: &Call<'_>) -> Result<Xml, ApiError> {
    let group = call.params.required("GroupName")?;
    let user = call.params.required("UserName")?;
    call.authorize_entity(
        "iam:AddUserToGroup",
        Entity::Group(group),
        CallKeys::default(),
    )?;
    call.service
        .write(|s, t| groups::add_user_to_group(s, t, call.account(), group, user))?;
    Ok(Xml::new())
}

pub fn remove_user_from_group(call: &Call<'_>) -> Result<Xml, ApiError> {
    let group = call.params.required("GroupName")?;
    let user = call.params.required("UserName")?;
    call.authorize_entity(
        "iam:RemoveUserFromGroup",
        Entity::Group(group),
        CallKeys::default(),
    )?;
    call.service
        .write(|s, t| groups::remove_user_from_group(s, t, call.account(), group, user))?;
    Ok(Xml::new())
}

pub fn list_groups_for_user(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = target_user(call, call.params.get("UserName"))?;
    call.authorize_entity(
        "iam:ListGroupsForUser",
        Entity::User(name),
        CallKeys::default(),
    )?;
    let account = call.snapshot.state.account(call.account())?;
    let user = ops::user(account, name)?;
    let mut found: Vec<&Group> = user
        .groups
        .iter()
        .filter_map(|g| account.groups.get(&g.to_lowercase()))
        .collect();
    found.sort_by_key(|g| g.name.to_lowercase());
    let (page, next) = call.paginate(found, |g| g.name.to_lowercase())?;
    let mut x = Xml::new();
    x.list("Groups", page, |x, g| write_group(x, call, g));
    page_footer(&mut x, next);
    Ok(x)
}
