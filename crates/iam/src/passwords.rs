//! Console passwords: the account password policy's rules, argon2id hashing, and verification.
//!
//! A password is never logged, never returned and never stored: only its argon2id PHC string
//! (salted, default parameters: 19 MiB, 2 passes) is kept. Verification is argon2's own,
//! which compares the derived hashes in constant time. Messages never echo a password.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use subtle::ConstantTimeEq;

use crate::error::{IamError, IamResult};
use crate::model::{PasswordPolicy, Timestamp};

/// The characters AWS counts as symbols for `RequireSymbols`.
pub const SYMBOLS: &str = "!@#$%^&*()_+-=[]{}|'";

/// The minimum length when the account has no password policy.
pub const DEFAULT_MINIMUM_LENGTH: u32 = 8;

/// The minimum length a policy gets when `UpdateAccountPasswordPolicy` does not say.
pub const POLICY_DEFAULT_MINIMUM_LENGTH: u32 = 6;

/// The most password hashes kept per user (the largest `PasswordReusePrevention`).
pub const MAX_HISTORY: usize = 24;

/// The API's shape of a password: 1-128 characters of tab, newline, carriage return and
/// U+0020-U+00FF. `field` is the parameter's name in AWS's message (`password`,
/// `newPassword`...).
pub fn check_format(field: &str, password: &str) -> IamResult<()> {
    let length = password.chars().count();
    if !(1..=128).contains(&length) {
        return Err(IamError::ValidationError(format!(
            "1 validation error detected: Value at '{field}' failed to satisfy constraint: Member must have length less than or equal to 128 and greater than or equal to 1"
        )));
    }
    if !password
        .chars()
        .all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}'))
    {
        return Err(IamError::ValidationError(format!(
            "1 validation error detected: Value at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+"
        )));
    }
    Ok(())
}

fn violation(message: impl Into<String>) -> IamError {
    IamError::PasswordPolicyViolation(message.into())
}

/// Checks `password`'s composition against the account's policy, or, when there is none,
/// against AWS's default policy: at least 8 characters, at least three of uppercase letters,
/// lowercase letters, numbers and other characters, and not the account's id or alias.
pub fn check_policy(
    policy: Option<&PasswordPolicy>,
    password: &str,
    account_names: &[&str],
) -> IamResult<()> {
    let length = password.chars().count();
    let upper = password.chars().any(|c| c.is_ascii_uppercase());
    let lower = password.chars().any(|c| c.is_ascii_lowercase());
    let number = password.chars().any(|c| c.is_ascii_digit());
    match policy {
        Some(p) => {
            if length < p.minimum_password_length as usize {
                return Err(violation(format!(
                    "Password should have a minimum length of {}",
                    p.minimum_password_length
                )));
            }
            if p.require_uppercase_characters && !upper {
                return Err(violation(
                    "Password should have at least one uppercase letter",
                ));
            }
            if p.require_lowercase_characters && !lower {
                return Err(violation(
                    "Password should have at least one lowercase letter",
                ));
            }
            if p.require_numbers && !number {
                return Err(violation("Password should have at least one number"));
            }
            if p.require_symbols && !password.chars().any(|c| SYMBOLS.contains(c)) {
                return Err(violation(format!(
                    "Password should have at least one symbol ({SYMBOLS})"
                )));
            }
        }
        None => {
            if length < DEFAULT_MINIMUM_LENGTH as usize {
                return Err(violation(format!(
                    "Password should have a minimum length of {DEFAULT_MINIMUM_LENGTH}"
                )));
            }
            let other = password.chars().any(|c| !c.is_ascii_alphanumeric());
            if [upper, lower, number, other].iter().filter(|b| **b).count() < 3 {
                return Err(violation(
                    "Password should have at least three of the following: uppercase letters, lowercase letters, numbers and symbols",
                ));
            }
            if account_names
                .iter()
                .any(|n| n.eq_ignore_ascii_case(password))
            {
                return Err(violation(
                    "Password should not be the account's id or alias",
                ));
            }
        }
    }
    Ok(())
}

/// Whether `password` is one of the last `n` passwords in `history` (oldest first). `known`
/// is a (hash, password) pair already verified (ChangePassword's current password): that
/// entry is compared as text, in constant time, instead of being hashed again.
pub fn reused(history: &[String], n: usize, password: &str, known: Option<(&str, &str)>) -> bool {
    history.iter().rev().take(n).any(|hash| match known {
        Some((known_hash, known_password)) if hash == known_hash => {
            bool::from(known_password.as_bytes().ct_eq(password.as_bytes()))
        }
        _ => verify(hash, password),
    })
}

