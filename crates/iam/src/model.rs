//! The IAM entities, as kept in memory and (as JSON rows) in the store.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use portcullis_policy::{Policy, PolicyKind, parse_policy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An ISO 8601 UTC time as AWS returns it (`2026-11-23T12:00:00Z`).
pub type Timestamp = String;

/// Now, as a [`Timestamp`].
pub fn now_timestamp() -> Timestamp {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// A tag on a taggable entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// A policy document: the text as the caller gave it, and its parsed form.
#[derive(Clone)]
pub struct PolicyDocument {
    pub text: String,
    pub kind: PolicyKind,
    pub parsed: Arc<Policy>,
}

impl fmt::Debug for PolicyDocument {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("PolicyDocument")
            .field("text", &self.text)
            .finish()
    }
}

impl PolicyDocument {
    /// Parses and validates `text` as a `kind` policy; the error is AWS's
    /// `MalformedPolicyDocument` message.
    pub fn parse(text: &str, kind: PolicyKind) -> Result<PolicyDocument, String> {
        let parsed = parse_policy(text, kind).map_err(|e| e.aws_message())?;
        Ok(PolicyDocument {
            text: text.to_owned(),
            kind,
            parsed: Arc::new(parsed),
        })
    }
}

impl PolicyDocument {
    /// Parses without the kind's size limit (for inline policies, whose limit is the
    /// holder's aggregate).
    pub fn parse_unbounded(text: &str, kind: PolicyKind) -> Result<PolicyDocument, String> {
        let findings = portcullis_policy::validate(text, kind);
        let errors: Vec<portcullis_policy::Finding> = findings
            .into_iter()
            .filter(|f| f.is_error() && !f.message.contains("quota for PolicySize"))
            .collect();
        if !errors.is_empty() {
            return Err(portcullis_policy::PolicyError { findings: errors }.aws_message());
        }
        let parsed = portcullis_policy::Policy::parse(text).map_err(|e| e.aws_message())?;
        Ok(PolicyDocument {
            text: text.to_owned(),
            kind,
            parsed: Arc::new(parsed),
        })
    }
}

#[derive(Serialize, Deserialize)]
struct StoredDocument {
    text: String,
    kind: String,
}

