//! `portcullis agent`: the instance metadata service of a host or VM, as EC2 runs it.
//!
//! The agent stands for an instance started with an instance profile: with its own
//! credentials it asks Portcullis for the profile's role credentials
//! (`POST /v1/instance-credentials`, under `iam:PassRole` and the role's trust in
//! `ec2.amazonaws.com`), renews them at half their lifetime, and serves them at the paths the
//! AWS SDKs read, so that an application with only `AWS_EC2_METADATA_SERVICE_ENDPOINT` (and
//! `AWS_ENDPOINT_URL`) set gets the role's credentials:
//! - `PUT /latest/api/token` (IMDSv2: `X-aws-ec2-metadata-token-ttl-seconds`, 1 to 21600;
//!   refused when `X-Forwarded-For` is present, as EC2 does, so a proxy cannot fetch one);
//! - `GET /latest/meta-data/iam/info`, `/latest/meta-data/iam/security-credentials/`,
//!   `.../ROLE`, `/latest/meta-data/instance-id`, `/latest/meta-data/placement/region`,
//!   `/latest/dynamic/instance-identity/document`, each with `X-aws-ec2-metadata-token`
//!   (IMDSv1, without a token, only with `imds_v1`).
//!
//! The instance id is chosen once and kept in the agent's data directory.

mod imds;
mod instance;

pub use imds::router;
pub use instance::{Agent, AgentConfig, AgentError};