/// The argon2id PHC string of `password`, with a fresh random salt.
pub fn hash(password: &str) -> IamResult<String> {
    let hashed: Result<PasswordHash, _> = Argon2::default().hash_password(password.as_bytes());
    hashed
        .map(|h| h.to_string())
        .map_err(|_| IamError::ServiceFailure("The password could not be hashed.".into()))
}

/// Whether `password` matches the PHC string `hash` (false for a malformed hash).
pub fn verify(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Whether a password set at `set_date` has outlived the policy's `MaxPasswordAge` at unix
/// time `now`.
pub fn expired(policy: Option<&PasswordPolicy>, set_date: &Timestamp, now: i64) -> bool {
    let Some(days) = policy.and_then(|p| p.max_password_age) else {
        return false;
    };
    match time::OffsetDateTime::parse(set_date, &time::format_description::well_known::Rfc3339) {
        Ok(set) => now - set.unix_timestamp() >= i64::from(days) * 86_400,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> PasswordPolicy {
        PasswordPolicy {
            minimum_password_length: 10,
            require_symbols: true,
            require_numbers: true,
            require_uppercase_characters: true,
            require_lowercase_characters: true,
            allow_users_to_change_password: true,
            max_password_age: Some(30),
            password_reuse_prevention: Some(2),
            hard_expiry: false,
        }
    }

    #[test]
    fn default_policy_wants_eight_characters_of_three_kinds() {
        assert!(check_policy(None, "Abcdefg1", &[]).is_ok());
        assert!(check_policy(None, "Abcdef1", &[]).is_err());
        assert!(check_policy(None, "abcdefgh1", &[]).is_err());
        assert!(check_policy(None, "abcdefg1!", &[]).is_ok());
        assert!(check_policy(None, "My-Alias-1", &["my-alias-1"]).is_err());
    }

    #[test]
    fn each_rule_of_a_policy_is_enforced() {
        let p = policy();
        assert!(check_policy(Some(&p), "Abcdefgh1!", &[]).is_ok());
        let message = |pw: &str| check_policy(Some(&p), pw, &[]).unwrap_err().to_string();
        assert!(message("Abcdef1!").contains("minimum length of 10"));
        assert!(message("abcdefgh1!").contains("uppercase"));
        assert!(message("ABCDEFGH1!").contains("lowercase"));
        assert!(message("Abcdefghi!").contains("number"));
        assert!(message("Abcdefghi1").contains("symbol"));
    }

    #[test]
    fn formats_refused_without_echoing_the_password() {
        let e = check_format("password", "secret\u{100}").unwrap_err();
        assert!(!e.to_string().contains("secret"));
        assert!(check_format("password", "").is_err());
        assert!(check_format("password", &"a".repeat(129)).is_err());
        assert!(check_format("password", "tab\tok").is_ok());
    }

    #[test]
    fn hashes_verify_and_reuse_is_found_within_the_window() {
        let h1 = hash("first-Password1").unwrap();
        assert!(h1.starts_with("$argon2id$"));
        assert!(!h1.contains("first-Password1"));
        assert!(verify(&h1, "first-Password1"));
        assert!(!verify(&h1, "first-Password2"));
        assert!(!verify("not a hash", "x"));
        let h2 = hash("second-Password1").unwrap();
        let history = vec![h1, h2];
        assert!(reused(&history, 2, "first-Password1", None));
        assert!(!reused(&history, 1, "first-Password1", None));
        let last = history[history.len() - 1].as_str();
        assert!(reused(&history, 1, "same", Some((last, "same"))));
        assert!(!reused(&history, 1, "other", Some((last, "same"))));
    }

    #[test]
    fn passwords_expire_after_max_age() {
        let p = policy();
        let set = "2026-01-01T00:00:00Z".to_owned();
        let jan1 = 1_767_225_600;
        assert!(!expired(Some(&p), &set, jan1 + 29 * 86_400));
        assert!(expired(Some(&p), &set, jan1 + 30 * 86_400));
        assert!(!expired(None, &set, jan1 + 3000 * 86_400));
    }
}
