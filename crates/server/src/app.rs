//! The HTTP surface: `GET /healthz`, and the AWS Query API at `/` (POST form or GET query),
//! routed on `Action` and `Version`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use portcullis_iam::IamService;
use portcullis_iam::ids::new_request_id;
use portcullis_sigv4::Request as SignedRequest;

use crate::auth::{Api, ExpectedScope, authenticate};
use crate::error::ApiError;
use crate::iam_api::{self, RequestEnv};
use crate::query::Params;
use crate::sts_api;

/// The largest request body accepted: room for the largest IAM input (SAML metadata, up to
/// 10,000,000 characters), nothing more.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Shared by every request.
pub struct AppState {
    pub service: IamService,
    /// OIDC providers' signing keys, for AssumeRoleWithWebIdentity.
    pub jwks: crate::web_identity::JwksCache,
    /// The regions this deployment serves: a signature must be scoped to one of them (any
    /// region when empty).
    pub regions: Vec<String>,
    /// TLS and trusted proxies: where a request comes from (`aws:SourceIp`,
    /// `aws:SecureTransport`).
    pub transport: crate::transport::Transport,
}

impl AppState {
    /// The region of a call that carries no signature (AssumeRoleWithWebIdentity): the first
    /// region served, else `us-east-1`.
    fn default_region(&self) -> &str {
        self.regions.first().map_or("us-east-1", String::as_str)
    }
}

/// The router.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/", any(api))
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok"
}

fn xml_response(status: u16, body: String, request_id: &str) -> Response {
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

async fn api(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response {
    let request_id = new_request_id();
    let (parts, body) = request.into_parts();
    let body = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            let e = ApiError::new(
                "RequestEntityTooLarge",
                413,
                format!("The request body exceeds the maximum of {MAX_BODY_BYTES} bytes."),
            );
            return xml_response(
                e.status,
                e.to_xml(iam_api::NAMESPACE, &request_id),
                &request_id,
            );
        }
    };
    let method = parts.method.clone();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let headers = parts.headers;
    let rid = request_id.clone();
    let answer = tokio::task::spawn_blocking(move || {
        handle(&state, &method, &path, &query, &headers, &body, peer, &rid)
    })
    .await;
    match answer {
        Ok((status, xml)) => xml_response(status, xml, &request_id),
        Err(_) => {
            let e = ApiError::new(
                "ServiceFailure",
                500,
                "The request failed inside the service.",
            );
            xml_response(500, e.to_xml(iam_api::NAMESPACE, &request_id), &request_id)
        }
    }
}

/// The STS action that is served without SigV4.
const WEB_IDENTITY_ACTION: &str = "AssumeRoleWithWebIdentity";

/// Authenticates, routes and runs one API request; returns the status and XML body.
#[allow(clippy::too_many_arguments)]
fn handle(
    state: &AppState,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
    peer: SocketAddr,
    request_id: &str,
) -> (u16, String) {
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
    let fail = |e: ApiError| (e.status, e.to_xml(namespace, request_id));
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let client = state.transport.client(peer, headers);
    let mut env = RequestEnv {
        source_ip: client.ip.to_string(),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        secure_transport: client.secure,
        now,
        region: state.default_region().to_owned(),
    };
    // The one unsigned action: its caller is proved by the web identity token, not SigV4
    // (the SDKs send it without an Authorization header). Any signature is ignored.
    if matches!(api, Api::Sts) && params.get("Action") == Some(WEB_IDENTITY_ACTION) {
        let result =
            sts_api::assume_role_with_web_identity(&params, &state.service, &state.jwks, &env);
        let role = params.get("RoleArn").unwrap_or_default();
        return match result {
            Ok(xml) => {
                tracing::info!(action = WEB_IDENTITY_ACTION, role, "allowed");
                (
                    200,
                    xml.into_response(WEB_IDENTITY_ACTION, namespace, request_id),
                )
            }
            Err(e) => {
                tracing::info!(action = WEB_IDENTITY_ACTION, role, code = e.code, "refused");
                fail(e)
            }
        };
    }

    let header_pairs: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()))
        .collect();
    let mut signed = SignedRequest::new(method.as_str(), path, query).body(body);
    for (name, value) in &header_pairs {
        signed.push_header(name, value);
    }
    let snapshot = state.service.snapshot();
    let service_name = match api {
        Api::Iam => "iam",
        Api::Sts => "sts",
    };
    let expected = ExpectedScope {
        service: service_name,
        regions: &state.regions,
    };
    let caller = match authenticate(&state.service, &snapshot, &signed, now, expected) {
        Ok((caller, region)) => {
            env.region = region;
            caller
        }
        Err(e) => return fail(e),
    };
    if !caller.is_session() {
        state
            .service
            .record_key_use(&caller.access_key_id, service_name, &env.region);
    }
    let Some(action) = params.get("Action").map(str::to_owned) else {
        return fail(ApiError::new(
            "MissingAction",
            400,
            "The request must contain the parameter Action.",
        ));
    };
    if let Some(other) = params
        .get("Version")
        .filter(|v| !matches!(*v, "2010-05-08" | "2011-06-15"))
    {
        return fail(ApiError::new(
            "InvalidAction",
            400,
            format!("Could not find operation {action} for version {other}"),
        ));
    }
    let result = caller.may_call(api, &action).and_then(|()| match api {
        Api::Iam => iam_api::dispatch(&action, &params, &caller, &state.service, &env),
        Api::Sts => sts_api::dispatch(&action, &params, &caller, &state.service, &env),
    });
    match result {
        Ok(xml) => {
            tracing::info!(action, caller = %caller.arn, access_key = %caller.access_key_id, "allowed");
            (200, xml.into_response(&action, namespace, request_id))
        }
        Err(e) => {
            tracing::info!(action, caller = %caller.arn, access_key = %caller.access_key_id, code = e.code, "refused");
            fail(e)
        }
    }
}
