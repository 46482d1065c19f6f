//! Reading a request's SigV4 authentication without any secret: which key, which scope,
//! when, what was signed. The server uses the access key id to find the secret, then calls
//! [`crate::verify`].

use crate::date::{format_amz_date, parse_amz_date, parse_http_date, parse_scope_date};
use crate::error::{AuthLocation, Error, excerpt};
use crate::request::Request;
use crate::uri::query_pairs;

/// The only algorithm supported: SigV4 with HMAC-SHA256.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The last element of every credential scope.
pub const SCOPE_TERMINATOR: &str = "aws4_request";
/// The longest a presigned URL may be valid (`X-Amz-Expires`), in seconds: one week.
pub const MAX_PRESIGN_EXPIRES: u32 = 604_800;

/// The scope a signing key is derived for: `date/region/service/aws4_request`.
///
/// Hashable so a server can cache [`crate::SigningKey`]s by `(access key id, scope)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CredentialScope {
    /// `YYYYMMDD`.
    pub date: String,
    /// The region, e.g. `us-east-1`.
    pub region: String,
    /// The service signing name, e.g. `iam` or `sts`.
    pub service: String,
}

impl CredentialScope {
    /// A scope from its parts; `date` is `YYYYMMDD`.
    pub fn new(
        date: impl Into<String>,
        region: impl Into<String>,
        service: impl Into<String>,
    ) -> Self {
        CredentialScope {
            date: date.into(),
            region: region.into(),
            service: service.into(),
        }
    }

    /// `date/region/service/aws4_request`, as the string to sign and the credential carry it.
    pub fn to_scope_string(&self) -> String {
        format!(
            "{}/{}/{}/{SCOPE_TERMINATOR}",
            self.date, self.region, self.service
        )
    }
}

/// How the request was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// The `Authorization` header.
    Header,
    /// A presigned URL, valid for `expires` seconds from the request time.
    Presigned {
        /// `X-Amz-Expires`, 1..=604800.
        expires: u32,
    },
}

/// The SigV4 authentication a request claims, parsed but not yet verified.
#[derive(Clone)]
pub struct Authentication {
    access_key_id: String,
    scope: CredentialScope,
    request_time: i64,
    signed_headers: Vec<String>,
    signature: [u8; 32],
    session_token: Option<String>,
    kind: AuthKind,
}

impl Authentication {
    /// The access key id from the credential (`AKIA...`, `ASIA...`).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The credential scope (date, region, service).
    pub fn scope(&self) -> &CredentialScope {
        &self.scope
    }

    /// The request time (from `X-Amz-Date`, or the `Date` header), unix seconds.
    pub fn request_time(&self) -> i64 {
        self.request_time
    }

    /// The signed header names, lowercase, in the order the client listed them.
    pub fn signed_headers(&self) -> &[String] {
        &self.signed_headers
    }

    /// The signature the request carries, lowercase hex: the seed of an aws-chunked body's
    /// chunk signatures.
    pub fn signature_hex(&self) -> String {
        crate::hex::encode(&self.signature)
    }

    /// The session token (`X-Amz-Security-Token`, header or query), if any.
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }

    /// Header or presigned authentication.
    pub fn kind(&self) -> AuthKind {
        self.kind
    }

    /// For a presigned request, `X-Amz-Expires` in seconds.
    pub fn presigned_expires(&self) -> Option<u32> {
        match self.kind {
            AuthKind::Presigned { expires } => Some(expires),
            AuthKind::Header => None,
        }
    }

    /// The signature the client sent.
    pub(crate) fn signature(&self) -> &[u8; 32] {
        &self.signature
    }
}

/// Debug leaves out the signature and the session token (a bearer credential).
impl std::fmt::Debug for Authentication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authentication")
            .field("access_key_id", &self.access_key_id)
            .field("scope", &self.scope)
            .field("request_time", &format_amz_date(self.request_time))
            .field("signed_headers", &self.signed_headers)
            .field("signature", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("kind", &self.kind)
            .finish()
    }
}

/// Reads the SigV4 authentication of `request` from its `Authorization` header or its
/// presigned query parameters. Needs no secret and no clock.
pub fn parse(request: &Request<'_>) -> Result<Authentication, Error> {
    let authorization = request
        .single_header("authorization")
        .map_err(|()| header_error("more than one Authorization header"))?;
    let presigned = query_pairs(request.query()).any(|(name, _)| {
        matches!(
            name.as_slice(),
            b"X-Amz-Algorithm" | b"X-Amz-Signature" | b"X-Amz-Credential"
        )
    });
    match (authorization, presigned) {
        (None, false) => Err(Error::MissingAuthentication),
        (Some(_), true) => Err(Error::ConflictingAuthentication),
        (Some(value), false) => parse_header(request, value),
        (None, true) => parse_query(request),
    }
}

