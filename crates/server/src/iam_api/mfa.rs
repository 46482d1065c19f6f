//! Virtual MFA device actions. A device is authorized as `iam:*` on its serial number (its
//! ARN, `arn:aws:iam::A:mfa/path/name`) for Create/Delete/Tag actions, and on the user's ARN
//! for Enable/Resync/Deactivate/ListMFADevices/GetMFADevice, as AWS's service authorization
//! reference lists them; ListVirtualMFADevices has no resource (`*`).
//!
//! The seed and its QR code leave the service once, in CreateVirtualMFADevice's answer, as the
//! model's `BootstrapDatum` blobs: base64 of the Base32 text, base64 of the PNG.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use portcullis_iam::IamResult;
use portcullis_iam::model::VirtualMfaDevice;
use portcullis_iam::ops::{self, mfa};
use portcullis_iam::state::{IamState, Touched};

use super::users::{target_user, write_user};
use super::{Call, CallKeys, Entity, page_footer, tag_page, write_tags};
use crate::auth::Identity;
use crate::error::ApiError;
use crate::xml::Xml;

fn serial_of(call: &Call<'_>, device: &VirtualMfaDevice) -> String {
    mfa::serial_number(call.account(), &device.path, &device.name)
}

/// The device `serial` names, if it exists.
fn device<'a>(call: &'a Call<'_>, serial: &str) -> Option<&'a VirtualMfaDevice> {
    let account = call.snapshot.state.account(call.account()).ok()?;
    mfa::find(account, call.account(), serial).ok()
}

/// Authorizes `action` on the device `serial`.
fn authorize_on_device(
    call: &Call<'_>,
    action: &str,
    serial: &str,
    keys: CallKeys<'_>,
) -> Result<(), ApiError> {
    call.authorize_entity(action, Entity::MfaDevice(serial), keys)
        .map(drop)
}

/// Authorizes `action` on user `name`.
fn authorize_on_user(call: &Call<'_>, action: &str, name: &str) -> Result<(), ApiError> {
    call.authorize_entity(action, Entity::User(name), CallKeys::default())
        .map(drop)
}

pub fn create_virtual_mfa_device(call: &Call<'_>) -> Result<Xml, ApiError> {
    let p = call.params;
    let name = p.required("VirtualMFADeviceName")?;
    let path = p.get("Path");
    let tags = p.tags("Tags");
    call.authorize(
        "iam:CreateVirtualMFADevice",
        &mfa::serial_number(call.account(), path.unwrap_or("/"), name),
        CallKeys {
            request_tags: &tags,
            ..Default::default()
        },
    )?;
    let created = call.service.write(|s, t| {
        mfa::create_virtual_mfa_device(s, t, call.account(), name, path, &tags, call.env.now)
    })?;
    let mut x = Xml::new();
    x.elem("VirtualMFADevice", |x| {
        x.text("SerialNumber", &created.serial_number)
            .text(
                "Base32StringSeed",
                &STANDARD.encode(created.seed_base32.expose().as_bytes()),
            )
            .text("QRCodePNG", &STANDARD.encode(&created.qr_png));
        if !created.device.tags.is_empty() {
            write_tags(x, &created.device.tags);
        }
    });
    Ok(x)
}

/// The parameters of EnableMFADevice and ResyncMFADevice.
fn codes<'a>(call: &'a Call<'_>) -> Result<(&'a str, &'a str, &'a str, &'a str), ApiError> {
    let p = call.params;
    Ok((
        p.required("UserName")?,
        p.required("SerialNumber")?,
        p.required("AuthenticationCode1")?,
        p.required("AuthenticationCode2")?,
    ))
}

/// The operations of EnableMFADevice and ResyncMFADevice.
type SyncOp = fn(&mut IamState, &mut Touched, &str, &str, &str, &str, &str, i64) -> IamResult<()>;

