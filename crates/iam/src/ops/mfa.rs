//! Virtual MFA devices: CreateVirtualMFADevice, EnableMFADevice, ResyncMFADevice,
//! DeactivateMFADevice, DeleteVirtualMFADevice, the lists and tags, and [`check_code`]: the
//! one-time-code check that STS (GetSessionToken, AssumeRole) calls.
//!
//! A device is named by its serial number, its ARN `arn:aws:iam::A:mfa/path/name`. Its seed is
//! returned once, by CreateVirtualMFADevice, and never again; it is sealed at rest. Every
//! accepted code moves the device's `last_used_step` forward, and a code whose time step is not
//! newer is refused, whichever operation offers it: a code is good once.
//!
//! Time windows: EnableMFADevice and ResyncMFADevice look for two consecutive codes within
//! ±[`SYNC_WINDOW_STEPS`] steps of our clock and remember where the device's clock stands
//! (`drift_steps`); a sign-in code ([`check_code`]) is accepted within ±[`SIGN_IN_WINDOW_STEPS`]
//! of our clock corrected by that drift.
//!
//! Every operation that checks a code runs through
//! [`crate::IamService::write_with_mfa_code`]: checked against the snapshot first, outside the
//! writer lock, and refused while the device is locked after repeated wrong codes.

use crate::error::{IamError, IamResult};
use crate::model::{Secret, Tag, VirtualMfaDevice};
use crate::names::{check_name, check_path, check_tags};
use crate::qr_png::qr_png;
use crate::state::{AccountState, IamState, Touched};
use crate::totp::{self, Generator, step_of};
use crate::x509::format_unix;

/// The most MFA devices a user may have enabled (AWS: "MFA devices in use per user").
pub const MAX_DEVICES_PER_USER: usize = 8;
/// How far (in 30-second steps, either way) EnableMFADevice and ResyncMFADevice look for the
/// two consecutive codes: five minutes.
pub const SYNC_WINDOW_STEPS: u64 = 10;
/// How far (in steps, either way) from the device's expected step a sign-in code may be.
pub const SIGN_IN_WINDOW_STEPS: i64 = 1;
/// The longest serial number (the model's `serialNumberType`).
pub const MAX_SERIAL_LEN: usize = 256;

/// `arn:aws:iam::A:mfa/path/name`: a virtual device's serial number.
pub fn serial_number(account_id: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account_id}:mfa{path}{name}")
}

/// The device's key in [`AccountState::mfa_devices`]: its serial number after `mfa/`,
/// lowercased (names are unique without regard to case, as IAM's are).
pub fn device_key(path: &str, name: &str) -> String {
    format!("{}{name}", path.strip_prefix('/').unwrap_or(path)).to_lowercase()
}

/// The key of the device `serial` would name in `account_id`, if it is a virtual MFA device
/// ARN of that account.
pub fn key_of_serial(account_id: &str, serial: &str) -> Option<String> {
    let rest = serial.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let resource = resource.strip_prefix("mfa/")?;
    if account != account_id || resource.is_empty() || resource.ends_with('/') {
        return None;
    }
    Some(resource.to_lowercase())
}

/// `SerialNumber`: 9-256 characters of `[\w+=/:,.@-]`.
pub fn check_serial(serial: &str) -> IamResult<()> {
    let len = serial.chars().count();
    if !(9..=MAX_SERIAL_LEN).contains(&len) {
        return Err(IamError::ValidationError(format!(
            "1 validation error detected: Value '{serial}' at 'serialNumber' failed to satisfy constraint: Member must have length less than or equal to {MAX_SERIAL_LEN} and greater than or equal to 9"
        )));
    }
    if !serial
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+=/:,.@-".contains(c))
    {
        return Err(IamError::ValidationError(format!(
            "1 validation error detected: Value '{serial}' at 'serialNumber' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=/:,.@-]+"
        )));
    }
    Ok(())
}

