//! `portcullis agent --instance-profile NAME [--listen ADDR] [--data-dir DIR]`: the instance
//! metadata service of this host (see the `portcullis-agent` crate). Portcullis's endpoint
//! comes from `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_PORTCULLIS`), the agent's own
//! credentials from the AWS SDKs' standard chain (`AWS_ACCESS_KEY_ID`..., `AWS_PROFILE` and
//! the shared files, web identity, containers).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use portcullis_agent::{Agent, AgentConfig};
use portcullis_guard::Client;

#[derive(clap::Args)]
pub struct AgentArgs {
    /// The instance profile whose role this host's workloads get.
    #[arg(long, value_name = "NAME")]
    instance_profile: String,
    /// Where to serve instance metadata (point AWS_EC2_METADATA_SERVICE_ENDPOINT at it).
    #[arg(long, default_value = "127.0.0.1:8169")]
    listen: SocketAddr,
    /// Where the instance id is kept.
    #[arg(long, default_value = "./portcullis-agent")]
    data_dir: PathBuf,
    /// The lifetime of the credentials, 60 to 21600 seconds (default: one hour, within the
    /// role's maximum session duration); they are renewed at half of it.
    #[arg(long, value_name = "SECONDS")]
    duration_seconds: Option<i64>,
    /// Also serve IMDSv1 (no token); the credentials then carry ec2:RoleDelivery 1.0.
    #[arg(long)]
    imds_v1: bool,
    /// Also serve the container credentials protocol at /v1/container-credentials, to
    /// requests authorized with the token in this file (give containers
    /// AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE).
    #[arg(long, value_name = "FILE")]
    container_token_file: Option<PathBuf>,
}

pub fn run(args: AgentArgs) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("portcullis agent: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portcullis agent: {e}");
            ExitCode::from(1)
        }
    }
}

async fn serve(args: AgentArgs) -> anyhow::Result<()> {
    let container_token = match &args.container_token_file {
        Some(path) => {
            let token = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
                .trim()
                .to_owned();
            if token.len() < 16 {
                anyhow::bail!(
                    "{}: the token must be at least 16 characters",
                    path.display()
                );
            }
            Some(token)
        }
        None => None,
    };
    let credentials = aws_config::default_provider::credentials::default_provider().await;
    let client = Client::from_env(credentials)?;
    let config = AgentConfig {
        instance_profile: args.instance_profile,
        data_dir: args.data_dir,
        duration_seconds: args.duration_seconds,
        imds_v1: args.imds_v1,
        container_token,
    };
    let stop = crate::signals::StopSignals::listen();
    let agent = Agent::start(config, client).await?;
    tokio::spawn(agent.clone().renew_forever());
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    // The line scripts and tests wait for.
    println!("listening on {addr}");
    tracing::info!(%addr, instance = %agent.instance_id, "instance metadata ready");
    axum::serve(listener, portcullis_agent::router(agent))
        .with_graceful_shutdown(stop.recv())
        .await?;
    Ok(())
}
