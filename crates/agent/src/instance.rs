//! The instance: its id, and its role credentials fetched from Portcullis and renewed.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use portcullis_guard::{Client, ClientError};
use serde::{Deserialize, Serialize};

/// How the agent runs.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub instance_profile: String,
    /// Where the instance id is kept.
    pub data_dir: PathBuf,
    /// The credentials' lifetime asked for (60 s to six hours; one hour by default).
    pub duration_seconds: Option<i64>,
    /// Serve without IMDSv2 tokens too (`ec2:RoleDelivery` is then 1.0).
    pub imds_v1: bool,
    /// Serve the container credentials protocol too, to requests whose `Authorization` is
    /// this token (what `AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE]` gives the SDKs).
    pub container_token: Option<String>,
}

/// Why the agent cannot run.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("{0}")]
    Portcullis(#[from] ClientError),
    #[error("{path}: {message}")]
    DataDir { path: String, message: String },
}

/// What Portcullis delivered, as the metadata service serves it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Delivery {
    pub code: String,
    pub last_updated: String,
    #[serde(rename = "Type")]
    pub kind: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub token: String,
    pub expiration: String,
    pub instance_profile_arn: String,
    pub instance_profile_id: String,
    pub role_name: String,
    pub role_arn: String,
    pub instance_arn: String,
    pub account_id: String,
    pub region: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Ask<'a> {
    instance_profile_name: &'a str,
    instance_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_seconds: Option<i64>,
    imds_v2_required: bool,
}

/// A running instance's state.
pub struct Agent {
    pub config: AgentConfig,
    pub instance_id: String,
    pub started: i64,
    client: Client,
    current: RwLock<Option<Delivery>>,
}

fn unix(text: &str) -> Option<i64> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

pub(crate) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The instance id kept in `dir`, made on first start (`i-` and 17 hex digits).
async fn instance_id(dir: &std::path::Path) -> Result<String, AgentError> {
    let fail = |e: std::io::Error| AgentError::DataDir {
        path: dir.display().to_string(),
        message: e.to_string(),
    };
    tokio::fs::create_dir_all(dir).await.map_err(fail)?;
    let path = dir.join("instance-id");
    match tokio::fs::read_to_string(&path).await {
        Ok(id) if id.trim().starts_with("i-") => Ok(id.trim().to_owned()),
        _ => {
            let bytes: [u8; 9] = rand::random();
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let id = format!("i-{}", &hex[..17]);
            tokio::fs::write(&path, &id).await.map_err(fail)?;
            Ok(id)
        }
    }
}

impl Agent {
    /// Starts the instance: its id, and a first delivery (the agent does not serve without
    /// one: a profile Portcullis refuses is an error at start).
    pub async fn start(config: AgentConfig, client: Client) -> Result<Arc<Agent>, AgentError> {
        let instance_id = instance_id(&config.data_dir).await?;
        let agent = Arc::new(Agent {
            instance_id,
            started: now(),
            client,
            current: RwLock::new(None),
            config,
        });
        agent.fetch().await?;
        Ok(agent)
    }

    async fn fetch(&self) -> Result<(), ClientError> {
        let delivery: Delivery = self
            .client
            .post_json(
                "/v1/instance-credentials",
                &Ask {
                    instance_profile_name: &self.config.instance_profile,
                    instance_id: &self.instance_id,
                    duration_seconds: self.config.duration_seconds,
                    imds_v2_required: !self.config.imds_v1,
                },
            )
            .await?;
        tracing::info!(
            role = %delivery.role_arn,
            access_key = %delivery.access_key_id,
            expiration = %delivery.expiration,
            "instance credentials renewed"
        );
        if let Ok(mut current) = self.current.write() {
            *current = Some(delivery);
        }
        Ok(())
    }

    /// The credentials being served, unless they have expired.
    pub fn current(&self) -> Option<Delivery> {
        let current = self.current.read().ok()?.clone()?;
        unix(&current.expiration)
            .is_some_and(|at| at > now())
            .then_some(current)
    }

    /// Renews the credentials at half their lifetime, for as long as the agent runs; a failed
    /// renewal is retried every 5 s (the current credentials are served until they expire).
    pub async fn renew_forever(self: Arc<Self>) {
        loop {
            let wait = match self.current.read().ok().and_then(|c| c.clone()) {
                Some(d) => {
                    let issued = unix(&d.last_updated).unwrap_or_else(now);
                    let expires = unix(&d.expiration).unwrap_or_else(now);
                    (issued + (expires - issued) / 2 - now()).max(1)
                }
                None => 5,
            };
            tokio::time::sleep(Duration::from_secs(wait.unsigned_abs())).await;
            while let Err(e) = self.fetch().await {
                tracing::warn!(error = %e, "instance credentials could not be renewed");
                if self.current().is_none()
                    && let Ok(mut current) = self.current.write()
                {
                    *current = None;
                }
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}
