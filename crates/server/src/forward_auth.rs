//! Forward auth (`/v1/forward-auth`): a reverse proxy asks whether to let a request through,
//! with no code in the protected service. nginx `auth_request`, Traefik `forwardAuth` and
//! Envoy's HTTP `ext_authz` are understood:
//! - nginx: `X-Original-Method` and `X-Original-URI` (set by the documented configuration),
//!   the original `Host` (or `X-Forwarded-Host`);
//! - Traefik: `X-Forwarded-Method`, `X-Forwarded-Uri`, `X-Forwarded-Host`,
//!   `X-Forwarded-Proto`, `X-Forwarded-For`;
//! - Envoy: the check request itself, its path after `/v1/forward-auth`.
//!
//! Only a trusted proxy (`--trusted-proxy`) is answered: the forwarded headers name the
//! request, so anyone else could make them up. The route file maps the request to an action,
//! a resource and a signing name; the client's signature is verified and the pair decided by
//! the same code as the authorization API (`client_request.rs`, `authz::rule`). The answer is
//! 200 with the principal in `X-Portcullis-*` headers for the proxy to hand on, 401 with the
//! client's AWS error when the signature is not good, or 403 with AWS's `AccessDenied` (and
//! its encoded explanation).
//!
//! The body: proxies do not forward it (nginx and Traefik), so the signature is checked
//! against `x-amz-content-sha256` when the client sent one (its hex digest, or
//! `UNSIGNED-PAYLOAD`), else against an empty body; Envoy configured with `with_request_body`
//! sends it, and then it is checked itself. A client that signs a body without the header
//! must send the header for forward auth.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_sigv4::Request as SignedRequest;

use crate::app::{AppState, Incoming, MAX_LOG_FIELD, log_field};
use crate::audit::Facts;
use crate::authz::{CallKeys, Question, RequestEnv, rule};
use crate::client_request::{authenticate_client, user_agent};
use crate::error::ApiError;

/// Where forward auth is served.
pub const PATH: &str = "/v1/forward-auth";
/// Envoy's `ext_authz` appends the original path to its `path_prefix`.
pub const ENVOY_PATH: &str = "/v1/forward-auth/{*original}";

/// Headers of the proxy's own, which never reach the signature check.
const PROXY_HEADERS: [&str; 7] = [
    "x-original-method",
    "x-original-uri",
    "x-original-host",
    "x-forwarded-method",
    "x-forwarded-uri",
    "x-forwarded-host",
    "x-forwarded-proto",
];

fn header<'a>(incoming: &'a Incoming, name: &str) -> Option<&'a str> {
    incoming
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}

/// The original request, as the proxy describes it.
struct Original {
    method: String,
    host: String,
    path: String,
    query: String,
}