impl Serialize for PolicyDocument {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        StoredDocument {
            text: self.text.clone(),
            kind: self.kind.name().to_owned(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for PolicyDocument {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<PolicyDocument, D::Error> {
        let stored = StoredDocument::deserialize(deserializer)?;
        let kind: PolicyKind = stored.kind.parse().map_err(serde::de::Error::custom)?;
        PolicyDocument::parse_unbounded(&stored.text, kind).map_err(serde::de::Error::custom)
    }
}

/// A console password.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginProfile {
    /// argon2id PHC string.
    pub password_hash: String,
    pub create_date: Timestamp,
    pub password_reset_required: bool,
    /// When the current password was set (its age counts from here); `create_date` when
    /// absent.
    #[serde(default)]
    pub password_set_date: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub user_id: String,
    pub name: String,
    pub path: String,
    pub create_date: Timestamp,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub permissions_boundary: Option<String>,
    #[serde(default)]
    pub inline_policies: BTreeMap<String, PolicyDocument>,
    #[serde(default)]
    pub attached_policies: Vec<String>,
    /// Names of the groups the user belongs to.
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub login_profile: Option<LoginProfile>,
    #[serde(default)]
    pub password_last_used: Option<Timestamp>,
    /// argon2id hashes of the user's most recent passwords (the current one last), kept for
    /// the password policy's reuse prevention; survives DeleteLoginProfile.
    #[serde(default)]
    pub password_history: Vec<String>,
    /// Service-specific credentials (CodeCommit, Keyspaces, Bedrock, CloudWatch Logs), with
    /// their secrets hashed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_credentials: Vec<ServiceCredential>,
}

/// A service-specific credential of a user: a user name and password (CodeCommit, Keyspaces)
/// or an alias and secret (Bedrock, CloudWatch Logs) that only that service accepts. The
/// secret is shown once, when made or reset; only its argon2id hash is kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceCredential {
    /// `ACCA…`.
    pub id: String,
    pub service_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    pub secret_hash: String,
    pub status: KeyStatus,
    pub create_date: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_date: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    pub group_id: String,
    pub name: String,
    pub path: String,
    pub create_date: Timestamp,
    #[serde(default)]
    pub inline_policies: BTreeMap<String, PolicyDocument>,
    #[serde(default)]
    pub attached_policies: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoleLastUsed {
    pub last_used_date: Timestamp,
    pub region: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Role {
    pub role_id: String,
    pub name: String,
    pub path: String,
    pub create_date: Timestamp,
    #[serde(default)]
    pub description: Option<String>,
    pub max_session_duration: u32,
    pub assume_role_policy: PolicyDocument,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub permissions_boundary: Option<String>,
    #[serde(default)]
    pub inline_policies: BTreeMap<String, PolicyDocument>,
    #[serde(default)]
    pub attached_policies: Vec<String>,
    #[serde(default)]
    pub last_used: Option<RoleLastUsed>,
}

/// An instance profile: a container that passes one role to an EC2 instance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstanceProfile {
    pub instance_profile_id: String,
    pub name: String,
    pub path: String,
    pub create_date: Timestamp,
    /// Names of the roles it holds (at most one, as AWS allows).
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyVersion {
    pub version_id: String,
    pub document: PolicyDocument,
    pub create_date: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManagedPolicy {
    pub policy_id: String,
    pub name: String,
    pub path: String,
    pub arn: String,
    #[serde(default)]
    pub description: Option<String>,
    pub create_date: Timestamp,
    pub update_date: Timestamp,
    pub default_version_id: String,
    pub versions: Vec<PolicyVersion>,
    /// The number the next version gets (`v{n}`).
    pub next_version: u32,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl ManagedPolicy {
    pub fn default_version(&self) -> Option<&PolicyVersion> {
        self.versions
            .iter()
            .find(|v| v.version_id == self.default_version_id)
    }
}

/// `Active` or `Inactive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyStatus {
    Active,
    Inactive,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "Active",
            KeyStatus::Inactive => "Inactive",
        }
    }

    pub fn parse(s: &str) -> Option<KeyStatus> {
        match s {
            "Active" => Some(KeyStatus::Active),
            "Inactive" => Some(KeyStatus::Inactive),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessKeyLastUsed {
    pub date: Timestamp,
    pub service: String,
    pub region: String,
}

/// A long-term access key. The secret is kept in memory for SigV4 and sealed in the store.
#[derive(Clone)]
pub struct AccessKey {
    pub access_key_id: String,
    pub account_id: String,
    /// `None` for the account's root user.
    pub user_name: Option<String>,
    pub status: KeyStatus,
    pub create_date: Timestamp,
    pub secret: Secret,
    pub last_used: Option<AccessKeyLastUsed>,
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("AccessKey")
            .field("access_key_id", &self.access_key_id)
            .field("account_id", &self.account_id)
            .field("user_name", &self.user_name)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// A secret that never shows in logs or debug output.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(secret: String) -> Secret {
        Secret(secret)
    }

    /// The secret itself, for signing and sealing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The account's password policy.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub minimum_password_length: u32,
    pub require_symbols: bool,
    pub require_numbers: bool,
    pub require_uppercase_characters: bool,
    pub require_lowercase_characters: bool,
    pub allow_users_to_change_password: bool,
    pub max_password_age: Option<u32>,
    pub password_reuse_prevention: Option<u32>,
    pub hard_expiry: bool,
}

/// Account-wide settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AccountSettings {
    pub account_id: String,
    #[serde(default)]
    pub alias: Option<String>,
    #[serde(default)]
    pub password_policy: Option<PasswordPolicy>,
    /// SetSecurityTokenServicePreferences: the version of session tokens the global STS
    /// endpoint issues (`2` for `v2Token`); `None` is AWS's default, `v1Token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_endpoint_token_version: Option<u8>,
}

/// An SSH public key of a user (for git over SSH), in both encodings AWS returns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SshPublicKey {
    pub ssh_public_key_id: String,
    pub user_name: String,
    /// The OpenSSH one-line form (`ssh-ed25519 AAAA... comment`).
    pub body_ssh: String,
    /// The same key as a PEM `PUBLIC KEY` (SubjectPublicKeyInfo).
    pub body_pem: String,
    /// MD5 of the key blob, colon-separated hex, as AWS shows it.
    pub fingerprint: String,
    pub status: KeyStatus,
    pub upload_date: Timestamp,
}

/// An X.509 signing certificate of a user, or (`user_name` None) of the account's root user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SigningCertificate {
    pub certificate_id: String,
    pub user_name: Option<String>,
    /// The PEM text as uploaded.
    pub body: String,
    pub status: KeyStatus,
    pub upload_date: Timestamp,
}

/// An OpenID Connect identity provider, trusted for `AssumeRoleWithWebIdentity`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OidcProvider {
    /// The issuer URL without `https://`: host in lowercase (and port), then the path as
    /// given. It is the ARN's resource (`oidc-provider/{url}`), and a token's `iss` claim
    /// names the provider as `https://{url}`.
    pub url: String,
    /// The audiences (`aud`) the provider's tokens may carry.
    pub client_ids: Vec<String>,
    /// SHA-1 thumbprints of the provider's certificates, 40 lowercase hex digits each.
    pub thumbprints: Vec<String>,
    pub create_date: Timestamp,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// Whether a SAML provider's assertions must be encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AssertionEncryptionMode {
    Required,
    Allowed,
}

