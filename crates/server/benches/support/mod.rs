//! What the load generators of the benches share: SigV4-signed requests (with our own
//! signer, so the client costs little) and sending them over a pooled hyper client.

#![allow(dead_code)]

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use portcullis_sigv4::{Request as SignRequest, SigningParams, sign};

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub struct Signer {
    pub key: String,
    pub secret: String,
    /// The session token of temporary credentials.
    pub token: Option<String>,
    /// The signing name: `iam` or `sts`.
    pub service: &'static str,
    pub addr: SocketAddr,
}

impl Signer {
    pub fn long_term(
        key: String,
        secret: String,
        service: &'static str,
        addr: SocketAddr,
    ) -> Signer {
        Signer {
            key,
            secret,
            token: None,
            service,
            addr,
        }
    }

    /// A signed POST of `body` to `/`.
    pub fn request(&self, body: &str) -> hyper::Request<Full<Bytes>> {
        self.request_to("/", "application/x-www-form-urlencoded", body)
    }

    /// A signed POST of `body` to `path`.
    pub fn request_to(
        &self,
        path: &str,
        content_type: &str,
        body: &str,
    ) -> hyper::Request<Full<Bytes>> {
        let host = self.addr.to_string();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let unsigned = SignRequest::new("POST", path, "")
            .header("host", &host)
            .header("content-type", content_type)
            .body(body.as_bytes());
        let mut params =
            SigningParams::new(&self.key, &self.secret, "us-east-1", self.service, now);
        params.session_token = self.token.as_deref();
        let added = sign(&unsigned, &params).expect("signing a well-formed request");
        let mut builder = hyper::Request::post(format!("http://{host}{path}"))
            .header("host", &host)
            .header("content-type", content_type);
        for (name, value) in added {
            builder = builder.header(name, value);
        }
        builder
            .body(Full::new(Bytes::from(body.to_owned())))
            .expect("valid request")
    }
}

pub async fn send(client: &HttpClient, request: hyper::Request<Full<Bytes>>) -> (u16, Bytes) {
    let response = client.request(request).await.expect("the server answers");
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    (status, body)
}

/// `BENCH_SECONDS` (default 5): how long each measured run lasts.
pub fn seconds() -> f64 {
    std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0)
}

/// The runtime a bench's servers or load generator run on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Runs this binary again as the load generator of the servers at `addrs` (passed in
/// `PORTCULLIS_BENCH_LOADGEN`) and waits for it; whether it succeeded.
pub async fn run_loadgen(addrs: String) -> bool {
    let exe = std::env::current_exe().expect("this binary");
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(exe)
            .env("PORTCULLIS_BENCH_LOADGEN", addrs)
            .status()
    })
    .await
    .expect("the load generator's waiter")
    .expect("the load generator runs")
    .success()
}
