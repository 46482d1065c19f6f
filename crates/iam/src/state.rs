//! The in-memory IAM state: persistent (structurally shared) maps, so a writer clones the whole
//! state in O(1), changes its copy, commits the change to the store, and then publishes the
//! copy as the new snapshot. Readers never wait.

use std::collections::BTreeSet;

use imbl::OrdMap;
use serde::{Deserialize, Serialize};

use crate::error::{IamError, IamResult};
use crate::model::{
    AccessKey, AccessKeyLastUsed, AccountSettings, Group, InstanceProfile, KeyStatus,
    ManagedPolicy, OidcProvider, Role, SamlProvider, Secret, ServerCertificate, SigningCertificate,
    SshPublicKey, Timestamp, User, VirtualMfaDevice,
};
use crate::seal::{MasterKey, SealError, SealedField};
use crate::store::{Change, Row, Table};

/// One account's entities. Users, groups and roles are keyed by lowercased name (names are
/// unique case-insensitively); customer managed policies by ARN.
#[derive(Debug, Clone, Default)]
pub struct AccountState {
    pub settings: AccountSettings,
    pub users: OrdMap<String, User>,
    pub groups: OrdMap<String, Group>,
    pub roles: OrdMap<String, Role>,
    pub policies: OrdMap<String, ManagedPolicy>,
    /// Instance profiles, by lowercased name.
    pub instance_profiles: OrdMap<String, InstanceProfile>,
    /// Users' SSH public keys, by key id.
    pub ssh_public_keys: OrdMap<String, SshPublicKey>,
    /// Signing certificates of users and of root, by certificate id.
    pub signing_certificates: OrdMap<String, SigningCertificate>,
    /// OpenID Connect providers, by URL without `https://` (the ARN's resource after
    /// `oidc-provider/`).
    pub oidc_providers: OrdMap<String, OidcProvider>,
    /// SAML providers, by lowercased name.
    pub saml_providers: OrdMap<String, SamlProvider>,
    /// Server certificates, by lowercased name.
    pub server_certificates: OrdMap<String, ServerCertificate>,
    /// Virtual MFA devices, by [`crate::ops::mfa::device_key`]: the lowercased serial number
    /// after `mfa/`.
    pub mfa_devices: OrdMap<String, VirtualMfaDevice>,
}

/// Everything.
#[derive(Debug, Clone, Default)]
pub struct IamState {
    pub accounts: OrdMap<String, AccountState>,
    /// Long-term access keys of every account, by key id.
    pub access_keys: OrdMap<String, AccessKey>,
    /// Quotas of this deployment (not stored: they come from configuration).
    pub limits: Limits,
}

/// Account quotas an operator may raise above AWS's defaults, and the bounds on guessing
/// credentials (see [`crate::attempts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Users per account (AWS: 5,000).
    pub max_users: usize,
    /// Consecutive wrong codes that lock an MFA device.
    pub mfa_max_failures: u32,
    /// How long a locked MFA device refuses every code.
    pub mfa_lockout: std::time::Duration,
    /// Password verifications (ChangePassword's `OldPassword`) per user per minute.
    pub password_checks_per_minute: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_users: 5_000,
            mfa_max_failures: crate::attempts::MFA_MAX_FAILURES,
            mfa_lockout: crate::attempts::MFA_LOCKOUT,
            password_checks_per_minute: crate::attempts::PASSWORD_CHECKS_PER_MINUTE,
        }
    }
}

/// How an access key is stored: the secret sealed.
#[derive(Serialize, Deserialize)]
struct StoredAccessKey {
    access_key_id: String,
    user_name: Option<String>,
    status: KeyStatus,
    create_date: Timestamp,
    secret_sealed: String,
    last_used: Option<AccessKeyLastUsed>,
}

/// How a server certificate is stored: the private key sealed beside the row.
#[derive(Serialize, Deserialize)]
struct StoredServerCertificate {
    #[serde(flatten)]
    certificate: ServerCertificate,
    private_key_sealed: String,
}

