//! The credential report (GenerateCredentialReport / GetCredentialReport): AWS's CSV, one
//! row for the account's root user and one per IAM user, with AWS's columns in AWS's order
//! and its values: ISO 8601 times with `+00:00`, `N/A` where a column does not apply (no
//! password, no second key, a key never used), `no_information` for a password never used,
//! `not_supported` for the root user's password columns.
//!
//! Pure: built from one snapshot of the state.

use crate::error::{IamError, IamResult};
use crate::model::{AccessKeyLastUsed, KeyStatus, Timestamp};
use crate::state::IamState;

/// The header line, exactly as AWS writes it.
pub const COLUMNS: [&str; 22] = [
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "password_last_changed",
    "password_next_rotation",
    "mfa_active",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_1_last_used_region",
    "access_key_1_last_used_service",
    "access_key_2_active",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
    "access_key_2_last_used_region",
    "access_key_2_last_used_service",
    "cert_1_active",
    "cert_1_last_rotated",
    "cert_2_active",
    "cert_2_last_rotated",
];

const NA: &str = "N/A";

/// `2026-12-04T20:51:38Z` as the report writes it, `2026-12-04T20:51:38+00:00`.
fn iso(t: &str) -> String {
    match t.strip_suffix('Z') {
        Some(base) => format!("{base}+00:00"),
        None => t.to_owned(),
    }
}

/// `days` after `t`, in the report's form (`N/A` when `t` does not parse).
fn plus_days(t: &str, days: u32) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(t, &Rfc3339)
        .ok()
        .map(|t| t + time::Duration::days(i64::from(days)))
        .and_then(|t| t.format(&Rfc3339).ok())
        .map_or_else(|| NA.to_owned(), |t| iso(&t))
}

fn flag(b: bool) -> String {
    b.to_string()
}

/// A key's last use by its id (the service's view: a use not yet flushed to the state counts).
pub type LastUsed<'a> = &'a dyn Fn(&str) -> Option<AccessKeyLastUsed>;

/// The key and certificate columns of one identity (`None`: the root user).
fn credentials(
    state: &IamState,
    account: &str,
    user: Option<&str>,
    last_used: LastUsed<'_>,
) -> Vec<String> {
    let owns = |owner: &Option<String>| match (owner, user) {
        (None, None) => true,
        (Some(o), Some(u)) => o.eq_ignore_ascii_case(u),
        _ => false,
    };
    let mut keys: Vec<_> = state
        .access_keys
        .values()
        .filter(|k| k.account_id == account && owns(&k.user_name))
        .collect();
    keys.sort_by(|a, b| {
        (&a.create_date, &a.access_key_id).cmp(&(&b.create_date, &b.access_key_id))
    });
    let mut row = Vec::new();
    for i in 0..2 {
        match keys.get(i) {
            Some(k) => {
                row.push(flag(k.status == KeyStatus::Active));
                row.push(iso(&k.create_date));
                match last_used(&k.access_key_id).or_else(|| k.last_used.clone()) {
                    Some(u) => {
                        row.push(iso(&u.date));
                        row.push(u.region);
                        row.push(u.service);
                    }
                    None => row.extend([NA, NA, NA].map(String::from)),
                }
            }
            None => row.extend(["false", NA, NA, NA, NA].map(String::from)),
        }
    }
    let mut certs: Vec<_> = state
        .accounts
        .get(account)
        .map(|a| {
            a.signing_certificates
                .values()
                .filter(|c| owns(&c.user_name))
                .collect()
        })
        .unwrap_or_default();
    certs.sort_by(|a, b| {
        (&a.upload_date, &a.certificate_id).cmp(&(&b.upload_date, &b.certificate_id))
    });
    for i in 0..2 {
        match certs.get(i) {
            Some(c) => {
                row.push(flag(c.status == KeyStatus::Active));
                row.push(iso(&c.upload_date));
            }
            None => row.extend(["false", NA].map(String::from)),
        }
    }
    row
}

/// How long a report is served (and kept from being generated again), as AWS's.
pub const LIFETIME_SECONDS: i64 = 4 * 3600;

/// A generated report.
#[derive(Debug, Clone)]
pub struct CredentialReport {
    pub generated: Timestamp,
    /// `generated` as unix seconds.
    pub generated_unix: i64,
    pub csv: String,
}

/// The report of `account` as CSV text (header and rows, each line ending in `\n`).
pub fn generate(state: &IamState, account: &str, last_used: LastUsed<'_>) -> IamResult<String> {
    let acct = state.account(account)?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let failed = |e: csv::Error| IamError::ServiceFailure(format!("credential report: {e}"));
    out.write_record(COLUMNS).map_err(failed)?;

    // The root user: its creation is the account's, which is not recorded; its first access
    // key's is the earliest time known.
    let root_keys = credentials(state, account, None, last_used);
    let root_created =
        crate::ops::account::root_created(state, account).map_or_else(|| NA.to_owned(), iso);
    let mut root = vec![
        "<root_account>".to_owned(),
        format!("arn:aws:iam::{account}:root"),
        root_created,
        "not_supported".to_owned(),
        "no_information".to_owned(),
        "not_supported".to_owned(),
        "not_supported".to_owned(),
        "false".to_owned(),
    ];
    root.extend(root_keys);
    out.write_record(&root).map_err(failed)?;

    let max_age = acct
        .settings
        .password_policy
        .as_ref()
        .and_then(|p| p.max_password_age);
    let mut users: Vec<_> = acct.users.values().collect();
    users.sort_by(|a, b| a.name.cmp(&b.name));
    for user in users {
        let mfa = acct.mfa_devices.values().any(|d| {
            d.enable_date.is_some()
                && d.user_name
                    .as_deref()
                    .is_some_and(|u| u.eq_ignore_ascii_case(&user.name))
        });
        let (enabled, password_used, changed, next) = match &user.login_profile {
            Some(profile) => {
                let set: &Timestamp = profile
                    .password_set_date
                    .as_ref()
                    .unwrap_or(&profile.create_date);
                (
                    "true".to_owned(),
                    user.password_last_used
                        .as_deref()
                        .map_or_else(|| "no_information".to_owned(), iso),
                    iso(set),
                    max_age.map_or_else(|| NA.to_owned(), |days| plus_days(set, days)),
                )
            }
            None => (
                "false".to_owned(),
                NA.to_owned(),
                NA.to_owned(),
                NA.to_owned(),
            ),
        };
        let mut row = vec![
            user.name.clone(),
            crate::ops::entity_arn(account, "user", &user.path, &user.name),
            iso(&user.create_date),
            enabled,
            password_used,
            changed,
            next,
            flag(mfa),
        ];
        row.extend(credentials(state, account, Some(&user.name), last_used));
        out.write_record(&row).map_err(failed)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| IamError::ServiceFailure(format!("credential report: {e}")))?;
    String::from_utf8(bytes)
        .map_err(|e| IamError::ServiceFailure(format!("credential report: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_with_an_offset_and_rotation_counts_days() {
        assert_eq!(iso("2026-12-04T20:51:38Z"), "2026-12-04T20:51:38+00:00");
        assert_eq!(
            plus_days("2026-12-04T20:51:38Z", 30),
            "2027-01-03T20:51:38+00:00"
        );
        assert_eq!(COLUMNS.len(), 22);
    }
}
