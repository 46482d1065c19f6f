//! The IAM domain: accounts, users, groups, policies, access keys, passwords, SSH keys and
//! signing certificates; their validation and quotas; the [`Store`](store::Store) they
//! persist to; and the snapshot the authorization path reads. Knows nothing of HTTP.

pub mod aws_managed;
pub mod error;
pub mod ids;
pub mod model;
pub mod names;
pub mod ops;
pub mod passwords;
pub mod seal;
pub mod service;
pub mod session;
pub mod ssh_public_key;
pub mod state;
pub mod store;
pub mod sts;
pub mod x509;

pub use error::{IamError, IamResult};
pub use service::{IamService, PrincipalPolicies, RootCredentials, Snapshot};
