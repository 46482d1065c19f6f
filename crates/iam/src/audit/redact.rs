//! Secrets never reach the trail: a request's parameters and a response's elements pass through
//! [`redact`] before an event is built. The value is replaced, not dropped, as CloudTrail does,
//! so a reader sees that the field was sent.

use serde_json::Value;

/// What a secret's value becomes (CloudTrail's marker).
pub const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

/// What a secret field's name contains (compared without case), wherever it is nested:
/// secret keys, session tokens, passwords (`Password`, `OldPassword`, `NewPassword`), MFA
/// seeds and codes, private keys (`PrivateKey`, SAML's `AddPrivateKey`), identity tokens and
/// assertions, signing keys.
const SECRET_PARTS: &[&str] = &[
    "secretaccesskey",
    "sessiontoken",
    "password",
    "base32stringseed",
    "qrcodepng",
    "authenticationcode",
    "tokencode",
    "privatekey",
    "webidentitytoken",
    "samlassertion",
    "clientsecret",
    "seedsignature",
    "signingkey",
    "credentialsecret",
];

/// Field names that are secret only as a whole (the container credentials' `Token`).
const SECRET_NAMES: &[&str] = &["token"];

fn is_secret(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_PARTS.iter().any(|s| lower.contains(s)) || SECRET_NAMES.contains(&lower.as_str())
}

/// `value` with every secret field's value replaced by [`HIDDEN`], at any depth.
pub fn redact(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(name, v)| {
                    if is_secret(&name) && !v.is_null() {
                        (name, Value::String(HIDDEN.to_owned()))
                    } else {
                        (name, redact(v))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_hidden_at_any_depth_and_in_any_case() {
        let response = json!({
            "accessKey": {"accessKeyId": "AKIA1", "secretAccessKey": "s3cr3t", "status": "Active"},
            "credentials": {"AccessKeyId": "ASIA1", "SessionToken": "tok", "Expiration": "x"},
            "virtualMFADevice": {"serialNumber": "arn", "base32StringSeed": "SEED"},
            "list": [{"password": "hunter2"}, {"userName": "bob"}],
            "addPrivateKey": "-----BEGIN PRIVATE KEY-----",
            "Token": "IQoJ",
        });
        let out = redact(response).to_string();
        for secret in ["s3cr3t", "tok\"", "SEED", "hunter2", "BEGIN", "IQoJ"] {
            assert!(!out.contains(secret), "{secret} leaked: {out}");
        }
        assert!(out.contains("AKIA1") && out.contains("ASIA1") && out.contains("bob"));
        assert_eq!(out.matches(HIDDEN).count(), 6, "{out}");
    }

    #[test]
    fn a_field_not_sent_stays_absent() {
        assert_eq!(redact(json!({"password": null})), json!({"password": null}));
    }
}
