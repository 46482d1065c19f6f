//! Web identity tokens (OpenID Connect ID tokens) for `AssumeRoleWithWebIdentity`.
//!
//! A token is a JWT. Its `iss` is read without trust only to find the IAM OIDC provider of the
//! role's account whose URL it names; the provider's keys are then fetched (and cached) from
//! its JWKS ([`jwks`]), over TLS trusted by the provider's thumbprints ([`pinning`]); the
//! signature (RS256/384/512, PS256/384/512, ES256/384, EdDSA), `iss`, `exp`, `nbf` and `iat`
//! are checked with `jsonwebtoken`, and `aud` (or `azp`) must be one of the provider's client
//! ids. Errors carry AWS's codes: `InvalidIdentityToken`, `ExpiredTokenException`,
//! `IDPCommunicationError`.

pub mod jwks;
pub mod pinning;

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use portcullis_iam::model::OidcProvider;
use portcullis_iam::ops::oidc_providers::{normalize_url, oidc_provider_arn};
use portcullis_iam::state::AccountState;
use serde_json::{Map, Value};

use crate::error::ApiError;
use jwks::FetchError;
pub use jwks::JwksCache;

/// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_SECONDS: i64 = 60;

/// The claim AWS reads a source identity from.
pub const SOURCE_IDENTITY_CLAIM: &str = "https://aws.amazon.com/source_identity";

/// Condition keys of a token: single-valued, then multivalued.
pub type TokenKeys = (Vec<(String, String)>, Vec<(String, Vec<String>)>);

/// A token whose signature and claims were verified.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    /// The provider's URL without `https://` (the prefix of its condition keys).
    pub provider_url: String,
    /// `arn:aws:iam::A:oidc-provider/{url}`.
    pub provider_arn: String,
    /// The `iss` claim as the token gives it.
    pub issuer: String,
    pub subject: String,
    /// The client id the token was accepted for (`azp` when it matched, else `aud`).
    pub audience: String,
    /// Every claim of the token.
    pub claims: Map<String, Value>,
}

impl VerifiedToken {
    /// The condition keys the trust policy sees, besides `aws:FederatedProvider`:
    /// `{url}:sub`, `{url}:aud`, `{url}:azp`, `{url}:email`, `{url}:amr` (multivalued).
    pub fn condition_keys(&self) -> TokenKeys {
        let url = &self.provider_url;
        let mut single = vec![
            (
                "aws:FederatedProvider".to_owned(),
                self.provider_arn.clone(),
            ),
            (format!("{url}:sub"), self.subject.clone()),
            (format!("{url}:aud"), self.audience.clone()),
        ];
        for claim in ["azp", "email"] {
            if let Some(v) = self.claims.get(claim).and_then(Value::as_str) {
                single.push((format!("{url}:{claim}"), v.to_owned()));
            }
        }
        let mut multi = Vec::new();
        if let Some(amr) = self.claims.get("amr") {
            let values = string_values(amr);
            if !values.is_empty() {
                multi.push((format!("{url}:amr"), values));
            }
        }
        (single, multi)
    }

    /// The `https://aws.amazon.com/source_identity` claim, when present.
    pub fn source_identity(&self) -> Option<&str> {
        self.claims
            .get(SOURCE_IDENTITY_CLAIM)
            .and_then(Value::as_str)
    }
}

/// A claim that is a string or an array of strings, as a list.
fn string_values(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new("InvalidIdentityToken", 400, message)
}

fn not_a_jwt() -> ApiError {
    invalid(
        "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)",
    )
}

const ALLOWED_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The OIDC provider of `account` that an `iss` names (`https://` optional, as AWS allows).
pub fn provider_for_issuer<'a>(account: &'a AccountState, iss: &str) -> Option<&'a OidcProvider> {
    let bare = iss
        .get(..8)
        .filter(|s| s.eq_ignore_ascii_case("https://"))
        .map_or(iss, |_| &iss[8..]);
    let url = normalize_url(&format!("https://{bare}")).ok()?;
    account.oidc_providers.get(&url)
}

