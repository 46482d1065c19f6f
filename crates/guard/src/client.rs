//! The client of Portcullis's authorization API: pooled keep-alive connections, each call
//! signed with the service's own credentials (signing name `portcullis`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use bytes::Bytes;
use http::{Method, Request, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use portcullis_sigv4::{Request as SignRequest, SigningParams, sign};
use serde::Serialize;

use crate::answer::Answer;
use crate::check::Check;

/// Where the authorization API is served, below the endpoint.
const PATH: &str = "/v1/authorize";
/// The signing name of Portcullis's own APIs for services.
const SIGNING_NAME: &str = "portcullis";
/// The largest answer read (100 rulings with their statements fit well below it).
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;
/// Credentials are renewed this long before they expire.
const RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);

/// Why Portcullis could not be asked, or refused to answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the Portcullis endpoint is not usable: {0}")]
    Endpoint(String),
    #[error("the service's own credentials are not available: {0}")]
    Credentials(String),
    #[error("Portcullis could not be reached: {0}")]
    Transport(String),
    /// Portcullis refused the service's call (its credentials, or `portcullis:Authorize`).
    #[error("Portcullis refused the call ({status} {code}): {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("Portcullis's answer is not readable: {0}")]
    Answer(String),
}

/// A client of one Portcullis endpoint. Cheap to clone: clones share the connection pool.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    url: Uri,
    host: String,
    /// The endpoint's own path (empty, or a prefix behind a proxy).
    base: String,
    region: String,
    http: HttpClient<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    credentials: SharedCredentialsProvider,
    cached: Mutex<Option<Credentials>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.inner.url)
            .field("region", &self.inner.region)
            .finish_non_exhaustive()
    }
}

/// The question sent to the authorization API.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Question<'a> {
    pub signing_name: &'a str,
    pub request: ClientRequest<'a>,
    pub authorizations: &'a [Check],
}

/// The client's request as the service received it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ClientRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: Vec<(&'a str, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    pub secure_transport: bool,
}

impl Client {
    /// A client of `endpoint` (`http://127.0.0.1:8600`, `https://iam.example.com`), signing
    /// its calls for `region` with `credentials`. HTTPS trusts the system's roots, or only the
    /// certificates in `AWS_CA_BUNDLE` when that is set, as the AWS SDKs do.
    pub fn new(
        endpoint: &str,
        region: &str,
        credentials: impl ProvideCredentials + 'static,
    ) -> Result<Client, ClientError> {
        let url: Uri = endpoint
            .parse()
            .map_err(|e| ClientError::Endpoint(format!("\"{endpoint}\": {e}")))?;
        let scheme = url.scheme_str().unwrap_or_default();
        if scheme != "http" && scheme != "https" {
            return Err(ClientError::Endpoint(format!(
                "\"{endpoint}\" must start with http:// or https://"
            )));
        }
        let authority = url
            .authority()
            .ok_or_else(|| ClientError::Endpoint(format!("\"{endpoint}\" names no host")))?;
        let base = url.path().trim_end_matches('/');
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config()?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = HttpClient::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(https);
        Ok(Client {
            inner: Arc::new(Inner {
                host: authority.to_string(),
                base: base.to_owned(),
                url,
                region: region.to_owned(),
                http: client,
                credentials: SharedCredentialsProvider::new(credentials),
                cached: Mutex::new(None),
            }),
        })
    }

    /// A client configured as the AWS SDKs are: the endpoint from
    /// `AWS_ENDPOINT_URL_PORTCULLIS`, else `AWS_ENDPOINT_URL`; the region from `AWS_REGION`,
    /// else `AWS_DEFAULT_REGION`, else `us-east-1`.
    pub fn from_env(credentials: impl ProvideCredentials + 'static) -> Result<Client, ClientError> {
        let read = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let endpoint = read("AWS_ENDPOINT_URL_PORTCULLIS")
            .or_else(|| read("AWS_ENDPOINT_URL"))
            .ok_or_else(|| {
                ClientError::Endpoint(
                    "set AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_PORTCULLIS) to Portcullis's URL"
                        .to_owned(),
                )
            })?;
        let region = read("AWS_REGION")
            .or_else(|| read("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".to_owned());
        Client::new(&endpoint, &region, credentials)
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Uri {
        &self.inner.url
    }

    async fn credentials(&self) -> Result<Credentials, ClientError> {
        let fresh = |c: &Credentials| {
            c.expiry()
                .is_none_or(|at| at > SystemTime::now() + RENEW_BEFORE)
        };
        if let Ok(cached) = self.inner.cached.lock()
            && let Some(c) = cached.as_ref().filter(|c| fresh(c))
        {
            return Ok(c.clone());
        }
        let loaded = self
            .inner
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| ClientError::Credentials(e.to_string()))?;
        if let Ok(mut cached) = self.inner.cached.lock() {
            *cached = Some(loaded.clone());
        }
        Ok(loaded)
    }

    /// Asks the authorization API.
    pub(crate) async fn ask(&self, question: &Question<'_>) -> Result<Answer, ClientError> {
        self.post_json(PATH, question).await
    }

    /// POSTs `input` as JSON to one of Portcullis's JSON APIs for services (`path` below the
    /// endpoint, such as `/v1/instance-credentials`), signed with the client's credentials;
    /// the JSON answer. A refusal is [`ClientError::Refused`] with Portcullis's code.
    pub async fn post_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        input: &impl Serialize,
    ) -> Result<T, ClientError> {
        let path = format!("{}{path}", self.inner.base);
        let body = serde_json::to_vec(input).map_err(|e| ClientError::Answer(e.to_string()))?;
        let creds = self.credentials().await?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let inner = &self.inner;
        let unsigned = SignRequest::new("POST", &path, "")
            .header("host", &inner.host)
            .header("content-type", "application/json")
            .body(&body);
        let mut params = SigningParams::new(
            creds.access_key_id(),
            creds.secret_access_key(),
            &inner.region,
            SIGNING_NAME,
            now,
        );
        params.session_token = creds.session_token();
        let added = sign(&unsigned, &params)
            .map_err(|e| ClientError::Credentials(format!("cannot sign: {e}")))?;
        let scheme = inner.url.scheme_str().unwrap_or("http");
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(format!("{scheme}://{}{path}", inner.host))
            .header(header::HOST, &inner.host)
            .header(header::CONTENT_TYPE, "application/json");
        for (name, value) in added {
            request = request.header(name, value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| ClientError::Endpoint(e.to_string()))?;
        let response = inner
            .http
            .request(request)
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        let status = response.status().as_u16();
        let bytes = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?
            .to_bytes();
        if status != 200 {
            let refusal: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let text = |field: &str| {
                refusal["error"][field]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            };
            return Err(ClientError::Refused {
                status,
                code: text("code"),
                message: text("message"),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Answer(e.to_string()))
    }
}

/// TLS to Portcullis, with aws-lc-rs: the roots of `AWS_CA_BUNDLE` when set, else the system's.
fn tls_config() -> Result<rustls::ClientConfig, ClientError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    match std::env::var_os("AWS_CA_BUNDLE").filter(|v| !v.is_empty()) {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(&path)
                .map_err(|e| ClientError::Endpoint(format!("AWS_CA_BUNDLE: {e}")))?;
            for cert in certs {
                let cert =
                    cert.map_err(|e| ClientError::Endpoint(format!("AWS_CA_BUNDLE: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| ClientError::Endpoint(format!("AWS_CA_BUNDLE: {e}")))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                // A system certificate rustls cannot use is left out, as the SDKs do.
                let _ = roots.add(cert);
            }
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Endpoint(e.to_string()))
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
}
