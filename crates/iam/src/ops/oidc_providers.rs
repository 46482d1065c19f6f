//! OpenID Connect identity providers: create, read, delete, client ids, thumbprints, tags.

use crate::error::{IamError, IamResult};
use crate::model::{OidcProvider, Tag, now_timestamp};
use crate::names::check_tags;
use crate::state::{AccountState, IamState, Touched};

/// The most OpenID Connect providers an account may have.
pub const MAX_OIDC_PROVIDERS: usize = 100;
/// The most client ids (audiences) one provider may have.
pub const MAX_CLIENT_IDS: usize = 100;
/// The most thumbprints one provider may have.
pub const MAX_THUMBPRINTS: usize = 5;

/// `arn:aws:iam::A:oidc-provider/{url}` (the URL without `https://`).
pub fn oidc_provider_arn(account_id: &str, url: &str) -> String {
    format!("arn:aws:iam::{account_id}:oidc-provider/{url}")
}

/// The key of a provider URL: without `https://`, the host lowercased, the path as given.
/// The URL must be `https://host[:port][/path]`, at most 255 characters, without user info,
/// query or fragment.
pub fn normalize_url(url: &str) -> IamResult<String> {
    if url.is_empty() || url.chars().count() > 255 {
        return Err(IamError::ValidationError(format!(
            "1 validation error detected: Value '{url}' at 'url' failed to satisfy constraint: Member must have length less than or equal to 255 and greater than or equal to 1"
        )));
    }
    let invalid = |why: &str| IamError::InvalidInput(format!("Invalid URL {url}: {why}."));
    let rest = url
        .get(..8)
        .filter(|scheme| scheme.eq_ignore_ascii_case("https://"))
        .and_then(|_| url.get(8..))
        .ok_or_else(|| invalid("the URL must begin with https://"))?;
    let uri: http::Uri = url
        .parse()
        .map_err(|_| invalid("it is not a well-formed URL"))?;
    let authority = uri.authority().ok_or_else(|| invalid("it names no host"))?;
    if authority.host().is_empty() || authority.as_str().contains('@') {
        return Err(invalid("it must name a host, without user information"));
    }
    if uri.query().is_some() || url.contains('#') {
        return Err(invalid("query parameters and fragments are not allowed"));
    }
    let (host, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    Ok(format!("{}{path}", host.to_ascii_lowercase()))
}

/// Thumbprints: at most five, each 40 hex digits; returned lowercase, without repeats.
pub fn check_thumbprints(thumbprints: &[String]) -> IamResult<Vec<String>> {
    if thumbprints.len() > MAX_THUMBPRINTS {
        return Err(IamError::InvalidInput(format!(
            "Thumbprint list must contain at most {MAX_THUMBPRINTS} entries."
        )));
    }
    let mut out: Vec<String> = Vec::with_capacity(thumbprints.len());
    for t in thumbprints {
        if t.chars().count() != 40 {
            return Err(IamError::ValidationError(format!(
                "1 validation error detected: Value '{t}' at 'thumbprintList' failed to satisfy constraint: Member must have length less than or equal to 40 and greater than or equal to 40"
            )));
        }
        if !t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(IamError::InvalidInput(format!(
                "Thumbprint {t} is not valid: a thumbprint is the 40 hexadecimal digits of a SHA-1 fingerprint."
            )));
        }
        let t = t.to_ascii_lowercase();
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

fn check_client_id(id: &str) -> IamResult<()> {
    if id.is_empty() || id.chars().count() > 255 {
        return Err(IamError::ValidationError(format!(
            "1 validation error detected: Value '{id}' at 'clientID' failed to satisfy constraint: Member must have length less than or equal to 255 and greater than or equal to 1"
        )));
    }
    Ok(())
}

fn check_client_id_count(count: usize) -> IamResult<()> {
    if count > MAX_CLIENT_IDS {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {MAX_CLIENT_IDS}."
        )));
    }
    Ok(())
}