/// Verifies `token` for a role of `account` at unix time `now`. Must run on a blocking thread
/// of the Tokio runtime (API handlers do): fetching keys is async and is waited for here.
pub fn verify(
    token: &str,
    account_id: &str,
    account: &AccountState,
    cache: &JwksCache,
    now: i64,
) -> Result<VerifiedToken, ApiError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| not_a_jwt())?;
    if !ALLOWED_ALGORITHMS.contains(&header.alg) {
        return Err(invalid(format!(
            "The token's signing algorithm {:?} is not supported: use an asymmetric algorithm (RS256, ES256, ...).",
            header.alg
        )));
    }
    // Unverified: only to find the provider.
    let unverified = jsonwebtoken::dangerous::insecure_decode::<Map<String, Value>>(token)
        .map_err(|_| not_a_jwt())?;
    let issuer = unverified
        .claims
        .get("iss")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("The token has no iss claim."))?
        .to_owned();
    let provider = provider_for_issuer(account, &issuer).ok_or_else(|| {
        invalid(format!(
            "No OpenIDConnect provider found in your account for {issuer}"
        ))
    })?;
    let kid = header.kid.as_deref();
    let fetched = match tokio::runtime::Handle::try_current() {
        Ok(runtime) => runtime.block_on(cache.keys(&provider.url, &provider.thumbprints, kid)),
        Err(_) => Err(FetchError::Communication("no async runtime".into())),
    };
    let set = fetched.map_err(
        |e| match e {
            FetchError::ThumbprintMismatch => invalid(
                "OpenIDConnect provider's HTTPS certificate doesn't match configured thumbprint",
            ),
            FetchError::Communication(why) => {
                tracing::info!(provider = %provider.url, error = %why, "JWKS fetch failed");
                ApiError::new(
                    "IDPCommunicationError",
                    400,
                    "Couldn't retrieve verification key from your identity provider, please reference AssumeRoleWithWebIdentity documentation for requirements",
                )
            }
        },
    )?;
    let candidates: Vec<&Jwk> = set
        .keys
        .iter()
        .filter(|k| match kid {
            Some(kid) => k.common.key_id.as_deref() == Some(kid),
            None => true,
        })
        .collect();
    if candidates.is_empty() {
        return Err(invalid(
            "The token's signing key is not among the identity provider's keys.",
        ));
    }
    let mut validation = Validation::new(header.alg);
    validation.leeway = LEEWAY_SECONDS.unsigned_abs();
    validation.validate_nbf = true;
    validation.validate_aud = false;
    validation.set_issuer(&[issuer.as_str()]);
    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    let mut last = None;
    let mut claims = None;
    for jwk in candidates {
        let Ok(key) = DecodingKey::from_jwk(jwk) else {
            continue;
        };
        match jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation) {
            Ok(data) => {
                claims = Some(data.claims);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let claims = match (claims, last) {
        (Some(c), _) => c,
        (None, Some(e)) => return Err(claim_error(e.kind(), &unverified.claims, now)),
        (None, None) => {
            return Err(invalid(
                "None of the identity provider's keys can verify this token.",
            ));
        }
    };
    if let Some(iat) = claims.get("iat").and_then(Value::as_i64)
        && iat > now + LEEWAY_SECONDS
    {
        return Err(invalid(
            "The token's iat (issued at) time is in the future.",
        ));
    }
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("The token has no sub claim."))?
        .to_owned();
    let audiences = claims.get("aud").map(string_values).unwrap_or_default();
    let azp = claims.get("azp").and_then(Value::as_str);
    let audience = azp
        .filter(|a| provider.client_ids.iter().any(|c| c == a))
        .or_else(|| {
            audiences
                .iter()
                .map(String::as_str)
                .find(|a| provider.client_ids.iter().any(|c| c == a))
        })
        .ok_or_else(|| invalid("Incorrect token audience"))?
        .to_owned();
    Ok(VerifiedToken {
        provider_arn: oidc_provider_arn(account_id, &provider.url),
        provider_url: provider.url.clone(),
        issuer,
        subject,
        audience,
        claims,
    })
}

fn claim_error(kind: &ErrorKind, claims: &Map<String, Value>, now: i64) -> ApiError {
    match kind {
        ErrorKind::ExpiredSignature => {
            let exp = claims
                .get("exp")
                .and_then(Value::as_i64)
                .unwrap_or_default();
            ApiError::new(
                "ExpiredTokenException",
                400,
                format!(
                    "Token expired: current date/time {now} must be before the expiration date/time {exp}"
                ),
            )
        }
        ErrorKind::ImmatureSignature => {
            invalid("The token is not valid yet (nbf is in the future).")
        }
        ErrorKind::InvalidIssuer => invalid("The token's issuer does not match the provider."),
        ErrorKind::MissingRequiredClaim(c) => invalid(format!("The token has no {c} claim.")),
        ErrorKind::InvalidClaimFormat(c) => invalid(format!("The token's {c} claim is malformed.")),
        ErrorKind::InvalidSignature => invalid("The token's signature is not valid."),
        ErrorKind::InvalidAlgorithm => {
            invalid("The token's algorithm does not fit the provider's key.")
        }
        _ => not_a_jwt(),
    }
}
