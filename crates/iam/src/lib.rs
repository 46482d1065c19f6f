//! The IAM domain: accounts, users, groups, roles, policies, access keys, passwords, SSH
//! keys, certificates, identity providers; their validation and quotas; the
//! [`Store`](store::Store) they persist to; the session tokens of STS; and the snapshot the
//! authorization path reads. Knows nothing of HTTP.

pub mod access_advisor;
pub mod attempts;
pub mod audit;
pub mod authz_message;
pub mod aws_managed;
pub mod credential_report;
pub mod digest;
pub mod error;
pub mod ids;
pub mod model;
pub mod names;
pub mod ops;
pub mod passwords;
pub mod qr_png;
pub mod saml_metadata;
pub mod seal;
pub mod service;
pub mod service_reference;
pub mod session;
pub mod signing_cert;
pub mod ssh_public_key;
pub mod state;
pub mod store;
pub mod sts;
pub mod totp;
pub mod trail;
pub mod x509;

pub use error::{IamError, IamResult};
pub use service::{
    AccessJob, Durability, IamService, PrincipalPolicies, Recorded, RootCredentials, Snapshot,
    Unit, not_stored,
};
