//! Secrets never reach the trail: a request's parameters and a response's elements pass through
//! [`redact`] before an event is built. The value is replaced, not dropped, as CloudTrail does,
//! so a reader sees that the field was sent.

use serde_json::Value;

/// What a secret's value becomes (CloudTrail's marker).
pub const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

/// Field names (compared without case) whose values are secret, wherever they are nested:
/// secret keys, session tokens, passwords, MFA seeds and codes, private keys, identity tokens.
const SECRET_FIELDS: &[&str] = &[
    "secretaccesskey",
    "sessiontoken",
    "password",
    "oldpassword",
    "newpassword",
    "base32stringseed",
    "qrcodepng",
    "authenticationcode1",
    "authenticationcode2",
    "tokencode",
    "privatekey",
    "webidentitytoken",
    "samlassertion",
    "servicepassword",
    "seedsignature",
    "signingkey",
];

fn is_secret(name: &str) -> bool {
    SECRET_FIELDS.iter().any(|s| s.eq_ignore_ascii_case(name))
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
        });
        let out = redact(response).to_string();
        for secret in ["s3cr3t", "tok\"", "SEED", "hunter2"] {
            assert!(!out.contains(secret), "{secret} leaked: {out}");
        }
        assert!(out.contains("AKIA1") && out.contains("ASIA1") && out.contains("bob"));
        assert_eq!(out.matches(HIDDEN).count(), 4, "{out}");
    }

    #[test]
    fn a_field_not_sent_stays_absent() {
        assert_eq!(redact(json!({"password": null})), json!({"password": null}));
    }
}