/// EnableMFADevice and ResyncMFADevice: authorized on the user; the two codes are checked
/// against the snapshot first, and count towards the device's lock when wrong.
fn sync_device(call: &Call<'_>, action: &str, op: SyncOp) -> Result<Xml, ApiError> {
    let (user, serial, code1, code2) = codes(call)?;
    authorize_on_user(call, action, user)?;
    call.service
        .write_with_mfa_code(mfa::CodeKind::Sync, call.account(), serial, |s, t| {
            op(
                s,
                t,
                call.account(),
                user,
                serial,
                code1,
                code2,
                call.env.now,
            )
        })?;
    Ok(Xml::new())
}

pub fn enable_mfa_device(call: &Call<'_>) -> Result<Xml, ApiError> {
    sync_device(call, "iam:EnableMFADevice", mfa::enable_mfa_device)
}

pub fn resync_mfa_device(call: &Call<'_>) -> Result<Xml, ApiError> {
    sync_device(call, "iam:ResyncMFADevice", mfa::resync_mfa_device)
}

pub fn deactivate_mfa_device(call: &Call<'_>) -> Result<Xml, ApiError> {
    let serial = call.params.required("SerialNumber")?;
    let user = target_user(call, call.params.get("UserName"))?;
    authorize_on_user(call, "iam:DeactivateMFADevice", user)?;
    call.service
        .write(|s, t| mfa::deactivate_mfa_device(s, t, call.account(), user, serial))?;
    Ok(Xml::new())
}

pub fn delete_virtual_mfa_device(call: &Call<'_>) -> Result<Xml, ApiError> {
    let serial = call.params.required("SerialNumber")?;
    authorize_on_device(
        call,
        "iam:DeleteVirtualMFADevice",
        serial,
        CallKeys::default(),
    )?;
    call.service
        .write(|s, t| mfa::delete_virtual_mfa_device(s, t, call.account(), serial))?;
    Ok(Xml::new())
}

pub fn list_mfa_devices(call: &Call<'_>) -> Result<Xml, ApiError> {
    let name = match (call.params.get("UserName"), &call.caller.identity) {
        (Some(n), _) => Some(n),
        (None, Identity::User { name }) => Some(name.as_str()),
        // Root's own devices are managed in the console, not through this API: none here.
        (None, Identity::Root) => None,
        (
            None,
            Identity::AssumedRole { .. } | Identity::FederatedUser { .. } | Identity::Anonymous,
        ) => {
            return Err(ApiError::validation(
                "Must specify userName when calling with non-User credentials",
            ));
        }
    };
    match name {
        Some(n) => authorize_on_user(call, "iam:ListMFADevices", n)?,
        None => {
            call.authorize_entity("iam:ListMFADevices", Entity::Caller, CallKeys::default())?;
        }
    }
    let account = call.snapshot.state.account(call.account())?;
    let devices = match name {
        Some(n) => {
            ops::user(account, n)?;
            mfa::list_for_user(account, n)
        }
        None => Vec::new(),
    };
    let (page, next) = call.paginate(devices, |d| serial_of(call, d))?;
    let mut x = Xml::new();
    x.list("MFADevices", page, |x, d| {
        x.text("UserName", d.user_name.as_deref().unwrap_or_default())
            .text("SerialNumber", &serial_of(call, d))
            .opt("EnableDate", d.enable_date.as_deref());
    });
    page_footer(&mut x, next);
    Ok(x)
}

