//! The authorization API, `POST /v1/authorize` (JSON in, JSON out): a resource server, signed
//! with its own credentials for the signing name `portcullis` and allowed
//! `portcullis:Authorize` on `arn:aws:portcullis::ACCOUNT:service/SIGNING_NAME`, hands over a
//! request one of its clients made to it; Portcullis verifies the client's signature (for
//! the service's signing name), finds the principal, and decides each (action, resource) pair
//! the service asks about with the same code as its own IAM and STS API: `auth.rs` to
//! authenticate, `authz.rs` to decide and word a denial.

use std::collections::BTreeMap;
use std::net::IpAddr;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use portcullis_iam::model::Tag;
use portcullis_policy::PolicySet;

use crate::resource_policies::ResourcePolicies;
use portcullis_sigv4::Request as SignedRequest;
use serde::{Deserialize, Serialize};

use crate::app::{AppState, Incoming, MAX_LOG_FIELD, log_field};
use crate::audit::Facts;
use crate::auth::{Caller, ExpectedScope, authenticate};
use crate::authz::{CallKeys, MatchedItem, Question, RequestEnv, authorize, rule};
use crate::client_request::{authenticate_client, user_agent};
use crate::error::ApiError;

/// Where the API is served.
pub const PATH: &str = "/v1/authorize";
/// The signing name a service signs its call with.
pub const SIGNING_NAME: &str = "portcullis";
/// The action that lets a service ask.
pub const ACTION: &str = "portcullis:Authorize";
/// The largest request body (a service that received a large body sends its hash instead).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The most (action, resource) pairs one call asks about.
pub const MAX_AUTHORIZATIONS: usize = 100;
/// The largest resource policy, in bytes: S3's bucket policy limit (20 KB).
pub const MAX_RESOURCE_POLICY_BYTES: usize = 20 * 1024;
/// The most tags of one resource (AWS's limit per resource).
pub const MAX_RESOURCE_TAGS: usize = 50;
/// The most extra condition keys of one pair, and values of one key.
pub const MAX_CONTEXT_KEYS: usize = 100;
pub const MAX_CONTEXT_VALUES: usize = 100;
/// The most headers of the client's request.
pub const MAX_HEADERS: usize = 200;

/// Condition keys a service may not set: Portcullis sets them from the verified request and
/// the principal (names compared without regard to case, prefixes ending in `/` or `*`).
const RESERVED_KEYS: [&str; 17] = [
    "aws:sourceip",
    "aws:useragent",
    "aws:securetransport",
    "aws:epochtime",
    "aws:currenttime",
    "aws:requestedregion",
    "aws:userid",
    "aws:username",
    "aws:principal*",
    "aws:tokenissuetime",
    "aws:multifactorauth*",
    "aws:sourceidentity",
    "aws:resourcetag/",
    "aws:resourceaccount",
    "aws:federatedprovider",
    // Set by the session of instance credentials.
    "ec2:roledelivery",
    "ec2:sourceinstancearn",
];

/// The call's body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AuthorizeInput {
    /// The signing name the client signed for (`s3`).
    signing_name: String,
    request: ClientRequest,
    authorizations: Vec<PairInput>,
}