/// How a SAML provider is stored: its decryption keys sealed, in the order of `private_keys`.
#[derive(Serialize, Deserialize)]
struct StoredSamlProvider {
    #[serde(flatten)]
    provider: SamlProvider,
    #[serde(default)]
    private_keys_sealed: Vec<String>,
}

/// How a virtual MFA device is stored: its seed sealed beside the row.
#[derive(Serialize, Deserialize)]
struct StoredMfaDevice {
    #[serde(flatten)]
    device: VirtualMfaDevice,
    seed_sealed: String,
}

/// The rows a write touched; turned into store changes from the state after the write.
#[derive(Debug, Default)]
pub struct Touched {
    rows: BTreeSet<(Table, String, String)>,
}

impl Touched {
    /// Adds what `other` touched.
    pub fn merge(&mut self, other: Touched) {
        self.rows.extend(other.rows);
    }

    pub fn user(&mut self, account: &str, name: &str) {
        self.rows
            .insert((Table::Users, account.to_owned(), name.to_lowercase()));
    }

    pub fn group(&mut self, account: &str, name: &str) {
        self.rows
            .insert((Table::Groups, account.to_owned(), name.to_lowercase()));
    }

    pub fn role(&mut self, account: &str, name: &str) {
        self.rows
            .insert((Table::Roles, account.to_owned(), name.to_lowercase()));
    }

    pub fn instance_profile(&mut self, account: &str, name: &str) {
        self.rows.insert((
            Table::InstanceProfiles,
            account.to_owned(),
            name.to_lowercase(),
        ));
    }

    pub fn policy(&mut self, account: &str, arn: &str) {
        self.rows
            .insert((Table::Policies, account.to_owned(), arn.to_owned()));
    }

    pub fn access_key(&mut self, account: &str, key_id: &str) {
        self.rows
            .insert((Table::AccessKeys, account.to_owned(), key_id.to_owned()));
    }

    pub fn ssh_public_key(&mut self, account: &str, key_id: &str) {
        self.rows
            .insert((Table::SshPublicKeys, account.to_owned(), key_id.to_owned()));
    }

    pub fn signing_certificate(&mut self, account: &str, certificate_id: &str) {
        self.rows.insert((
            Table::SigningCertificates,
            account.to_owned(),
            certificate_id.to_owned(),
        ));
    }

    pub fn oidc_provider(&mut self, account: &str, url: &str) {
        self.rows
            .insert((Table::OidcProviders, account.to_owned(), url.to_owned()));
    }

    pub fn saml_provider(&mut self, account: &str, name: &str) {
        self.rows.insert((
            Table::SamlProviders,
            account.to_owned(),
            name.to_lowercase(),
        ));
    }

    pub fn server_certificate(&mut self, account: &str, name: &str) {
        self.rows.insert((
            Table::ServerCertificates,
            account.to_owned(),
            name.to_lowercase(),
        ));
    }

    /// A virtual MFA device, by its [`crate::ops::mfa::device_key`].
    pub fn mfa_device(&mut self, account: &str, key: &str) {
        self.rows
            .insert((Table::MfaDevices, account.to_owned(), key.to_owned()));
    }

