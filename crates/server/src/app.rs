//! The HTTP surface: `GET /healthz`, the AWS Query API at `/` (POST form or GET query),
//! routed on `Action` and `Version`, and the authorization API at `POST /v1/authorize`
//! (JSON, [`crate::authorize_api`]), both behind the same slots, body limits and timeouts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use portcullis_iam::IamService;
use portcullis_iam::ids::new_request_id;
use portcullis_iam::model::KeyStatus;
use portcullis_sigv4::Request as SignedRequest;

use crate::audit::{Audit, Facts};
use crate::auth::{Api, ExpectedScope, authenticate};
use crate::error::ApiError;
use crate::iam_api::{self, RequestEnv};
use crate::query::Params;
use crate::sts_api;

/// The largest request body accepted: room for the largest IAM input (SAML metadata, up to
/// 10,000,000 characters), nothing more.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// The largest body read from a request that does not carry SigV4 authentication by a key
/// that exists (or a session token that opens): AssumeRoleWithWebIdentity, the one unsigned
/// action, needs far less (a 20,000-character token, a 2,048-character policy).
pub const MAX_UNAUTHENTICATED_BODY_BYTES: usize = 64 * 1024;
/// The longest a request body may take to arrive.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest a whole API request may take (body, authentication, the action).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The most API requests served at once; more wait up to [`QUEUE_WAIT`], then get 503.
pub const MAX_IN_FLIGHT: usize = 256;
/// How long a request waits for one of the [`MAX_IN_FLIGHT`] slots.
pub const QUEUE_WAIT: Duration = Duration::from_secs(1);
/// The most characters of a value from the network that a log line carries.
pub const MAX_LOG_FIELD: usize = 128;

/// Shared by every request.
pub struct AppState {
    pub service: IamService,
    /// OIDC providers' signing keys, for AssumeRoleWithWebIdentity.
    pub jwks: crate::web_identity::JwksCache,
    /// SAML responses already redeemed, for AssumeRoleWithSAML.
    pub saml_replay: crate::sts_api::SamlReplay,
    /// The regions this deployment serves: a signature must be scoped to one of them (any
    /// region when empty).
    pub regions: Vec<String>,
    /// TLS and trusted proxies: where a request comes from (`aws:SourceIp`,
    /// `aws:SecureTransport`).
    pub transport: crate::transport::Transport,
    /// Slots for API requests in flight ([`MAX_IN_FLIGHT`]). A slot is held until the
    /// request's work ends, even when its client was answered by a timeout.
    pub in_flight: Arc<tokio::sync::Semaphore>,
    /// Resource policies services hand over, compiled once.
    pub resource_policies: crate::resource_policies::ResourcePolicies,
    /// Forward auth's routes, when configured.
    pub routes: Option<crate::routes::Routes>,
    /// The account the server was started for: an anonymous request's account when its
    /// resource names none.
    pub default_account: String,
    /// What `/metrics` reports ([`crate::metrics`]); `None` when it is not served (nothing
    /// is counted then).
    pub metrics: Option<crate::metrics::Metrics>,
}

impl AppState {
    /// The region of a call that carries no signature (AssumeRoleWithWebIdentity): the first
    /// region served, else `us-east-1`.
    pub(crate) fn default_region(&self) -> &str {
        self.regions.first().map_or("us-east-1", String::as_str)
    }
}

/// `value` cut to at most `max` characters (with `…` when cut), for a log line: fields that
/// come from the network are logged through it.
pub fn log_field(value: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match value.char_indices().nth(max) {
        None => value.into(),
        Some((end, _)) => format!("{}…", &value[..end]).into(),
    }
}

/// The router.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/", any(api))
        .route(crate::authorize_api::PATH, post(authorize))
        .route(
            crate::instance_credentials::PATH,
            post(instance_credentials),
        )
        .route(crate::forward_auth::PATH, any(forward_auth))
        .route(crate::forward_auth::ENVOY_PATH, any(forward_auth))
        .with_state(state)
}

