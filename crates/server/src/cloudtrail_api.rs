//! CloudTrail's `LookupEvents` on the same endpoint (JSON 1.1, `X-Amz-Target`), reading the
//! audit trail of the caller's account as `aws cloudtrail lookup-events` and boto3 expect:
//! one lookup attribute at most, `StartTime`/`EndTime` (epoch seconds), `MaxResults` (1-50),
//! `NextToken`, newest first. Authenticated like every call (`cloudtrail` signing name) and
//! allowed by `cloudtrail:LookupEvents`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use portcullis_iam::audit::{AuditQuery, LookupKey};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::{AppState, Incoming};
use crate::audit::Facts;
use crate::auth::{ExpectedScope, authenticate};
use crate::authz::{self, CallKeys, Question, RequestEnv};
use crate::error::ApiError;

/// The `X-Amz-Target` prefixes of CloudTrail's operations: botocore (the AWS CLI, boto3)
/// sends the model's full target prefix, the Smithy SDKs (Rust, Java v2, ...) the service
/// shape's name; CloudTrail accepts both.
const TARGET_PREFIXES: [&str; 2] = [
    "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.",
    "CloudTrail_20131101.",
];

/// The operation an `X-Amz-Target` names, if it is one of CloudTrail's.
pub fn operation(target: &str) -> Option<&str> {
    TARGET_PREFIXES
        .iter()
        .find_map(|prefix| target.strip_prefix(prefix))
}
const SIGNING_NAME: &str = "cloudtrail";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
const MAX_RESULTS: usize = 50;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LookupInput {
    #[serde(default)]
    lookup_attributes: Vec<LookupAttribute>,
    start_time: Option<f64>,
    end_time: Option<f64>,
    event_category: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LookupAttribute {
    attribute_key: String,
    attribute_value: String,
}

fn error(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(code, 400, message)
}

/// CloudTrail's JSON error body.
pub fn error_body(e: &ApiError) -> String {
    json!({"__type": e.code, "message": e.message}).to_string()
}

/// A JSON 1.1 answer.
pub fn response(status: u16, body: String, request_id: &str) -> Response {
    let mut response = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body,
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-RequestId", v);
    }
    response
}

/// The JSON protocols' names for the Query API's authentication errors.
fn json_protocol(e: ApiError) -> ApiError {
    match e.code {
        "InvalidClientTokenId" => ApiError {
            code: "UnrecognizedClientException",
            ..e
        },
        "SignatureDoesNotMatch" => ApiError {
            code: "InvalidSignatureException",
            ..e
        },
        // The JSON services answer a refusal with 400, as they answer every client error.
        "AccessDenied" => ApiError {
            code: "AccessDeniedException",
            status: 400,
            ..e
        },
        _ => e,
    }
}

pub(crate) fn handle(state: &AppState, incoming: &Incoming, facts: &mut Facts) -> (u16, String) {
    facts.event_source = "cloudtrail.amazonaws.com".to_owned();
    facts.read_only = Some(true);
    match serve(state, incoming, facts) {
        Ok(body) => (200, body),
        Err(e) => {
            let e = json_protocol(e);
            facts.fail(&e);
            (e.status, error_body(&e))
        }
    }
}

fn serve(state: &AppState, incoming: &Incoming, facts: &mut Facts) -> Result<String, ApiError> {
    let target = incoming
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let operation = operation(target).unwrap_or(target);
    facts.event_name = crate::app::log_field(operation, crate::app::MAX_LOG_FIELD).into_owned();
    facts.request_parameters = serde_json::from_slice::<Value>(&incoming.body)
        .ok()
        .map(camel_keys);

    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let snapshot = state.service.snapshot();
    let signed = incoming.signed();
    let expected = ExpectedScope {
        service: SIGNING_NAME,
        regions: &state.regions,
    };
    let authenticated = authenticate(&state.service, &snapshot, &signed, now, expected);
    let (caller, region) = facts.authenticated(&signed, authenticated)?;
    if operation != "LookupEvents" {
        return Err(ApiError::new(
            "UnknownOperationException",
            400,
            format!(
                "Portcullis serves CloudTrail's LookupEvents only, not {}.",
                facts.event_name
            ),
        ));
    }
    let input: LookupInput = serde_json::from_slice(&incoming.body).map_err(|e| {
        ApiError::new(
            "SerializationException",
            400,
            format!("The request body is not valid: {e}"),
        )
    })?;
    let query = checked(&input, &caller.account_id)?;
    let client = state.transport.client(incoming.peer, &incoming.headers);
    let env = RequestEnv {
        source_ip: Some(client.ip.to_string()),
        user_agent: incoming.user_agent(),
        secure_transport: client.secure,
        now,
        region,
    };
    authz::authorize(
        &state.service,
        &caller,
        &snapshot,
        &env,
        &Question {
            action: "cloudtrail:LookupEvents",
            resource: "*",
            keys: CallKeys::default(),
            resource_policy: None,
            resource_account: None,
        },
    )?;
    let limit = query.limit;
    // One more than asked: whether there is a next page.
    let mut found = state.service.audit_lookup(&AuditQuery {
        limit: limit + 1,
        ..query
    })?;
    let next = (found.len() > limit).then(|| {
        found.truncate(limit);
        found
            .last()
            .map(|e| B64.encode(format!("v1:{}", e.sequence)))
    });
    let events: Vec<Value> = found
        .iter()
        .filter_map(|stored| {
            let event: Value = serde_json::from_str(&stored.body).ok()?;
            Some(lookup_event(&event, stored.time_ms, &stored.body))
        })
        .collect();
    let mut out = json!({ "Events": events });
    if let Some(Some(token)) = next {
        out["NextToken"] = Value::String(token);
    }
    facts.response_elements = None;
    Ok(out.to_string())
}

