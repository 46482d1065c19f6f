//! User actions.

use portcullis_iam::model::User;
use portcullis_iam::ops::{self, attachments, users};

use super::{Call, CallKeys, Entity, page_footer, write_tags};
use crate::auth::Identity;
use crate::error::ApiError;
use crate::xml::Xml;

/// The `<User>` shape: with the permissions boundary and tags (`detail`, GetUser and
/// CreateUser), or without them, as AWS's lists (ListUsers, GetGroup) answer.
pub fn write_user(x: &mut Xml, call: &Call<'_>, user: &User, detail: bool) {
    x.text("Path", &user.path)
        .text("UserName", &user.name)
        .text("UserId", &user.user_id)
        .text("Arn", &call.arn("user", &user.path, &user.name))
        .text("CreateDate", &user.create_date)
        .opt("PasswordLastUsed", user.password_last_used.as_deref());
    if !detail {
        return;
    }
    if let Some(arn) = &user.permissions_boundary {
        x.elem("PermissionsBoundary", |x| {
            x.text("PermissionsBoundaryType", "PermissionsBoundaryPolicy")
                .text("PermissionsBoundaryArn", arn);
        });
    }
    if !user.tags.is_empty() {
        write_tags(x, &user.tags);
    }
}

/// The named user, or the caller when no name is given (GetUser, ListAccessKeys...).
pub(super) fn target_user<'a>(
    call: &'a Call<'_>,
    name: Option<&'a str>,
) -> Result<&'a str, ApiError> {
    match name {
        Some(n) => Ok(n),
        None => match &call.caller.identity {
            crate::auth::Identity::User { name, .. } => Ok(name),
            crate::auth::Identity::Root
            | crate::auth::Identity::AssumedRole { .. }
            | crate::auth::Identity::FederatedUser { .. }
            | crate::auth::Identity::Anonymous => Err(ApiError::validation(
                "Must specify userName when calling with non-User credentials",
            )),
        },
    }
}

pub fn create_user(call: &Call<'_>) -> Result<Xml, ApiError> {
    let p = call.params;
    let name = p.required("UserName")?;
    let path = p.get("Path");
    let boundary = p.get("PermissionsBoundary");
    let tags = p.tags("Tags");
    let extra: Vec<(&str, &str)> = boundary
        .map(|b| ("iam:PermissionsBoundary", b))
        .into_iter()
        .collect();
    call.authorize(
        "iam:CreateUser",
        &call.arn("user", path.unwrap_or("/"), name),
        CallKeys {
            request_tags: &tags,
            extra: &extra,
            ..Default::default()
        },
    )?;
    let user = call
        .service
        .write(|s, t| users::create_user(s, t, call.account(), name, path, boundary, &tags))?;
    let mut x = Xml::new();
    x.elem("User", |x| write_user(x, call, &user, true));
    Ok(x)
}

pub fn get_user(call: &Call<'_>) -> Result<Xml, ApiError> {
    if call.params.get("UserName").is_none() && call.caller.identity == Identity::Root {
        // The root user asking about itself: AWS answers its identity (no name or path).
        call.authorize_entity("iam:GetUser", Entity::Root, CallKeys::default())?;
        let created = ops::account::root_created(&call.snapshot.state, call.account());
        let mut x = Xml::new();
        x.elem("User", |x| {
            x.text("UserId", call.account())
                .text("Arn", &call.caller.arn)
                .opt("CreateDate", created);
        });
        return Ok(x);
    }
    let name = target_user(call, call.params.get("UserName"))?;
    call.authorize_entity("iam:GetUser", Entity::User(name), CallKeys::default())?;
    let account = call.snapshot.state.account(call.account())?;
    let user = ops::user(account, name)?;
    let mut x = Xml::new();
    x.elem("User", |x| write_user(x, call, user, true));
    Ok(x)
}

pub fn list_users(call: &Call<'_>) -> Result<Xml, ApiError> {
    let prefix = call.params.get("PathPrefix");
    call.authorize(
        "iam:ListUsers",
        &call.arn("user", prefix.unwrap_or("/"), ""),
        CallKeys::default(),
    )?;
    let account = call.snapshot.state.account(call.account())?;
    let all: Vec<&User> = account
        .users
        .values()
        .filter(|u| ops::path_matches(&u.path, prefix))
        .collect();
    let (page, next) = call.paginate(all, |u| u.name.to_lowercase())?;
    let mut x = Xml::new();
    x.list("Users", page, |x, u| write_user(x, call, u, false));
    page_footer(&mut x, next);
    Ok(x)
}

pub fn update_user(call: &Call<'_>) -> Result<Xml, ApiError> {
    let p = call.params;
    let name = p.required("UserName")?;
    call.authorize_entity("iam:UpdateUser", Entity::User(name), CallKeys::default())?;
    let (new_name, new_path) = (p.get("NewUserName"), p.get("NewPath"));
    call.service
        .write(|s, t| users::update_user(s, t, call.account(), name, new_name, new_path))?;
    Ok(Xml::new())
}

pub fn delete_user(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("UserName")?;
    call.authorize_entity("iam:DeleteUser", Entity::User(name), CallKeys::default())?;
    call.service
        .write(|s, t| users::delete_user(s, t, call.account(), name))?;
    Ok(Xml::new())
}

pub fn tag_user(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("UserName")?;
    let tags = call.params.tags("Tags");
    call.authorize_entity(
        "iam:TagUser",
        Entity::User(name),
        CallKeys {
            request_tags: &tags,
            ..Default::default()
        },
    )?;
    call.service
        .write(|s, t| users::tag_user(s, t, call.account(), name, &tags))?;
    Ok(Xml::new())
}

pub fn untag_user(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("UserName")?;
    let keys = call.params.list("TagKeys");
    call.authorize_entity(
        "iam:UntagUser",
        Entity::User(name),
        CallKeys {
            tag_keys: &keys,
            ..Default::default()
        },
    )?;
    call.service
        .write(|s, t| users::untag_user(s, t, call.account(), name, &keys))?;
    Ok(Xml::new())
}

pub fn list_user_tags(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("UserName")?;
    call.authorize_entity("iam:ListUserTags", Entity::User(name), CallKeys::default())?;
    let account = call.snapshot.state.account(call.account())?;
    let user = ops::user(account, name)?;
    let (page, next) = call.paginate(user.tags.iter().collect(), |t| t.key.clone())?;
    let mut x = Xml::new();
    x.list("Tags", page, |x, t| {
        x.text("Key", &t.key).text("Value", &t.value);
    });
    page_footer(&mut x, next);
    Ok(x)
}

pub fn put_user_permissions_boundary(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("UserName")?;
    let boundary = call.params.required("PermissionsBoundary")?;
    call.authorize_entity(
        "iam:PutUserPermissionsBoundary",
        Entity::User(name),
        CallKeys {
            extra: &[("iam:PermissionsBoundary", boundary)],
            ..Default::default()
        },
    )?;
    call.service
        .write(|s, t| attachments::put_user_boundary(s, t, call.account(), name, boundary))?;
    Ok(Xml::new())
}

pub fn delete_user_permissions_boundary(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("UserName")?;
    call.authorize_entity(
        "iam:DeleteUserPermissionsBoundary",
        Entity::User(name),
        CallKeys::default(),
    )?;
    call.service
        .write(|s, t| attachments::delete_user_boundary(s, t, call.account(), name))?;
    Ok(Xml::new())
}