/// The URL key of the provider `arn` names in `account_id`.
pub fn url_from_arn(account_id: &str, arn: &str) -> IamResult<String> {
    let resource = super::arn_resource(account_id, arn, "oidc-provider", "OpenIDConnect Provider")?;
    let (host, path) = match resource.find('/') {
        Some(i) => resource.split_at(i),
        None => (resource, ""),
    };
    let url = format!("{}{path}", host.to_ascii_lowercase());
    // The stored key is the provider's own text (host lowercased): an ARN in any other case
    // names no provider, so a policy on the exact ARN cannot be stepped around.
    if url != resource {
        return Err(not_found(arn));
    }
    Ok(url)
}

/// The provider `arn` names.
pub fn find<'a>(account: &'a AccountState, arn: &str) -> IamResult<&'a OidcProvider> {
    let url = url_from_arn(&account.settings.account_id, arn)?;
    account
        .oidc_providers
        .get(&url)
        .ok_or_else(|| not_found(arn))
}

fn not_found(arn: &str) -> IamError {
    IamError::NoSuchEntity(format!("OpenIDConnect Provider not found for arn {arn}"))
}

fn find_mut<'a>(
    state: &'a mut IamState,
    account_id: &str,
    arn: &str,
) -> IamResult<(&'a mut OidcProvider, String)> {
    let url = url_from_arn(account_id, arn)?;
    let account = state.account_mut(account_id)?;
    let provider = account
        .oidc_providers
        .get_mut(&url)
        .ok_or_else(|| not_found(arn))?;
    Ok((provider, url))
}

pub fn create_oidc_provider(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    url: &str,
    client_ids: &[String],
    thumbprints: &[String],
    tags: &[Tag],
) -> IamResult<OidcProvider> {
    // The model's constraints first, every violation listed together, as AWS validates a
    // request: the URL's length, each client id's and thumbprint's, the tags.
    let length = |value: &str, at: String, min: usize, max: usize| -> IamResult<()> {
        if (min..=max).contains(&value.chars().count()) {
            Ok(())
        } else {
            Err(crate::names::coral(&[format!(
                "Value '{value}' at '{at}' failed to satisfy constraint: Member must have length less than or equal to {max} and greater than or equal to {min}"
            )]))
        }
    };
    let mut checks = vec![length(url, "url".into(), 1, 255)];
    for (i, id) in client_ids.iter().enumerate() {
        checks.push(length(id, format!("clientIDList.{}.member", i + 1), 1, 255));
    }
    for (i, t) in thumbprints.iter().enumerate() {
        checks.push(length(
            t,
            format!("thumbprintList.{}.member", i + 1),
            40,
            40,
        ));
    }
    checks.push(check_tags(&[], tags).map(|_| ()));
    crate::names::all_valid(checks)?;
    let key = normalize_url(url)?;
    let mut ids: Vec<String> = Vec::with_capacity(client_ids.len());
    for id in client_ids {
        check_client_id(id)?;
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    check_client_id_count(ids.len())?;
    let thumbprints = check_thumbprints(thumbprints)?;
    let tags = check_tags(&[], tags)?;
    let account = state.account_mut(account_id)?;
    if account.oidc_providers.contains_key(&key) {
        return Err(IamError::EntityAlreadyExists(format!(
            "Provider with url {url} already exists."
        )));
    }
    if account.oidc_providers.len() >= MAX_OIDC_PROVIDERS {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for OpenIdConnectProvidersPerAccount: {MAX_OIDC_PROVIDERS}."
        )));
    }
    let provider = OidcProvider {
        url: key.clone(),
        client_ids: ids,
        thumbprints,
        create_date: now_timestamp(),
        tags,
    };
    account.oidc_providers.insert(key.clone(), provider.clone());
    touched.oidc_provider(account_id, &key);
    Ok(provider)
}