fn header_error(reason: &str) -> Error {
    Error::Malformed {
        location: AuthLocation::Header,
        reason: reason.to_owned(),
    }
}

fn query_error(reason: &str) -> Error {
    Error::Malformed {
        location: AuthLocation::Query,
        reason: reason.to_owned(),
    }
}

/// Names the algorithm only if it looks like one: an `Authorization` value without a space
/// (a bare bearer token, say) must not be echoed into an error message or a log.
fn unsupported_algorithm(algorithm: &str) -> Error {
    let looks_like_a_name = algorithm.len() <= 32
        && algorithm
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    Error::UnsupportedAlgorithm {
        algorithm: if looks_like_a_name {
            algorithm.to_owned()
        } else {
            "<unrecognized>".to_owned()
        },
    }
}

fn parse_header(request: &Request<'_>, value: &[u8]) -> Result<Authentication, Error> {
    let value = std::str::from_utf8(value)
        .map_err(|_| header_error("the Authorization header is not UTF-8"))?
        .trim();
    let (algorithm, rest) = value.split_once(' ').unwrap_or((value, ""));
    if algorithm != ALGORITHM {
        return Err(unsupported_algorithm(algorithm));
    }

    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for component in rest.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        // Never echo the component: it may be a signature written without its '='.
        let (name, value) = component
            .split_once('=')
            .ok_or_else(|| header_error("a component is not of the form 'name=value'"))?;
        let slot = match name.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            other => {
                return Err(header_error(&format!(
                    "unknown component '{}'",
                    excerpt(other)
                )));
            }
        };
        if slot.replace(value.trim()).is_some() {
            return Err(header_error(&format!("'{}' appears twice", name.trim())));
        }
    }
    let mut missing = Vec::new();
    for (name, value) in [
        ("Credential", &credential),
        ("SignedHeaders", &signed_headers),
        ("Signature", &signature),
    ] {
        if value.is_none() {
            missing.push(format!("Authorization header requires '{name}' parameter."));
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(header_error(&missing.join(" ")));
    };

    let (access_key_id, scope) = parse_credential(credential)?;
    let signed_headers = parse_signed_headers(signed_headers, AuthLocation::Header)?;
    let signature = crate::hex::decode_32(signature)
        .ok_or_else(|| header_error("Signature must be 64 lowercase hex digits"))?;
    let request_time = header_request_time(request)?;
    let session_token = header_text(request, "x-amz-security-token")?;

    Ok(Authentication {
        access_key_id,
        scope,
        request_time,
        signed_headers,
        signature,
        session_token,
        kind: AuthKind::Header,
    })
}

/// A header that must appear at most once and be UTF-8.
fn header_text(request: &Request<'_>, name: &str) -> Result<Option<String>, Error> {
    let value = request
        .single_header(name)
        .map_err(|()| header_error(&format!("more than one {name} header")))?;
    value
        .map(|v| {
            std::str::from_utf8(v)
                .map(|s| s.trim().to_owned())
                .map_err(|_| header_error(&format!("the {name} header is not UTF-8")))
        })
        .transpose()
}

/// `X-Amz-Date` if present, else `Date` (HTTP date, or the ISO-8601 basic form).
fn header_request_time(request: &Request<'_>) -> Result<i64, Error> {
    if let Some(value) = header_text(request, "x-amz-date")? {
        return parse_amz_date(&value).ok_or(Error::InvalidDate {
            value: excerpt(&value),
        });
    }
    let value = header_text(request, "date")?.ok_or(Error::MissingDate)?;
    parse_http_date(&value)
        .or_else(|| parse_amz_date(&value))
        .ok_or(Error::InvalidDate {
            value: excerpt(&value),
        })
}