/// The client's request, as the service received it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ClientRequest {
    method: String,
    /// The raw path, as on the wire (still percent-encoded).
    path: String,
    /// The raw query string, without `?`.
    #[serde(default)]
    query: String,
    /// `[name, value]` pairs, in order (a name may repeat).
    #[serde(default)]
    headers: Vec<(String, String)>,
    /// The body, base64.
    #[serde(default)]
    body: Option<String>,
    /// The body's SHA-256 (hex), in place of the body.
    #[serde(default)]
    payload_hash: Option<String>,
    /// The client's address (`aws:SourceIp`); left out of the context when not given.
    #[serde(default)]
    source_ip: Option<String>,
    /// Whether the client used TLS (`aws:SecureTransport`).
    #[serde(default)]
    secure_transport: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PairInput {
    action: String,
    resource: String,
    /// The resource's policy (a bucket policy), JSON text.
    #[serde(default)]
    resource_policy: Option<String>,
    #[serde(default)]
    resource_tags: BTreeMap<String, String>,
    /// The account that owns the resource; by default the account in the resource's ARN,
    /// else the service's own account.
    #[serde(default)]
    resource_account: Option<String>,
    /// Service condition keys (`s3:prefix`): a string or a list of strings each.
    #[serde(default)]
    context: BTreeMap<String, KeyValues>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum KeyValues {
    One(String),
    Many(Vec<String>),
}

/// One pair, checked.
struct Pair {
    action: String,
    resource: String,
    resource_policy: Option<std::sync::Arc<PolicySet>>,
    resource_tags: Vec<Tag>,
    resource_account: String,
    one: Vec<(String, String)>,
    many: Vec<(String, Vec<String>)>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Answer<'a> {
    request_id: &'a str,
    /// The client's principal; absent when its signature did not verify.
    #[serde(skip_serializing_if = "Option::is_none")]
    principal: Option<PrincipalOut<'a>>,
    /// The region the client's signature is scoped to (`aws:RequestedRegion`).
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'a str>,
    /// Whether the signature covers the body: false for `UNSIGNED-PAYLOAD` (the service must
    /// then not trust the body as signed) and for an unsigned request.
    payload_signed: bool,
    /// For an aws-chunked body: what the service needs to verify the chunks itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    streaming: Option<StreamingOut>,
    /// The error the client should get when its request is not authentic.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_error: Option<ErrorOut<'a>>,
    results: Vec<ResultOut<'a>>,
}

/// The chain of an aws-chunked body's signatures, for the service that reads the body: the
/// signing key of the client's scope only (one day, region and service), as AWS services
/// receive it; never the secret.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StreamingOut {
    signing_key: String,
    /// The request's `X-Amz-Date`.
    amz_date: String,
    /// `date/region/service/aws4_request`.
    scope: String,
    seed_signature: String,
    /// Every chunk carries a `chunk-signature`.
    signed_chunks: bool,
    /// Trailing headers follow the last chunk (signed when the chunks are).
    trailer: bool,
}