pub fn list_virtual_mfa_devices(call: &Call<'_>) -> Result<Xml, ApiError> {
    let status = match call.params.get("AssignmentStatus") {
        None => mfa::AssignmentStatus::Any,
        Some(s) => mfa::AssignmentStatus::parse(s).ok_or_else(|| {
            ApiError::validation(format!(
                "1 validation error detected: Value '{s}' at 'assignmentStatus' failed to satisfy constraint: Member must satisfy enum value set: [Assigned, Unassigned, Any]"
            ))
        })?,
    };
    call.authorize("iam:ListVirtualMFADevices", "*", CallKeys::default())?;
    let account = call.snapshot.state.account(call.account())?;
    let devices = mfa::list_virtual(account, status);
    let (page, next) = call.paginate(devices, |d| serial_of(call, d))?;
    let mut x = Xml::new();
    x.list("VirtualMFADevices", page, |x, d| {
        x.text("SerialNumber", &serial_of(call, d));
        if let Some(user) = d
            .user_name
            .as_deref()
            .and_then(|u| account.users.get(&u.to_lowercase()))
        {
            x.elem("User", |x| write_user(x, call, user, false));
        }
        x.opt("EnableDate", d.enable_date.as_deref());
    });
    page_footer(&mut x, next);
    Ok(x)
}

/// GetMFADevice: an enabled device, of `UserName` when given. Authorized on that user, else
/// on the device's user (on the device itself when it has none: the answer is then
/// NoSuchEntity).
pub fn get_mfa_device(call: &Call<'_>) -> Result<Xml, ApiError> {
    let serial = call.params.required("SerialNumber")?;
    let user_name = call.params.get("UserName");
    let found = device(call, serial);
    match user_name.or_else(|| found.and_then(|d| d.user_name.as_deref())) {
        Some(user) => authorize_on_user(call, "iam:GetMFADevice", user)?,
        None => authorize_on_device(call, "iam:GetMFADevice", serial, CallKeys::default())?,
    }
    mfa::check_serial(serial)?;
    let account = call.snapshot.state.account(call.account())?;
    if let Some(user) = user_name {
        ops::user(account, user)?;
    }
    let device = mfa::find(account, call.account(), serial)?;
    let owner = match (&device.user_name, user_name) {
        (Some(owner), None) => owner,
        (Some(owner), Some(user)) if owner.eq_ignore_ascii_case(user) => owner,
        _ => {
            return Err(portcullis_iam::IamError::NoSuchEntity(format!(
                "MFA device with serial number {serial} is not enabled{}.",
                user_name
                    .map(|u| format!(" for user {u}"))
                    .unwrap_or_default()
            ))
            .into());
        }
    };
    let mut x = Xml::new();
    x.text("UserName", owner)
        .text("SerialNumber", &serial_of(call, device))
        .opt("EnableDate", device.enable_date.as_deref());
    Ok(x)
}

pub fn tag_mfa_device(call: &Call<'_>) -> Result<Xml, ApiError> {
    let serial = call.params.required("SerialNumber")?;
    let tags = call.params.tags("Tags");
    authorize_on_device(
        call,
        "iam:TagMFADevice",
        serial,
        CallKeys {
            request_tags: &tags,
            ..Default::default()
        },
    )?;
    call.service
        .write(|s, t| mfa::tag_mfa_device(s, t, call.account(), serial, &tags))?;
    Ok(Xml::new())
}

pub fn untag_mfa_device(call: &Call<'_>) -> Result<Xml, ApiError> {
    let serial = call.params.required("SerialNumber")?;
    let keys = call.params.list("TagKeys");
    authorize_on_device(
        call,
        "iam:UntagMFADevice",
        serial,
        CallKeys {
            tag_keys: &keys,
            ..Default::default()
        },
    )?;
    call.service
        .write(|s, t| mfa::untag_mfa_device(s, t, call.account(), serial, &keys))?;
    Ok(Xml::new())
}

pub fn list_mfa_device_tags(call: &Call<'_>) -> Result<Xml, ApiError> {
    let serial = call.params.required("SerialNumber")?;
    authorize_on_device(call, "iam:ListMFADeviceTags", serial, CallKeys::default())?;
    mfa::check_serial(serial)?;
    let account = call.snapshot.state.account(call.account())?;
    let device = mfa::find(account, call.account(), serial)?;
    tag_page(call, &device.tags)
}