fn parse_credential(credential: &str) -> Result<(String, CredentialScope), Error> {
    let malformed = |reason: String| Error::MalformedCredential { reason };
    let parts: Vec<&str> = credential.split('/').collect();
    let [akid, date, region, service, terminator] = parts.as_slice() else {
        return Err(malformed(format!(
            "Credential must have the form 'access-key-id/YYYYMMDD/region/service/aws4_request'; \
             got '{}'",
            excerpt(credential)
        )));
    };
    if *terminator != SCOPE_TERMINATOR {
        return Err(malformed(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'.",
            excerpt(terminator)
        )));
    }
    if akid.is_empty() || region.is_empty() || service.is_empty() {
        return Err(malformed(
            "Credential has an empty access key id, region or service".to_owned(),
        ));
    }
    if parse_scope_date(date).is_none() {
        return Err(malformed(format!(
            "Credential should be scoped to a valid date (YYYYMMDD), not '{}'.",
            excerpt(date)
        )));
    }
    Ok((
        (*akid).to_owned(),
        CredentialScope::new(*date, *region, *service),
    ))
}

fn parse_signed_headers(list: &str, location: AuthLocation) -> Result<Vec<String>, Error> {
    let malformed = |reason: &str| Error::Malformed {
        location,
        reason: reason.to_owned(),
    };
    let names: Vec<String> = list.split(';').map(str::to_ascii_lowercase).collect();
    if names
        .iter()
        .any(|n| n.is_empty() || n.bytes().any(|b| b <= b' ' || b == b':'))
    {
        return Err(malformed(
            "SignedHeaders must be header names separated by ';'",
        ));
    }
    if !names.iter().any(|n| n == "host") {
        return Err(Error::HostNotSigned);
    }
    Ok(names)
}

/// The presigned parameters, each at most once.
#[derive(Default)]
struct QueryAuth {
    algorithm: Option<String>,
    credential: Option<String>,
    date: Option<String>,
    expires: Option<String>,
    signed_headers: Option<String>,
    signature: Option<String>,
    security_token: Option<String>,
}

fn parse_query(request: &Request<'_>) -> Result<Authentication, Error> {
    let mut q = QueryAuth::default();
    for (name, value) in query_pairs(request.query()) {
        let slot = match name.as_slice() {
            b"X-Amz-Algorithm" => &mut q.algorithm,
            b"X-Amz-Credential" => &mut q.credential,
            b"X-Amz-Date" => &mut q.date,
            b"X-Amz-Expires" => &mut q.expires,
            b"X-Amz-SignedHeaders" => &mut q.signed_headers,
            b"X-Amz-Signature" => &mut q.signature,
            b"X-Amz-Security-Token" => &mut q.security_token,
            _ => continue,
        };
        let text = String::from_utf8(value).map_err(|_| {
            query_error(&format!("{} is not UTF-8", String::from_utf8_lossy(&name)))
        })?;
        if slot.replace(text).is_some() {
            return Err(query_error(&format!(
                "{} appears twice",
                String::from_utf8_lossy(&name)
            )));
        }
    }
    let required = |value: Option<String>, name: &str| {
        value.ok_or_else(|| query_error(&format!("the {name} query parameter is required")))
    };
    let algorithm = required(q.algorithm, "X-Amz-Algorithm")?;
    if algorithm != ALGORITHM {
        return Err(unsupported_algorithm(&algorithm));
    }
    let (access_key_id, scope) = parse_credential(&required(q.credential, "X-Amz-Credential")?)?;
    let date = q.date.ok_or(Error::MissingDate)?;
    let request_time = parse_amz_date(&date).ok_or(Error::InvalidDate {
        value: excerpt(&date),
    })?;
    let expires = required(q.expires, "X-Amz-Expires")?;
    let expires = expires
        .parse::<u32>()
        .ok()
        .filter(|e| {
            (1..=MAX_PRESIGN_EXPIRES).contains(e) && expires.bytes().all(|b| b.is_ascii_digit())
        })
        .ok_or(Error::InvalidExpires {
            value: excerpt(&expires),
        })?;
    let signed_headers = parse_signed_headers(
        &required(q.signed_headers, "X-Amz-SignedHeaders")?,
        AuthLocation::Query,
    )?;
    let signature = crate::hex::decode_32(&required(q.signature, "X-Amz-Signature")?)
        .ok_or_else(|| query_error("X-Amz-Signature must be 64 lowercase hex digits"))?;
    let session_token = match q.security_token {
        Some(token) => Some(token),
        None => header_text(request, "x-amz-security-token")?,
    };
    Ok(Authentication {
        access_key_id,
        scope,
        request_time,
        signed_headers,
        signature,
        session_token,
        kind: AuthKind::Presigned { expires },
    })
}