impl AssertionEncryptionMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AssertionEncryptionMode::Required => "Required",
            AssertionEncryptionMode::Allowed => "Allowed",
        }
    }

    pub fn parse(s: &str) -> Option<AssertionEncryptionMode> {
        match s {
            "Required" => Some(AssertionEncryptionMode::Required),
            "Allowed" => Some(AssertionEncryptionMode::Allowed),
            _ => None,
        }
    }
}

/// A private key that decrypts a SAML provider's encrypted assertions; never returned,
/// sealed at rest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SamlPrivateKey {
    pub key_id: String,
    pub timestamp: Timestamp,
    /// The PEM text; stored sealed beside the provider's row, never in it.
    #[serde(skip)]
    pub key: Secret,
}

/// A SAML 2.0 identity provider, trusted for `AssumeRoleWithSAML`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SamlProvider {
    pub name: String,
    /// `SAMLProviderUUID`.
    pub uuid: String,
    /// The metadata document as uploaded.
    pub metadata_document: String,
    /// The metadata's `entityID`: the `Issuer` of the provider's responses.
    pub entity_id: String,
    /// The metadata's signing certificates, base64 DER: what verifies a response.
    pub signing_certificates: Vec<String>,
    pub create_date: Timestamp,
    pub valid_until: Timestamp,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub assertion_encryption_mode: Option<AssertionEncryptionMode>,
    #[serde(default)]
    pub private_keys: Vec<SamlPrivateKey>,
}

/// A server certificate (for load balancers and the like). The private key is never
/// returned and is sealed at rest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerCertificate {
    pub server_certificate_id: String,
    pub name: String,
    pub path: String,
    pub certificate_body: String,
    #[serde(default)]
    pub certificate_chain: Option<String>,
    pub upload_date: Timestamp,
    /// The certificate's `notAfter`.
    pub expiration: Timestamp,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// The PEM private key; stored sealed beside the row, never in it.
    #[serde(skip)]
    pub private_key: Secret,
}

/// A virtual MFA device (an authenticator app's TOTP seed), assigned to at most one user.
/// The seed is never returned after creation and is sealed at rest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VirtualMfaDevice {
    pub name: String,
    pub path: String,
    pub create_date: Timestamp,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// The user the device is enabled for; `None` while unassigned.
    #[serde(default)]
    pub user_name: Option<String>,
    #[serde(default)]
    pub enable_date: Option<Timestamp>,
    /// How many 30-second steps the device's clock runs ahead of ours (negative: behind), as
    /// measured by the last EnableMFADevice or ResyncMFADevice.
    #[serde(default)]
    pub drift_steps: i64,
    /// The newest time step whose code was accepted: a code for this step or an older one is
    /// refused (no replay), whatever the operation.
    #[serde(default)]
    pub last_used_step: Option<u64>,
    /// The TOTP seed, Base32 (RFC 4648, no padding); stored sealed beside the row, never in it.
    #[serde(skip)]
    pub seed: Secret,
}
