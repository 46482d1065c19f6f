//! SAML 2.0 identity providers: create, read, update (metadata, assertion encryption and its
//! private keys), delete, tags.

use crate::error::{IamError, IamResult};
use crate::model::{
    AssertionEncryptionMode, SamlPrivateKey, SamlProvider, Secret, Tag, now_timestamp,
};
use crate::names::check_tags;
use crate::saml_metadata::{self, SamlMetadata};
use crate::state::{AccountState, IamState, Touched};
use crate::x509::{KeyKind, format_unix, private_key_public_half};

/// The most SAML providers an account may have.
pub const MAX_SAML_PROVIDERS: usize = 100;
/// The most assertion decryption keys one provider may hold.
pub const MAX_PRIVATE_KEYS: usize = 2;
/// The longest PEM private key (characters).
pub const MAX_PRIVATE_KEY_LEN: usize = 16_384;

/// `arn:aws:iam::A:saml-provider/NAME`.
pub fn saml_provider_arn(account_id: &str, name: &str) -> String {
    format!("arn:aws:iam::{account_id}:saml-provider/{name}")
}

/// Provider names: 1-128 characters of `[\w._-]`.
pub fn check_saml_name(name: &str) -> IamResult<()> {
    if name.is_empty() || name.chars().count() > 128 {
        return Err(IamError::ValidationError(format!(
            "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must have length less than or equal to 128 and greater than or equal to 1"
        )));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return Err(IamError::ValidationError(format!(
            "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w._-]+"
        )));
    }
    Ok(())
}

/// Checks a metadata document's size (1,000 to 10,000,000 characters) and content, and that
/// it has not expired (`now` in unix seconds).
pub fn check_metadata(document: &str, now: i64) -> IamResult<SamlMetadata> {
    let len = document.chars().count();
    if len < saml_metadata::MIN_LEN {
        return Err(IamError::ValidationError(format!(
            "1 validation error detected: Value at 'sAMLMetadataDocument' failed to satisfy constraint: Member must have length greater than or equal to {}",
            saml_metadata::MIN_LEN
        )));
    }
    if len > saml_metadata::MAX_LEN {
        return Err(IamError::ValidationError(format!(
            "1 validation error detected: Value at 'sAMLMetadataDocument' failed to satisfy constraint: Member must have length less than or equal to {}",
            saml_metadata::MAX_LEN
        )));
    }
    let metadata = saml_metadata::parse_metadata(document)?;
    if metadata.valid_until.is_some_and(|t| t <= now) {
        return Err(IamError::InvalidInput(
            "Could not parse metadata: the metadata's validUntil has passed.".into(),
        ));
    }
    Ok(metadata)
}

/// When a provider stops being valid: the metadata's `validUntil`, else 100 years from now,
/// as AWS answers.
fn valid_until(metadata: &SamlMetadata, now: i64) -> String {
    const HUNDRED_YEARS: i64 = 36_524 * 86_400;
    format_unix(metadata.valid_until.unwrap_or(now + HUNDRED_YEARS))
}

/// A new assertion decryption key: an unencrypted PEM RSA private key.
fn new_private_key(pem: &str) -> IamResult<SamlPrivateKey> {
    if pem.is_empty() || pem.chars().count() > MAX_PRIVATE_KEY_LEN {
        return Err(IamError::ValidationError(format!(
            "1 validation error detected: Value at 'addPrivateKey' failed to satisfy constraint: Member must have length less than or equal to {MAX_PRIVATE_KEY_LEN} and greater than or equal to 1"
        )));
    }
    let (kind, _) =
        private_key_public_half(pem).map_err(|e| IamError::InvalidInput(e.to_string()))?;
    if kind != KeyKind::Rsa {
        return Err(IamError::InvalidInput(
            "The private key must be an RSA key: SAML assertions are encrypted to RSA keys.".into(),
        ));
    }
    Ok(SamlPrivateKey {
        key_id: super::random_upper_alnum(26),
        timestamp: now_timestamp(),
        key: Secret::new(pem.to_owned()),
    })
}