/// `AuthenticationCode1`/`2`: six digits. The value is not echoed: it is a credential.
fn check_code_shape(field: &str, code: &str) -> IamResult<()> {
    if code.chars().count() != totp::DIGITS {
        return Err(IamError::ValidationError(format!(
            "1 validation error detected: Value at '{field}' failed to satisfy constraint: Member must have length less than or equal to 6 and greater than or equal to 6"
        )));
    }
    if !totp::is_well_formed(code) {
        return Err(IamError::ValidationError(format!(
            "1 validation error detected: Value at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\d]+"
        )));
    }
    Ok(())
}

fn no_such_device(serial: &str) -> IamError {
    IamError::NoSuchEntity(format!(
        "VirtualMFADevice with serial number {serial} doesn't exist."
    ))
}

fn not_enabled_for(serial: &str, user: &str) -> IamError {
    IamError::NoSuchEntity(format!(
        "MFA device with serial number {serial} is not enabled for user {user}."
    ))
}

/// The key of the device `serial` names exactly: its path and name as stored, not only
/// without regard to case (so a policy on the exact serial number cannot be stepped around).
fn exact_key(account: &AccountState, account_id: &str, serial: &str) -> Option<String> {
    let key = key_of_serial(account_id, serial)?;
    let device = account.mfa_devices.get(&key)?;
    let resource = format!(
        "{}{}",
        device.path.strip_prefix('/').unwrap_or(&device.path),
        device.name
    );
    serial.ends_with(&format!(":mfa/{resource}")).then_some(key)
}

/// The key of the device `serial` names, which must exist.
fn existing_key(account: &AccountState, account_id: &str, serial: &str) -> IamResult<String> {
    exact_key(account, account_id, serial).ok_or_else(|| no_such_device(serial))
}

/// The device `serial` names.
pub fn find<'a>(
    account: &'a AccountState,
    account_id: &str,
    serial: &str,
) -> IamResult<&'a VirtualMfaDevice> {
    let key = existing_key(account, account_id, serial)?;
    account
        .mfa_devices
        .get(&key)
        .ok_or_else(|| no_such_device(serial))
}

fn find_mut<'a>(
    state: &'a mut IamState,
    touched: &mut Touched,
    account_id: &str,
    serial: &str,
) -> IamResult<&'a mut VirtualMfaDevice> {
    let account = state.account_mut(account_id)?;
    let key = existing_key(account, account_id, serial)?;
    touched.mfa_device(account_id, &key);
    account
        .mfa_devices
        .get_mut(&key)
        .ok_or_else(|| no_such_device(serial))
}

/// The devices enabled for `user_name`, in the order they were enabled.
pub fn list_for_user<'a>(account: &'a AccountState, user_name: &str) -> Vec<&'a VirtualMfaDevice> {
    let mut devices: Vec<&VirtualMfaDevice> = account
        .mfa_devices
        .values()
        .filter(|d| {
            d.user_name
                .as_deref()
                .is_some_and(|u| u.eq_ignore_ascii_case(user_name))
        })
        .collect();
    devices.sort_by(|a, b| {
        a.enable_date
            .cmp(&b.enable_date)
            .then_with(|| device_key(&a.path, &a.name).cmp(&device_key(&b.path, &b.name)))
    });
    devices
}

/// ListVirtualMFADevices' `AssignmentStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignmentStatus {
    Assigned,
    Unassigned,
    Any,
}

impl AssignmentStatus {
    pub fn parse(s: &str) -> Option<AssignmentStatus> {
        match s {
            "Assigned" => Some(AssignmentStatus::Assigned),
            "Unassigned" => Some(AssignmentStatus::Unassigned),
            "Any" => Some(AssignmentStatus::Any),
            _ => None,
        }
    }

    fn admits(self, device: &VirtualMfaDevice) -> bool {
        match self {
            AssignmentStatus::Assigned => device.user_name.is_some(),
            AssignmentStatus::Unassigned => device.user_name.is_none(),
            AssignmentStatus::Any => true,
        }
    }
}

/// The account's virtual devices with that status, by serial number.
pub fn list_virtual(account: &AccountState, status: AssignmentStatus) -> Vec<&VirtualMfaDevice> {
    account
        .mfa_devices
        .values()
        .filter(|d| status.admits(d))
        .collect()
}