/// `ok`, or 503 with the reason when this node of a shared store is not following the
/// others (its decisions may be older than the cluster's bound).
async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    match state.service.lagging() {
        None => "ok".into_response(),
        Some(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("behind: {why}\n")).into_response(),
    }
}

/// The metrics listener's routes (`--metrics-listen`): `GET /metrics` only.
pub fn metrics_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let text = state
        .metrics
        .as_ref()
        .map(|m| m.render(state.service.audit_backlog() as u64))
        .unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

pub(crate) fn xml_response(status: u16, body: String, request_id: &str) -> Response {
    let mut response = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body,
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-RequestId", v);
    }
    response
}

fn error_response(e: &ApiError, request_id: &str) -> Response {
    xml_response(
        e.status,
        e.to_xml(iam_api::NAMESPACE, request_id),
        request_id,
    )
}

/// What a request is to: the IAM/STS Query API (XML) or the authorization API (JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Query,
    /// CloudTrail's JSON 1.1 API on `/` (an `X-Amz-Target` of CloudTrail).
    CloudTrail,
    Authorize,
    InstanceCredentials,
    ForwardAuth,
}

impl Endpoint {
    /// The largest body a request signed by a known key may send.
    fn body_limit(self) -> usize {
        match self {
            Endpoint::Query => MAX_BODY_BYTES,
            Endpoint::CloudTrail => crate::authorize_api::MAX_BODY_BYTES,
            Endpoint::Authorize => crate::authorize_api::MAX_BODY_BYTES,
            Endpoint::InstanceCredentials => 4096,
            Endpoint::ForwardAuth => crate::authorize_api::MAX_BODY_BYTES,
        }
    }

    fn response(self, status: u16, body: String, request_id: &str) -> Response {
        match self {
            Endpoint::Query => xml_response(status, body, request_id),
            Endpoint::CloudTrail => crate::cloudtrail_api::response(status, body, request_id),
            Endpoint::ForwardAuth => crate::forward_auth::response(status, body, request_id),
            Endpoint::Authorize | Endpoint::InstanceCredentials => {
                crate::authorize_api::json_response(status, body, request_id)
            }
        }
    }

    fn error_response(self, e: &ApiError, request_id: &str) -> Response {
        match self {
            Endpoint::Query | Endpoint::ForwardAuth => error_response(e, request_id),
            Endpoint::CloudTrail => crate::cloudtrail_api::response(
                e.status,
                crate::cloudtrail_api::error_body(e),
                request_id,
            ),
            Endpoint::Authorize | Endpoint::InstanceCredentials => {
                crate::authorize_api::error_response(e, request_id)
            }
        }
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        "RequestEntityTooLarge",
        413,
        format!("The request body exceeds the maximum of {limit} bytes."),
    )
}

async fn api(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response {
    let cloudtrail = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| crate::cloudtrail_api::operation(t).is_some());
    let endpoint = if cloudtrail {
        Endpoint::CloudTrail
    } else {
        Endpoint::Query
    };
    guarded(state, peer, request, endpoint).await
}

