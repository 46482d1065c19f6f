//! The audit record (issue 10, first step): what every door of Portcullis writes for each
//! request, in CloudTrail's record format, with secrets removed and each event chained to the
//! one before it so that a change to the stored trail is detected.
//!
//! Pure, as the policy and sigv4 crates are: no IO, no clock. The store appends events (in the
//! transaction of the change they record); the server builds them at its one audit point.

pub mod chain;
pub mod export;
pub mod index;
pub mod record;
pub mod redact;

pub use chain::{ChainBreak, ChainLink, GENESIS, verify_chain};
pub use index::{AuditQuery, AuditRow, EventIndex, LookupKey, StoredEvent};
pub use record::{
    AuditEvent, DecisionRecord, EVENT_VERSION, Resource, SessionAttributes, SessionContext,
    SessionIssuer, UserIdentity,
};
pub use redact::{HIDDEN, redact};