/// What CreateVirtualMFADevice returns: the device, and (this once) its seed and QR code.
pub struct CreatedDevice {
    pub device: VirtualMfaDevice,
    pub serial_number: String,
    /// The Base32 seed.
    pub seed_base32: Secret,
    /// A PNG of the QR code of the `otpauth://` URI.
    pub qr_png: Vec<u8>,
}

/// Creates a virtual MFA device with a new random seed. At most as many devices as users may
/// exist in the account (AWS's quota: "equal to the user quota").
pub fn create_virtual_mfa_device(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    name: &str,
    path: Option<&str>,
    tags: &[Tag],
    now: i64,
) -> IamResult<CreatedDevice> {
    check_name("virtualMFADeviceName", name, MAX_SERIAL_LEN)?;
    let path = path.unwrap_or("/");
    check_path(path)?;
    let serial = serial_number(account_id, path, name);
    if serial.chars().count() > MAX_SERIAL_LEN {
        return Err(IamError::ValidationError(format!(
            "The serial number {serial} would be longer than {MAX_SERIAL_LEN} characters: choose a shorter path or name."
        )));
    }
    let tags = check_tags(&[], tags)?;
    let quota = state.limits.max_users;
    let account = state.account_mut(account_id)?;
    let key = device_key(path, name);
    if account.mfa_devices.contains_key(&key) {
        return Err(IamError::EntityAlreadyExists(
            "MFADevice entity at the same path and name already exists.".into(),
        ));
    }
    if account.mfa_devices.len() >= quota {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for VirtualMFADevicesPerAccount: {quota}."
        )));
    }
    let seed = totp::new_seed_base32();
    let label = account.settings.alias.as_deref().unwrap_or(account_id);
    let qr = qr_png(&totp::otpauth_uri(name, label, &seed))
        .map_err(|e| IamError::ServiceFailure(format!("The QR code could not be made: {e}.")))?;
    let device = VirtualMfaDevice {
        name: name.to_owned(),
        path: path.to_owned(),
        create_date: format_unix(now),
        tags,
        user_name: None,
        enable_date: None,
        drift_steps: 0,
        last_used_step: None,
        seed: Secret::new(seed.clone()),
    };
    account.mfa_devices.insert(key.clone(), device.clone());
    touched.mfa_device(account_id, &key);
    Ok(CreatedDevice {
        device,
        serial_number: serial,
        seed_base32: Secret::new(seed),
        qr_png: qr,
    })
}

/// Which check a code is offered to, and so which error a wrong code (or a locked device,
/// see [`crate::attempts`]) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    /// EnableMFADevice, ResyncMFADevice: `InvalidAuthenticationCode`.
    Sync,
    /// STS sign-in (GetSessionToken, AssumeRole): `AccessDenied`.
    SignIn,
}

impl CodeKind {
    /// The error of a wrong code.
    pub fn wrong_code(self) -> IamError {
        match self {
            CodeKind::Sync => invalid_codes(),
            CodeKind::SignIn => invalid_one_time_code(),
        }
    }
}

fn invalid_codes() -> IamError {
    IamError::InvalidAuthenticationCode("Authentication code for device is not valid.".into())
}

fn generator(device: &VirtualMfaDevice) -> IamResult<Generator> {
    Generator::from_base32(device.seed.expose()).ok_or_else(|| {
        IamError::ServiceFailure(format!(
            "The seed of MFA device {} is damaged.",
            device.name
        ))
    })
}

/// Finds two consecutive codes within the sync window, both newer than any code the device
/// has accepted; sets the device's drift and last used step from them.
fn synchronize(device: &mut VirtualMfaDevice, code1: &str, code2: &str, now: i64) -> IamResult<()> {
    let generator = generator(device)?;
    let now_step = step_of(now);
    let mut first = now_step.saturating_sub(SYNC_WINDOW_STEPS);
    if let Some(last) = device.last_used_step {
        first = first.max(last.saturating_add(1));
    }
    // The pair (s, s + 1) must end within the window.
    let last_start = now_step.saturating_add(SYNC_WINDOW_STEPS - 1);
    if first > last_start {
        return Err(invalid_codes());
    }
    let step = generator
        .consecutive_pair(code1, code2, first..=last_start)
        .ok_or_else(invalid_codes)?;
    let second = step.saturating_add(1);
    device.drift_steps =
        i64::try_from(second).unwrap_or(i64::MAX) - i64::try_from(now_step).unwrap_or(i64::MAX);
    device.last_used_step = Some(second);
    Ok(())
}

