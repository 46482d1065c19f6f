//! Account-wide actions: the password policy, the alias, the summary, the credential
//! report. They act on the caller's account and are authorized on resource `*`, as AWS's have
//! no resource type.

use portcullis_iam::model::PasswordPolicy;
use portcullis_iam::ops::account;
use portcullis_iam::passwords::POLICY_DEFAULT_MINIMUM_LENGTH;

use super::{Call, CallKeys, page_footer};
use crate::error::ApiError;
use crate::xml::Xml;

pub fn update_account_password_policy(call: &Call<'_>) -> Result<Xml, ApiError> {
    let p = call.params;
    // Every out-of-range number is listed in one ValidationError, as AWS's request
    // validation does.
    let violations = std::cell::RefCell::new(Vec::new());
    let int = |name: &str, min: i64, max: i64| -> Option<u32> {
        match p.int(name, min, max) {
            Ok(v) => v.and_then(|v| u32::try_from(v).ok()),
            Err(e) => {
                let listed = e.message.split_once(" detected: ").map_or("", |(_, v)| v);
                violations.borrow_mut().push(listed.to_owned());
                None
            }
        }
    };
    let flag = |name: &str| -> Result<bool, ApiError> { Ok(p.bool(name)?.unwrap_or(false)) };
    let minimum_password_length =
        int("MinimumPasswordLength", 6, 128).unwrap_or(POLICY_DEFAULT_MINIMUM_LENGTH);
    let max_password_age = int("MaxPasswordAge", 1, 1095);
    let password_reuse_prevention = int("PasswordReusePrevention", 1, 24);
    let violations = violations.into_inner();
    if !violations.is_empty() {
        return Err(portcullis_iam::names::coral(&violations).into());
    }
    let policy = PasswordPolicy {
        minimum_password_length,
        require_symbols: flag("RequireSymbols")?,
        require_numbers: flag("RequireNumbers")?,
        require_uppercase_characters: flag("RequireUppercaseCharacters")?,
        require_lowercase_characters: flag("RequireLowercaseCharacters")?,
        allow_users_to_change_password: flag("AllowUsersToChangePassword")?,
        max_password_age,
        password_reuse_prevention,
        hard_expiry: flag("HardExpiry")?,
    };
    call.authorize("iam:UpdateAccountPasswordPolicy", "*", CallKeys::default())?;
    call.service
        .write(|s, t| account::update_password_policy(s, t, call.account(), policy))?;
    Ok(Xml::new())
}

pub fn get_account_password_policy(call: &Call<'_>) -> Result<Xml, ApiError> {
    call.authorize("iam:GetAccountPasswordPolicy", "*", CallKeys::default())?;
    let policy = account::get_password_policy(&call.snapshot.state, call.account())?;
    let mut x = Xml::new();
    x.elem("PasswordPolicy", |x| {
        x.num("MinimumPasswordLength", policy.minimum_password_length)
            .bool("RequireSymbols", policy.require_symbols)
            .bool("RequireNumbers", policy.require_numbers)
            .bool(
                "RequireUppercaseCharacters",
                policy.require_uppercase_characters,
            )
            .bool(
                "RequireLowercaseCharacters",
                policy.require_lowercase_characters,
            )
            .bool(
                "AllowUsersToChangePassword",
                policy.allow_users_to_change_password,
            )
            .bool("ExpirePasswords", policy.max_password_age.is_some());
        if let Some(age) = policy.max_password_age {
            x.num("MaxPasswordAge", age);
        }
        if let Some(n) = policy.password_reuse_prevention {
            x.num("PasswordReusePrevention", n);
        }
        x.bool("HardExpiry", policy.hard_expiry);
    });
    Ok(x)
}

pub fn delete_account_password_policy(call: &Call<'_>) -> Result<Xml, ApiError> {
    call.authorize("iam:DeleteAccountPasswordPolicy", "*", CallKeys::default())?;
    call.service
        .write(|s, t| account::delete_password_policy(s, t, call.account()))?;
    Ok(Xml::new())
}

pub fn create_account_alias(call: &Call<'_>) -> Result<Xml, ApiError> {
    let alias = call.params.required("AccountAlias")?;
    call.authorize("iam:CreateAccountAlias", "*", CallKeys::default())?;
    call.service
        .write(|s, t| account::create_alias(s, t, call.account(), alias))?;
    Ok(Xml::new())
}

pub fn list_account_aliases(call: &Call<'_>) -> Result<Xml, ApiError> {
    call.authorize("iam:ListAccountAliases", "*", CallKeys::default())?;
    let aliases: Vec<String> = call
        .snapshot
        .state
        .account(call.account())?
        .settings
        .alias
        .iter()
        .cloned()
        .collect();
    let (page, next) = call.paginate(aliases, Clone::clone)?;
    let mut x = Xml::new();
    x.list("AccountAliases", page, |x, a| {
        x.text_only(&a);
    });
    page_footer(&mut x, next);
    Ok(x)
}

pub fn delete_account_alias(call: &Call<'_>) -> Result<Xml, ApiError> {
    let alias = call.params.required("AccountAlias")?;
    call.authorize("iam:DeleteAccountAlias", "*", CallKeys::default())?;
    call.service
        .write(|s, t| account::delete_alias(s, t, call.account(), alias))?;
    Ok(Xml::new())
}

pub fn set_security_token_service_preferences(call: &Call<'_>) -> Result<Xml, ApiError> {
    let version = call.params.required("GlobalEndpointTokenVersion")?;
    if !matches!(version, "v1Token" | "v2Token") {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{version}' at 'globalEndpointTokenVersion' failed to satisfy constraint: Member must satisfy enum value set: [v1Token, v2Token]"
        )));
    }
    call.authorize(
        "iam:SetSecurityTokenServicePreferences",
        "*",
        CallKeys::default(),
    )?;
    call.service
        .write(|s, t| account::set_sts_preferences(s, t, call.account(), version))?;
    Ok(Xml::new())
}

pub fn get_account_summary(call: &Call<'_>) -> Result<Xml, ApiError> {
    call.authorize("iam:GetAccountSummary", "*", CallKeys::default())?;
    let summary = account::summary(&call.snapshot.state, call.account())?;
    let mut x = Xml::new();
    x.elem("SummaryMap", |x| {
        for (key, value) in summary {
            x.elem("entry", |x| {
                x.text("key", key).num("value", value);
            });
        }
    });
    Ok(x)
}

/// GenerateCredentialReport: the report is made at once from the current state (so the
/// answer is `COMPLETE`), unless one younger than four hours exists, as AWS keeps it.
pub fn generate_credential_report(call: &Call<'_>) -> Result<Xml, ApiError> {
    call.authorize("iam:GenerateCredentialReport", "*", CallKeys::default())?;
    call.service
        .generate_credential_report(call.account(), call.env.now)?;
    let mut x = Xml::new();
    x.text("State", "COMPLETE");
    Ok(x)
}

/// GetCredentialReport: AWS's CSV, base64-encoded, with when it was generated.
pub fn get_credential_report(call: &Call<'_>) -> Result<Xml, ApiError> {
    use base64::Engine;
    call.authorize("iam:GetCredentialReport", "*", CallKeys::default())?;
    let report = call
        .service
        .credential_report(call.account(), call.env.now)?;
    let mut x = Xml::new();
    x.text(
        "Content",
        &base64::engine::general_purpose::STANDARD.encode(report.csv.as_bytes()),
    )
    .text("ReportFormat", "text/csv")
    .text("GeneratedTime", &report.generated);
    Ok(x)
}
