//! AssumeRoleWithSAML: credentials for the bearer of a SAML 2.0 response from an identity
//! provider the role's account trusts (a SAML provider in IAM).
//!
//! The response is checked by `portcullis_saml` against the provider's metadata (signature,
//! issuer, recipient, audience, times); then the role and the provider must be one of the
//! pairs of the assertion's `Role` attribute, and the role's trust policy must allow
//! `sts:AssumeRoleWithSAML` for `Federated: <the provider's ARN>` with the `saml:*` keys the
//! assertion gives. A response is redeemed once.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use portcullis_iam::IamService;
use portcullis_iam::model::{AssertionEncryptionMode, Role, SamlProvider, Tag};
use portcullis_iam::ops;
use portcullis_iam::sts;
use portcullis_policy::Principal;
use portcullis_saml::{DecryptionKey, Expectations, SamlError, TrustedKey, Verified};

use super::{
    SessionParameters, check_arn_length, federated_may, role_arn_account, role_session,
    role_session_parameters, write_assumed_role_user, write_credentials,
};
use crate::authz::{CallKeys, RequestEnv};
use crate::error::ApiError;
use crate::query::Params;
use crate::xml::Xml;

/// The attributes AWS reads (`https://aws.amazon.com/SAML/Attributes/...`).
const ATTRIBUTES: &str = "https://aws.amazon.com/SAML/Attributes/";
/// The clock skew tolerated between the identity provider and this service, in seconds.
const CLOCK_SKEW: i64 = 60;
/// The most responses remembered against replay at once.
pub const MAX_REMEMBERED: usize = 100_000;

/// The `saml:*` condition keys AWS takes from attributes named by their object identifier
/// (the eduPerson, eduOrg and X.520 attribute types): the OID, and the key. They are all
/// multivalued (use `ForAnyValue`/`ForAllValues`).
const OID_KEYS: &[(&str, &str)] = &[
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.1",
        "saml:edupersonaffiliation",
    ),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.2", "saml:edupersonnickname"),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.3", "saml:edupersonorgdn"),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.4",
        "saml:edupersonorgunitdn",
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.5",
        "saml:edupersonprimaryaffiliation",
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.6",
        "saml:edupersonprincipalname",
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.7",
        "saml:edupersonentitlement",
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.8",
        "saml:edupersonprimaryorgunitdn",
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.9",
        "saml:edupersonscopedaffiliation",
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.10",
        "saml:edupersontargetedid",
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.11",
        "saml:edupersonassurance",
    ),
    ("urn:oid:1.3.6.1.4.1.5923.1.2.1.2", "saml:eduorghomepageuri"),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.2.1.3",
        "saml:eduorgidentityauthnpolicyuri",
    ),
    ("urn:oid:1.3.6.1.4.1.5923.1.2.1.4", "saml:eduorglegalname"),
    ("urn:oid:1.3.6.1.4.1.5923.1.2.1.5", "saml:eduorgsuperioruri"),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.2.1.6",
        "saml:eduorgwhitepagesuri",
    ),
    ("urn:oid:2.5.4.3", "saml:cn"),
    ("urn:oid:2.5.4.3", "saml:commonName"),
    ("urn:oid:2.5.4.4", "saml:surname"),
    ("urn:oid:2.5.4.41", "saml:name"),
    ("urn:oid:2.5.4.42", "saml:givenName"),
    ("urn:oid:2.5.4.45", "saml:x500UniqueIdentifier"),
    ("urn:oid:0.9.2342.19200300.100.1.1", "saml:uid"),
    ("urn:oid:0.9.2342.19200300.100.1.3", "saml:mail"),
];

/// Responses already redeemed, by issuer and assertion ID, until they could no longer be
/// redeemed anyway. Bounded: when full of live entries, new responses are refused (they
/// cannot be told from replays), never an entry dropped early.
#[derive(Default)]
pub struct SamlReplay {
    seen: Mutex<HashMap<(String, String), i64>>,
}

impl SamlReplay {
    /// Records the response; `false` when it was redeemed before (or nothing more can be
    /// remembered).
    fn redeem(&self, issuer: &str, assertion_id: &str, until: i64, now: i64) -> bool {
        let Ok(mut seen) = self.seen.lock() else {
            return false;
        };
        if seen.len() >= MAX_REMEMBERED {
            seen.retain(|_, &mut until| until > now - CLOCK_SKEW);
            if seen.len() >= MAX_REMEMBERED {
                return false;
            }
        }
        let key = (issuer.to_owned(), assertion_id.to_owned());
        match seen.get(&key) {
            Some(_) => false,
            None => {
                seen.insert(key, until + CLOCK_SKEW);
                true
            }
        }
    }
}

