//! What is kept beside each stored event so that a trail can be searched (CloudTrail's lookup
//! attributes) without reading every event, and what a search asks.

use super::chain::ChainLink;
use super::record::AuditEvent;

/// The searchable facts of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventIndex {
    /// The account whose trail holds the event (`recipientAccountId`).
    pub account_id: String,
    /// `eventTime` in milliseconds since the epoch.
    pub time_ms: i64,
    pub event_id: String,
    pub event_name: String,
    pub event_source: String,
    /// CloudTrail's `Username` attribute: the user's name, `root`, or a role session's name.
    pub username: Option<String>,
    pub access_key_id: Option<String>,
    pub read_only: bool,
    /// `(type, name)` of each resource, the name being both the ARN and its last part.
    pub resources: Vec<(String, String)>,
}

impl EventIndex {
    /// The resources as one searchable text: `\ttype\x1fname\t` per resource, so a
    /// resource type is found as `\tTYPE\x1f` and a name as `\x1fNAME\t`.
    /// The resources of a [`EventIndex::resources_text`].
    pub fn resources_from_text(text: &str) -> Vec<(String, String)> {
        text.split('\t')
            .filter_map(|r| r.split_once('\u{1f}'))
            .map(|(kind, name)| (kind.to_owned(), name.to_owned()))
            .collect()
    }

    pub fn resources_text(&self) -> String {
        let mut text = String::from("\t");
        for (kind, name) in &self.resources {
            text.push_str(kind);
            text.push('\u{1f}');
            text.push_str(name);
            text.push('\t');
        }
        text
    }

    /// The index of `event`, recorded at `time_ms`.
    pub fn of(event: &AuditEvent, time_ms: i64) -> EventIndex {
        let identity = &event.user_identity;
        let username = match identity.kind.as_str() {
            "Root" => Some("root".to_owned()),
            "AssumedRole" | "FederatedUser" => identity
                .arn
                .as_deref()
                .and_then(|arn| arn.rsplit('/').next())
                .map(str::to_owned),
            _ => identity.user_name.clone(),
        };
        let mut resources = Vec::new();
        for r in &event.resources {
            resources.push((r.kind.clone(), r.arn.clone()));
            if let Some(name) = r.arn.rsplit(['/', ':']).next().filter(|n| !n.is_empty()) {
                if name != r.arn {
                    resources.push((r.kind.clone(), name.to_owned()));
                }
            }
        }
        EventIndex {
            account_id: event.recipient_account_id.clone(),
            time_ms,
            event_id: event.event_id.clone(),
            event_name: event.event_name.clone(),
            event_source: event.event_source.clone(),
            username,
            access_key_id: identity.access_key_id.clone(),
            read_only: event.read_only,
            resources,
        }
    }
}

/// One event ready to be stored: its link in the chain and its index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub link: ChainLink,
    pub index: EventIndex,
}

/// CloudTrail's lookup attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupKey {
    EventId,
    EventName,
    ReadOnly,
    Username,
    ResourceType,
    ResourceName,
    EventSource,
    AccessKeyId,
}

impl LookupKey {
    /// The attribute by its name in LookupEvents (`AttributeKey`).
    pub fn parse(name: &str) -> Option<LookupKey> {
        Some(match name {
            "EventId" => LookupKey::EventId,
            "EventName" => LookupKey::EventName,
            "ReadOnly" => LookupKey::ReadOnly,
            "Username" => LookupKey::Username,
            "ResourceType" => LookupKey::ResourceType,
            "ResourceName" => LookupKey::ResourceName,
            "EventSource" => LookupKey::EventSource,
            "AccessKeyId" => LookupKey::AccessKeyId,
            _ => return None,
        })
    }
}

/// A search of one account's trail, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    pub account_id: String,
    pub lookup: Option<(LookupKey, String)>,
    /// Inclusive bounds, in milliseconds since the epoch.
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    /// Only events older than this sequence (the paging token).
    pub before_sequence: Option<u64>,
    pub limit: usize,
}

/// An event as read back from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub sequence: u64,
    pub time_ms: i64,
    /// The event's JSON, as chained.
    pub body: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{EVENT_VERSION, Resource, UserIdentity};

    #[test]
    fn the_username_of_a_session_is_its_name_and_resources_are_found_by_name_or_arn() {
        let event = AuditEvent {
            event_version: EVENT_VERSION.into(),
            user_identity: UserIdentity {
                kind: "AssumedRole".into(),
                arn: Some("arn:aws:sts::123456789012:assumed-role/app/worker-1".into()),
                access_key_id: Some("ASIAEXAMPLE".into()),
                ..UserIdentity::default()
            },
            event_time: "2026-12-03T20:15:08Z".into(),
            event_source: "iam.amazonaws.com".into(),
            event_name: "GetUser".into(),
            aws_region: "us-east-1".into(),
            source_ip_address: "127.0.0.1".into(),
            user_agent: None,
            error_code: None,
            error_message: None,
            request_parameters: None,
            response_elements: None,
            request_id: "r".into(),
            event_id: "e".into(),
            read_only: true,
            resources: vec![Resource {
                arn: "arn:aws:iam::123456789012:user/team/bob".into(),
                account_id: "123456789012".into(),
                kind: "AWS::IAM::User".into(),
            }],
            event_type: "AwsApiCall".into(),
            management_event: true,
            recipient_account_id: "123456789012".into(),
            portcullis_decisions: vec![],
        };
        let index = EventIndex::of(&event, 5);
        assert_eq!(index.username.as_deref(), Some("worker-1"));
        assert_eq!(
            index.resources,
            vec![
                (
                    "AWS::IAM::User".to_owned(),
                    "arn:aws:iam::123456789012:user/team/bob".to_owned()
                ),
                ("AWS::IAM::User".to_owned(), "bob".to_owned()),
            ]
        );
    }
}
