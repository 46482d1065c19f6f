//! `portcullis-object-store --listen ADDR --data-dir DIR`: Portcullis's endpoint from
//! `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_PORTCULLIS`), the store's own credentials from
//! `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (/ `AWS_SESSION_TOKEN`).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use axum::serve::ListenerExt;
use clap::Parser;
use portcullis_guard::{Client, EnvCredentials};

#[derive(Parser)]
#[command(
    version,
    about = "A small S3-compatible object store authorized by Portcullis"
)]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:9000")]
    listen: SocketAddr,
    /// Where buckets and objects are kept.
    #[arg(long, default_value = "./object-store-data")]
    data_dir: PathBuf,
    /// The region the store serves (its clients sign for it); by default AWS_REGION, else
    /// us-east-1.
    #[arg(long)]
    region: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let region = args
        .region
        .or_else(|| std::env::var("AWS_REGION").ok())
        .unwrap_or_else(|| "us-east-1".to_owned());
    if region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        bail!("--region must be a region name such as us-east-1");
    }
    let client = Client::from_env(EnvCredentials).context("the Portcullis client")?;
    let app = portcullis_object_store::open(&args.data_dir, &region)
        .await
        .with_context(|| format!("opening {}", args.data_dir.display()))?;
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(portcullis_tls::acceptor(&portcullis_tls::TlsFiles {
            cert,
            key,
        })?),
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    // The line tests and scripts wait for.
    println!("listening on {addr}");
    tracing::info!(%addr, portcullis = %client.endpoint(), https = tls.is_some(), "object store ready");
    let router = portcullis_object_store::router(app, client, tls.is_some());
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match tls {
        Some(acceptor) => {
            // tap_io: axum gives a tapped listener's address as the connection's ConnectInfo.
            let listener = portcullis_tls::TlsListener::new(listener, acceptor)?.tap_io(|_| ());
            axum::serve(listener, service)
                .with_graceful_shutdown(stop)
                .await?;
        }
        None => {
            axum::serve(listener, service)
                .with_graceful_shutdown(stop)
                .await?
        }
    }
    Ok(())
}
