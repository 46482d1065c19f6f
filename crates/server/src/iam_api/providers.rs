//! Identity provider actions: OpenID Connect and SAML providers, and their tags.

use portcullis_iam::model::{AssertionEncryptionMode, OidcProvider, SamlProvider};
use portcullis_iam::ops::oidc_providers::{self, oidc_provider_arn};
use portcullis_iam::ops::saml_providers::{
    self, NewSamlProvider, SamlProviderUpdate, saml_provider_arn,
};
use portcullis_iam::state::AccountState;

use super::{Call, CallKeys, Entity, tag_page, write_tags};
use crate::error::ApiError;
use crate::xml::Xml;

fn account<'a>(call: &'a Call<'_>) -> Result<&'a AccountState, ApiError> {
    Ok(call.snapshot.state.account(call.account())?)
}

/// `AssertionEncryptionMode`, when given: `Required` or `Allowed`.
fn encryption_mode(call: &Call<'_>) -> Result<Option<AssertionEncryptionMode>, ApiError> {
    match call.params.get("AssertionEncryptionMode") {
        None => Ok(None),
        Some(v) => AssertionEncryptionMode::parse(v).map(Some).ok_or_else(|| {
            ApiError::validation(format!(
                "1 validation error detected: Value '{v}' at 'assertionEncryptionMode' failed to satisfy constraint: Member must satisfy enum value set: [Required, Allowed]"
            ))
        }),
    }
}

// ---- OpenID Connect ----

pub fn create_open_id_connect_provider(call: &Call<'_>) -> Result<Xml, ApiError> {
    let p = call.params;
    let url = p.required("Url")?;
    let client_ids = p.list("ClientIDList");
    let thumbprints = p.list("ThumbprintList");
    let tags = p.tags("Tags");
    let key = oidc_providers::normalize_url(url)
        .unwrap_or_else(|_| url.trim_start_matches("https://").to_owned());
    call.authorize(
        "iam:CreateOpenIDConnectProvider",
        &oidc_provider_arn(call.account(), &key),
        CallKeys {
            request_tags: &tags,
            ..Default::default()
        },
    )?;
    let provider = call.service.write(|s, t| {
        oidc_providers::create_oidc_provider(
            s,
            t,
            call.account(),
            url,
            &client_ids,
            &thumbprints,
            &tags,
        )
    })?;
    let mut x = Xml::new();
    x.text(
        "OpenIDConnectProviderArn",
        &oidc_provider_arn(call.account(), &provider.url),
    );
    if !provider.tags.is_empty() {
        write_tags(&mut x, &provider.tags);
    }
    Ok(x)
}

fn write_oidc(x: &mut Xml, provider: &OidcProvider) {
    x.text("Url", &provider.url)
        .list("ClientIDList", &provider.client_ids, |x, id| {
            x.text_only(id);
        })
        .list("ThumbprintList", &provider.thumbprints, |x, t| {
            x.text_only(t);
        })
        .text("CreateDate", &provider.create_date);
    write_tags(x, &provider.tags);
}

pub fn get_open_id_connect_provider(call: &Call<'_>) -> Result<Xml, ApiError> {
    let arn = call.params.required("OpenIDConnectProviderArn")?;
    call.authorize_entity(
        "iam:GetOpenIDConnectProvider",
        Entity::OidcProvider(arn),
        CallKeys::default(),
    )?;
    let provider = oidc_providers::find(account(call)?, arn)?;
    let mut x = Xml::new();
    write_oidc(&mut x, provider);
    Ok(x)
}

pub fn list_open_id_connect_providers(call: &Call<'_>) -> Result<Xml, ApiError> {
    call.authorize("iam:ListOpenIDConnectProviders", "*", CallKeys::default())?;
    let account = account(call)?;
    let mut x = Xml::new();
    x.list(
        "OpenIDConnectProviderList",
        account.oidc_providers.values(),
        |x, p| {
            x.text("Arn", &oidc_provider_arn(call.account(), &p.url));
        },
    );
    Ok(x)
}

pub fn delete_open_id_connect_provider(call: &Call<'_>) -> Result<Xml, ApiError> {
    let arn = call.params.required("OpenIDConnectProviderArn")?;
    call.authorize_entity(
        "iam:DeleteOpenIDConnectProvider",
        Entity::OidcProvider(arn),
        CallKeys::default(),
    )?;
    call.service
        .write(|s, t| oidc_providers::delete_oidc_provider(s, t, call.account(), arn))?;
    Ok(Xml::new())
}

