//! What Portcullis answered: the client's principal and a ruling for each pair.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The principal that signed the client's request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Principal {
    /// `arn:aws:iam::A:user/alice`, `arn:aws:sts::A:assumed-role/ROLE/SESSION`, ...; `*`
    /// for an anonymous caller.
    pub arn: String,
    /// The principal's account; `None` for an anonymous caller.
    #[serde(default)]
    pub account: Option<String>,
    /// `aws:userid`.
    pub user_id: String,
    /// `aws:PrincipalType`: `Account`, `User`, `AssumedRole`, `FederatedUser` or `Anonymous`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The principal's tags (a session's tags for a session).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub source_identity: Option<String>,
    /// The access key id the client signed with; empty for an anonymous caller.
    #[serde(default)]
    pub access_key_id: String,
}

impl Principal {
    /// Whether the request was unsigned.
    pub fn is_anonymous(&self) -> bool {
        self.kind == "Anonymous"
    }
}

/// An AWS error, as Portcullis words it for the client.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AwsError {
    pub code: String,
    pub message: String,
    pub http_status: u16,
}

/// One pair's ruling.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ruling {
    pub action: String,
    pub resource: String,
    /// `Allow` or `Deny`.
    pub decision: String,
    /// `allowed`, `explicitDeny` or `implicitDeny`.
    pub outcome: String,
    /// The statements that decided it, as Portcullis names them.
    #[serde(default)]
    pub matched_statements: Vec<serde_json::Value>,
    #[serde(default)]
    pub(crate) error: Option<AwsError>,
}

impl Ruling {
    pub fn is_allowed(&self) -> bool {
        self.decision == "Allow"
    }

    /// For a denial: AWS's `AccessDenied` message, ending with the encoded authorization
    /// message (STS DecodeAuthorizationMessage opens it).
    pub fn denial_message(&self) -> Option<&str> {
        self.error.as_ref().map(|e| e.message.as_str())
    }
}

/// The authorization API's answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Answer {
    pub request_id: String,
    #[serde(default)]
    pub principal: Option<Principal>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub payload_signed: bool,
    #[serde(default)]
    pub client_error: Option<AwsError>,
    #[serde(default)]
    pub results: Vec<Ruling>,
    #[serde(default)]
    pub streaming: Option<StreamingChain>,
}

/// For an aws-chunked body: the signing key of the client's scope and the seed signature, to
/// check the chunks as they are read.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StreamingChain {
    pub signing_key: String,
    pub amz_date: String,
    pub scope: String,
    pub seed_signature: String,
}

/// What a request that passed the guard carries in its extensions: who made it and how each
/// pair was decided (all allowed).
#[derive(Debug, Clone)]
pub struct Authorized {
    pub principal: Principal,
    pub rulings: Vec<Ruling>,
    /// The region the client's signature is scoped to (`aws:RequestedRegion`).
    pub region: String,
    /// Whether the client's signature covers the body (false for `UNSIGNED-PAYLOAD` and for
    /// unsigned requests).
    pub payload_signed: bool,
    /// Portcullis's request id for the decision (in its log and audit record).
    pub request_id: String,
}

#[cfg(feature = "axum")]
mod extract {
    use axum_core::extract::FromRequestParts;
    use http::request::Parts;

    use super::{Authorized, Principal};
    use crate::reject::{ErrorFormat, Rejection};

    fn missing() -> axum_core::response::Response {
        Rejection::internal("The request did not pass portcullis-guard's layer.")
            .into_response(ErrorFormat::Xml)
    }

    impl<S: Send + Sync> FromRequestParts<S> for Authorized {
        type Rejection = axum_core::response::Response;

        async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
            parts
                .extensions
                .get::<Authorized>()
                .cloned()
                .ok_or_else(missing)
        }
    }

    impl<S: Send + Sync> FromRequestParts<S> for Principal {
        type Rejection = axum_core::response::Response;

        async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
            parts
                .extensions
                .get::<Authorized>()
                .map(|a| a.principal.clone())
                .ok_or_else(missing)
        }
    }
}