    pub fn account(&mut self, account: &str) {
        self.rows
            .insert((Table::Accounts, account.to_owned(), "settings".to_owned()));
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// How many rows were touched.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// The store changes that bring the store to `state` for every touched row.
    pub fn changes(&self, state: &IamState, key: &MasterKey) -> IamResult<Vec<Change>> {
        let json = |v: Result<String, serde_json::Error>| {
            v.map_err(|e| IamError::ServiceFailure(e.to_string()))
        };
        let mut out = Vec::with_capacity(self.rows.len());
        for (table, account_id, row_key) in &self.rows {
            let account = state.accounts.get(account_id);
            let data = match table {
                Table::Accounts => account
                    .map(|a| json(serde_json::to_string(&a.settings)))
                    .transpose()?,
                Table::Users => account
                    .and_then(|a| a.users.get(row_key))
                    .map(|u| json(serde_json::to_string(u)))
                    .transpose()?,
                Table::Groups => account
                    .and_then(|a| a.groups.get(row_key))
                    .map(|g| json(serde_json::to_string(g)))
                    .transpose()?,
                Table::Roles => account
                    .and_then(|a| a.roles.get(row_key))
                    .map(|r| json(serde_json::to_string(r)))
                    .transpose()?,
                Table::Policies => account
                    .and_then(|a| a.policies.get(row_key))
                    .map(|p| json(serde_json::to_string(p)))
                    .transpose()?,
                Table::InstanceProfiles => account
                    .and_then(|a| a.instance_profiles.get(row_key))
                    .map(|p| json(serde_json::to_string(p)))
                    .transpose()?,
                Table::SshPublicKeys => account
                    .and_then(|a| a.ssh_public_keys.get(row_key))
                    .map(|k| json(serde_json::to_string(k)))
                    .transpose()?,
                Table::SigningCertificates => account
                    .and_then(|a| a.signing_certificates.get(row_key))
                    .map(|c| json(serde_json::to_string(c)))
                    .transpose()?,
                Table::AccessKeys => state
                    .access_keys
                    .get(row_key)
                    .map(|k| {
                        json(serde_json::to_string(&StoredAccessKey {
                            access_key_id: k.access_key_id.clone(),
                            user_name: k.user_name.clone(),
                            status: k.status,
                            create_date: k.create_date.clone(),
                            secret_sealed: key.seal_field(
                                k.secret.expose(),
                                &SealedField::AccessKeySecret {
                                    account: account_id,
                                    access_key_id: row_key,
                                },
                            ),
                            last_used: k.last_used.clone(),
                        }))
                    })
                    .transpose()?,
                Table::OidcProviders => account
                    .and_then(|a| a.oidc_providers.get(row_key))
                    .map(|p| json(serde_json::to_string(p)))
                    .transpose()?,
                Table::SamlProviders => account
                    .and_then(|a| a.saml_providers.get(row_key))
                    .map(|p| {
                        json(serde_json::to_string(&StoredSamlProvider {
                            provider: p.clone(),
                            private_keys_sealed: p
                                .private_keys
                                .iter()
                                .map(|k| {
                                    key.seal_field(
                                        k.key.expose(),
                                        &SealedField::SamlPrivateKey {
                                            account: account_id,
                                            provider: row_key,
                                            key_id: &k.key_id,
                                        },
                                    )
                                })
                                .collect(),
                        }))
                    })
                    .transpose()?,
                Table::ServerCertificates => account
                    .and_then(|a| a.server_certificates.get(row_key))
                    .map(|c| {
                        json(serde_json::to_string(&StoredServerCertificate {
                            certificate: c.clone(),
                            private_key_sealed: key.seal_field(
                                c.private_key.expose(),
                                &SealedField::ServerCertificateKey {
                                    account: account_id,
                                    certificate: row_key,
                                },
                            ),
                        }))
                    })
                    .transpose()?,
                Table::MfaDevices => account
                    .and_then(|a| a.mfa_devices.get(row_key))
                    .map(|d| {
                        json(serde_json::to_string(&StoredMfaDevice {
                            device: d.clone(),
                            seed_sealed: key.seal_field(
                                d.seed.expose(),
                                &SealedField::MfaSeed {
                                    account: account_id,
                                    device: row_key,
                                },
                            ),
                        }))
                    })
                    .transpose()?,
                // Never touched through here: the store's own facts are written apart.
                Table::Meta => continue,
            };
            out.push(Change {
                table: *table,
                account_id: account_id.clone(),
                key: row_key.clone(),
                data,
            });
        }
        Ok(out)
    }
}

/// Opens the sealed fields of stored rows: only in the current format, or, during the one-time
/// migration, also in the legacy one (whose rows are then noted, to be sealed again).
struct Opener<'a> {
    key: &'a MasterKey,
    legacy: Option<&'a mut Touched>,
}

impl Opener<'_> {
    fn open(&mut self, sealed: &str, field: &SealedField, row: &Row) -> Result<String, SealError> {
        match self.key.open_field(sealed, field) {
            Ok(plain) => Ok(plain),
            Err(e) => match &mut self.legacy {
                Some(touched) => {
                    let plain = self.key.open_legacy(sealed)?;
                    touched
                        .rows
                        .insert((row.table, row.account_id.clone(), row.key.clone()));
                    Ok(plain)
                }
                None => Err(e),
            },
        }
    }
}