impl StreamingOut {
    fn of(s: &crate::auth::StreamingKey) -> StreamingOut {
        StreamingOut {
            signing_key: s.key.to_hex(),
            amz_date: portcullis_sigv4::format_amz_date(s.request_time),
            scope: s.key.scope().to_scope_string(),
            seed_signature: s.seed_signature.clone(),
            signed_chunks: s.form.signed_chunks,
            trailer: s.form.trailer,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PrincipalOut<'a> {
    arn: &'a str,
    /// Absent for an anonymous caller.
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<&'a str>,
    user_id: &'a str,
    /// `aws:PrincipalType`: `Account`, `User`, `AssumedRole`, `FederatedUser`, `Anonymous`.
    #[serde(rename = "type")]
    kind: &'static str,
    tags: BTreeMap<&'a str, &'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_identity: Option<&'a str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    access_key_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorOut<'a> {
    code: &'a str,
    message: &'a str,
    http_status: u16,
}

impl<'a> ErrorOut<'a> {
    fn of(e: &'a ApiError) -> ErrorOut<'a> {
        ErrorOut {
            code: e.code,
            message: &e.message,
            http_status: e.status,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultOut<'a> {
    action: &'a str,
    resource: &'a str,
    /// `Allow` or `Deny`.
    decision: &'static str,
    /// `allowed`, `explicitDeny` or `implicitDeny`.
    outcome: &'static str,
    matched_statements: Vec<MatchedItem>,
    /// For a denial: AWS's AccessDenied, its message ending with the encoded explanation
    /// (STS DecodeAuthorizationMessage opens it for the account it names).
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorOut<'a>>,
}

/// A JSON answer.
pub fn json_response(status: u16, body: String, request_id: &str) -> Response {
    let mut response = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body,
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-RequestId", v);
    }
    response
}

/// `{"error": {"code", "message"}, "requestId"}`: the API's own refusal.
fn error_json(e: &ApiError, request_id: &str) -> String {
    serde_json::json!({
        "error": {"code": e.code, "message": e.message},
        "requestId": request_id,
    })
    .to_string()
}

/// The API's own refusal as a response.
pub fn error_response(e: &ApiError, request_id: &str) -> Response {
    json_response(e.status, error_json(e, request_id), request_id)
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new("InvalidRequest", 400, message)
}

/// A caller of Portcullis's own JSON APIs for services (signing name `portcullis`), as any
/// caller of the IAM API is authenticated: the caller, the snapshot it was found in, and the
/// request's environment.
pub(crate) struct ServiceCall {
    pub caller: Caller,
    pub snapshot: std::sync::Arc<portcullis_iam::Snapshot>,
    pub env: RequestEnv,
}

/// Authenticates a call to one of Portcullis's JSON APIs for services.
pub(crate) fn authenticate_service(
    state: &AppState,
    incoming: &Incoming,
    facts: &mut Facts,
) -> Result<ServiceCall, ApiError> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let snapshot = state.service.snapshot();
    let signed = incoming.signed();
    let expected = ExpectedScope {
        service: SIGNING_NAME,
        regions: &state.regions,
    };
    let authenticated = authenticate(&state.service, &snapshot, &signed, now, expected);
    let (caller, region) = facts.authenticated(&signed, authenticated)?;
    if !caller.is_session() {
        state
            .service
            .record_key_use(&caller.access_key_id, SIGNING_NAME, &region);
    }
    let client = state.transport.client(incoming.peer, &incoming.headers);
    let env = RequestEnv {
        source_ip: Some(client.ip.to_string()),
        user_agent: incoming.user_agent(),
        secure_transport: client.secure,
        now,
        region,
    };
    Ok(ServiceCall {
        caller,
        snapshot,
        env,
    })
}

/// The API's own refusal as JSON, with its status.
pub(crate) fn refusal(e: &ApiError, request_id: &str) -> (u16, String) {
    (e.status, error_json(e, request_id))
}

/// Authenticates the service, reads its question, checks that it may ask, then answers it.
pub(crate) fn handle(
    state: &AppState,
    incoming: &Incoming,
    request_id: &str,
    facts: &mut Facts,
) -> (u16, String) {
    facts.portcullis_call("Authorize");
    let fail = |e: ApiError| refusal(&e, request_id);
    let ServiceCall {
        caller: service,
        snapshot,
        env: service_env,
    } = match authenticate_service(state, incoming, facts) {
        Ok(call) => call,
        Err(e) => return fail(e),
    };
    let now = service_env.now;

    facts.request_parameters = crate::audit::authorize_parameters(&incoming.body);
    let input: AuthorizeInput = match serde_json::from_slice(&incoming.body) {
        Ok(input) => input,
        Err(e) => return fail(invalid(format!("The request body is not valid: {e}"))),
    };
    let checked = match check(&input, &service.account_id, &state.resource_policies) {
        Ok(checked) => checked,
        Err(e) => return fail(e),
    };
    let target = format!(
        "arn:aws:portcullis::{}:service/{}",
        service.account_id, input.signing_name
    );
    let question = Question {
        action: ACTION,
        resource: &target,
        keys: CallKeys::default(),
        resource_policy: None,
        resource_account: None,
    };
    if let Err(e) = authorize(&state.service, &service, &snapshot, &service_env, &question) {
        tracing::info!(action = ACTION, caller = %service.arn, access_key = %service.access_key_id, code = e.code, "refused");
        return fail(e);
    }

    let answer = answer(
        state, &snapshot, &input, &checked, &service, now, request_id,
    );
    tracing::info!(
        action = ACTION,
        caller = %service.arn,
        access_key = %service.access_key_id,
        signing_name = %log_field(&input.signing_name, MAX_LOG_FIELD),
        pairs = checked.pairs.len(),
        "allowed"
    );
    facts.answered(|| serde_json::from_str(&answer).ok());
    (200, answer)
}

/// The input, checked and compiled.
struct Checked {
    body: Vec<u8>,
    payload_hash: Option<String>,
    source_ip: Option<IpAddr>,
    pairs: Vec<Pair>,
}

fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// Checks every bound and compiles the resource policies: nothing is decided for a call with
/// any fault.
fn check(
    input: &AuthorizeInput,
    service_account: &str,
    policies: &ResourcePolicies,
) -> Result<Checked, ApiError> {
    let name = &input.signing_name;
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(invalid(
            "signingName must be 1 to 64 characters of a-z, 0-9 and '-'.",
        ));
    }
    let r = &input.request;
    if r.method.is_empty()
        || r.method.len() > 16
        || !r.method.bytes().all(|b| b.is_ascii_alphabetic())
    {
        return Err(invalid("request.method must be an HTTP method."));
    }
    if !r.path.starts_with('/') {
        return Err(invalid("request.path must start with '/'."));
    }
    if r.headers.len() > MAX_HEADERS {
        return Err(invalid(format!(
            "request.headers may hold at most {MAX_HEADERS} headers."
        )));
    }
    let body = match (&r.body, &r.payload_hash) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "Give request.body or request.payloadHash, not both.",
            ));
        }
        (Some(b64), None) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| invalid("request.body must be base64."))?,
        _ => Vec::new(),
    };
    let payload_hash = match &r.payload_hash {
        Some(hash) if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(hash.to_ascii_lowercase())
        }
        Some(_) => {
            return Err(invalid(
                "request.payloadHash must be the body's SHA-256 in hex (64 characters).",
            ));
        }
        None => None,
    };
    let source_ip = match &r.source_ip {
        Some(ip) => Some(
            ip.parse::<IpAddr>()
                .map_err(|_| invalid("request.sourceIp must be an IP address."))?,
        ),
        None => None,
    };
    if input.authorizations.is_empty() || input.authorizations.len() > MAX_AUTHORIZATIONS {
        return Err(invalid(format!(
            "authorizations must hold 1 to {MAX_AUTHORIZATIONS} pairs."
        )));
    }
    let pairs = input
        .authorizations
        .iter()
        .enumerate()
        .map(|(i, p)| check_pair(i, p, service_account, policies))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Checked {
        body,
        payload_hash,
        source_ip,
        pairs,
    })
}

