//! Signing requests: the `Authorization` header for Portcullis's own clients and tests, and
//! presigned URLs. The output verifies with [`crate::verify`] and with AWS itself.

use crate::auth::{ALGORITHM, CredentialScope, MAX_PRESIGN_EXPIRES};
use crate::canonical::{UNSIGNED_PAYLOAD, canonical_request, sha256_hex, string_to_sign};
use crate::date::{format_amz_date, format_scope_date};
use crate::error::SignError;
use crate::key::SigningKey;
use crate::request::Request;
use crate::uri::{encode, query_pairs};

/// What the signature says about the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PayloadSigning {
    /// Sign the SHA-256 of the body (what the AWS SDKs do outside S3).
    #[default]
    Body,
    /// Sign `UNSIGNED-PAYLOAD`: the body is left unauthenticated.
    Unsigned,
    /// An aws-chunked body of this form: the headers are signed with its literal
    /// (`STREAMING-...`), and the chunks with [`crate::ChunkSigner`] from the signature.
    Streaming(crate::Streaming),
}

/// Who signs, for which scope, when, and how.
#[derive(Clone)]
pub struct SigningParams<'a> {
    /// The access key id (`AKIA...`, `ASIA...`).
    pub access_key_id: &'a str,
    /// The secret access key.
    pub secret_access_key: &'a str,
    /// The session token of temporary credentials; sent as `X-Amz-Security-Token` and signed.
    pub session_token: Option<&'a str>,
    /// The region, e.g. `us-east-1`.
    pub region: &'a str,
    /// The service signing name, e.g. `iam`.
    pub service: &'a str,
    /// The signing time, unix seconds.
    pub time: i64,
    /// Whether the body is signed.
    pub payload: PayloadSigning,
    /// Header auth: also send (and sign) `x-amz-content-sha256`.
    pub content_sha256_header: bool,
}

impl<'a> SigningParams<'a> {
    /// Long-term credentials, body signed, no `x-amz-content-sha256` header.
    pub fn new(
        access_key_id: &'a str,
        secret_access_key: &'a str,
        region: &'a str,
        service: &'a str,
        time: i64,
    ) -> Self {
        SigningParams {
            access_key_id,
            secret_access_key,
            session_token: None,
            region,
            service,
            time,
            payload: PayloadSigning::Body,
            content_sha256_header: false,
        }
    }

    fn scope(&self) -> CredentialScope {
        CredentialScope::new(format_scope_date(self.time), self.region, self.service)
    }

    fn payload_hash(&self, request: &Request<'_>) -> String {
        match self.payload {
            PayloadSigning::Body => sha256_hex(request.body_bytes()),
            PayloadSigning::Unsigned => UNSIGNED_PAYLOAD.to_owned(),
            PayloadSigning::Streaming(form) => form.literal().to_owned(),
        }
    }
}

/// Debug leaves out the secret and the session token.
impl std::fmt::Debug for SigningParams<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningParams")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.map(|_| "<redacted>"))
            .field("region", &self.region)
            .field("service", &self.service)
            .field("time", &format_amz_date(self.time))
            .field("payload", &self.payload)
            .field("content_sha256_header", &self.content_sha256_header)
            .finish()
    }
}

/// Headers the signer adds itself; a request that already has one is refused.
const SIGNER_HEADERS: [&str; 4] = [
    "authorization",
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-security-token",
];

/// The lowercase names of the request's headers, sorted, without repeats.
fn header_names(request: &Request<'_>, extra: &[&str]) -> Result<Vec<String>, SignError> {
    let mut names: Vec<String> = request
        .headers()
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .chain(extra.iter().map(|n| (*n).to_owned()))
        .collect();
    names.sort_unstable();
    names.dedup();
    if !names.iter().any(|n| n == "host") {
        return Err(SignError::MissingHost);
    }
    Ok(names)
}