fn original(incoming: &Incoming) -> Result<Original, ApiError> {
    let method = header(incoming, "x-original-method")
        .or_else(|| header(incoming, "x-forwarded-method"))
        .unwrap_or(incoming.method.as_str())
        .to_owned();
    let target =
        match header(incoming, "x-original-uri").or_else(|| header(incoming, "x-forwarded-uri")) {
            Some(uri) => uri.to_owned(),
            None => {
                // Envoy: the check request's own path, after the prefix.
                let path = incoming.path.strip_prefix(PATH).unwrap_or_default();
                let path = if path.is_empty() { "/" } else { path };
                if incoming.query.is_empty() {
                    path.to_owned()
                } else {
                    format!("{path}?{}", incoming.query)
                }
            }
        };
    if !target.starts_with('/') {
        return Err(ApiError::new(
            "InvalidRequest",
            400,
            "The original URI must be a path (X-Original-URI or X-Forwarded-Uri).",
        ));
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let host = header(incoming, "x-forwarded-host")
        .or_else(|| header(incoming, "x-original-host"))
        .or_else(|| header(incoming, "host"))
        .unwrap_or_default()
        .to_owned();
    Ok(Original {
        method,
        host,
        path: path.to_owned(),
        query: query.to_owned(),
    })
}

/// A refusal: the AWS error as XML, with the status the proxy acts on.
fn refuse(status: u16, e: &ApiError, request_id: &str) -> (u16, String) {
    (status, e.to_xml(crate::iam_api::NAMESPACE, request_id))
}

/// Decides the proxied request.
pub(crate) fn handle(
    state: &AppState,
    incoming: &Incoming,
    request_id: &str,
    facts: &mut Facts,
) -> (u16, String) {
    facts.portcullis_call("ForwardAuth");
    let Some(routes) = &state.routes else {
        let e = ApiError::new(
            "NotFound",
            404,
            "Forward auth is not configured: start the server with --routes FILE.",
        );
        return refuse(404, &e, request_id);
    };
    if !state.transport.is_trusted_peer(incoming.peer) {
        let e =
            ApiError::access_denied("Forward auth answers trusted proxies only (--trusted-proxy).");
        return refuse(403, &e, request_id);
    }
    let original = match original(incoming) {
        Ok(o) => o,
        Err(e) => return refuse(e.status, &e, request_id),
    };
    let host_name = original
        .host
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(original.host.as_str(), |(h, _)| h);
    facts.request_parameters = Some(serde_json::json!({
        "method": log_field(&original.method, 16),
        "host": log_field(&original.host, MAX_LOG_FIELD),
        "path": log_field(&original.path, 1024),
    }));
    let Some(matched) = routes.find(&original.method, host_name, &original.path) else {
        let e =
            ApiError::access_denied("No route of the forward-auth route file matches the request.");
        tracing::info!(method = %log_field(&original.method, 16), path = %log_field(&original.path, MAX_LOG_FIELD), "forward auth: no route");
        return refuse(403, &e, request_id);
    };

    // The client's request: its own headers, its own host, the body if the proxy sent it.
    let mut request =
        SignedRequest::new(&original.method, &original.path, &original.query).body(&incoming.body);
    let digest = header(incoming, "x-amz-content-sha256")
        .filter(|d| d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()));
    if incoming.body.is_empty()
        && let Some(digest) = digest
    {
        request = request.payload_hash(digest);
    }
    request.push_header("host", original.host.as_bytes());
    for (name, value) in &incoming.headers {
        let name = name.as_str();
        if name != "host" && !PROXY_HEADERS.contains(&name) {
            request.push_header(name, value.as_bytes());
        }
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let snapshot = state.service.snapshot();
    let resource_account = matched
        .resource
        .split(':')
        .nth(4)
        .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or(&state.default_account)
        .to_owned();
    let client = match authenticate_client(
        state,
        &snapshot,
        &request,
        matched.signing_name,
        &resource_account,
        now,
    ) {
        Ok(client) => client,
        Err(e) => {
            let key = portcullis_sigv4::parse(&request).ok();
            facts.identity = Some(crate::audit::unauthenticated(
                key.as_ref().map(|a| a.access_key_id()),
            ));
            tracing::info!(
                action = matched.action,
                code = e.code,
                "forward auth: not authenticated"
            );
            return refuse(401, &e, request_id);
        }
    };
    facts.account_id = client.caller.account_id.clone();
    facts.region = client.region.clone();
    facts.caller = Some(client.caller.clone());
    let transport = state.transport.client(incoming.peer, &incoming.headers);
    let env = RequestEnv {
        source_ip: Some(transport.ip.to_string()),
        user_agent: user_agent(
            incoming
                .headers
                .iter()
                .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?))),
        ),
        secure_transport: transport.secure,
        now,
        region: client.region.clone(),
    };
    let extra: Vec<(&str, &str)> = matched
        .context
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let ruling = rule(
        &state.service,
        &client.caller,
        &snapshot,
        &env,
        &Question {
            action: matched.action,
            resource: &matched.resource,
            keys: CallKeys {
                extra: &extra,
                ..CallKeys::default()
            },
            resource_policy: None,
            resource_account: Some(&resource_account),
        },
    );
    let caller = &client.caller;
    tracing::info!(
        action = matched.action,
        resource = %log_field(&matched.resource, MAX_LOG_FIELD),
        caller = %caller.arn,
        access_key = %caller.access_key_id,
        allowed = ruling.decision.is_allowed(),
        "forward auth"
    );
    if let Some(denial) = &ruling.denial {
        return refuse(403, denial, request_id);
    }
    let principal = [
        ("x-portcullis-principal-arn", caller.arn.clone()),
        (
            "x-portcullis-account",
            caller.principal.account().unwrap_or_default().to_owned(),
        ),
        ("x-portcullis-user-id", caller.user_id.clone()),
        (
            "x-portcullis-principal-type",
            caller.principal.principal_type().to_owned(),
        ),
        (
            "x-portcullis-source-identity",
            caller
                .session
                .as_ref()
                .and_then(|s| s.source_identity.clone())
                .unwrap_or_default(),
        ),
        ("x-portcullis-access-key-id", caller.access_key_id.clone()),
        ("x-portcullis-action", matched.action.to_owned()),
        ("x-portcullis-resource", matched.resource.clone()),
    ];
    // The headers travel to `response` as the body's JSON.
    (200, serde_json::json!(principal).to_string())
}

/// The proxy's answer: 200 with the principal's headers and no body, or the XML refusal.
pub(crate) fn response(status: u16, body: String, request_id: &str) -> Response {
    if status != 200 {
        return crate::app::xml_response(status, body, request_id);
    }
    let headers: Vec<(String, String)> = serde_json::from_str(&body).unwrap_or_default();
    let mut response = StatusCode::OK.into_response();
    let out = response.headers_mut();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            out.insert(name, value);
        }
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        out.insert("x-portcullis-request-id", v.clone());
        out.insert("x-amzn-RequestId", v);
    }
    response
}