fn check_pair(
    i: usize,
    p: &PairInput,
    service_account: &str,
    policies: &ResourcePolicies,
) -> Result<Pair, ApiError> {
    let at = format!("authorizations[{i}]");
    let (service, action) = p.action.split_once(':').unwrap_or_default();
    let word = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if p.action.len() > 128 || !word(service) || !word(action) {
        return Err(invalid(format!(
            "{at}.action must be SERVICE:Action (letters, digits, '-' and '_', at most 128 characters)."
        )));
    }
    if p.resource.is_empty() || p.resource.len() > 2048 {
        return Err(invalid(format!(
            "{at}.resource must be 1 to 2048 characters."
        )));
    }
    let resource_policy = match &p.resource_policy {
        None => None,
        Some(text) if text.len() > MAX_RESOURCE_POLICY_BYTES => {
            return Err(invalid(format!(
                "{at}.resourcePolicy exceeds {MAX_RESOURCE_POLICY_BYTES} bytes."
            )));
        }
        Some(text) => Some(policies.compile(text).map_err(|message| {
            ApiError::new(
                "MalformedPolicyDocument",
                400,
                format!("{at}.resourcePolicy: {message}"),
            )
        })?),
    };
    if p.resource_tags.len() > MAX_RESOURCE_TAGS
        || p.resource_tags
            .iter()
            .any(|(k, v)| k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256)
    {
        return Err(invalid(format!(
            "{at}.resourceTags: at most {MAX_RESOURCE_TAGS} tags, keys 1 to 128 characters, values at most 256."
        )));
    }
    let resource_account = match &p.resource_account {
        Some(a) if is_account_id(a) => a.clone(),
        Some(_) => {
            return Err(invalid(format!(
                "{at}.resourceAccount must be a 12-digit account id."
            )));
        }
        None => p
            .resource
            .split(':')
            .nth(4)
            .filter(|a| is_account_id(a))
            .unwrap_or(service_account)
            .to_owned(),
    };
    if p.context.len() > MAX_CONTEXT_KEYS {
        return Err(invalid(format!(
            "{at}.context holds at most {MAX_CONTEXT_KEYS} keys."
        )));
    }
    let (mut one, mut many) = (Vec::new(), Vec::new());
    for (key, values) in &p.context {
        let lower = key.to_ascii_lowercase();
        let reserved = RESERVED_KEYS.iter().any(|r| match r.strip_suffix('*') {
            Some(prefix) => lower.starts_with(prefix),
            None if r.ends_with('/') => lower.starts_with(r),
            None => lower == *r,
        });
        if key.len() > 256 || !key.contains(':') || reserved {
            return Err(invalid(format!(
                "{at}.context: \"{}\" is not a condition key a service may set (Portcullis sets the aws: keys of the principal and the request itself; resource tags go in resourceTags).",
                log_field(key, 64)
            )));
        }
        match values {
            KeyValues::One(v) => one.push((key.clone(), v.clone())),
            KeyValues::Many(vs) if vs.len() <= MAX_CONTEXT_VALUES => {
                many.push((key.clone(), vs.clone()));
            }
            KeyValues::Many(_) => {
                return Err(invalid(format!(
                    "{at}.context: at most {MAX_CONTEXT_VALUES} values a key."
                )));
            }
        }
    }
    Ok(Pair {
        action: p.action.clone(),
        resource: p.resource.clone(),
        resource_policy,
        resource_tags: p
            .resource_tags
            .iter()
            .map(|(key, value)| Tag {
                key: key.clone(),
                value: value.clone(),
            })
            .collect(),
        resource_account,
        one,
        many,
    })
}