fn invalid_token(message: &str) -> ApiError {
    ApiError::new("InvalidIdentityToken", 400, message)
}

fn expired(message: &str) -> ApiError {
    ApiError::new("ExpiredTokenException", 400, message)
}

/// AWS's answer for each reason a response is refused; the reason itself is logged.
fn refused(error: &SamlError) -> ApiError {
    tracing::debug!(reason = %error, "SAML response refused");
    match error {
        SamlError::Malformed(_) => invalid_token("Invalid SAML response"),
        SamlError::Signature(_) => invalid_token("Response signature invalid"),
        SamlError::Decryption(_) => invalid_token("Unable to decrypt the SAML assertion"),
        SamlError::Issuer(_) => invalid_token("Issuer not present in specified provider"),
        SamlError::Status(_) => ApiError::new(
            "IDPRejectedClaim",
            403,
            "The identity provider reported that authentication failed",
        ),
        SamlError::Audience => invalid_token("Response does not contain the required audience"),
        SamlError::Recipient(_) => {
            invalid_token("Response does not contain a valid subject confirmation for this service")
        }
        SamlError::Expired => expired("Response has expired"),
        SamlError::NotYetValid => invalid_token("Response is not yet valid"),
        SamlError::TooOld => expired("Token must be redeemed within 5 minutes of issuance"),
    }
}

/// Whether `url` is the sign-in endpoint an IdP configured for AWS posts to: the global or
/// a regional one, or the provider's own (`.../saml/acs/<SAMLProviderUUID>`).
fn accepted_recipient(url: &str, provider: &SamlProvider) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host_ok = host == "signin.aws.amazon.com"
        || host
            .strip_suffix(".signin.aws.amazon.com")
            .is_some_and(|region| {
                !region.is_empty()
                    && region
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            });
    let path_ok = path == "saml"
        || path
            .strip_prefix("saml/acs/")
            .is_some_and(|uuid| uuid == provider.uuid);
    host_ok && path_ok
}

/// Whether `audience` names AWS as the service provider.
fn accepted_audience(audience: &str, provider: &SamlProvider) -> bool {
    audience == "urn:amazon:webservices" || accepted_recipient(audience, provider)
}

/// `SubjectType`: a SAML 2.0 name format without its common prefix, any other as it is.
fn subject_type(format: Option<&str>) -> String {
    let format = format.unwrap_or("urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified");
    format
        .strip_prefix("urn:oasis:names:tc:SAML:2.0:nameid-format:")
        .unwrap_or(format)
        .to_owned()
}

/// `NameQualifier` (and `saml:namequalifier`): base64 of the SHA-1 of the issuer, the
/// account id, `/` and the provider's name, as AWS documents it.
fn name_qualifier(issuer: &str, account: &str, provider_name: &str) -> String {
    let text = format!("{issuer}{account}/{provider_name}");
    STANDARD.encode(digest::digest(
        &digest::SHA1_FOR_LEGACY_USE_ONLY,
        text.as_bytes(),
    ))
}

/// The `Role` attribute lists `role,provider` pairs (either order); the request's must be one.
fn role_is_offered(verified: &Verified, role_arn: &str, provider_arn: &str) -> bool {
    verified
        .attribute(&format!("{ATTRIBUTES}Role"))
        .unwrap_or_default()
        .iter()
        .any(|pair| {
            let mut parts = pair.split(',').map(str::trim);
            match (parts.next(), parts.next(), parts.next()) {
                (Some(a), Some(b), None) => {
                    (a == role_arn && b == provider_arn) || (a == provider_arn && b == role_arn)
                }
                _ => false,
            }
        })
}

/// The single value of an AWS attribute; more than one is refused.
fn single<'a>(verified: &'a Verified, name: &str) -> Result<Option<&'a str>, ApiError> {
    match verified.attribute(&format!("{ATTRIBUTES}{name}")) {
        None | Some([]) => Ok(None),
        Some([one]) => Ok(Some(one.as_str())),
        Some(_) => Err(invalid_token(&format!(
            "{name} in AuthnResponse must have exactly one value"
        ))),
    }
}