impl IamState {
    /// Rebuilds the state from stored rows, opening sealed secrets with `key`, bound to their
    /// rows. With `legacy` (the one-time migration only), values sealed in the legacy form
    /// (empty associated data) are opened too, and their rows are noted in `legacy`.
    pub fn from_rows(
        rows: Vec<Row>,
        key: &MasterKey,
        legacy: Option<&mut Touched>,
    ) -> Result<IamState, String> {
        let mut opener = Opener { key, legacy };
        let mut state = IamState::default();
        for row in rows {
            state.put_row(row, &mut opener)?;
        }
        Ok(state)
    }

    /// Applies what another node committed (rows in their stored form, in commit order):
    /// each row replaces the entity it holds, or removes it.
    pub fn apply_changes(&mut self, changes: Vec<Change>, key: &MasterKey) -> Result<(), String> {
        let mut opener = Opener { key, legacy: None };
        for change in changes {
            match change.data {
                Some(data) => self.put_row(
                    Row {
                        table: change.table,
                        account_id: change.account_id,
                        key: change.key,
                        data,
                    },
                    &mut opener,
                )?,
                None => self.remove_row(change.table, &change.account_id, &change.key),
            }
        }
        Ok(())
    }

    /// Removes the entity the row `key` of `table` held.
    fn remove_row(&mut self, table: Table, account_id: &str, key: &str) {
        if table == Table::AccessKeys {
            self.access_keys.remove(key);
            return;
        }
        if table == Table::Accounts {
            self.accounts.remove(account_id);
            return;
        }
        let Some(account) = self.accounts.get_mut(account_id) else {
            return;
        };
        match table {
            Table::Users => drop(account.users.remove(key)),
            Table::Groups => drop(account.groups.remove(key)),
            Table::Roles => drop(account.roles.remove(key)),
            Table::Policies => drop(account.policies.remove(key)),
            Table::InstanceProfiles => drop(account.instance_profiles.remove(key)),
            Table::SshPublicKeys => drop(account.ssh_public_keys.remove(key)),
            Table::SigningCertificates => drop(account.signing_certificates.remove(key)),
            Table::OidcProviders => drop(account.oidc_providers.remove(key)),
            Table::SamlProviders => drop(account.saml_providers.remove(key)),
            Table::ServerCertificates => drop(account.server_certificates.remove(key)),
            Table::MfaDevices => drop(account.mfa_devices.remove(key)),
            Table::AccessKeys | Table::Accounts | Table::Meta => {}
        }
    }