/// Whether the request declares `x-amz-content-sha256: UNSIGNED-PAYLOAD`.
fn declares_unsigned(request: &SignedRequest<'_>) -> bool {
    request
        .header_values("x-amz-content-sha256")
        .any(|v| v.trim_ascii() == portcullis_sigv4::UNSIGNED_PAYLOAD.as_bytes())
}

/// The client's principal and a ruling for each pair, as the answer's JSON.
fn answer(
    state: &AppState,
    snapshot: &portcullis_iam::Snapshot,
    input: &AuthorizeInput,
    checked: &Checked,
    service: &Caller,
    now: i64,
    request_id: &str,
) -> String {
    let r = &input.request;
    let mut request = SignedRequest::new(&r.method, &r.path, &r.query).body(&checked.body);
    if let Some(hash) = &checked.payload_hash {
        request = request.payload_hash(hash);
    }
    for (name, value) in &r.headers {
        request.push_header(name, value.as_bytes());
    }
    let (caller, region, payload_signed, streaming) = match authenticate_client(
        state,
        snapshot,
        &request,
        &input.signing_name,
        &service.account_id,
        now,
    ) {
        Ok(a) => {
            // Without the body (or its hash) at hand, UNSIGNED-PAYLOAD (declared, or
            // presigned) reads as an empty body: say the body is not covered.
            let handed = checked.payload_hash.is_some() || !checked.body.is_empty();
            let covered = a.payload_signed
                && !declares_unsigned(&request)
                && (handed || !r.query.contains("X-Amz-Signature="));
            let streaming = a.streaming.as_ref().map(StreamingOut::of);
            (a.caller, a.region, covered, streaming)
        }
        Err(e) => {
            let answer = Answer {
                request_id,
                principal: None,
                region: None,
                payload_signed: false,
                streaming: None,
                client_error: Some(ErrorOut::of(&e)),
                results: Vec::new(),
            };
            return serde_json::to_string(&answer).unwrap_or_default();
        }
    };
    let user_agent = user_agent(r.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    let env = RequestEnv {
        source_ip: checked.source_ip.map(|ip| ip.to_string()),
        user_agent,
        secure_transport: r.secure_transport,
        now,
        region: region.clone(),
    };
    let rulings: Vec<(crate::authz::Ruling, &Pair)> = checked
        .pairs
        .iter()
        .map(|pair| {
            let extra: Vec<(&str, &str)> = pair
                .one
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let multi: Vec<(&str, &[String])> = pair
                .many
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_slice()))
                .collect();
            let question = Question {
                action: &pair.action,
                resource: &pair.resource,
                keys: CallKeys {
                    resource_tags: &pair.resource_tags,
                    extra: &extra,
                    multi: &multi,
                    ..CallKeys::default()
                },
                resource_policy: pair.resource_policy.as_deref(),
                resource_account: Some(&pair.resource_account),
            };
            (
                rule(&state.service, &caller, snapshot, &env, &question),
                pair,
            )
        })
        .collect();
    let results = rulings
        .iter()
        .map(|(ruling, pair)| ResultOut {
            action: &pair.action,
            resource: &pair.resource,
            decision: if ruling.decision.is_allowed() {
                "Allow"
            } else {
                "Deny"
            },
            outcome: ruling.decision.outcome.as_str(),
            matched_statements: ruling.statements.clone(),
            error: ruling.denial.as_ref().map(ErrorOut::of),
        })
        .collect();
    let answer = Answer {
        request_id,
        principal: Some(PrincipalOut {
            arn: &caller.arn,
            account: caller.principal.account(),
            user_id: &caller.user_id,
            kind: caller.principal.principal_type(),
            tags: caller
                .tags
                .iter()
                .map(|t| (t.key.as_str(), t.value.as_str()))
                .collect(),
            source_identity: caller
                .session
                .as_ref()
                .and_then(|s| s.source_identity.as_deref()),
            access_key_id: &caller.access_key_id,
        }),
        region: Some(&region),
        payload_signed,
        streaming,
        client_error: None,
        results,
    };
    serde_json::to_string(&answer).unwrap_or_default()
}
