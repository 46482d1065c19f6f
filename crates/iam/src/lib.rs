//! The IAM domain: accounts, users, groups, policies, access keys, identity providers,
//! server certificates; their validation and
//! quotas; the [`Store`](store::Store) they persist to; and the snapshot the authorization
//! path reads. Knows nothing of HTTP.

pub mod aws_managed;
pub mod error;
pub mod ids;
pub mod model;
pub mod names;
pub mod ops;
pub mod saml_metadata;
pub mod seal;
pub mod service;
pub mod state;
pub mod store;
pub mod x509;

pub use error::{IamError, IamResult};
pub use service::{IamService, PrincipalPolicies, RootCredentials, Snapshot};