    /// Puts the entity a stored row holds into the state (replacing what was there).
    fn put_row(&mut self, row: Row, opener: &mut Opener<'_>) -> Result<(), String> {
        let bad = |e: serde_json::Error| {
            format!(
                "{} row {}/{}: {e}",
                row.table.name(),
                row.account_id,
                row.key
            )
        };
        let account = self.accounts.entry(row.account_id.clone()).or_default();
        match row.table {
            Table::Accounts => account.settings = serde_json::from_str(&row.data).map_err(bad)?,
            Table::Users => {
                account.users.insert(
                    row.key.clone(),
                    serde_json::from_str(&row.data).map_err(bad)?,
                );
            }
            Table::Groups => {
                account.groups.insert(
                    row.key.clone(),
                    serde_json::from_str(&row.data).map_err(bad)?,
                );
            }
            Table::Roles => {
                account.roles.insert(
                    row.key.clone(),
                    serde_json::from_str(&row.data).map_err(bad)?,
                );
            }
            Table::Policies => {
                account.policies.insert(
                    row.key.clone(),
                    serde_json::from_str(&row.data).map_err(bad)?,
                );
            }
            Table::InstanceProfiles => {
                account.instance_profiles.insert(
                    row.key.clone(),
                    serde_json::from_str(&row.data).map_err(bad)?,
                );
            }
            Table::SshPublicKeys => {
                account.ssh_public_keys.insert(
                    row.key.clone(),
                    serde_json::from_str(&row.data).map_err(bad)?,
                );
            }
            Table::SigningCertificates => {
                account.signing_certificates.insert(
                    row.key.clone(),
                    serde_json::from_str(&row.data).map_err(bad)?,
                );
            }
            Table::AccessKeys => {
                let stored: StoredAccessKey = serde_json::from_str(&row.data).map_err(bad)?;
                if stored.access_key_id != row.key {
                    return Err(format!(
                        "access_keys row {}/{} holds access key {}",
                        row.account_id, row.key, stored.access_key_id
                    ));
                }
                let field = SealedField::AccessKeySecret {
                    account: &row.account_id,
                    access_key_id: &row.key,
                };
                let secret = opener
                    .open(&stored.secret_sealed, &field, &row)
                    .map_err(|e| format!("access key {}: {e}", stored.access_key_id))?;
                self.access_keys.insert(
                    stored.access_key_id.clone(),
                    AccessKey {
                        access_key_id: stored.access_key_id,
                        account_id: row.account_id.clone(),
                        user_name: stored.user_name,
                        status: stored.status,
                        create_date: stored.create_date,
                        secret: Secret::new(secret),
                        last_used: stored.last_used,
                    },
                );
            }
            Table::OidcProviders => {
                account.oidc_providers.insert(
                    row.key.clone(),
                    serde_json::from_str(&row.data).map_err(bad)?,
                );
            }
            Table::SamlProviders => {
                let stored: StoredSamlProvider = serde_json::from_str(&row.data).map_err(bad)?;
                let mut provider = stored.provider;
                if provider.private_keys.len() != stored.private_keys_sealed.len() {
                    return Err(format!(
                        "SAML provider {}: its sealed keys do not match its key list",
                        provider.name
                    ));
                }
                for (k, sealed) in provider
                    .private_keys
                    .iter_mut()
                    .zip(&stored.private_keys_sealed)
                {
                    let field = SealedField::SamlPrivateKey {
                        account: &row.account_id,
                        provider: &row.key,
                        key_id: &k.key_id,
                    };
                    k.key = Secret::new(
                        opener
                            .open(sealed, &field, &row)
                            .map_err(|e| format!("SAML provider {}: {e}", provider.name))?,
                    );
                }
                account.saml_providers.insert(row.key.clone(), provider);
            }
            Table::ServerCertificates => {
                let stored: StoredServerCertificate =
                    serde_json::from_str(&row.data).map_err(bad)?;
                let mut certificate = stored.certificate;
                let field = SealedField::ServerCertificateKey {
                    account: &row.account_id,
                    certificate: &row.key,
                };
                certificate.private_key = Secret::new(
                    opener
                        .open(&stored.private_key_sealed, &field, &row)
                        .map_err(|e| format!("server certificate {}: {e}", certificate.name))?,
                );
                account
                    .server_certificates
                    .insert(row.key.clone(), certificate);
            }
            Table::Meta => {}
            Table::MfaDevices => {
                let stored: StoredMfaDevice = serde_json::from_str(&row.data).map_err(bad)?;
                let mut device = stored.device;
                let field = SealedField::MfaSeed {
                    account: &row.account_id,
                    device: &row.key,
                };
                device.seed = Secret::new(
                    opener
                        .open(&stored.seed_sealed, &field, &row)
                        .map_err(|e| format!("MFA device {}: {e}", device.name))?,
                );
                account.mfa_devices.insert(row.key.clone(), device);
            }
        }
        Ok(())
    }

    pub fn account(&self, account_id: &str) -> IamResult<&AccountState> {
        self.accounts.get(account_id).ok_or_else(|| {
            IamError::NoSuchEntity(format!("The account {account_id} does not exist."))
        })
    }

    pub fn account_mut(&mut self, account_id: &str) -> IamResult<&mut AccountState> {
        self.accounts.get_mut(account_id).ok_or_else(|| {
            IamError::NoSuchEntity(format!("The account {account_id} does not exist."))
        })
    }
}