fn check_encryption(provider: &SamlProvider) -> IamResult<()> {
    if provider.assertion_encryption_mode == Some(AssertionEncryptionMode::Required)
        && provider.private_keys.is_empty()
    {
        return Err(IamError::InvalidInput(
            "AssertionEncryptionMode Required needs a private key to decrypt assertions: add one with AddPrivateKey."
                .into(),
        ));
    }
    Ok(())
}

/// The lowercased name of the provider `arn` names in `account_id`.
pub fn key_from_arn(account_id: &str, arn: &str) -> IamResult<String> {
    let name = super::arn_resource(account_id, arn, "saml-provider", "SAML provider")?;
    check_saml_name(name)
        .map_err(|_| IamError::InvalidInput(format!("ARN {arn} is not valid.")))?;
    Ok(name.to_lowercase())
}

fn not_found(arn: &str) -> IamError {
    IamError::NoSuchEntity(format!("SAMLProvider {arn} does not exist."))
}

/// The key of the provider `arn` names exactly (its name as stored, not only without regard
/// to case): a policy on the exact ARN cannot be stepped around with `saml-provider/NAME`.
fn exact_key(account: &AccountState, account_id: &str, arn: &str) -> IamResult<String> {
    let key = key_from_arn(account_id, arn)?;
    match account.saml_providers.get(&key) {
        Some(p) if arn.ends_with(&format!(":saml-provider/{}", p.name)) => Ok(key),
        _ => Err(not_found(arn)),
    }
}

/// The provider `arn` names.
pub fn find<'a>(account: &'a AccountState, arn: &str) -> IamResult<&'a SamlProvider> {
    let key = exact_key(account, &account.settings.account_id, arn)?;
    account
        .saml_providers
        .get(&key)
        .ok_or_else(|| not_found(arn))
}

fn find_mut<'a>(
    state: &'a mut IamState,
    account_id: &str,
    arn: &str,
) -> IamResult<&'a mut SamlProvider> {
    let account = state.account_mut(account_id)?;
    let key = exact_key(account, account_id, arn)?;
    account
        .saml_providers
        .get_mut(&key)
        .ok_or_else(|| not_found(arn))
}

/// What CreateSAMLProvider takes.
pub struct NewSamlProvider<'a> {
    pub name: &'a str,
    pub metadata_document: &'a str,
    pub tags: &'a [Tag],
    pub assertion_encryption_mode: Option<AssertionEncryptionMode>,
    pub add_private_key: Option<&'a str>,
}

pub fn create_saml_provider(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    new: NewSamlProvider<'_>,
    now: i64,
) -> IamResult<SamlProvider> {
    check_saml_name(new.name)?;
    let tags = check_tags(&[], new.tags)?;
    let metadata = check_metadata(new.metadata_document, now)?;
    let private_keys = new
        .add_private_key
        .map(new_private_key)
        .transpose()?
        .into_iter()
        .collect();
    let provider = SamlProvider {
        name: new.name.to_owned(),
        uuid: super::random_upper_alnum(26),
        metadata_document: new.metadata_document.to_owned(),
        valid_until: valid_until(&metadata, now),
        entity_id: metadata.entity_id,
        signing_certificates: metadata.signing_certificates,
        create_date: format_unix(now),
        tags,
        assertion_encryption_mode: new.assertion_encryption_mode,
        private_keys,
    };
    check_encryption(&provider)?;
    let account = state.account_mut(account_id)?;
    let key = new.name.to_lowercase();
    if account.saml_providers.contains_key(&key) {
        return Err(IamError::EntityAlreadyExists(format!(
            "SAMLProvider {} already exists.",
            saml_provider_arn(account_id, new.name)
        )));
    }
    if account.saml_providers.len() >= MAX_SAML_PROVIDERS {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for SamlProvidersPerAccount: {MAX_SAML_PROVIDERS}."
        )));
    }
    account.saml_providers.insert(key, provider.clone());
    touched.saml_provider(account_id, new.name);
    Ok(provider)
}

