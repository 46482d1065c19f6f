//! User actions.

use portcullis_iam::model::{Tag, User};
use portcullis_iam::ops::{self, attachments, users};

use super::{Call, CallKeys, page_footer, write_tags};
use crate::error::ApiError;
use crate::xml::Xml;

/// The `<User>` shape.
pub fn write_user(x: &mut Xml, call: &Call<'_>, user: &User, with_tags: bool) {
    x.text("Path", &user.path)
        .text("UserName", &user.name)
        .text("UserId", &user.user_id)
        .text("Arn", &call.arn("user", &user.path, &user.name))
        .text("CreateDate", &user.create_date)
        .opt("PasswordLastUsed", user.password_last_used.as_deref());
    if let Some(arn) = &user.permissions_boundary {
        x.elem("PermissionsBoundary", |x| {
            x.text("PermissionsBoundaryType", "PermissionsBoundaryPolicy")
                .text("PermissionsBoundaryArn", arn);
        });
    }
    if with_tags && !user.tags.is_empty() {
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
            | crate::auth::Identity::FederatedUser { .. } => Err(ApiError::validation(
                "Must specify userName when calling with non-User credentials",
            )),
        },
    }
}

/// The ARN and tags of the user named `name` (an ARN with the root path when it does not
/// exist: the operation itself then answers NoSuchEntity, after authorization).
pub(super) fn user_target<'a>(
    call: &'a Call<'_>,
    name: &str,
) -> Result<(String, &'a [Tag]), ApiError> {
    let account = call.snapshot.state.account(call.account())?;
    Ok(match account.users.get(&name.to_lowercase()) {
        Some(u) => (call.arn("user", &u.path, &u.name), &u.tags),
        None => (call.arn("user", "/", name), &[]),
    })
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
    let name = target_user(call, call.params.get("UserName"))?;
    let (arn, resource_tags) = user_target(call, name)?;
    call.authorize(
        "iam:GetUser",
        &arn,
        CallKeys {
            resource_tags,
            ..Default::default()
        },
    )?;
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
    let (arn, resource_tags) = user_target(call, name)?;
    call.authorize(
        "iam:UpdateUser",
        &arn,
        CallKeys {
            resource_tags,
            ..Default::default()
        },
    )?;
    let (new_name, new_path) = (p.get("NewUserName"), p.get("NewPath"));
    call.service
        .write(|s, t| users::update_user(s, t, call.account(), name, new_name, new_path))?;
    Ok(Xml::new())
}

pub fn delete_user(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("UserName")?;
    let (arn, resource_tags) = user_target(call, name)?;
    call.authorize(
        "iam:DeleteUser",
        &arn,
        CallKeys {
            resource_tags,
            ..Default::default()
        },
    )?;
    call.service
        .write(|s, t| users::delete_user(s, t, call.account(), name))?;
    Ok(Xml::new())
}

pub fn tag_user(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("UserName")?;
    let tags = call.params.tags("Tags");
    let (arn, resource_tags) = user_target(call, name)?;
    call.authorize(
        "iam:TagUser",
        &arn,
        CallKeys {
            request_tags: &tags,
            resource_tags,
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
    let (arn, resource_tags) = user_target(call, name)?;
    call.authorize(
        "iam:UntagUser",
        &arn,
        CallKeys {
            tag_keys: &keys,
            resource_tags,
            ..Default::default()
        },
    )?;
    call.service
        .write(|s, t| users::untag_user(s, t, call.account(), name, &keys))?;
    Ok(Xml::new())
}

pub fn list_user_tags(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = call.params.required("UserName")?;
    let (arn, _) = user_target(call, name)?;
    call.authorize("iam:ListUserTags", &arn, CallKeys::default())?;
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
    let (arn, _) = user_target(call, name)?;
    call.authorize(
        "iam:PutUserPermissionsBoundary",
        &arn,
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
    let (arn, _) = user_target(call, name)?;
    call.authorize(
        "iam:DeleteUserPermissionsBoundary",
        &arn,
        CallKeys::default(),
    )?;
    call.service
        .write(|s, t| attachments::delete_user_boundary(s, t, call.account(), name))?;
    Ok(Xml::new())
}
