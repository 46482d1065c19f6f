//! Login profile actions and ChangePassword. A password is hashed before the write (see
//! `portcullis_iam::ops::login_profiles`) and never appears in a response or a log.

use portcullis_iam::IamError;
use portcullis_iam::ops::login_profiles::{self, LoginProfileView, Purpose};

use super::users::target_user;
use super::{Call, CallKeys, Entity};
use crate::auth::Identity;
use crate::error::ApiError;
use crate::xml::Xml;

fn write_profile(x: &mut Xml, profile: &LoginProfileView) {
    x.elem("LoginProfile", |x| {
        x.text("UserName", &profile.user_name)
            .text("CreateDate", &profile.create_date)
            .bool("PasswordResetRequired", profile.password_reset_required);
    });
}

/// Authorizes `action` on the user named by `UserName` (the caller when absent); returns the
/// user's name.
fn authorize_on_user<'a>(
    call: &'a Call<'_>,
    action: &str,
    name: Option<&'a str>,
) -> Result<&'a str, ApiError> {
    let name = target_user(call, name)?;
    call.authorize_entity(action, Entity::User(name), CallKeys::default())?;
    Ok(name)
}

pub fn create_login_profile(call: &Call<'_>) -> Result<Xml, ApiError> {
    let p = call.params;
    let password = p.required("Password")?;
    let reset_required = p.bool("PasswordResetRequired")?.unwrap_or(false);
    let name = authorize_on_user(call, "iam:CreateLoginProfile", p.get("UserName"))?;
    let state = &call.snapshot.state;
    if portcullis_iam::ops::user(state.account(call.account())?, name)?
        .login_profile
        .is_some()
    {
        // Answer before spending a hash on it.
        return Err(IamError::EntityAlreadyExists(format!(
            "Login Profile for user {name} already exists."
        ))
        .into());
    }
    let prepared = login_profiles::prepare(
        state,
        call.account(),
        name,
        password,
        Purpose::Set,
        call.env.now,
    )?;
    let profile = call.service.write(|s, t| {
        login_profiles::create(s, t, call.account(), name, prepared, reset_required)
    })?;
    let mut x = Xml::new();
    write_profile(&mut x, &profile);
    Ok(x)
}

pub fn get_login_profile(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = authorize_on_user(call, "iam:GetLoginProfile", call.params.get("UserName"))?;
    let profile = login_profiles::get(&call.snapshot.state, call.account(), name, call.env.now)?;
    let mut x = Xml::new();
    write_profile(&mut x, &profile);
    Ok(x)
}

pub fn update_login_profile(call: &Call<'_>) -> Result<Xml, ApiError> {
    let p = call.params;
    let name = p.required("UserName")?;
    let reset_required = p.bool("PasswordResetRequired")?;
    let password = p.get("Password");
    authorize_on_user(call, "iam:UpdateLoginProfile", Some(name))?;
    let state = &call.snapshot.state;
    // NoSuchEntity before spending a hash on it.
    login_profiles::get(state, call.account(), name, 0)?;
    let prepared = password
        .map(|pw| {
            login_profiles::prepare(state, call.account(), name, pw, Purpose::Set, call.env.now)
        })
        .transpose()?;
    call.service.write(|s, t| {
        login_profiles::update(s, t, call.account(), name, prepared, reset_required)
    })?;
    Ok(Xml::new())
}

pub fn delete_login_profile(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = authorize_on_user(call, "iam:DeleteLoginProfile", call.params.get("UserName"))?;
    call.service
        .write(|s, t| login_profiles::delete(s, t, call.account(), name))?;
    Ok(Xml::new())
}

/// ChangePassword: an IAM user changes its own password (root cannot: its password is not
/// an IAM login profile).
pub fn change_password(call: &Call<'_>) -> Result<Xml, ApiError> {
    let p = call.params;
    let old_password = p.required("OldPassword")?;
    let new_password = p.required("NewPassword")?;
    call.authorize_entity("iam:ChangePassword", Entity::Caller, CallKeys::default())?;
    let name = match &call.caller.identity {
        Identity::User { name } => name.as_str(),
        Identity::Root
        | Identity::AssumedRole { .. }
        | Identity::FederatedUser { .. }
        | Identity::Anonymous => {
            return Err(IamError::InvalidUserType(
                "ChangePassword changes an IAM user's own password; only an IAM user can call it."
                    .into(),
            )
            .into());
        }
    };
    let prepared = login_profiles::prepare(
        &call.snapshot.state,
        call.account(),
        name,
        new_password,
        Purpose::Change {
            old_password,
            attempts: call.service.attempts(),
        },
        call.env.now,
    )?;
    call.service
        .write(|s, t| login_profiles::change(s, t, call.account(), name, prepared))?;
    Ok(Xml::new())
}