/// CloudTrail's `requestParameters` name fields in camelCase.
fn camel_keys(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let mut c = k.chars();
                    let key = match c.next() {
                        Some(f) => f.to_lowercase().chain(c).collect(),
                        None => k,
                    };
                    (key, camel_keys(v))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(camel_keys).collect()),
        other => other,
    }
}

fn checked(input: &LookupInput, account_id: &str) -> Result<AuditQuery, ApiError> {
    if input.lookup_attributes.len() > 1 {
        return Err(error(
            "InvalidLookupAttributesException",
            "You cannot specify more than one lookup attribute.",
        ));
    }
    let lookup = match input.lookup_attributes.first() {
        Some(a) => {
            let key = LookupKey::parse(&a.attribute_key).ok_or_else(|| {
                error(
                    "InvalidLookupAttributesException",
                    format!(
                        "The attribute key {} is not valid.",
                        crate::app::log_field(&a.attribute_key, 64)
                    ),
                )
            })?;
            if a.attribute_value.is_empty() || a.attribute_value.chars().count() > 2000 {
                return Err(error(
                    "InvalidLookupAttributesException",
                    "The attribute value must be 1 to 2000 characters.",
                ));
            }
            Some((key, a.attribute_value.clone()))
        }
        None => None,
    };
    if let Some(category) = &input.event_category {
        if category != "insight" {
            return Err(error(
                "InvalidEventCategoryException",
                "The event category must be insight.",
            ));
        }
    }
    let to_ms = |t: f64| (t * 1000.0) as i64;
    let (start_ms, end_ms) = (input.start_time.map(to_ms), input.end_time.map(to_ms));
    if let (Some(s), Some(e)) = (start_ms, end_ms) {
        if s > e {
            return Err(error(
                "InvalidTimeRangeException",
                "The start time must be before the end time.",
            ));
        }
    }
    let limit = match input.max_results {
        None => MAX_RESULTS,
        Some(n) if (1..=MAX_RESULTS as i64).contains(&n) => n as usize,
        Some(_) => {
            return Err(error(
                "InvalidMaxResultsException",
                "MaxResults must be between 1 and 50.",
            ));
        }
    };
    let before_sequence = match &input.next_token {
        None => None,
        Some(token) => Some(
            B64.decode(token)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|t| t.strip_prefix("v1:").and_then(|n| n.parse::<u64>().ok()))
                .ok_or_else(|| error("InvalidNextTokenException", "The NextToken is not valid."))?,
        ),
    };
    Ok(AuditQuery {
        account_id: account_id.to_owned(),
        lookup,
        start_ms,
        end_ms,
        before_sequence,
        limit,
    })
}

/// One entry of LookupEvents' `Events`, from the stored event.
fn lookup_event(event: &Value, time_ms: i64, body: &str) -> Value {
    let identity = &event["userIdentity"];
    let username = match identity["type"].as_str() {
        Some("Root") => Some("root".to_owned()),
        Some("AssumedRole" | "FederatedUser") => identity["arn"]
            .as_str()
            .and_then(|a| a.rsplit('/').next())
            .map(str::to_owned),
        _ => identity["userName"].as_str().map(str::to_owned),
    };
    let resources: Vec<Value> = event["resources"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| json!({"ResourceType": r["type"], "ResourceName": r["ARN"]}))
                .collect()
        })
        .unwrap_or_default();
    let mut out = json!({
        "EventId": event["eventID"],
        "EventName": event["eventName"],
        "ReadOnly": if event["readOnly"].as_bool() == Some(true) { "true" } else { "false" },
        "EventTime": time_ms as f64 / 1000.0,
        "EventSource": event["eventSource"],
        "Resources": resources,
        "CloudTrailEvent": body,
    });
    if let Some(key) = identity["accessKeyId"].as_str() {
        out["AccessKeyId"] = Value::String(key.to_owned());
    }
    if let Some(name) = username {
        out["Username"] = Value::String(name);
    }
    out
}
