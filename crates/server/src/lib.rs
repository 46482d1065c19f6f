//! The Portcullis service over HTTP: the AWS Query protocol (IAM 2010-05-08), SigV4
//! authentication, and authorization of every call by the policy engine.
//!
//! [`start`] opens (or creates) the data directory, the master key, the store and the default
//! account, and serves until [`RunningServer::shutdown`].

mod app;
mod audit;
mod auth;
mod authorize_api;
mod authz;
mod client_request;
mod cloudtrail_api;
mod error;
mod files;
mod forward_auth;
#[doc(hidden)]
pub mod fuzzing;
mod iam_api;
mod instance_credentials;
mod metrics;
mod query;
mod resource_policies;
pub mod routes;
mod sts_api;
mod transport;
mod web_identity;
mod xml;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::serve::ListenerExt;
pub use portcullis_iam as iam;
use portcullis_iam::IamService;
use portcullis_iam::model::Secret;
use portcullis_iam::seal::{MasterKey, write_private_file};
pub use portcullis_iam::state::Limits;
use portcullis_iam::store::{SqliteStore, Store};
pub use portcullis_postgres as postgres;
use portcullis_postgres::PostgresStore;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use app::MAX_BODY_BYTES;

/// Every action served, as `(Version, Action)`: the IAM and STS dispatch tables, for tests
/// and tools that must cover each one.
pub fn served_actions() -> Vec<(&'static str, &'static str)> {
    iam_api::action_names()
        .map(|a| ("2010-05-08", a))
        .chain(sts_api::action_names().map(|a| ("2011-06-15", a)))
        .collect()
}
pub use ipnet::IpNet;
pub use portcullis_tls::TlsFiles;
pub use transport::parse_trusted_proxy;

/// How often recorded access-key uses are written to the store (and at shutdown).
const KEY_USE_FLUSH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

async fn flush_key_uses(state: &Arc<app::AppState>) {
    let state = state.clone();
    let flushed = tokio::task::spawn_blocking(move || state.service.flush_usage()).await;
    if let Ok(Err(e)) = flushed {
        tracing::warn!(error = %e, "could not store access key last-used times");
    }
}

/// How to run.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// The master key and root credentials files, and the embedded store's database.
    pub data_dir: PathBuf,
    /// Where the IAM state lives.
    pub store: StoreLocation,
    /// The default account's id at first start (random when `None`).
    pub account_id: Option<String>,
    /// Root credentials to adopt at first start instead of generating them.
    pub root_credentials: Option<(String, String)>,
    /// Where the master key lives (`<data-dir>/master.key` when `None`).
    pub master_key_file: Option<PathBuf>,
    /// Quotas (AWS's defaults unless raised).
    pub limits: Limits,
    /// The regions served: every request's signature must be scoped to one of them. Empty:
    /// any region.
    pub regions: Vec<String>,
    /// Serve HTTPS with this certificate chain and key (plain HTTP when `None`).
    pub tls: Option<TlsFiles>,
    /// Peers whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed (see
    /// `transport.rs`); empty: the TCP peer is the client. Forward auth answers only them.
    pub trusted_proxies: Vec<IpNet>,
    /// The routes of forward auth (`--routes FILE`); without them `/v1/forward-auth` is not
    /// served.
    pub routes: Option<routes::Routes>,
    /// The audit trail (`None`: no request is recorded).
    pub audit: Option<AuditSettings>,
    /// Serve Prometheus metrics (`GET /metrics`) on this address, apart from the API
    /// (`None`: not served).
    pub metrics_listen: Option<SocketAddr>,
}

/// Where the IAM state lives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StoreLocation {
    /// The embedded SQLite database, `portcullis.db` in the data directory.
    #[default]
    Embedded,
    /// A PostgreSQL database (`postgres://user@host:port/db`), which several nodes may share.
    Postgres(String),
}

impl StoreLocation {
    /// `--store`'s value: `sqlite` (or nothing) for the embedded store, a `postgres://` or
    /// `postgresql://` URL for PostgreSQL.
    pub fn parse(text: &str) -> Result<StoreLocation, String> {
        let text = text.trim();
        if text.is_empty() || text == "sqlite" {
            Ok(StoreLocation::Embedded)
        } else if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Ok(StoreLocation::Postgres(text.to_owned()))
        } else {
            Err(format!(
                "{text:?} is not a store: use sqlite, or a postgres:// URL"
            ))
        }
    }
}

/// How the audit trail is kept.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditSettings {
    /// Events older than this many days are pruned (hourly, and at start); `None` keeps all.
    pub retention_days: Option<u32>,
    /// How often digests are signed.
    pub trail: portcullis_iam::trail::TrailConfig,
}

/// How long the follower waits for a notification of another node's commit before it
/// reads the change log anyway (a lost notification delays a change this long at most).
const FOLLOW_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// How often the trail's retention is applied.
const PRUNE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3600);

