//! The layer and its service: map the request, ask Portcullis, refuse or hand on.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::request::Parts;
use http::{Request, Response, header};
use http_body::Body;
use http_body_util::{BodyExt, Limited};

use crate::answer::{Answer, Authorized};
use crate::body::{Dechunked, DigestChecked, GuardBody, parse_sha256};
use crate::check::Check;
use crate::client::{Client, ClientError, ClientRequest, Question};
use crate::reject::{ErrorFormat, Rejection};
use portcullis_sigv4::{ChunkSigner, ChunkedDecoder, CredentialScope, SigningKey, Streaming};

/// A body signed without `x-amz-content-sha256` is read whole to verify its hash; larger ones
/// are refused (S3 and the SDKs send the header for large bodies).
pub const DEFAULT_MAX_BUFFERED_BODY: usize = 8 * 1024 * 1024;

/// Maps a request to the (action, resource) pairs it needs, or refuses it (an unknown route,
/// a bucket that does not exist). The layer never hands on a request with no pair.
pub trait MapRequest: Send + Sync + 'static {
    fn checks(&self, parts: &Parts) -> impl Future<Output = Result<Vec<Check>, Rejection>> + Send;
}

impl<F> MapRequest for F
where
    F: Fn(&Parts) -> Result<Vec<Check>, Rejection> + Send + Sync + 'static,
{
    fn checks(&self, parts: &Parts) -> impl Future<Output = Result<Vec<Check>, Rejection>> + Send {
        std::future::ready(self(parts))
    }
}

type SourceIp = dyn Fn(&Parts) -> Option<IpAddr> + Send + Sync;

struct Options {
    signing_name: String,
    format: ErrorFormat,
    max_buffered_body: usize,
    secure_transport: bool,
    source_ip: Option<Arc<SourceIp>>,
}

/// The layer: `Router::new().route(...).layer(GuardLayer::new(client, "s3", map))`.
pub struct GuardLayer<M> {
    client: Client,
    mapper: Arc<M>,
    options: Arc<Options>,
}

impl<M> Clone for GuardLayer<M> {
    fn clone(&self) -> Self {
        GuardLayer {
            client: self.client.clone(),
            mapper: self.mapper.clone(),
            options: self.options.clone(),
        }
    }
}

impl<M: MapRequest> GuardLayer<M> {
    /// Guards a service whose clients sign for `signing_name` (`s3`), mapping each request with
    /// `mapper`.
    pub fn new(client: Client, signing_name: impl Into<String>, mapper: M) -> GuardLayer<M> {
        GuardLayer {
            client,
            mapper: Arc::new(mapper),
            options: Arc::new(Options {
                signing_name: signing_name.into(),
                format: ErrorFormat::Xml,
                max_buffered_body: DEFAULT_MAX_BUFFERED_BODY,
                secure_transport: false,
                source_ip: None,
            }),
        }
    }

    fn options(mut self, change: impl FnOnce(&mut Options)) -> GuardLayer<M> {
        if let Some(options) = Arc::get_mut(&mut self.options) {
            change(options);
        }
        self
    }

    /// How refusals are written (XML by default).
    pub fn error_format(self, format: ErrorFormat) -> GuardLayer<M> {
        self.options(|o| o.format = format)
    }

    /// The largest body read whole to verify a signature without `x-amz-content-sha256`.
    pub fn max_buffered_body(self, bytes: usize) -> GuardLayer<M> {
        self.options(|o| o.max_buffered_body = bytes)
    }

    /// Whether clients reach the service over TLS (`aws:SecureTransport`).
    pub fn secure_transport(self, secure: bool) -> GuardLayer<M> {
        self.options(|o| o.secure_transport = secure)
    }

    /// How to find the client's address (`aws:SourceIp`), e.g. from axum's `ConnectInfo`.
    pub fn source_ip(
        self,
        find: impl Fn(&Parts) -> Option<IpAddr> + Send + Sync + 'static,
    ) -> GuardLayer<M> {
        self.options(|o| o.source_ip = Some(Arc::new(find)))
    }
}

impl<S, M> tower_layer::Layer<S> for GuardLayer<M> {
    type Service = GuardService<S, M>;