async fn authorize(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response {
    guarded(state, peer, request, Endpoint::Authorize).await
}

async fn instance_credentials(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response {
    guarded(state, peer, request, Endpoint::InstanceCredentials).await
}

async fn forward_auth(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response {
    guarded(state, peer, request, Endpoint::ForwardAuth).await
}

/// Serves one request of `endpoint` within a slot and [`REQUEST_TIMEOUT`].
async fn guarded(
    state: Arc<AppState>,
    peer: SocketAddr,
    request: Request<Body>,
    endpoint: Endpoint,
) -> Response {
    let request_id = new_request_id();
    // A slot first: a flood waits briefly, then is told to come back (SDKs retry 503).
    let slot = state.in_flight.clone().acquire_owned();
    let Ok(Ok(slot)) = tokio::time::timeout(QUEUE_WAIT, slot).await else {
        let e = ApiError::new(
            "ServiceUnavailable",
            503,
            "The service is busy; retry the request.",
        );
        return endpoint.error_response(&e, &request_id);
    };
    let served = tokio::time::timeout(
        REQUEST_TIMEOUT,
        serve(state.clone(), slot, peer, request, &request_id, endpoint),
    );
    match served.await {
        Ok(response) => response,
        Err(_) => {
            let e = ApiError::new(
                "ServiceUnavailable",
                503,
                "The request took too long to serve; retry it.",
            );
            endpoint.error_response(&e, &request_id)
        }
    }
}

/// Whether the request carries SigV4 authentication (header or presigned query) by a long-term
/// key that exists and is active, or with a session token that opens for its key id. Only
/// such a request may send more than [`MAX_UNAUTHENTICATED_BODY_BYTES`]; the signature itself
/// is verified later, over the whole request.
fn claims_known_credentials(state: &AppState, parts: &Parts) -> bool {
    let query = parts.uri.query().unwrap_or_default();
    let mut request = SignedRequest::new(parts.method.as_str(), parts.uri.path(), query);
    for (name, value) in &parts.headers {
        request.push_header(name.as_str(), value.as_bytes());
    }
    let Ok(auth) = portcullis_sigv4::parse(&request) else {
        return false;
    };
    match auth.session_token() {
        Some(token) => {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            state
                .service
                .open_session(token, now)
                .is_ok_and(|claims| claims.access_key_id == auth.access_key_id())
        }
        None => state
            .service
            .snapshot()
            .state
            .access_keys
            .get(auth.access_key_id())
            .is_some_and(|k| k.status == KeyStatus::Active),
    }
}

/// Reads the body (within its limit and [`BODY_TIMEOUT`]) and runs the request.
async fn serve(
    state: Arc<AppState>,
    slot: tokio::sync::OwnedSemaphorePermit,
    peer: SocketAddr,
    request: Request<Body>,
    request_id: &str,
    endpoint: Endpoint,
) -> Response {
    let (parts, body) = request.into_parts();
    let limit = if claims_known_credentials(&state, &parts) {
        endpoint.body_limit()
    } else {
        MAX_UNAUTHENTICATED_BODY_BYTES
    };
    // A declared length over the limit is refused before a byte of the body is read.
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return endpoint.error_response(&too_large(limit), request_id);
    }
    let body = match tokio::time::timeout(BODY_TIMEOUT, to_bytes(body, limit)).await {
        Ok(Ok(b)) => b,
        Ok(Err(_)) => return endpoint.error_response(&too_large(limit), request_id),
        Err(_) => {
            let e = ApiError::new(
                "RequestTimeout",
                400,
                "The request body was not received within the time allowed.",
            );
            return endpoint.error_response(&e, request_id);
        }
    };
    let incoming = Incoming {
        method: parts.method.clone(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts.headers,
        body,
        peer,
    };
    let rid = request_id.to_owned();
    let answer = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        // The one audit point: every door's request is recorded, and what it changed is
        // committed with its record (crate::audit).
        let mut audit = Audit::begin(&state.service, state.metrics.is_some());
        let client = state.transport.client(incoming.peer, &incoming.headers);
        audit.facts.source_ip = client.ip.to_string();
        audit.facts.user_agent = log_field(&incoming.user_agent(), 1024).into_owned();
        audit.facts.region = state.default_region().to_owned();
        audit.facts.account_id = state.default_account.clone();
        let facts = &mut audit.facts;
        let (status, body) = match endpoint {
            Endpoint::Query => handle(&state, &incoming, &rid, facts),
            Endpoint::CloudTrail => crate::cloudtrail_api::handle(&state, &incoming, facts),
            Endpoint::Authorize => crate::authorize_api::handle(&state, &incoming, &rid, facts),
            Endpoint::InstanceCredentials => {
                crate::instance_credentials::handle(&state, &incoming, &rid, facts)
            }
            Endpoint::ForwardAuth => crate::forward_auth::handle(&state, &incoming, &rid, facts),
        };
        audit
            .finish(&state.service, state.metrics.as_ref(), &rid, status, &body)
            .map(|recorded| (status, body, recorded))
    })
    .await;
    match answer {
        // Answered only once its event is durable (awaited without holding a thread).
        Ok(Ok((status, body, recorded))) => match recorded.await {
            Ok(()) => endpoint.response(status, body, request_id),
            Err(e) => {
                endpoint.error_response(&ApiError::from(portcullis_iam::not_stored(e)), request_id)
            }
        },
        Ok(Err(e)) => endpoint.error_response(&e, request_id),
        Err(_) => {
            let e = ApiError::new(
                "ServiceFailure",
                500,
                "The request failed inside the service.",
            );
            endpoint.error_response(&e, request_id)
        }
    }
}

/// A request whose body has been read, as the handlers see it.
pub(crate) struct Incoming {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
    pub peer: SocketAddr,
}

impl Incoming {
    /// The request as SigV4 reads it.
    pub fn signed(&self) -> SignedRequest<'_> {
        let mut signed =
            SignedRequest::new(self.method.as_str(), &self.path, &self.query).body(&self.body);
        for (name, value) in &self.headers {
            signed.push_header(name.as_str(), value.as_bytes());
        }
        signed
    }

    /// `aws:UserAgent`.
    pub fn user_agent(&self) -> String {
        self.headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }
}

