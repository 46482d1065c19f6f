//! The metadata service's HTTP side: IMDSv2 tokens and the paths the SDKs read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use base64::Engine;
use subtle::ConstantTimeEq;

use crate::instance::{Agent, now};

/// The longest a token lives (EC2's limit).
const MAX_TTL: i64 = 21_600;
/// Tokens kept at once; the expired ones are dropped first.
const MAX_TOKENS: usize = 10_000;
const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
/// Where the container credentials protocol is served (`AWS_CONTAINER_CREDENTIALS_FULL_URI`).
pub const CONTAINER_PATH: &str = "/v1/container-credentials";

struct Imds {
    agent: Arc<Agent>,
    /// Token → expiry (unix seconds).
    tokens: Mutex<HashMap<String, i64>>,
}

/// The metadata service of `agent`.
pub fn router(agent: Arc<Agent>) -> Router {
    let state = Arc::new(Imds {
        agent,
        tokens: Mutex::new(HashMap::new()),
    });
    Router::new()
        .route("/latest/api/token", put(token))
        .route("/latest/meta-data/iam/info", get(iam_info))
        .route("/latest/meta-data/iam/security-credentials", get(role_list))
        .route(
            "/latest/meta-data/iam/security-credentials/",
            get(role_list),
        )
        .route(
            "/latest/meta-data/iam/security-credentials/{role}",
            get(credentials),
        )
        .route("/latest/meta-data/instance-id", get(instance_id))
        .route("/latest/meta-data/placement/region", get(region))
        .route(
            "/latest/dynamic/instance-identity/document",
            get(identity_document),
        )
        .route(CONTAINER_PATH, get(container_credentials))
        .with_state(state)
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain")], body.into()).into_response()
}

async fn token(State(imds): State<Arc<Imds>>, headers: HeaderMap) -> Response {
    // EC2 refuses a token request that came through a proxy.
    if headers.contains_key("x-forwarded-for") {
        return text(StatusCode::FORBIDDEN, "Forbidden");
    }
    let ttl = headers
        .get(TTL_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|t| (1..=MAX_TTL).contains(t));
    let Some(ttl) = ttl else {
        return text(StatusCode::BAD_REQUEST, "Bad Request");
    };
    let bytes: [u8; 32] = rand::random();
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    if let Ok(mut tokens) = imds.tokens.lock() {
        let now = now();
        if tokens.len() >= MAX_TOKENS {
            tokens.retain(|_, expiry| *expiry > now);
        }
        if tokens.len() >= MAX_TOKENS {
            return text(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
        }
        tokens.insert(token.clone(), now + ttl);
    }
    let mut response = text(StatusCode::OK, token);
    if let Ok(v) = ttl.to_string().parse() {
        response.headers_mut().insert(TTL_HEADER, v);
    }
    response
}

impl Imds {
    /// Whether the request may read metadata: a live IMDSv2 token, or IMDSv1 allowed.
    fn admitted(&self, headers: &HeaderMap) -> bool {
        let given = headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok());
        let Some(given) = given else {
            return self.agent.config.imds_v1;
        };
        let now = now();
        self.tokens.lock().ok().is_some_and(|tokens| {
            tokens.iter().any(|(t, expiry)| {
                *expiry > now && bool::from(t.as_bytes().ct_eq(given.as_bytes()))
            })
        })
    }

    /// `answer` for an admitted request, 401 otherwise.
    fn serve(&self, headers: &HeaderMap, answer: impl FnOnce(&Agent) -> Response) -> Response {
        if self.admitted(headers) {
            answer(&self.agent)
        } else {
            text(StatusCode::UNAUTHORIZED, "Unauthorized")
        }
    }
}

fn iso(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn json(value: serde_json::Value) -> Response {
    text(
        StatusCode::OK,
        serde_json::to_string_pretty(&value).unwrap_or_default(),
    )
}

fn not_found() -> Response {
    text(StatusCode::NOT_FOUND, "Not Found")
}

async fn iam_info(State(imds): State<Arc<Imds>>, headers: HeaderMap) -> Response {
    imds.serve(&headers, |agent| match agent.current() {
        Some(d) => json(serde_json::json!({
            "Code": "Success",
            "LastUpdated": d.last_updated,
            "InstanceProfileArn": d.instance_profile_arn,
            "InstanceProfileId": d.instance_profile_id,
        })),
        None => not_found(),
    })
}

async fn role_list(State(imds): State<Arc<Imds>>, headers: HeaderMap) -> Response {
    imds.serve(&headers, |agent| match agent.current() {
        Some(d) => text(StatusCode::OK, d.role_name),
        None => not_found(),
    })
}

async fn credentials(
    State(imds): State<Arc<Imds>>,
    Path(role): Path<String>,
    headers: HeaderMap,
) -> Response {
    imds.serve(&headers, |agent| match agent.current() {
        Some(d) if d.role_name == role => json(serde_json::json!({
            "Code": d.code,
            "LastUpdated": d.last_updated,
            "Type": d.kind,
            "AccessKeyId": d.access_key_id,
            "SecretAccessKey": d.secret_access_key,
            "Token": d.token,
            "Expiration": d.expiration,
        })),
        _ => not_found(),
    })
}

async fn instance_id(State(imds): State<Arc<Imds>>, headers: HeaderMap) -> Response {
    imds.serve(&headers, |agent| {
        text(StatusCode::OK, agent.instance_id.clone())
    })
}

async fn region(State(imds): State<Arc<Imds>>, headers: HeaderMap) -> Response {
    imds.serve(&headers, |agent| match agent.current() {
        Some(d) => text(StatusCode::OK, d.region),
        None => not_found(),
    })
}

async fn identity_document(State(imds): State<Arc<Imds>>, headers: HeaderMap) -> Response {
    imds.serve(&headers, |agent| {
        let Some(d) = agent.current() else {
            return not_found();
        };
        json(serde_json::json!({
            "accountId": d.account_id,
            "architecture": std::env::consts::ARCH,
            "availabilityZone": format!("{}a", d.region),
            "billingProducts": null,
            "devpayProductCodes": null,
            "marketplaceProductCodes": null,
            "imageId": "ami-00000000000000000",
            "instanceId": agent.instance_id,
            "instanceType": "portcullis.agent",
            "kernelId": null,
            "pendingTime": iso(agent.started),
            "privateIp": "127.0.0.1",
            "ramdiskId": null,
            "region": d.region,
            "version": "2017-09-30",
        }))
    })
}

/// The container credentials protocol (ECS/EKS style): `Authorization` must be the token the
/// agent was given; the answer is the SDKs' JSON.
async fn container_credentials(State(imds): State<Arc<Imds>>, headers: HeaderMap) -> Response {
    let Some(expected) = &imds.agent.config.container_token else {
        return not_found();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !bool::from(given.ct_eq(expected.as_bytes())) {
        return text(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    match imds.agent.current() {
        Some(d) => json(serde_json::json!({
            "AccessKeyId": d.access_key_id,
            "SecretAccessKey": d.secret_access_key,
            "Token": d.token,
            "Expiration": d.expiration,
            "RoleArn": d.role_arn,
        })),
        None => not_found(),
    }
}