fn matches_session_name(text: &str) -> bool {
    (2..=64).contains(&text.chars().count())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

/// The session tags the assertion sets (`PrincipalTag:KEY` attributes) and the keys it
/// makes transitive.
fn session_tags(verified: &Verified) -> Result<(Vec<Tag>, Vec<String>), ApiError> {
    let prefix = format!("{ATTRIBUTES}PrincipalTag:");
    let mut tags = Vec::new();
    for (name, values) in &verified.attributes {
        let Some(key) = name.strip_prefix(&prefix) else {
            continue;
        };
        let value = match values.as_slice() {
            [one] => one.clone(),
            _ => {
                return Err(invalid_token(&format!(
                    "PrincipalTag:{key} in AuthnResponse must have exactly one value"
                )));
            }
        };
        tags.push(Tag {
            key: key.to_owned(),
            value,
        });
    }
    let transitive = verified
        .attribute(&format!("{ATTRIBUTES}TransitiveTagKeys"))
        .unwrap_or_default()
        .to_vec();
    Ok((tags, transitive))
}

/// AssumeRoleWithSAML: unsigned; the caller is proved by the response.
pub fn assume_role_with_saml(
    params: &Params,
    service: &IamService,
    replay: &SamlReplay,
    env: &RequestEnv,
) -> Result<Xml, ApiError> {
    let p = params;
    let role_arn = p.required("RoleArn")?;
    let principal_arn = p.required("PrincipalArn")?;
    check_arn_length("roleArn", role_arn)?;
    check_arn_length("principalArn", principal_arn)?;
    let assertion = p.required("SAMLAssertion")?;
    if !(4..=100_000).contains(&assertion.len()) {
        return Err(ApiError::validation(
            "1 validation error detected: Value at 'sAMLAssertion' failed to satisfy constraint: Member must have length between 4 and 100000",
        ));
    }
    let SessionParameters {
        policy,
        policy_arns,
        duration,
    } = role_session_parameters(p)?;
    let role_account = role_arn_account(role_arn)?;

    let snapshot = service.snapshot();
    let state = &snapshot.state;
    // The provider the ARN names exactly, in the role's account.
    let no_provider = || invalid_token("Specified provider doesn't exist");
    if !principal_arn.starts_with(&format!("arn:aws:iam::{role_account}:saml-provider/")) {
        return Err(no_provider());
    }
    let account = state.accounts.get(&role_account).ok_or_else(no_provider)?;
    let provider = ops::saml_providers::find(account, principal_arn).map_err(|_| no_provider())?;
    let valid_until = time::OffsetDateTime::parse(
        &provider.valid_until,
        &time::format_description::well_known::Rfc3339,
    );
    if valid_until.is_ok_and(|t| t.unix_timestamp() <= env.now) {
        return Err(invalid_token(
            "The SAML provider's metadata is no longer valid",
        ));
    }
    let keys: Vec<TrustedKey> = provider
        .signing_certificates
        .iter()
        .filter_map(|c| STANDARD.decode(c).ok())
        .filter_map(|der| TrustedKey::from_certificate(&der))
        .collect();
    // The provider's decryption keys (AddPrivateKey), for encrypted assertions.
    let decryption_keys: Vec<DecryptionKey> = provider
        .private_keys
        .iter()
        .filter_map(|k| portcullis_iam::x509::rsa_private_key_pkcs8(k.key.expose()))
        .filter_map(|der| DecryptionKey::from_pkcs8(&der))
        .collect();
    let recipient = |url: &str| accepted_recipient(url, provider);
    let audience = |a: &str| accepted_audience(a, provider);
    let verified = portcullis_saml::verify(
        assertion,
        &Expectations {
            issuer: &provider.entity_id,
            keys: &keys,
            now: env.now,
            skew: CLOCK_SKEW,
            recipient: &recipient,
            audience: &audience,
            decryption_keys: &decryption_keys,
        },
    )
    .map_err(|e| refused(&e))?;
    if provider.assertion_encryption_mode == Some(AssertionEncryptionMode::Required)
        && !verified.encrypted
    {
        return Err(invalid_token(
            "The SAML provider requires encrypted assertions",
        ));
    }

    let session_name = single(&verified, "RoleSessionName")?
        .ok_or_else(|| invalid_token("RoleSessionName is required in AuthnResponse"))?;
    if !matches_session_name(session_name) {
        return Err(invalid_token(
            "RoleSessionName in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{2,64}",
        ));
    }
    let source_identity = single(&verified, "SourceIdentity")?;
    if let Some(s) = source_identity
        && (!matches_session_name(s) || s.to_lowercase().starts_with("aws:"))
    {
        return Err(invalid_token(
            "Source Identity must match [a-zA-Z_0-9+=,.@-]{2,64} and not begin with \"aws:\"",
        ));
    }
    let (tags, transitive_keys) = session_tags(&verified)?;
    sts::check_session_tags(&tags, &transitive_keys)?;

    let denied = || {
        ApiError::access_denied(format!(
            "Not authorized to perform sts:AssumeRoleWithSAML on resource: {role_arn}"
        ))
    };
    if !role_is_offered(&verified, role_arn, principal_arn) {
        return Err(denied());
    }
    let role: &Role = ops::role_by_arn(state, role_arn).ok_or_else(denied)?;
    let trust = snapshot
        .trust_policy(&role_account, &role.name)
        .ok_or_else(denied)?;

    let sub_type = subject_type(verified.name_id_format.as_deref());
    let qualifier = name_qualifier(&verified.issuer, &role_account, &provider.name);
    let doc = format!("{role_account}/{}", provider.name);
    let mut extra: Vec<(&str, &str)> = vec![
        ("saml:aud", verified.recipient.as_str()),
        ("saml:iss", verified.issuer.as_str()),
        ("saml:sub", verified.name_id.as_str()),
        ("saml:sub_type", sub_type.as_str()),
        ("saml:namequalifier", qualifier.as_str()),
        ("saml:doc", doc.as_str()),
        ("sts:RoleSessionName", session_name),
    ];
    if let Some(s) = source_identity {
        extra.push(("sts:SourceIdentity", s));
    }
    let mut multi: Vec<(&str, &[String])> = OID_KEYS
        .iter()
        .filter_map(|(oid, key)| verified.attribute(oid).map(|v| (*key, v)))
        .collect();
    if !transitive_keys.is_empty() {
        multi.push(("sts:TransitiveTagKeys", transitive_keys.as_slice()));
    }
    let keys = CallKeys {
        request_tags: &tags,
        resource_tags: &role.tags,
        extra: &extra,
        multi: &multi,
        ..CallKeys::default()
    };
    let principal = Principal::Federated {
        provider: principal_arn.to_owned(),
    };
    let ask = |action: &'static str| {
        federated_may(
            &principal,
            env,
            action,
            role_arn,
            &role_account,
            &trust,
            keys,
        )
        .then_some(())
        .ok_or_else(denied)
    };
    ask("sts:AssumeRoleWithSAML")?;
    if !tags.is_empty() {
        ask("sts:TagSession")?;
    }
    if source_identity.is_some() {
        ask("sts:SetSourceIdentity")?;
    }

    let mut seconds = sts::role_session_duration(duration, role.max_session_duration, false)?;
    // The session also ends when the identity provider's session does.
    if let Some(end) = verified.session_not_on_or_after {
        seconds = seconds.min(end - env.now).max(1);
    }
    let packed = sts::check_session_policies(account, policy, &policy_arns)?;
    // On a store several nodes share, the store remembers redeemed responses, so one
    // redeemed on another node is refused here too.
    let redeemed = match service.redeem_once(
        "saml",
        &format!("{}\n{}", verified.issuer, verified.assertion_id),
        (verified.not_on_or_after + CLOCK_SKEW).saturating_mul(1000),
        env.now.saturating_mul(1000),
    ) {
        Some(fresh) => fresh,
        None => replay.redeem(
            &verified.issuer,
            &verified.assertion_id,
            verified.not_on_or_after,
            env.now,
        ),
    };
    if !redeemed {
        return Err(invalid_token("Response has already been used"));
    }
    let mut claims = role_session(&role_account, role, session_name, env.now, seconds);
    claims.policies = policy.map(str::to_owned).into_iter().collect();
    claims.policy_arns = policy_arns;
    claims.tags = tags;
    claims.transitive_tag_keys = transitive_keys;
    claims.source_identity = source_identity.map(str::to_owned);
    let token = service.seal_session(&claims);
    service.record_role_use(&role_account, &role.name, &env.region);

    let mut x = Xml::new();
    write_credentials(&mut x, &claims, &token);
    write_assumed_role_user(&mut x, &role_account, role, session_name);
    x.num("PackedPolicySize", packed);
    x.text("Subject", &verified.name_id);
    x.text("SubjectType", &sub_type);
    x.text("Issuer", &verified.issuer);
    x.text("Audience", &verified.recipient);
    x.text("NameQualifier", &qualifier);
    x.opt("SourceIdentity", claims.source_identity.as_deref());
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_types_drop_only_the_saml2_prefix() {
        assert_eq!(
            subject_type(Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent")),
            "persistent"
        );
        assert_eq!(
            subject_type(Some(
                "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
            )),
            "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
        );
    }

    #[test]
    fn a_replay_is_refused_until_the_response_expires() {
        let replay = SamlReplay::default();
        assert!(replay.redeem("idp", "_a", 1_000, 900));
        assert!(!replay.redeem("idp", "_a", 1_000, 901));
        assert!(replay.redeem("other", "_a", 1_000, 901));
    }
}