fn signature_hex(
    request: &Request<'_>,
    names: &[String],
    payload_hash: &str,
    params: &SigningParams<'_>,
    scope: &CredentialScope,
) -> Result<String, SignError> {
    let creq = canonical_request(request, names, None, payload_hash)
        .map_err(|_| SignError::MissingHost)?;
    let sts = string_to_sign(params.time, scope, &creq);
    let key = SigningKey::derive(params.secret_access_key, scope);
    Ok(crate::hex::encode(&key.sign(sts.as_bytes())))
}

/// Signs `request` with the `Authorization` header. Returns the headers to add to it
/// (`x-amz-date`, optionally `x-amz-content-sha256` and `x-amz-security-token`, then
/// `authorization`). Every header of `request` is signed; it must include `host`.
pub fn sign(
    request: &Request<'_>,
    params: &SigningParams<'_>,
) -> Result<Vec<(&'static str, String)>, SignError> {
    if SIGNER_HEADERS
        .iter()
        .any(|h| request.header_values(h).next().is_some())
    {
        return Err(SignError::AlreadySigned);
    }
    let payload_hash = params.payload_hash(request);
    let mut added: Vec<(&'static str, String)> = vec![("x-amz-date", format_amz_date(params.time))];
    if params.content_sha256_header {
        added.push(("x-amz-content-sha256", payload_hash.clone()));
    }
    if let Some(token) = params.session_token {
        added.push(("x-amz-security-token", token.to_owned()));
    }
    let added_names: Vec<&str> = added.iter().map(|(n, _)| *n).collect();
    let names = header_names(request, &added_names)?;

    let mut full = request.clone();
    for (name, value) in &added {
        full.push_header(name, value.as_bytes());
    }
    let scope = params.scope();
    let signature = signature_hex(&full, &names, &payload_hash, params, &scope)?;
    let authorization = format!(
        "{ALGORITHM} Credential={}/{}, SignedHeaders={}, Signature={signature}",
        params.access_key_id,
        scope.to_scope_string(),
        names.join(";"),
    );
    added.push(("authorization", authorization));
    Ok(added)
}

/// Presigns `request`: returns its new raw query string (the original parameters, then
/// `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`,
/// `X-Amz-SignedHeaders`, `X-Amz-Security-Token` if any, and `X-Amz-Signature`), valid for
/// `expires_in` seconds (1..=604800). Every header of `request` is signed; it must include
/// `host`.
pub fn presign(
    request: &Request<'_>,
    params: &SigningParams<'_>,
    expires_in: u32,
) -> Result<String, SignError> {
    if !(1..=MAX_PRESIGN_EXPIRES).contains(&expires_in) {
        return Err(SignError::InvalidExpires);
    }
    let presigned = query_pairs(request.query())
        .any(|(name, _)| name.starts_with(b"X-Amz-") && name != b"X-Amz-Content-Sha256");
    if presigned || request.header_values("authorization").next().is_some() {
        return Err(SignError::AlreadySigned);
    }
    let names = header_names(request, &[])?;
    let scope = params.scope();

    let mut query = request.query().to_owned();
    let credential = format!("{}/{}", params.access_key_id, scope.to_scope_string());
    let expires = expires_in.to_string();
    let signed_headers = names.join(";");
    let amz_date = format_amz_date(params.time);
    let mut added = vec![
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", credential.as_str()),
        ("X-Amz-Date", amz_date.as_str()),
        ("X-Amz-Expires", expires.as_str()),
        ("X-Amz-SignedHeaders", signed_headers.as_str()),
    ];
    if let Some(token) = params.session_token {
        added.push(("X-Amz-Security-Token", token));
    }
    for (name, value) in added {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(name);
        query.push('=');
        query.push_str(&encode(value.as_bytes()));
    }
    let payload_hash = params.payload_hash(request);
    let signature = signature_hex(
        &request.with_query(&query),
        &names,
        &payload_hash,
        params,
        &scope,
    )?;
    query.push_str("&X-Amz-Signature=");
    query.push_str(&signature);
    Ok(query)
}
