//! An OpenID Connect provider's signing keys: fetched by OpenID discovery over HTTPS (trusted
//! by thumbprint only, see [`super::pinning`]) and cached per provider for a short time.
//!
//! `https://{url}/.well-known/openid-configuration` names `jwks_uri`; the JWKS there is parsed
//! key by key (keys of types we do not verify are skipped, not fatal). A cached set is used for
//! [`JWKS_TTL`]; a token whose `kid` the cached set lacks triggers one refetch (providers rotate
//! keys), at most once per [`MIN_REFETCH`] per provider so junk `kid`s cannot make us hammer
//! the provider.
//!
//! A dead or slow provider must not hold many requests: fetches are single-flight per
//! provider URL (requests that need the same provider's keys wait for the one fetch and
//! read its result), a failure is remembered for [`NEGATIVE_TTL`] (requests in that time
//! answer at once with the same error), and at most [`MAX_CONCURRENT_FETCHES`] fetches run
//! at once over all providers (waiting for a turn counts against [`FETCH_TIMEOUT`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::Uri;
use hyper_util::rt::TokioIo;
use jsonwebtoken::jwk::Jwk;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::pinning::ThumbprintVerifier;

/// How long a fetched key set is used before it is fetched again.
pub const JWKS_TTL: Duration = Duration::from_secs(300);
/// The shortest time between two fetches for the same provider forced by an unknown `kid`.
pub const MIN_REFETCH: Duration = Duration::from_secs(10);
/// How long a failed fetch is remembered: requests for that provider fail at once meanwhile.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(30);
/// The most fetches running at once, over all providers.
pub const MAX_CONCURRENT_FETCHES: usize = 8;
/// The most time one fetch (discovery and JWKS together) may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest discovery document or key set read.
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// Why a provider's keys could not be had.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    /// No certificate of the provider's chain has one of the provider's thumbprints.
    #[error("the provider's HTTPS certificate doesn't match a configured thumbprint")]
    ThumbprintMismatch,
    /// Anything else: network, TLS, HTTP status, malformed documents, timeout.
    #[error("{0}")]
    Communication(String),
}

fn comm(what: impl std::fmt::Display) -> FetchError {
    FetchError::Communication(what.to_string())
}

/// A provider's key set as fetched.
#[derive(Debug)]
pub struct KeySet {
    pub keys: Vec<Jwk>,
    fetched_at: Instant,
    /// The thumbprints the fetch was trusted under: a change of thumbprints invalidates it.
    thumbprints: Vec<String>,
}

impl KeySet {
    /// Whether the set has a key with this `kid`.
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys
            .iter()
            .any(|k| k.common.key_id.as_deref() == Some(kid))
    }
}

/// A failed fetch, remembered for [`NEGATIVE_TTL`].
#[derive(Debug)]
struct Failure {
    error: FetchError,
    at: Instant,
    thumbprints: Vec<String>,
}

/// Fetched key sets, by provider URL (without `https://`).
#[derive(Debug)]
pub struct JwksCache {
    sets: Mutex<HashMap<String, Arc<KeySet>>>,
    failures: Mutex<HashMap<String, Failure>>,
    /// One lock per provider URL: held by the one fetch in flight for it.
    in_flight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    fetches: tokio::sync::Semaphore,
}

impl Default for JwksCache {
    fn default() -> JwksCache {
        JwksCache {
            sets: Mutex::default(),
            failures: Mutex::default(),
            in_flight: Mutex::default(),
            fetches: tokio::sync::Semaphore::new(MAX_CONCURRENT_FETCHES),
        }
    }
}

impl JwksCache {
    pub fn new() -> JwksCache {
        JwksCache::default()
    }

    /// A cached answer: a usable key set, or a failure still remembered.
    fn cached(
        &self,
        url: &str,
        thumbprints: &[String],
        kid: Option<&str>,
    ) -> Option<Result<Arc<KeySet>, FetchError>> {
        let cached = self.sets.lock().ok().and_then(|s| s.get(url).cloned());
        if let Some(set) = cached.filter(|s| s.thumbprints == thumbprints) {
            let age = set.fetched_at.elapsed();
            let kid_known = kid.is_none_or(|k| set.has_kid(k));
            if age < JWKS_TTL && (kid_known || age < MIN_REFETCH) {
                return Some(Ok(set));
            }
        }
        let failures = self.failures.lock().ok()?;
        failures
            .get(url)
            .filter(|f| f.thumbprints == thumbprints && f.at.elapsed() < NEGATIVE_TTL)
            .map(|f| Err(f.error.clone()))
    }