/// EnableMFADevice: assigns an unassigned device to `user_name`, proven by two consecutive
/// codes.
#[allow(clippy::too_many_arguments)]
pub fn enable_mfa_device(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    user_name: &str,
    serial: &str,
    code1: &str,
    code2: &str,
    now: i64,
) -> IamResult<()> {
    check_serial(serial)?;
    check_code_shape("authenticationCode1", code1)?;
    check_code_shape("authenticationCode2", code2)?;
    let account = state.account_mut(account_id)?;
    let user = super::user(account, user_name)?.name.clone();
    let key = existing_key(account, account_id, serial)?;
    let enabled = list_for_user(account, &user).len();
    let device = account
        .mfa_devices
        .get_mut(&key)
        .ok_or_else(|| no_such_device(serial))?;
    if device.user_name.is_some() {
        return Err(IamError::EntityAlreadyExists(
            "MFA Device is already in use.".into(),
        ));
    }
    if enabled >= MAX_DEVICES_PER_USER {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for MFADevicesPerUser: {MAX_DEVICES_PER_USER}."
        )));
    }
    synchronize(device, code1, code2, now)?;
    device.user_name = Some(user);
    device.enable_date = Some(format_unix(now));
    touched.mfa_device(account_id, &key);
    Ok(())
}

/// The device `serial` names, which must be enabled for `user_name` (which must exist).
fn enabled_device_mut<'a>(
    state: &'a mut IamState,
    touched: &mut Touched,
    account_id: &str,
    user_name: &str,
    serial: &str,
) -> IamResult<&'a mut VirtualMfaDevice> {
    check_serial(serial)?;
    let account = state.account_mut(account_id)?;
    super::user(account, user_name)?;
    let key = exact_key(account, account_id, serial)
        .filter(|k| {
            account.mfa_devices.get(k).is_some_and(|d| {
                d.user_name
                    .as_deref()
                    .is_some_and(|u| u.eq_ignore_ascii_case(user_name))
            })
        })
        .ok_or_else(|| not_enabled_for(serial, user_name))?;
    touched.mfa_device(account_id, &key);
    account
        .mfa_devices
        .get_mut(&key)
        .ok_or_else(|| not_enabled_for(serial, user_name))
}

/// ResyncMFADevice: two new consecutive codes reset where the device's clock stands.
#[allow(clippy::too_many_arguments)]
pub fn resync_mfa_device(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    user_name: &str,
    serial: &str,
    code1: &str,
    code2: &str,
    now: i64,
) -> IamResult<()> {
    check_code_shape("authenticationCode1", code1)?;
    check_code_shape("authenticationCode2", code2)?;
    let device = enabled_device_mut(state, touched, account_id, user_name, serial)?;
    synchronize(device, code1, code2, now)
}

/// DeactivateMFADevice: the device leaves its user and may be enabled again (its used time
/// steps stay used).
pub fn deactivate_mfa_device(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    user_name: &str,
    serial: &str,
) -> IamResult<()> {
    let device = enabled_device_mut(state, touched, account_id, user_name, serial)?;
    device.user_name = None;
    device.enable_date = None;
    device.drift_steps = 0;
    Ok(())
}

/// DeleteVirtualMFADevice: only an unassigned device may go.
pub fn delete_virtual_mfa_device(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    serial: &str,
) -> IamResult<()> {
    check_serial(serial)?;
    let account = state.account_mut(account_id)?;
    let key = existing_key(account, account_id, serial)?;
    if account
        .mfa_devices
        .get(&key)
        .is_some_and(|d| d.user_name.is_some())
    {
        return Err(IamError::DeleteConflict(
            "MFA Device is still in use".into(),
        ));
    }
    account.mfa_devices.remove(&key);
    touched.mfa_device(account_id, &key);
    Ok(())
}

