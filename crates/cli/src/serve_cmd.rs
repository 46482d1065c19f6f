//! `portcullis serve`: run the service until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use portcullis_server::{ServerConfig, TlsFiles, start};

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8600")]
    listen: SocketAddr,
    /// Where the master key, the root credentials and the embedded store live.
    #[arg(long, default_value = "./portcullis-data")]
    data_dir: PathBuf,
    /// Where the IAM state lives: `sqlite` (the embedded database in --data-dir), or a
    /// PostgreSQL URL (`postgres://user:password@host:port/db`) that several nodes share;
    /// the schema is created and migrated by Portcullis.
    #[arg(long, env = "PORTCULLIS_STORE", default_value = "sqlite", value_parser = portcullis_server::StoreLocation::parse, hide_env_values = true)]
    store: portcullis_server::StoreLocation,
    /// The default account's id at first start (random when not given).
    #[arg(long)]
    account_id: Option<String>,
    /// Users per account (AWS's quota is 5,000; a self-hosted deployment may raise it).
    #[arg(long, default_value_t = 5_000)]
    max_users: usize,
    /// A region this deployment serves (repeatable): every request's signature must be scoped
    /// to one of them, and `aws:RequestedRegion` is that region. Default: any region.
    #[arg(long = "region", value_name = "REGION")]
    regions: Vec<String>,
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key.
    #[arg(long, requires = "tls_key", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert", value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// A proxy (CIDR or address) whose X-Forwarded-For and X-Forwarded-Proto are believed;
    /// repeatable. From other peers those headers are ignored.
    #[arg(long = "trusted-proxy", value_name = "CIDR", value_parser = portcullis_server::parse_trusted_proxy)]
    trusted_proxies: Vec<portcullis_server::IpNet>,
    /// Serve forward auth (/v1/forward-auth) for the trusted proxies, with this route file
    /// (TOML: host, methods, path → action, resource, signing name).
    #[arg(long, value_name = "FILE")]
    routes: Option<PathBuf>,
    /// Keep audit events for this many days (pruned hourly; the trail stays verifiable).
    /// Default: keep every event.
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    audit_retention: Option<u32>,
    /// Answer an allowed read only once its audit event is durable (by default it is
    /// committed within 5 ms of the answer, with the events around it; changes, denials
    /// and failures are always durable before their answer).
    #[arg(long)]
    audit_durable_reads: bool,
    /// Serve Prometheus metrics (`GET /metrics`, OpenMetrics text) on this address, apart
    /// from the API: requests by action and outcome, decisions, latency, failed
    /// authentications, the audit backlog. Not served by default.
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// Record nothing: no audit trail, no LookupEvents (for throwaway test servers).
    #[arg(long, conflicts_with_all = ["audit_retention", "audit_durable_reads"])]
    no_audit: bool,
}

pub fn run(args: ServeArgs) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("portcullis: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> ExitCode {
    let root_credentials = match (
        std::env::var("PORTCULLIS_ROOT_ACCESS_KEY_ID"),
        std::env::var("PORTCULLIS_ROOT_SECRET_ACCESS_KEY"),
    ) {
        (Ok(id), Ok(secret)) => Some((id, secret)),
        _ => None,
    };
    let routes = match args
        .routes
        .as_deref()
        .map(portcullis_server::routes::Routes::load)
    {
        Some(Ok(routes)) => Some(routes),
        Some(Err(e)) => {
            eprintln!("portcullis: --routes {e}");
            return ExitCode::from(1);
        }
        None => None,
    };
    let config = ServerConfig {
        listen: args.listen,
        data_dir: args.data_dir.clone(),
        store: args.store,
        account_id: args.account_id,
        root_credentials,
        master_key_file: std::env::var_os("PORTCULLIS_MASTER_KEY_FILE").map(PathBuf::from),
        limits: portcullis_server::Limits {
            max_users: args.max_users,
            ..portcullis_server::Limits::default()
        },
        regions: args.regions,
        tls: match (args.tls_cert, args.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            _ => None,
        },
        trusted_proxies: args.trusted_proxies,
        routes,
        metrics_listen: args.metrics_listen,
        audit: (!args.no_audit).then(|| portcullis_server::AuditSettings {
            retention_days: args.audit_retention,
            trail: portcullis_server::iam::trail::TrailConfig {
                durable_reads: args.audit_durable_reads,
                ..Default::default()
            },
        }),
    };
    let stop = crate::signals::StopSignals::listen();
    let mut server = match start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("portcullis: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some((id, _secret)) = &server.new_root_credentials {
        // The secret stays in the file (mode 0600): output may end up in shared logs.
        println!(
            "Root credentials for account {} generated: access key id {id}; the secret access key is in {} (mode 0600).",
            server.account_id,
            server.root_credentials_file.display(),
        );
    }
    tracing::info!(address = %server.local_addr, account = %server.account_id, tls = server.tls, "portcullis is serving");
    if let Some(addr) = server.metrics_addr {
        tracing::info!(address = %addr, "metrics are served at /metrics");
    }
    let shutdown = server.take_shutdown();
    stop.recv().await;
    tracing::info!("shutting down");
    if let Some(tx) = shutdown {
        let _ = tx.send(());
    }
    server.wait().await;
    ExitCode::SUCCESS
}