/// DeleteOpenIDConnectProvider.
pub fn delete_oidc_provider(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    arn: &str,
) -> IamResult<()> {
    // Idempotent, as AWS documents it: deleting a provider that does not exist (or an ARN
    // that names none, in another case) succeeds and changes nothing. A malformed ARN is
    // still refused.
    let url = match url_from_arn(account_id, arn) {
        Ok(url) => url,
        Err(IamError::NoSuchEntity(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let account = state.account_mut(account_id)?;
    if account.oidc_providers.remove(&url).is_some() {
        touched.oidc_provider(account_id, &url);
    }
    Ok(())
}

/// Adds an audience; adding one the provider already has changes nothing, as in AWS.
pub fn add_client_id(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    arn: &str,
    client_id: &str,
) -> IamResult<()> {
    check_client_id(client_id)?;
    let (provider, url) = find_mut(state, account_id, arn)?;
    if provider.client_ids.iter().any(|c| c == client_id) {
        return Ok(());
    }
    check_client_id_count(provider.client_ids.len() + 1)?;
    provider.client_ids.push(client_id.to_owned());
    touched.oidc_provider(account_id, &url);
    Ok(())
}

/// Removes an audience; removing one the provider does not have is not an error, as in AWS.
pub fn remove_client_id(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    arn: &str,
    client_id: &str,
) -> IamResult<()> {
    check_client_id(client_id)?;
    let (provider, url) = find_mut(state, account_id, arn)?;
    let before = provider.client_ids.len();
    provider.client_ids.retain(|c| c != client_id);
    if provider.client_ids.len() != before {
        touched.oidc_provider(account_id, &url);
    }
    Ok(())
}

/// Replaces the thumbprint list.
pub fn update_thumbprints(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    arn: &str,
    thumbprints: &[String],
) -> IamResult<()> {
    let thumbprints = check_thumbprints(thumbprints)?;
    let (provider, url) = find_mut(state, account_id, arn)?;
    provider.thumbprints = thumbprints;
    touched.oidc_provider(account_id, &url);
    Ok(())
}

pub fn tag_oidc_provider(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    arn: &str,
    tags: &[Tag],
) -> IamResult<()> {
    let (provider, url) = find_mut(state, account_id, arn)?;
    provider.tags = check_tags(&provider.tags, tags)?;
    touched.oidc_provider(account_id, &url);
    Ok(())
}

pub fn untag_oidc_provider(
    state: &mut IamState,
    touched: &mut Touched,
    account_id: &str,
    arn: &str,
    keys: &[String],
) -> IamResult<()> {
    let (provider, url) = find_mut(state, account_id, arn)?;
    provider
        .tags
        .retain(|t| !keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)));
    touched.oidc_provider(account_id, &url);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_https_without_query_and_keyed_by_lowercase_host() {
        assert_eq!(
            normalize_url("https://Token.Actions.GitHubusercontent.com").unwrap(),
            "token.actions.githubusercontent.com"
        );
        assert_eq!(
            normalize_url("https://idp.example.com/tenants/Acme").unwrap(),
            "idp.example.com/tenants/Acme"
        );
        assert_eq!(
            normalize_url("https://idp.example.com:8443").unwrap(),
            "idp.example.com:8443"
        );
        for bad in [
            "http://idp.example.com",
            "idp.example.com",
            "https://",
            "https://idp.example.com/?a=b",
            "https://idp.example.com/#x",
            "https://user@idp.example.com",
            "https://idp example.com",
        ] {
            assert!(normalize_url(bad).is_err(), "{bad}");
        }
        assert_eq!(
            normalize_url(&format!("https://{}.com", "a".repeat(250)))
                .unwrap_err()
                .code(),
            "ValidationError"
        );
    }

    #[test]
    fn thumbprints_are_forty_hex_digits_at_most_five() {
        let ok = "9E99A48A9960B14926BB7F3B02E22DA2B0AB7280".to_owned();
        assert_eq!(
            check_thumbprints(&[ok.clone(), ok.to_lowercase()]).unwrap(),
            [ok.to_lowercase()]
        );
        assert!(check_thumbprints(&["abc".into()]).is_err());
        assert!(check_thumbprints(&["Z".repeat(40)]).is_err());
        let six: Vec<String> = (0..6).map(|i| format!("{i:040}")).collect();
        assert!(check_thumbprints(&six).is_err());
    }
}