    fn layer(&self, inner: S) -> GuardService<S, M> {
        GuardService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The guarded service.
pub struct GuardService<S, M> {
    inner: S,
    layer: GuardLayer<M>,
}

impl<S: Clone, M> Clone for GuardService<S, M> {
    fn clone(&self) -> Self {
        GuardService {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S, M, B, ResBody> tower_service::Service<Request<B>> for GuardService<S, M>
where
    S: tower_service::Service<Request<GuardBody>, Response = Response<ResBody>>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
    M: MapRequest,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum_core::BoxError>,
    ResBody: Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<axum_core::BoxError>,
{
    type Response = Response<GuardBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<GuardBody>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The clone that was polled ready serves this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let body = GuardBody::new(body);
            match admit(&layer, &parts, body).await {
                Ok((authorized, body)) => {
                    parts.extensions.insert(authorized);
                    let response = inner.call(Request::from_parts(parts, body)).await?;
                    Ok(response.map(GuardBody::new))
                }
                Err(rejection) => Ok(rejection.into_response(layer.options.format)),
            }
        })
    }
}

/// Whether the request was signed (header or presigned URL).
fn is_signed(parts: &Parts) -> bool {
    parts.headers.contains_key(header::AUTHORIZATION)
        || parts
            .uri
            .query()
            .is_some_and(|q| q.split('&').any(|p| p.starts_with("X-Amz-Signature=")))
}

/// Decides the request; on success, the answer and the body to hand on.
async fn admit<M: MapRequest>(
    layer: &GuardLayer<M>,
    parts: &Parts,
    body: GuardBody,
) -> Result<(Authorized, GuardBody), Rejection> {
    let options = &layer.options;
    let checks = layer.mapper.checks(parts).await?;
    if checks.is_empty() {
        // Fail closed: a request that names nothing to check is not let through.
        return Err(Rejection::access_denied("Access Denied"));
    }
    let content_sha256 = parts
        .headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok());
    // Portcullis sees no body here: whether the body is covered follows from how it was signed.
    let presigned = !parts.headers.contains_key(header::AUTHORIZATION) && is_signed(parts);
    let unsigned_body = content_sha256 == Some(portcullis_sigv4::UNSIGNED_PAYLOAD)
        || (presigned && !body.is_end_stream());
    let (payload_hash, body) = match content_sha256 {
        Some(hex) => match parse_sha256(hex) {
            Some(digest) => (
                Some(hex.to_ascii_lowercase()),
                GuardBody::new(DigestChecked::new(body, digest)),
            ),
            // UNSIGNED-PAYLOAD and the streaming forms: Portcullis reads the header itself.
            None => (None, body),
        },
        None if is_signed(parts) && !body.is_end_stream() => {
            let bytes = Limited::new(body, options.max_buffered_body)
                .collect()
                .await
                .map_err(|_| {
                    Rejection::invalid_request(format!(
                        "A request body larger than {} bytes must be signed with x-amz-content-sha256.",
                        options.max_buffered_body
                    ))
                })?
                .to_bytes();
            let hash = portcullis_sigv4_hash(&bytes);
            (Some(hash), GuardBody::from(bytes))
        }
        None => (None, body),
    };
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let source_ip = options
        .source_ip
        .as_ref()
        .and_then(|find| find(parts))
        .map(|ip| ip.to_string());
    let question = Question {
        signing_name: &options.signing_name,
        request: ClientRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or_default(),
            headers,
            payload_hash,
            source_ip,
            secure_transport: options.secure_transport,
        },
        authorizations: &checks,
    };
    let answer = layer.client.ask(&question).await.map_err(|e| {
        tracing::error!(error = %e, "portcullis-guard: the authorization API did not answer");
        match e {
            ClientError::Transport(_) => {
                Rejection::unavailable("The service could not authorize the request; try again.")
            }
            _ => Rejection::internal("The service could not authorize the request."),
        }
    })?;
    let streaming = content_sha256.and_then(|v| Streaming::from_content_sha256(v.as_bytes()));
    let chain = answer.streaming.clone();
    let mut authorized = rule(answer, checks.len())?;
    authorized.payload_signed &= !unsigned_body;
    let body = match streaming {
        Some(form) => {
            let declared = parts
                .headers
                .get("x-amz-decoded-content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let decoder = chunk_decoder(form, chain.as_ref(), declared).ok_or_else(|| {
                Rejection::internal("The service could not verify the request's chunks.")
                    .with_request_id(authorized.request_id.clone())
            })?;
            // The chunks' signatures (or the unsigned form's trailing checksum) cover it.
            authorized.payload_signed = form.signed_chunks;
            GuardBody::new(Dechunked::new(body, decoder))
        }
        None => body,
    };
    Ok((authorized, body))
}

/// The decoder of an aws-chunked body, from the chain Portcullis handed over.
fn chunk_decoder(
    form: Streaming,
    chain: Option<&crate::answer::StreamingChain>,
    declared: Option<u64>,
) -> Option<ChunkedDecoder> {
    let signer = match chain {
        Some(chain) if form.signed_chunks => {
            let mut parts = chain.scope.split('/');
            let (date, region, service) = (parts.next()?, parts.next()?, parts.next()?);
            let scope = CredentialScope::new(date, region, service);
            let key = SigningKey::from_hex(&chain.signing_key, scope)?;
            let time = portcullis_sigv4::parse_amz_date(&chain.amz_date)?;
            Some(ChunkSigner::new(key, time, &chain.seed_signature)?)
        }
        _ => None,
    };
    ChunkedDecoder::new(form, signer, declared)
}

/// The answer's verdict: the client's error, the first denial, or every pair allowed.
fn rule(answer: Answer, asked: usize) -> Result<Authorized, Rejection> {
    let id = answer.request_id.clone();
    if let Some(e) = answer.client_error {
        return Err(Rejection::new(e.http_status, e.code, e.message).with_request_id(id));
    }
    if answer.results.len() != asked {
        return Err(
            Rejection::internal("The service could not authorize the request.").with_request_id(id),
        );
    }
    if let Some(denied) = answer.results.iter().find(|r| !r.is_allowed()) {
        let rejection = match &denied.error {
            Some(e) => Rejection::new(e.http_status, e.code.clone(), e.message.clone()),
            None => Rejection::access_denied("Access Denied"),
        };
        return Err(rejection.with_request_id(id));
    }
    let principal = answer
        .principal
        .ok_or_else(|| Rejection::internal("The service could not authorize the request."))?;
    Ok(Authorized {
        principal,
        rulings: answer.results,
        region: answer.region.unwrap_or_default(),
        payload_signed: answer.payload_signed,
        request_id: id,
    })
}

fn portcullis_sigv4_hash(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