/// What UpdateSAMLProvider changes; at least one must be given.
pub struct SamlProviderUpdate<'a> {
    pub metadata_document: Option<&'a str>,
    pub assertion_encryption_mode: Option<AssertionEncryptionMode>,
    pub add_private_key: Option<&'a str>,
    pub remove_private_key: Option<&'a str>,
}

pub fn update_saml_provider(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    arn: &str,
    update: SamlProviderUpdate<'_>,
    now: i64,
) -> IamResult<()> {
    if update.metadata_document.is_none()
        && update.assertion_encryption_mode.is_none()
        && update.add_private_key.is_none()
        && update.remove_private_key.is_none()
    {
        return Err(IamError::InvalidInput(
            "Specify at least one of SAMLMetadataDocument, AssertionEncryptionMode, AddPrivateKey or RemovePrivateKey.".into(),
        ));
    }
    let metadata = update
        .metadata_document
        .map(|d| check_metadata(d, now))
        .transpose()?;
    let added = update.add_private_key.map(new_private_key).transpose()?;
    let provider = find_mut(state, account_id, arn)?;
    let mut changed = provider.clone();
    if let (Some(document), Some(metadata)) = (update.metadata_document, metadata) {
        changed.metadata_document = document.to_owned();
        changed.valid_until = valid_until(&metadata, now);
        changed.entity_id = metadata.entity_id;
        changed.signing_certificates = metadata.signing_certificates;
    }
    if let Some(mode) = update.assertion_encryption_mode {
        changed.assertion_encryption_mode = Some(mode);
    }
    if let Some(key) = added {
        if changed.private_keys.len() >= MAX_PRIVATE_KEYS {
            return Err(IamError::LimitExceeded(format!(
                "Cannot exceed quota for PrivateKeysPerSamlProvider: {MAX_PRIVATE_KEYS}. Remove a key first."
            )));
        }
        changed.private_keys.push(key);
    }
    if let Some(id) = update.remove_private_key {
        let before = changed.private_keys.len();
        changed.private_keys.retain(|k| k.key_id != id);
        if changed.private_keys.len() == before {
            return Err(IamError::InvalidInput(format!(
                "The SAML provider has no private key with the id {id}."
            )));
        }
    }
    check_encryption(&changed)?;
    let name = changed.name.clone();
    *provider = changed;
    touched.saml_provider(account_id, &name);
    Ok(())
}

pub fn delete_saml_provider(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    arn: &str,
) -> IamResult<()> {
    let account = state.account_mut(account_id)?;
    let key = exact_key(account, account_id, arn)?;
    if account.saml_providers.remove(&key).is_none() {
        return Err(not_found(arn));
    }
    touched.saml_provider(account_id, &key);
    Ok(())
}

pub fn tag_saml_provider(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    arn: &str,
    tags: &[Tag],
) -> IamResult<()> {
    let provider = find_mut(state, account_id, arn)?;
    provider.tags = check_tags(&provider.tags, tags)?;
    let name = provider.name.clone();
    touched.saml_provider(account_id, &name);
    Ok(())
}

pub fn untag_saml_provider(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    arn: &str,
    keys: &[String],
) -> IamResult<()> {
    let provider = find_mut(state, account_id, arn)?;
    provider
        .tags
        .retain(|t| !keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)));
    let name = provider.name.clone();
    touched.saml_provider(account_id, &name);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_size_is_checked_before_parsing() {
        let short = "x".repeat(saml_metadata::MIN_LEN - 1);
        assert_eq!(
            check_metadata(&short, 0).unwrap_err().code(),
            "ValidationError"
        );
        let long = " ".repeat(saml_metadata::MAX_LEN + 1);
        let err = check_metadata(&long, 0).unwrap_err();
        assert_eq!(err.code(), "ValidationError");
        assert!(err.to_string().contains("less than or equal to 10000000"));
    }

    #[test]
    fn names_allow_word_characters_dots_and_dashes() {
        assert!(check_saml_name("Okta_Prod-1.0").is_ok());
        assert!(check_saml_name("a+b").is_err());
        assert!(check_saml_name("").is_err());
        assert!(check_saml_name(&"a".repeat(129)).is_err());
    }
}