/// The STS actions that are served without SigV4: the caller is proved by what it presents
/// (a web identity token, a SAML response).
const WEB_IDENTITY_ACTION: &str = "AssumeRoleWithWebIdentity";
const SAML_ACTION: &str = "AssumeRoleWithSAML";

/// Authenticates, routes and runs one API request; returns the status and XML body.
fn handle(
    state: &AppState,
    incoming: &Incoming,
    request_id: &str,
    facts: &mut Facts,
) -> (u16, String) {
    let (namespace, result) = query(state, incoming, request_id, facts);
    match result {
        Ok(body) => (200, body),
        Err(e) => {
            facts.fail(&e);
            (e.status, e.to_xml(namespace, request_id))
        }
    }
}

/// [`handle`]'s work: the API's namespace, and the response document or the error.
fn query(
    state: &AppState,
    incoming: &Incoming,
    request_id: &str,
    facts: &mut Facts,
) -> (&'static str, Result<String, ApiError>) {
    let Incoming {
        method,
        query,
        headers,
        body,
        peer,
        ..
    } = incoming;
    let mut params = if *method == Method::POST {
        Params::parse(body)
    } else {
        Params::default()
    };
    params.merge(Params::parse(query.as_bytes()));
    // The API (and so the error namespace) is known before anything else is checked.
    let api = match params.get("Version") {
        Some("2011-06-15") => Api::Sts,
        _ => Api::Iam,
    };
    let namespace = match api {
        Api::Iam => iam_api::NAMESPACE,
        Api::Sts => sts_api::NAMESPACE,
    };
    facts.event_source = match api {
        Api::Iam => "iam.amazonaws.com",
        Api::Sts => "sts.amazonaws.com",
    }
    .to_owned();
    facts.event_name =
        log_field(params.get("Action").unwrap_or_default(), MAX_LOG_FIELD).into_owned();
    facts.request_parameters = crate::audit::query_parameters(&params);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let client = state.transport.client(*peer, headers);
    let mut env = RequestEnv {
        source_ip: Some(client.ip.to_string()),
        user_agent: incoming.user_agent(),
        secure_transport: client.secure,
        now,
        region: state.default_region().to_owned(),
    };
    // The unsigned actions: the caller is proved by the web identity token or the SAML
    // response, not SigV4 (the SDKs send them without an Authorization header). Any
    // signature is ignored.
    let unsigned = match params.get("Action") {
        Some(WEB_IDENTITY_ACTION) => Some(WEB_IDENTITY_ACTION),
        Some(SAML_ACTION) => Some(SAML_ACTION),
        _ => None,
    };
    if let (Api::Sts, Some(action)) = (api, unsigned) {
        let role_arn = params.get("RoleArn").unwrap_or_default();
        facts.identity = Some(if action == SAML_ACTION {
            crate::audit::saml_user(role_arn)
        } else {
            crate::audit::web_identity(role_arn)
        });
        if let Some(account) = role_arn.split(':').nth(4).filter(|a| !a.is_empty()) {
            facts.account_id = account.to_owned();
        }
        let result = if action == SAML_ACTION {
            sts_api::assume_role_with_saml(&params, &state.service, &state.saml_replay, &env)
        } else {
            sts_api::assume_role_with_web_identity(&params, &state.service, &state.jwks, &env)
        };
        let role = log_field(role_arn, MAX_LOG_FIELD);
        return match result {
            Ok(xml) => {
                tracing::info!(action, role = %role, "allowed");
                facts.answered(|| crate::audit::response_elements(xml.as_str()));
                (
                    namespace,
                    Ok(xml.into_response(action, namespace, request_id)),
                )
            }
            Err(e) => {
                tracing::info!(action, role = %role, code = e.code, "refused");
                (namespace, Err(e))
            }
        };
    }

    let signed = incoming.signed();
    let snapshot = state.service.snapshot();
    let service_name = match api {
        Api::Iam => "iam",
        Api::Sts => "sts",
    };
    let expected = ExpectedScope {
        service: service_name,
        regions: &state.regions,
    };
    let authenticated = authenticate(&state.service, &snapshot, &signed, now, expected);
    let caller = match facts.authenticated(&signed, authenticated) {
        Ok((caller, region)) => {
            env.region = region;
            caller
        }
        Err(e) => return (namespace, Err(e)),
    };
    if !caller.is_session() {
        state
            .service
            .record_key_use(&caller.access_key_id, service_name, &env.region);
    }
    let Some(action) = params.get("Action").map(str::to_owned) else {
        return (
            namespace,
            Err(ApiError::new(
                "MissingAction",
                400,
                "The request must contain the parameter Action.",
            )),
        );
    };
    if let Some(other) = params
        .get("Version")
        .filter(|v| !matches!(*v, "2010-05-08" | "2011-06-15"))
    {
        return (
            namespace,
            Err(ApiError::new(
                "InvalidAction",
                400,
                format!("Could not find operation {action} for version {other}"),
            )),
        );
    }
    let result = caller.may_call(api, &action).and_then(|()| match api {
        Api::Iam => iam_api::dispatch(&action, &params, &caller, &state.service, &env),
        Api::Sts => sts_api::dispatch(&action, &params, &caller, &state.service, &env),
    });
    let logged_action = log_field(&action, MAX_LOG_FIELD);
    match result {
        Ok(xml) => {
            tracing::info!(action = %logged_action, caller = %caller.arn, access_key = %caller.access_key_id, "allowed");
            facts.answered(|| crate::audit::response_elements(xml.as_str()));
            (
                namespace,
                Ok(xml.into_response(&action, namespace, request_id)),
            )
        }
        Err(e) => {
            tracing::info!(action = %logged_action, caller = %caller.arn, access_key = %caller.access_key_id, code = e.code, "refused");
            (namespace, Err(e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_fields_are_cut_to_their_bound() {
        assert_eq!(log_field("short", 10), "short");
        assert_eq!(log_field("exactly10!", 10), "exactly10!");
        assert_eq!(log_field("0123456789abc", 10), "0123456789…");
        // Cut on a character boundary, never inside one.
        assert_eq!(log_field("ééééé", 2), "éé…");
        let huge = "x".repeat(MAX_BODY_BYTES);
        assert_eq!(
            log_field(&huge, MAX_LOG_FIELD).chars().count(),
            MAX_LOG_FIELD + 1
        );
    }
}