    /// The keys of the provider at `https://{url}`, trusted by `thumbprints`; fetched when not
    /// cached, stale, cached under other thumbprints, or lacking `kid` (see the module doc).
    pub async fn keys(
        &self,
        url: &str,
        thumbprints: &[String],
        kid: Option<&str>,
    ) -> Result<Arc<KeySet>, FetchError> {
        if let Some(answer) = self.cached(url, thumbprints, kid) {
            return answer;
        }
        let flight = match self.in_flight.lock() {
            Ok(mut flights) => flights.entry(url.to_owned()).or_default().clone(),
            Err(_) => return Err(comm("the key cache is unavailable")),
        };
        let _flight = flight.lock().await;
        // The fetch this request waited for may have answered it.
        if let Some(answer) = self.cached(url, thumbprints, kid) {
            return answer;
        }
        let fetched = tokio::time::timeout(FETCH_TIMEOUT, async {
            let _turn = self
                .fetches
                .acquire()
                .await
                .map_err(|_| comm("the key cache is closed"))?;
            fetch_keys(url, thumbprints).await
        })
        .await
        .unwrap_or_else(|_| Err(comm("timed out")));
        let keys = match fetched {
            Ok(keys) => keys,
            Err(error) => {
                if let Ok(mut failures) = self.failures.lock() {
                    failures.insert(
                        url.to_owned(),
                        Failure {
                            error: error.clone(),
                            at: Instant::now(),
                            thumbprints: thumbprints.to_vec(),
                        },
                    );
                }
                return Err(error);
            }
        };
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(url);
        }
        let set = Arc::new(KeySet {
            keys,
            fetched_at: Instant::now(),
            thumbprints: thumbprints.to_vec(),
        });
        if let Ok(mut sets) = self.sets.lock() {
            sets.insert(url.to_owned(), set.clone());
        }
        Ok(set)
    }
}

/// Discovery, then the key set.
async fn fetch_keys(url: &str, thumbprints: &[String]) -> Result<Vec<Jwk>, FetchError> {
    let discovery: Uri = format!("https://{url}/.well-known/openid-configuration")
        .parse()
        .map_err(|_| comm("the provider URL is not a valid URL"))?;
    let config: serde_json::Value =
        serde_json::from_slice(&https_get(&discovery, thumbprints).await?)
            .map_err(|_| comm("the OpenID configuration is not JSON"))?;
    let jwks_uri: Uri = config
        .get("jwks_uri")
        .and_then(|v| v.as_str())
        .ok_or_else(|| comm("the OpenID configuration names no jwks_uri"))?
        .parse()
        .map_err(|_| comm("jwks_uri is not a valid URL"))?;
    if jwks_uri.scheme_str() != Some("https") {
        return Err(comm("jwks_uri must be an https URL"));
    }
    let jwks: serde_json::Value = serde_json::from_slice(&https_get(&jwks_uri, thumbprints).await?)
        .map_err(|_| comm("the JWKS is not JSON"))?;
    let keys = jwks
        .get("keys")
        .and_then(|k| k.as_array())
        .ok_or_else(|| comm("the JWKS has no keys array"))?;
    Ok(keys
        .iter()
        .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
        .collect())
}

/// One HTTPS GET (HTTP/1.1, no redirects), trusted by thumbprint; the body when the status is
/// 200.
async fn https_get(uri: &Uri, thumbprints: &[String]) -> Result<Bytes, FetchError> {
    let host = uri.host().ok_or_else(|| comm("the URL names no host"))?;
    let bare_host = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(443);
    let server_name =
        ServerName::try_from(bare_host.to_owned()).map_err(|_| comm("invalid host name"))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(ThumbprintVerifier::new(thumbprints, provider.clone()));
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(comm)?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    let tcp = TcpStream::connect((bare_host, port))
        .await
        .map_err(|e| comm(format!("cannot connect to {host}:{port}: {e}")))?;
    let tls = TlsConnector::from(Arc::new(config))
        .connect(server_name, tcp)
        .await
        .map_err(|e| {
            if verifier.mismatched() {
                FetchError::ThumbprintMismatch
            } else {
                comm(format!("TLS with {host}:{port} failed: {e}"))
            }
        })?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(comm)?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or(host);
    let request = hyper::Request::get(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header(hyper::header::HOST, authority)
        .header(hyper::header::USER_AGENT, "portcullis-sts")
        .header(hyper::header::ACCEPT, "application/json")
        .body(Empty::<Bytes>::new())
        .map_err(comm)?;
    let response = sender.send_request(request).await.map_err(comm)?;
    if response.status() != hyper::StatusCode::OK {
        return Err(comm(format!("{uri} answered {}", response.status())));
    }
    let body = Limited::new(response.into_body(), MAX_DOCUMENT_BYTES)
        .collect()
        .await
        .map_err(|e| comm(format!("reading {uri}: {e}")))?;
    Ok(body.to_bytes())
}