pub fn add_client_id_to_open_id_connect_provider(call: &Call<'_>) -> Result<Xml, ApiError> {
    let arn = call.params.required("OpenIDConnectProviderArn")?;
    let client_id = call.params.required("ClientID")?;
    call.authorize_entity(
        "iam:AddClientIDToOpenIDConnectProvider",
        Entity::OidcProvider(arn),
        CallKeys::default(),
    )?;
    call.service
        .write(|s, t| oidc_providers::add_client_id(s, t, call.account(), arn, client_id))?;
    Ok(Xml::new())
}

pub fn remove_client_id_from_open_id_connect_provider(call: &Call<'_>) -> Result<Xml, ApiError> {
    let arn = call.params.required("OpenIDConnectProviderArn")?;
    let client_id = call.params.required("ClientID")?;
    call.authorize_entity(
        "iam:RemoveClientIDFromOpenIDConnectProvider",
        Entity::OidcProvider(arn),
        CallKeys::default(),
    )?;
    call.service
        .write(|s, t| oidc_providers::remove_client_id(s, t, call.account(), arn, client_id))?;
    Ok(Xml::new())
}

pub fn update_open_id_connect_provider_thumbprint(call: &Call<'_>) -> Result<Xml, ApiError> {
    let arn = call.params.required("OpenIDConnectProviderArn")?;
    let thumbprints = call.params.list("ThumbprintList");
    call.authorize_entity(
        "iam:UpdateOpenIDConnectProviderThumbprint",
        Entity::OidcProvider(arn),
        CallKeys::default(),
    )?;
    call.service.write(|s, t| {
        oidc_providers::update_thumbprints(s, t, call.account(), arn, &thumbprints)
    })?;
    Ok(Xml::new())
}

pub fn tag_open_id_connect_provider(call: &Call<'_>) -> Result<Xml, ApiError> {
    let arn = call.params.required("OpenIDConnectProviderArn")?;
    let tags = call.params.tags("Tags");
    call.authorize_entity(
        "iam:TagOpenIDConnectProvider",
        Entity::OidcProvider(arn),
        CallKeys {
            request_tags: &tags,
            ..Default::default()
        },
    )?;
    call.service
        .write(|s, t| oidc_providers::tag_oidc_provider(s, t, call.account(), arn, &tags))?;
    Ok(Xml::new())
}

pub fn untag_open_id_connect_provider(call: &Call<'_>) -> Result<Xml, ApiError> {
    let arn = call.params.required("OpenIDConnectProviderArn")?;
    let keys = call.params.list("TagKeys");
    call.authorize_entity(
        "iam:UntagOpenIDConnectProvider",
        Entity::OidcProvider(arn),
        CallKeys {
            tag_keys: &keys,
            ..Default::default()
        },
    )?;
    call.service
        .write(|s, t| oidc_providers::untag_oidc_provider(s, t, call.account(), arn, &keys))?;
    Ok(Xml::new())
}

pub fn list_open_id_connect_provider_tags(call: &Call<'_>) -> Result<Xml, ApiError> {
    let arn = call.params.required("OpenIDConnectProviderArn")?;
    call.authorize_entity(
        "iam:ListOpenIDConnectProviderTags",
        Entity::OidcProvider(arn),
        CallKeys::default(),
    )?;
    let provider = oidc_providers::find(account(call)?, arn)?;
    tag_page(call, &provider.tags)
}

// ---- SAML ----

pub fn create_saml_provider(call: &Call<'_>) -> Result<Xml, ApiError> {
    let p = call.params;
    let name = p.required("Name")?;
    let document = p.required("SAMLMetadataDocument")?;
    let tags = p.tags("Tags");
    let mode = encryption_mode(call)?;
    let add_private_key = p.get("AddPrivateKey");
    call.authorize(
        "iam:CreateSAMLProvider",
        &saml_provider_arn(call.account(), name),
        CallKeys {
            request_tags: &tags,
            ..Default::default()
        },
    )?;
    let provider = call.service.write(|s, t| {
        saml_providers::create_saml_provider(
            s,
            t,
            call.account(),
            NewSamlProvider {
                name,
                metadata_document: document,
                tags: &tags,
                assertion_encryption_mode: mode,
                add_private_key,
            },
            call.env.now,
        )
    })?;
    let mut x = Xml::new();
    x.text(
        "SAMLProviderArn",
        &saml_provider_arn(call.account(), &provider.name),
    );
    if !provider.tags.is_empty() {
        write_tags(&mut x, &provider.tags);
    }
    Ok(x)
}

