//! One event in CloudTrail's record format (eventVersion 1.09), plus one field of ours: the
//! statements that decided the request.

use serde::{Deserialize, Serialize};

/// The CloudTrail record format version the events follow.
pub const EVENT_VERSION: &str = "1.09";

/// One request that reached Portcullis, as CloudTrail records an API call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub event_version: String,
    pub user_identity: UserIdentity,
    /// ISO 8601 UTC, seconds precision, as CloudTrail writes it (`2026-12-03T20:15:08Z`).
    pub event_time: String,
    /// `iam.amazonaws.com`, `sts.amazonaws.com`, or the protected service's source.
    pub event_source: String,
    pub event_name: String,
    pub aws_region: String,
    #[serde(rename = "sourceIPAddress")]
    pub source_ip_address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Already passed through [`crate::audit::redact`].
    pub request_parameters: Option<serde_json::Value>,
    /// Already passed through [`crate::audit::redact`].
    pub response_elements: Option<serde_json::Value>,
    /// The `x-amzn-RequestId` the client got.
    #[serde(rename = "requestID")]
    pub request_id: String,
    #[serde(rename = "eventID")]
    pub event_id: String,
    pub read_only: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<Resource>,
    /// `AwsApiCall`, or `AwsServiceEvent` for what Portcullis does by itself.
    pub event_type: String,
    pub management_event: bool,
    pub recipient_account_id: String,
    /// Ours: each decision the request asked for and the statements that made it, so that
    /// a denial is explained in the trail.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub portcullis_decisions: Vec<DecisionRecord>,
}

/// One decision of a request: what was asked, the answer, and the statements that made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionRecord {
    pub action: String,
    pub resource: String,
    /// `Allow`, `ExplicitDeny` or `ImplicitDeny`.
    pub decision: String,
    /// `ALLOW|DENY <policy label> #<statement index> (<Sid>)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matched_statements: Vec<String>,
    /// For an implicit deny: the kind of policy that lacked an Allow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_allow: Option<String>,
}

/// Who made the request, as CloudTrail's `userIdentity`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    /// `Root`, `IAMUser`, `AssumedRole`, `FederatedUser`, `WebIdentityUser`, `AWSService`,
    /// or `Unknown` (unsigned or failed authentication).
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_context: Option<SessionContext>,
}

/// The session behind temporary credentials.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_issuer: Option<SessionIssuer>,
    pub attributes: SessionAttributes,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_identity: Option<String>,
}

/// The role or user that issued the session.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionIssuer {
    #[serde(rename = "type")]
    pub kind: String,
    pub principal_id: String,
    pub arn: String,
    pub account_id: String,
    pub user_name: String,
}

/// When the session was made and whether with MFA. CloudTrail writes `mfaAuthenticated` as
/// the string `"true"`/`"false"`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionAttributes {
    pub creation_date: String,
    pub mfa_authenticated: String,
}

/// A resource the call acted on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    #[serde(rename = "ARN")]
    pub arn: String,
    #[serde(rename = "accountId")]
    pub account_id: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_with_cloudtrails_field_names() {
        let event = AuditEvent {
            event_version: EVENT_VERSION.into(),
            user_identity: UserIdentity {
                kind: "IAMUser".into(),
                principal_id: Some("AIDAEXAMPLE".into()),
                arn: Some("arn:aws:iam::123456789012:user/alice".into()),
                account_id: Some("123456789012".into()),
                access_key_id: Some("AKIAEXAMPLE".into()),
                user_name: Some("alice".into()),
                session_context: None,
            },
            event_time: "2026-12-03T20:15:08Z".into(),
            event_source: "iam.amazonaws.com".into(),
            event_name: "CreateUser".into(),
            aws_region: "us-east-1".into(),
            source_ip_address: "127.0.0.1".into(),
            user_agent: Some("aws-cli/2".into()),
            error_code: None,
            error_message: None,
            request_parameters: Some(serde_json::json!({"userName": "bob"})),
            response_elements: None,
            request_id: "req-1".into(),
            event_id: "ev-1".into(),
            read_only: false,
            resources: vec![],
            event_type: "AwsApiCall".into(),
            management_event: true,
            recipient_account_id: "123456789012".into(),
            portcullis_decisions: vec![],
        };
        let json = serde_json::to_value(&event).expect("serializes");
        for field in [
            "eventVersion",
            "userIdentity",
            "eventTime",
            "eventSource",
            "eventName",
            "awsRegion",
            "sourceIPAddress",
            "userAgent",
            "requestParameters",
            "responseElements",
            "requestID",
            "eventID",
            "readOnly",
            "eventType",
            "managementEvent",
            "recipientAccountId",
        ] {
            assert!(json.get(field).is_some(), "{field} missing: {json}");
        }
        assert_eq!(json["userIdentity"]["type"], "IAMUser");
        assert!(json.get("errorCode").is_none());
        let back: AuditEvent = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, event);
    }
}