pub fn tag_mfa_device(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    serial: &str,
    tags: &[Tag],
) -> IamResult<()> {
    check_serial(serial)?;
    let device = find_mut(state, touched, account_id, serial)?;
    device.tags = check_tags(&device.tags, tags)?;
    Ok(())
}

pub fn untag_mfa_device(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    serial: &str,
    keys: &[String],
) -> IamResult<()> {
    check_serial(serial)?;
    let device = find_mut(state, touched, account_id, serial)?;
    device
        .tags
        .retain(|t| !keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)));
    Ok(())
}

/// Points the devices of user `old` at its new name `new` (UpdateUser).
pub fn rename_user(
    account: &mut AccountState,
    touched: &mut Touched,
    account_id: &str,
    old: &str,
    new: &str,
) {
    let keys: Vec<String> = list_for_user(account, old)
        .iter()
        .map(|d| device_key(&d.path, &d.name))
        .collect();
    for key in keys {
        if let Some(device) = account.mfa_devices.get_mut(&key) {
            device.user_name = Some(new.to_owned());
            touched.mfa_device(account_id, &key);
        }
    }
}

/// STS's refusal when the serial number names no MFA device of the user.
fn unable_to_validate() -> IamError {
    IamError::AccessDenied(
        "MultiFactorAuthentication failed, unable to validate MFA code. Please verify your MFA serial number is valid and associated with this user.".into(),
    )
}

/// STS's refusal of a wrong, stale or already used code.
fn invalid_one_time_code() -> IamError {
    IamError::AccessDenied(
        "MultiFactorAuthentication failed with invalid MFA one time pass code.".into(),
    )
}

/// Verifies a sign-in code (`TokenCode`) of the MFA device `serial_number` for STS
/// (GetSessionToken, AssumeRole, ...): the device must be enabled for a user of `account_id`;
/// the code must be that of a time step within ±1 of now (corrected by the device's drift)
/// and newer than any code the device has accepted. On success the step is recorded (the
/// code cannot be used again) and the device's row is marked touched: call it through
/// [`crate::IamService::write_with_mfa_code`] with [`CodeKind::SignIn`] (which also applies
/// the device's lock, see [`crate::attempts`]). Errors are STS's `AccessDenied` messages;
/// nothing changes on error.
///
/// STS must also check that the device belongs to the caller: [`check_user_code`] does both.
pub fn check_code(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    serial_number: &str,
    code: &str,
    now_unix: i64,
) -> IamResult<()> {
    check_sign_in(
        state,
        touched,
        account_id,
        None,
        serial_number,
        code,
        now_unix,
    )
}

/// [`check_code`] for a device that must be enabled for `user_name` (the IAM user calling
/// GetSessionToken or AssumeRole); a device of another user is refused like an unknown one.
pub fn check_user_code(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    user_name: &str,
    serial_number: &str,
    code: &str,
    now_unix: i64,
) -> IamResult<()> {
    check_sign_in(
        state,
        touched,
        account_id,
        Some(user_name),
        serial_number,
        code,
        now_unix,
    )
}