fn write_saml(x: &mut Xml, provider: &SamlProvider) {
    x.text("SAMLProviderUUID", &provider.uuid)
        .text("SAMLMetadataDocument", &provider.metadata_document)
        .text("CreateDate", &provider.create_date)
        .text("ValidUntil", &provider.valid_until);
    write_tags(x, &provider.tags);
    x.opt(
        "AssertionEncryptionMode",
        provider.assertion_encryption_mode.map(|m| m.as_str()),
    );
    x.list("PrivateKeyList", &provider.private_keys, |x, k| {
        x.text("KeyId", &k.key_id).text("Timestamp", &k.timestamp);
    });
}

pub fn get_saml_provider(call: &Call<'_>) -> Result<Xml, ApiError> {
    let arn = call.params.required("SAMLProviderArn")?;
    call.authorize_entity(
        "iam:GetSAMLProvider",
        Entity::SamlProvider(arn),
        CallKeys::default(),
    )?;
    let provider = saml_providers::find(account(call)?, arn)?;
    let mut x = Xml::new();
    write_saml(&mut x, provider);
    Ok(x)
}

pub fn list_saml_providers(call: &Call<'_>) -> Result<Xml, ApiError> {
    call.authorize("iam:ListSAMLProviders", "*", CallKeys::default())?;
    let account = account(call)?;
    let mut x = Xml::new();
    x.list(
        "SAMLProviderList",
        account.saml_providers.values(),
        |x, p| {
            x.text("Arn", &saml_provider_arn(call.account(), &p.name))
                .text("ValidUntil", &p.valid_until)
                .text("CreateDate", &p.create_date);
        },
    );
    Ok(x)
}

pub fn update_saml_provider(call: &Call<'_>) -> Result<Xml, ApiError> {
    let p = call.params;
    let arn = p.required("SAMLProviderArn")?;
    let mode = encryption_mode(call)?;
    call.authorize_entity(
        "iam:UpdateSAMLProvider",
        Entity::SamlProvider(arn),
        CallKeys::default(),
    )?;
    call.service.write(|s, t| {
        saml_providers::update_saml_provider(
            s,
            t,
            call.account(),
            arn,
            SamlProviderUpdate {
                metadata_document: p.get("SAMLMetadataDocument"),
                assertion_encryption_mode: mode,
                add_private_key: p.get("AddPrivateKey"),
                remove_private_key: p.get("RemovePrivateKey"),
            },
            call.env.now,
        )
    })?;
    let mut x = Xml::new();
    x.text("SAMLProviderArn", arn);
    Ok(x)
}

pub fn delete_saml_provider(call: &Call<'_>) -> Result<Xml, ApiError> {
    let arn = call.params.required("SAMLProviderArn")?;
    call.authorize_entity(
        "iam:DeleteSAMLProvider",
        Entity::SamlProvider(arn),
        CallKeys::default(),
    )?;
    call.service
        .write(|s, t| saml_providers::delete_saml_provider(s, t, call.account(), arn))?;
    Ok(Xml::new())
}

pub fn tag_saml_provider(call: &Call<'_>) -> Result<Xml, ApiError> {
    let arn = call.params.required("SAMLProviderArn")?;
    let tags = call.params.tags("Tags");
    call.authorize_entity(
        "iam:TagSAMLProvider",
        Entity::SamlProvider(arn),
        CallKeys {
            request_tags: &tags,
            ..Default::default()
        },
    )?;
    call.service
        .write(|s, t| saml_providers::tag_saml_provider(s, t, call.account(), arn, &tags))?;
    Ok(Xml::new())
}

pub fn untag_saml_provider(call: &Call<'_>) -> Result<Xml, ApiError> {
    let arn = call.params.required("SAMLProviderArn")?;
    let keys = call.params.list("TagKeys");
    call.authorize_entity(
        "iam:UntagSAMLProvider",
        Entity::SamlProvider(arn),
        CallKeys {
            tag_keys: &keys,
            ..Default::default()
        },
    )?;
    call.service
        .write(|s, t| saml_providers::untag_saml_provider(s, t, call.account(), arn, &keys))?;
    Ok(Xml::new())
}

pub fn list_saml_provider_tags(call: &Call<'_>) -> Result<Xml, ApiError> {
    let arn = call.params.required("SAMLProviderArn")?;
    call.authorize_entity(
        "iam:ListSAMLProviderTags",
        Entity::SamlProvider(arn),
        CallKeys::default(),
    )?;
    let provider = saml_providers::find(account(call)?, arn)?;
    tag_page(call, &provider.tags)
}