/// Prunes the trail to its retention (a no-op without one).
async fn prune_audit(state: &Arc<app::AppState>, retention_days: Option<u32>) {
    let Some(days) = retention_days else {
        return;
    };
    let state = state.clone();
    let cutoff = (time::OffsetDateTime::now_utc().unix_timestamp() - i64::from(days) * 86_400)
        .saturating_mul(1000);
    let pruned = tokio::task::spawn_blocking(move || state.service.audit_prune(cutoff)).await;
    match pruned {
        Ok(Ok(n)) if n > 0 => {
            tracing::info!(events = n, days, "audit events past retention pruned")
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "could not prune the audit trail"),
        _ => {}
    }
}

/// Signs a digest of the trail's head when one is due by time (and at shutdown).
async fn sign_audit(state: &Arc<app::AppState>) {
    let state = state.clone();
    let signed = tokio::task::spawn_blocking(move || state.service.audit_sign_now()).await;
    if let Ok(Err(e)) = signed {
        tracing::warn!(error = %e, "could not sign an audit digest");
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("data directory {path}: {message}")]
    DataDir { path: String, message: String },
    #[error("{0}")]
    MasterKey(#[from] portcullis_iam::seal::SealError),
    #[error("{0}")]
    Store(#[from] portcullis_iam::store::StoreError),
    #[error("{0}")]
    Iam(#[from] portcullis_iam::IamError),
    #[error("cannot listen on {addr}: {message}")]
    Listen { addr: SocketAddr, message: String },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error(
        "{path} has mode {mode}: a file holding secrets must be readable and writable by its owner only (chmod 600 {path})"
    )]
    FileMode { path: String, mode: String },
}

/// A started server.
pub struct RunningServer {
    pub local_addr: SocketAddr,
    pub account_id: String,
    /// Root credentials generated at this start, if any: saved in `root_credentials_file`
    /// (mode 0600); the secret is never printed or logged.
    pub new_root_credentials: Option<(String, Secret)>,
    /// Where generated root credentials are saved (`<data-dir>/root-credentials`).
    pub root_credentials_file: PathBuf,
    /// Serving HTTPS.
    pub tls: bool,
    /// Where `/metrics` is served, if it is.
    pub metrics_addr: Option<SocketAddr>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    state: Arc<app::AppState>,
}

impl RunningServer {
    /// Adds another account to this deployment (an administrator's operation: accounts are
    /// not created through the IAM API), with its root credentials: `root` when given, else
    /// generated and returned. Adding an account that exists changes nothing.
    pub fn add_account(
        &self,
        account_id: &str,
        root: Option<(String, String)>,
    ) -> Result<Option<(String, Secret)>, StartError> {
        if !(account_id.len() == 12 && account_id.bytes().all(|b| b.is_ascii_digit())) {
            return Err(StartError::Config(format!(
                "account id {account_id} is not 12 digits"
            )));
        }
        let created = self.state.service.bootstrap(
            account_id,
            root.map(|(id, secret)| (id, Secret::new(secret))),
        )?;
        Ok(created
            .filter(|c| c.generated)
            .map(|c| (c.access_key_id, c.secret_access_key)))
    }

    /// A digest of every entity the service holds, for tests and operators to prove a refused
    /// request changed nothing: SHA-256 (hex) over a canonical rendering of the current
    /// snapshot (every account's entities, access keys and settings). Usage timestamps
    /// (access-key and role last use), which any authenticated call updates, are left out.
    pub fn state_digest(&self) -> String {
        self.state.service.snapshot().state.digest()
    }

    /// Stops accepting requests, finishes those in flight, and returns when done.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Waits until the server stops (after a shutdown signal).
    pub async fn wait(self) {
        let _ = self.task.await;
    }

    /// A sender that stops the server.
    pub fn take_shutdown(&mut self) -> Option<oneshot::Sender<()>> {
        self.shutdown.take()
    }
}

fn dir_error(path: &Path, e: impl ToString) -> StartError {
    StartError::DataDir {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Opens everything and starts serving.
pub async fn start(config: ServerConfig) -> Result<RunningServer, StartError> {
    files::prepare_data_dir(&config.data_dir)?;
    let key_path = config
        .master_key_file
        .clone()
        .unwrap_or_else(|| config.data_dir.join("master.key"));
    let credentials_path = config.data_dir.join("root-credentials");
    files::check_private(&key_path)?;
    files::check_private(&credentials_path)?;
    let master_key = MasterKey::load_or_create(&key_path)?;
    let store: Box<dyn Store> = match &config.store {
        StoreLocation::Embedded => {
            let db_path = config.data_dir.join("portcullis.db");
            files::prepare_database(&db_path)?;
            Box::new(SqliteStore::open(&db_path)?)
        }
        StoreLocation::Postgres(url) => Box::new(PostgresStore::connect(url)?),
    };
    let mut service = IamService::open(store, master_key, config.limits)?;
    if let Some(audit) = &config.audit {
        service.enable_audit(audit.trail)?;
    }

    let existing = service.account_ids();
    let account_id = match (existing.first(), &config.account_id) {
        (Some(_), Some(wanted)) if existing.contains(wanted) => wanted.clone(),
        (Some(first), Some(wanted)) => {
            return Err(StartError::Config(format!(
                "the data directory holds account {first}, not {wanted}"
            )));
        }
        (Some(first), None) => first.clone(),
        (None, Some(wanted)) => {
            if !(wanted.len() == 12 && wanted.bytes().all(|b| b.is_ascii_digit())) {
                return Err(StartError::Config(format!(
                    "account id {wanted} is not 12 digits"
                )));
            }
            wanted.clone()
        }
        (None, None) => portcullis_iam::ids::new_account_id(),
    };
    let preset = config
        .root_credentials
        .clone()
        .map(|(id, secret)| (id, Secret::new(secret)));
    let created = service.bootstrap(&account_id, preset)?;
    let new_root_credentials = match created {
        Some(c) if c.generated => {
            let path = credentials_path;
            let text = format!(
                "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
                c.access_key_id,
                c.secret_access_key.expose()
            );
            write_private_file(&path, text.as_bytes()).map_err(|e| dir_error(&path, e))?;
            Some((c.access_key_id, c.secret_access_key))
        }
        _ => None,
    };

    let acceptor = config
        .tls
        .as_ref()
        .map(portcullis_tls::acceptor)
        .transpose()
        .map_err(|e| StartError::Tls(e.0))?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| StartError::Listen {
            addr: config.listen,
            message: e.to_string(),
        })?;
    let local_addr = listener.local_addr().map_err(|e| StartError::Listen {
        addr: config.listen,
        message: e.to_string(),
    })?;
    let state = Arc::new(app::AppState {
        service,
        jwks: web_identity::JwksCache::new(),
        saml_replay: sts_api::SamlReplay::default(),
        regions: config.regions.clone(),
        transport: transport::Transport {
            tls: acceptor.is_some(),
            trusted_proxies: config.trusted_proxies.clone(),
        },
        in_flight: Arc::new(tokio::sync::Semaphore::new(app::MAX_IN_FLIGHT)),
        resource_policies: Default::default(),
        routes: config.routes.clone(),
        default_account: account_id.clone(),
        metrics: config.metrics_listen.map(|_| metrics::Metrics::default()),
    });
    let (metrics_addr, metrics_task) = match config.metrics_listen {
        Some(addr) => {
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|e| StartError::Listen {
                    addr,
                    message: e.to_string(),
                })?;
            let bound = listener.local_addr().map_err(|e| StartError::Listen {
                addr,
                message: e.to_string(),
            })?;
            let router = app::metrics_router(state.clone());
            let task = tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router).await {
                    tracing::error!(error = %e, "the metrics listener stopped");
                }
            });
            (Some(bound), Some(task))
        }
        None => (None, None),
    };
    let router = app::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let (tx, rx) = oneshot::channel::<()>();
    let audit = config.audit;
    let flusher = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(KEY_USE_FLUSH_INTERVAL);
            let mut pruned = std::time::Instant::now();
            let mut signed = std::time::Instant::now();
            if let Some(audit) = audit {
                prune_audit(&state, audit.retention_days).await;
            }
            loop {
                tick.tick().await;
                flush_key_uses(&state).await;
                if let Some(audit) = audit {
                    if signed.elapsed() >= audit.trail.digest_interval {
                        sign_audit(&state).await;
                        signed = std::time::Instant::now();
                    }
                    if pruned.elapsed() >= PRUNE_INTERVAL {
                        prune_audit(&state, audit.retention_days).await;
                        pruned = std::time::Instant::now();
                    }
                }
            }
        })
    };
    if state.service.clustered() {
        // Other nodes' commits, published as they come (the thread ends with the server).
        let weak = Arc::downgrade(&state);
        let spawned = std::thread::Builder::new()
            .name("portcullis-follower".into())
            .spawn(move || {
                while let Some(state) = weak.upgrade() {
                    state.service.follow(FOLLOW_TIMEOUT);
                }
            });
        if let Err(e) = spawned {
            return Err(StartError::Config(format!(
                "cannot start the change feed's follower: {e}"
            )));
        }
    }
    let task_state = state.clone();
    let task = tokio::spawn(async move {
        let state = task_state;
        let stop = async {
            let _ = rx.await;
        };
        let served = match acceptor {
            None => {
                axum::serve(listener, router)
                    .with_graceful_shutdown(stop)
                    .await
            }
            Some(acceptor) => match portcullis_tls::TlsListener::new(listener, acceptor) {
                // `tap_io` only so that `ConnectInfo<SocketAddr>` works for this listener.
                Ok(tls) => {
                    axum::serve(tls.tap_io(|_| ()), router)
                        .with_graceful_shutdown(stop)
                        .await
                }
                Err(e) => Err(e),
            },
        };
        if let Err(e) = served {
            tracing::error!(error = %e, "server stopped with an error");
        }
        flusher.abort();
        if let Some(metrics) = metrics_task {
            metrics.abort();
        }
        flush_key_uses(&state).await;
        sign_audit(&state).await;
    });
    Ok(RunningServer {
        local_addr,
        account_id,
        new_root_credentials,
        root_credentials_file: config.data_dir.join("root-credentials"),
        tls: config.tls.is_some(),
        metrics_addr,
        shutdown: Some(tx),
        task,
        state,
    })
}