fn check_sign_in(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    user_name: Option<&str>,
    serial: &str,
    code: &str,
    now: i64,
) -> IamResult<()> {
    let account = state
        .account_mut(account_id)
        .map_err(|_| unable_to_validate())?;
    let key = exact_key(account, account_id, serial).ok_or_else(unable_to_validate)?;
    let device = account
        .mfa_devices
        .get_mut(&key)
        .ok_or_else(unable_to_validate)?;
    let assigned_to_caller = match (&device.user_name, user_name) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(owner), Some(user)) => owner.eq_ignore_ascii_case(user),
    };
    if !assigned_to_caller {
        return Err(unable_to_validate());
    }
    if !totp::is_well_formed(code) {
        return Err(invalid_one_time_code());
    }
    let generator = generator(device)?;
    let expected = i64::try_from(step_of(now))
        .unwrap_or(i64::MAX)
        .saturating_add(device.drift_steps);
    let to_step = |s: i64| u64::try_from(s.max(0)).unwrap_or(0);
    let mut first = to_step(expected.saturating_sub(SIGN_IN_WINDOW_STEPS));
    let last = to_step(expected.saturating_add(SIGN_IN_WINDOW_STEPS));
    if let Some(used) = device.last_used_step {
        first = first.max(used.saturating_add(1));
    }
    if first > last {
        return Err(invalid_one_time_code());
    }
    let step = generator
        .matching_steps(code, first..=last)
        .first()
        .copied()
        .ok_or_else(invalid_one_time_code)?;
    device.last_used_step = Some(step);
    touched.mfa_device(account_id, &key);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AccountSettings;
    use crate::ops::users::create_user;

    const ACCOUNT: &str = "111122223333";
    /// A fixed "now".
    const NOW: i64 = 1_700_000_010;

    fn state() -> IamState {
        let mut state = IamState::default();
        state.accounts.insert(
            ACCOUNT.into(),
            AccountState {
                settings: AccountSettings {
                    account_id: ACCOUNT.into(),
                    ..AccountSettings::default()
                },
                ..AccountState::default()
            },
        );
        let mut t = Touched::default();
        create_user(&mut state, &mut t, ACCOUNT, "ann", None, None, &[]).unwrap();
        create_user(&mut state, &mut t, ACCOUNT, "bob", None, None, &[]).unwrap();
        state
    }

    /// Creates a device and returns its serial and code generator.
    fn device(state: &mut IamState, name: &str) -> (String, Generator) {
        let created = create_virtual_mfa_device(
            state,
            &mut Touched::default(),
            ACCOUNT,
            name,
            None,
            &[],
            NOW,
        )
        .unwrap();
        let generator = Generator::from_base32(created.seed_base32.expose()).unwrap();
        (created.serial_number, generator)
    }

    fn now_step() -> u64 {
        step_of(NOW)
    }

    fn enable(state: &mut IamState, serial: &str, g: &Generator, first_step: u64) -> IamResult<()> {
        enable_mfa_device(
            state,
            &mut Touched::default(),
            ACCOUNT,
            "ann",
            serial,
            &g.code_at_step(first_step),
            &g.code_at_step(first_step + 1),
            NOW,
        )
    }

    fn sign_in(state: &mut IamState, serial: &str, code: &str, now: i64) -> IamResult<()> {
        check_user_code(
            state,
            &mut Touched::default(),
            ACCOUNT,
            "ann",
            serial,
            code,
            now,
        )
    }

    #[test]
    fn create_returns_the_seed_and_a_qr_code_of_the_otpauth_uri() {
        let mut state = state();
        let created = create_virtual_mfa_device(
            &mut state,
            &mut Touched::default(),
            ACCOUNT,
            "ann-phone",
            Some("/team/"),
            &[],
            NOW,
        )
        .unwrap();
        assert_eq!(
            created.serial_number,
            "arn:aws:iam::111122223333:mfa/team/ann-phone"
        );
        let uri = crate::qr_png::read_qr_png(&created.qr_png).unwrap();
        assert_eq!(
            uri,
            format!(
                "otpauth://totp/ann-phone@111122223333?secret={}",
                created.seed_base32.expose()
            )
        );
        let again = create_virtual_mfa_device(
            &mut state,
            &mut Touched::default(),
            ACCOUNT,
            "ANN-PHONE",
            Some("/team/"),
            &[],
            NOW,
        );
        assert!(matches!(again, Err(IamError::EntityAlreadyExists(_))));
        // The same name at another path is another device.
        device(&mut state, "ann-phone");
    }

    #[test]
    fn enable_needs_two_consecutive_codes_within_the_window() {
        let mut state = state();
        let (serial, g) = device(&mut state, "d");
        let s = now_step();
        // Not consecutive, reversed, too old: refused, nothing changed.
        for (a, b) in [(s, s + 2), (s + 1, s), (s - 12, s - 11)] {
            let r = enable_mfa_device(
                &mut state,
                &mut Touched::default(),
                ACCOUNT,
                "ann",
                &serial,
                &g.code_at_step(a),
                &g.code_at_step(b),
                NOW,
            );
            assert!(
                matches!(r, Err(IamError::InvalidAuthenticationCode(_))),
                "{a} {b}"
            );
        }
        let account = state.account(ACCOUNT).unwrap();
        assert!(find(account, ACCOUNT, &serial).unwrap().user_name.is_none());
        // Well-formedness is a validation error that does not echo the code.
        let r = enable_mfa_device(
            &mut state,
            &mut Touched::default(),
            ACCOUNT,
            "ann",
            &serial,
            "12345",
            "123456",
            NOW,
        );
        assert!(matches!(r, Err(IamError::ValidationError(m)) if !m.contains("12345")));

        enable(&mut state, &serial, &g, s - 1).unwrap();
        let account = state.account(ACCOUNT).unwrap();
        let d = find(account, ACCOUNT, &serial).unwrap();
        assert_eq!(d.user_name.as_deref(), Some("ann"));
        assert_eq!(d.drift_steps, 0);
        assert_eq!(d.last_used_step, Some(s));
        assert_eq!(list_for_user(account, "ANN").len(), 1);
        // Already in use.
        let (code1, code2) = (g.code_at_step(s + 1), g.code_at_step(s + 2));
        let r = enable_mfa_device(
            &mut state,
            &mut Touched::default(),
            ACCOUNT,
            "bob",
            &serial,
            &code1,
            &code2,
            NOW,
        );
        assert!(matches!(r, Err(IamError::EntityAlreadyExists(_))));
    }

    #[test]
    fn a_code_is_accepted_once() {
        let mut state = state();
        let (serial, g) = device(&mut state, "d");
        let s = now_step();
        enable(&mut state, &serial, &g, s - 2).unwrap(); // last used: s - 1, drift -1
        // The codes Enable used cannot sign in.
        assert!(sign_in(&mut state, &serial, &g.code_at_step(s - 1), NOW).is_err());
        sign_in(&mut state, &serial, &g.code_at_step(s), NOW).unwrap();
        let replay = sign_in(&mut state, &serial, &g.code_at_step(s), NOW);
        assert_eq!(
            replay,
            Err(IamError::AccessDenied(
                "MultiFactorAuthentication failed with invalid MFA one time pass code.".into()
            ))
        );
        // A newer step is fine later; an older one than the last accepted is not.
        sign_in(&mut state, &serial, &g.code_at_step(s + 1), NOW + 30).unwrap();
        assert!(sign_in(&mut state, &serial, &g.code_at_step(s), NOW + 30).is_err());
        // Nor can Resync reuse them.
        let r = resync_mfa_device(
            &mut state,
            &mut Touched::default(),
            ACCOUNT,
            "ann",
            &serial,
            &g.code_at_step(s),
            &g.code_at_step(s + 1),
            NOW,
        );
        assert!(matches!(r, Err(IamError::InvalidAuthenticationCode(_))));
    }

    #[test]
    fn sign_in_allows_one_step_of_drift_and_resync_moves_it() {
        let mut state = state();
        let (serial, g) = device(&mut state, "d");
        let s = now_step();
        enable(&mut state, &serial, &g, s - 3).unwrap(); // drift -2, last used s - 2
        // Expected step s - 2 (used), window s - 3 ..= s - 1: s is too far ahead.
        assert!(sign_in(&mut state, &serial, &g.code_at_step(s), NOW).is_err());
        sign_in(&mut state, &serial, &g.code_at_step(s - 1), NOW).unwrap();

        // The device's clock now runs 5 steps ahead: its codes are refused until a resync.
        let later = NOW + 300; // step s + 10
        let ahead = s + 15;
        assert!(sign_in(&mut state, &serial, &g.code_at_step(ahead), later).is_err());
        resync_mfa_device(
            &mut state,
            &mut Touched::default(),
            ACCOUNT,
            "ann",
            &serial,
            &g.code_at_step(ahead),
            &g.code_at_step(ahead + 1),
            later,
        )
        .unwrap();
        let account = state.account(ACCOUNT).unwrap();
        assert_eq!(find(account, ACCOUNT, &serial).unwrap().drift_steps, 6);
        sign_in(&mut state, &serial, &g.code_at_step(ahead + 2), later + 30).unwrap();
        // Beyond ±1 of the expected step: refused.
        assert!(sign_in(&mut state, &serial, &g.code_at_step(ahead + 5), later + 30).is_err());
    }

    #[test]
    fn sign_in_needs_the_callers_enabled_device() {
        let mut state = state();
        let (serial, g) = device(&mut state, "d");
        let s = now_step();
        let unable = Err(unable_to_validate());
        assert_eq!(
            sign_in(&mut state, &serial, &g.code_at_step(s), NOW),
            unable
        );
        enable(&mut state, &serial, &g, s - 2).unwrap();
        let as_bob = check_user_code(
            &mut state,
            &mut Touched::default(),
            ACCOUNT,
            "bob",
            &serial,
            &g.code_at_step(s),
            NOW,
        );
        assert_eq!(as_bob, unable);
        let other_account = serial.replace(ACCOUNT, "999988887777");
        assert_eq!(
            sign_in(&mut state, &other_account, &g.code_at_step(s), NOW),
            unable
        );
        assert_eq!(
            sign_in(&mut state, "GAHT12345678", &g.code_at_step(s), NOW),
            unable
        );
        assert!(sign_in(&mut state, &serial, "abcdef", NOW).is_err());
        let mut touched = Touched::default();
        check_code(
            &mut state,
            &mut touched,
            ACCOUNT,
            &serial,
            &g.code_at_step(s),
            NOW,
        )
        .unwrap();
        assert!(!touched.is_empty());
    }

    #[test]
    fn quota_deactivate_and_delete() {
        let mut state = state();
        let s = now_step();
        let mut serials = Vec::new();
        for i in 0..=MAX_DEVICES_PER_USER {
            let (serial, g) = device(&mut state, &format!("d{i}"));
            let r = enable(&mut state, &serial, &g, s - 1);
            if i < MAX_DEVICES_PER_USER {
                r.unwrap();
                serials.push(serial);
            } else {
                assert!(matches!(r, Err(IamError::LimitExceeded(_))));
            }
        }
        let serial = serials[0].clone();
        let r = delete_virtual_mfa_device(&mut state, &mut Touched::default(), ACCOUNT, &serial);
        assert!(matches!(r, Err(IamError::DeleteConflict(_))));
        let r = deactivate_mfa_device(&mut state, &mut Touched::default(), ACCOUNT, "bob", &serial);
        assert!(matches!(r, Err(IamError::NoSuchEntity(_))));
        deactivate_mfa_device(&mut state, &mut Touched::default(), ACCOUNT, "ann", &serial)
            .unwrap();
        let account = state.account(ACCOUNT).unwrap();
        assert_eq!(list_virtual(account, AssignmentStatus::Unassigned).len(), 2);
        assert_eq!(list_virtual(account, AssignmentStatus::Assigned).len(), 7);
        delete_virtual_mfa_device(&mut state, &mut Touched::default(), ACCOUNT, &serial).unwrap();
        let r = delete_virtual_mfa_device(&mut state, &mut Touched::default(), ACCOUNT, &serial);
        assert!(matches!(r, Err(IamError::NoSuchEntity(_))));
    }

    #[test]
    fn serial_numbers_are_checked() {
        assert!(check_serial("arn:aws:iam::111122223333:mfa/x").is_ok());
        assert!(check_serial("short").is_err());
        assert!(check_serial("arn:aws:iam::111122223333:mfa/a b").is_err());
        assert_eq!(
            key_of_serial(ACCOUNT, "arn:aws:iam::111122223333:mfa/Team/Dev"),
            Some("team/dev".into())
        );
        assert_eq!(
            key_of_serial(ACCOUNT, "arn:aws:iam::111122223333:mfa/"),
            None
        );
        assert_eq!(
            key_of_serial(ACCOUNT, "arn:aws:iam::111122223333:user/x"),
            None
        );
    }
}
