//! `portcullis-object-store`: a small S3-compatible object store (path-style addressing) whose
//! every call Portcullis authorizes through `portcullis-guard`, with the bucket's policy as the
//! resource policy and the bucket's owner as the resource account.
//!
//! Operations: ListBuckets, CreateBucket, DeleteBucket, HeadBucket, GetBucketLocation,
//! ListObjectsV2, Put/Get/DeleteBucketPolicy, PutObject, GetObject (with ranges), HeadObject,
//! DeleteObject. Anything else answers S3's `NotImplemented`.

pub mod error;
pub mod handlers;
pub mod ops;
pub mod store;
pub mod xml;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::ConnectInfo;
use portcullis_guard::{Client, GuardLayer};

use crate::handlers::{App, Authorizer, handle};
use crate::store::Store;

/// The service: every request through the guard, then to its operation. `tls`: whether
/// clients reach it over HTTPS (`aws:SecureTransport`).
pub fn router(app: Arc<App>, client: Client, tls: bool) -> Router {
    let guard = GuardLayer::new(client, "s3", Authorizer { app: app.clone() })
        .secure_transport(tls)
        .source_ip(|parts| {
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip())
        });
    Router::new().fallback(handle).layer(guard).with_state(app)
}

/// Opens the data directory.
pub async fn open(data_dir: &std::path::Path, region: &str) -> std::io::Result<Arc<App>> {
    Ok(Arc::new(App {
        store: Store::open(data_dir).await?,
        region: region.to_owned(),
    }))
}
