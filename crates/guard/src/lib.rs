//! `portcullis-guard`: a [tower] layer that has Portcullis authorize every request an axum or
//! hyper service receives, as AWS services have IAM authorize theirs.
//!
//! For each request the layer asks a [`MapRequest`] which (action, resource) pairs it needs
//! ([`Check`]: `s3:GetObject` on `arn:aws:s3:::bucket/key`, with the bucket policy as resource
//! policy), then calls Portcullis's authorization API (`POST /v1/authorize`, pooled keep-alive
//! connections, signed with the service's own credentials). Portcullis verifies the client's
//! SigV4 signature (the service never sees a client's secret), finds the principal and decides
//! each pair with the same code as its IAM API. The layer then either answers the client with
//! AWS's error (`AccessDenied` with the encoded authorization message, `SignatureDoesNotMatch`,
//! ...) or hands the request on with the [`Authorized`] answer in its extensions, where the
//! [`Principal`] and [`Authorized`] extractors find it.
//!
//! The body: a signed payload hash (`x-amz-content-sha256`) is checked against the body as the
//! inner service reads it (a mismatch ends the body with an error, so nothing must be committed
//! before the body has ended); a body signed without that header is read first (up to a
//! bound) so that its hash can be verified; `UNSIGNED-PAYLOAD` bodies are passed on as they
//! are ([`Authorized::payload_signed`] says so).
//!
//! Nothing is cached: every request is decided by Portcullis as it is at that moment, so a
//! policy change applies to the next request.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use axum::{Router, routing::get};
//! use portcullis_guard::{Check, Client, GuardLayer, Principal};
//!
//! let client = Client::from_env(portcullis_guard::EnvCredentials)?;
//! let guard = GuardLayer::new(client, "s3", |parts: &http::request::Parts| {
//!     let path = parts.uri.path().trim_start_matches('/');
//!     Ok(vec![Check::new("s3:GetObject", format!("arn:aws:s3:::{path}"))])
//! });
//! let app: Router = Router::new()
//!     .route("/{*key}", get(|who: Principal| async move { format!("hello {}", who.arn) }))
//!     .layer(guard);
//! # Ok(()) }
//! ```

mod answer;
mod body;
mod check;
mod client;
mod credentials;
mod layer;
mod reject;

pub use answer::{Authorized, Principal, Ruling};
pub use body::{BodyError, GuardBody};
pub use check::{Check, ContextValue};
pub use client::{Client, ClientError};
pub use credentials::EnvCredentials;
pub use layer::{GuardLayer, GuardService, MapRequest};
pub use reject::{ErrorFormat, Rejection};
