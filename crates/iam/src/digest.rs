//! A digest of every entity the state holds, so that tests and operators can prove that a
//! refused request changed nothing: compare [`IamState::digest`] before and after.
//!
//! The rendering is canonical: accounts, entities and access keys in key order (the maps are
//! ordered), each entity as its stored JSON. Secrets that rows keep beside themselves (access
//! key secrets, MFA seeds, private keys) count by their SHA-256, so replacing one shows.
//! Usage timestamps (an access key's and a role's last use, a password's last use) are left
//! out: they change on any authenticated call, refused or not.

use std::io::Write;

use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::model::Secret;
use crate::state::{AccountState, IamState};

/// `io::Write` into a SHA-256, so the rendering is never held in memory whole.
struct HashWriter(Sha256);

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn secret_hash(secret: &Secret) -> String {
    hex(&Sha256::digest(secret.expose().as_bytes()))
}

/// An entity as JSON, without the named usage fields; a secret's hash added under `secret`.
fn render(entity: &impl Serialize, usage: &[&str], secrets: &[&Secret]) -> Value {
    let mut value = serde_json::to_value(entity).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        for field in usage {
            map.remove(*field);
        }
        if !secrets.is_empty() {
            let hashes: Vec<String> = secrets.iter().map(|s| secret_hash(s)).collect();
            map.insert("secret".into(), json!(hashes));
        }
    }
    value
}

fn table<'a, T: 'a>(
    entries: impl IntoIterator<Item = (&'a String, &'a T)>,
    each: impl Fn(&T) -> Value,
) -> Value {
    Value::Array(
        entries
            .into_iter()
            .map(|(key, entity)| json!([key, each(entity)]))
            .collect(),
    )
}

fn account(a: &AccountState) -> Value {
    json!({
        "settings": render(&a.settings, &[], &[]),
        "users": table(&a.users, |u| render(u, &["password_last_used"], &[])),
        "groups": table(&a.groups, |g| render(g, &[], &[])),
        "roles": table(&a.roles, |r| render(r, &["last_used"], &[])),
        "policies": table(&a.policies, |p| render(p, &[], &[])),
        "instance_profiles": table(&a.instance_profiles, |p| render(p, &[], &[])),
        "ssh_public_keys": table(&a.ssh_public_keys, |k| render(k, &[], &[])),
        "signing_certificates": table(&a.signing_certificates, |c| render(c, &[], &[])),
        "oidc_providers": table(&a.oidc_providers, |p| render(p, &[], &[])),
        "saml_providers": table(&a.saml_providers, |p| {
            let keys: Vec<&Secret> = p.private_keys.iter().map(|k| &k.key).collect();
            render(p, &[], &keys)
        }),
        "server_certificates": table(&a.server_certificates, |c| {
            render(c, &[], &[&c.private_key])
        }),
        "mfa_devices": table(&a.mfa_devices, |d| render(d, &[], &[&d.seed])),
    })
}

impl IamState {
    /// SHA-256 (lowercase hex) over a canonical rendering of every account's entities, access
    /// keys and settings, leaving out usage timestamps (see the module documentation).
    pub fn digest(&self) -> String {
        let mut hasher = HashWriter(Sha256::new());
        for (id, a) in &self.accounts {
            let _ = serde_json::to_writer(&mut hasher, &json!(["account", id, account(a)]));
        }
        for (id, k) in &self.access_keys {
            let key = json!({
                "account_id": k.account_id,
                "user_name": k.user_name,
                "status": k.status,
                "create_date": k.create_date,
                "secret": secret_hash(&k.secret),
            });
            let _ = serde_json::to_writer(&mut hasher, &json!(["access_key", id, key]));
        }
        hex(&hasher.0.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RoleLastUsed;

    #[test]
    fn usage_is_left_out_and_entities_count() {
        let mut state = IamState::default();
        let empty = state.digest();
        assert_eq!(empty, IamState::default().digest());
        assert_eq!(empty.len(), 64);
        let mut account = AccountState::default();
        account.settings.account_id = "111122223333".into();
        state.accounts.insert("111122223333".into(), account);
        let with_account = state.digest();
        assert_ne!(with_account, empty);

        let role: crate::model::Role = serde_json::from_value(json!({
            "role_id": "AROAEXAMPLE", "name": "r", "path": "/", "create_date": "2026-01-01T00:00:00Z",
            "max_session_duration": 3600,
            "assume_role_policy": {
                "text": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"*\"},\"Action\":\"sts:AssumeRole\"}]}",
                "kind": "trust"
            }
        }))
        .expect("role");
        let a = state.accounts.get_mut("111122223333").expect("account");
        a.roles.insert("r".into(), role);
        let with_role = state.digest();
        assert_ne!(with_role, with_account);
        let a = state.accounts.get_mut("111122223333").expect("account");
        if let Some(r) = a.roles.get_mut("r") {
            r.last_used = Some(RoleLastUsed {
                last_used_date: "2026-01-02T00:00:00Z".to_owned(),
                region: "us-east-1".into(),
            });
            r.description = None;
        }
        assert_eq!(state.digest(), with_role);
    }
}
