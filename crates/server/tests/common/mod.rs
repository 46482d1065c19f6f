//! A real Portcullis server on 127.0.0.1 with a temporary data directory, and AWS SDK clients
//! for it.

#![allow(dead_code)]

use std::path::PathBuf;

use aws_credential_types::Credentials;
use aws_sdk_iam::config::{BehaviorVersion, Region};
use portcullis_server::{Limits, RunningServer, ServerConfig, start};

pub const ACCOUNT: &str = "111122223333";
pub const ROOT_KEY: &str = "AKIAROOTEXAMPLE00001";
pub const ROOT_SECRET: &str = "rootSecretKeyForTests0000000000000000000";

pub struct TestServer {
    pub server: Option<RunningServer>,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(Limits::default()).await
    }

    pub async fn start_with(limits: Limits) -> TestServer {
        TestServer::start_configured(|c| c.limits = limits).await
    }

    /// A server whose configuration `configure` changes from the tests' default.
    pub async fn start_configured(configure: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = test_config(dir.path());
        configure(&mut config);
        let server = start(config).await.expect("server starts");
        TestServer {
            server: Some(server),
            dir,
        }
    }

    pub fn endpoint(&self) -> String {
        let addr = self.server.as_ref().expect("running").local_addr;
        format!("http://{addr}")
    }

    pub fn root(&self) -> aws_sdk_iam::Client {
        self.iam(ROOT_KEY, ROOT_SECRET)
    }

    pub fn iam(&self, key: &str, secret: &str) -> aws_sdk_iam::Client {
        let config = aws_sdk_iam::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(key, secret, None, None, "test"))
            .build();
        aws_sdk_iam::Client::from_conf(config)
    }

    /// An IAM client with temporary credentials.
    pub fn iam_session(&self, key: &str, secret: &str, token: &str) -> aws_sdk_iam::Client {
        let config = aws_sdk_iam::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(
                key,
                secret,
                Some(token.to_owned()),
                None,
                "test",
            ))
            .build();
        aws_sdk_iam::Client::from_conf(config)
    }

    /// An STS client (temporary credentials when `token` is given).
    pub fn sts(&self, key: &str, secret: &str, token: Option<&str>) -> aws_sdk_sts::Client {
        let config = aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(aws_sdk_sts::config::Region::new("us-east-1"))
            .credentials_provider(Credentials::new(
                key,
                secret,
                token.map(str::to_owned),
                None,
                "test",
            ))
            .build();
        aws_sdk_sts::Client::from_conf(config)
    }

    /// Stops the server and starts a new one on the same data directory.
    pub async fn restart(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
        self.server = Some(start_in(self.dir.path().to_path_buf(), Limits::default()).await);
    }

    /// A user with an access key and the given inline policy; returns its IAM client.
    pub async fn user_with_policy(&self, name: &str, policy: Option<&str>) -> aws_sdk_iam::Client {
        let (key, secret) = self.user_keys(name, policy).await;
        self.iam(&key, &secret)
    }

    /// A user with an access key and the given inline policy (named `inline`); returns the
    /// key's (id, secret).
    pub async fn user_keys(&self, name: &str, policy: Option<&str>) -> (String, String) {
        let root = self.root();
        root.create_user()
            .user_name(name)
            .send()
            .await
            .expect("create user");
        if let Some(doc) = policy {
            root.put_user_policy()
                .user_name(name)
                .policy_name("inline")
                .policy_document(doc)
                .send()
                .await
                .expect("put user policy");
        }
        let key = root
            .create_access_key()
            .user_name(name)
            .send()
            .await
            .expect("create access key");
        let key = key.access_key().expect("access key");
        (
            key.access_key_id().to_owned(),
            key.secret_access_key().to_owned(),
        )
    }
}

async fn start_in(dir: PathBuf, limits: Limits) -> RunningServer {
    let mut config = test_config(&dir);
    config.limits = limits;
    start(config).await.expect("server starts")
}

/// The AWS error code and HTTP status of a failed SDK call.
pub fn error_code<E, R>(
    result: Result<R, aws_sdk_iam::error::SdkError<E, aws_sdk_iam::config::http::HttpResponse>>,
) -> (String, u16)
where
    E: aws_sdk_iam::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match result {
        Ok(r) => panic!("expected an error, got {r:?}"),
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
            let code = aws_sdk_iam::error::ProvideErrorMetadata::code(&e)
                .unwrap_or("(none)")
                .to_owned();
            (code, status)
        }
    }
}

/// The configuration tests start with: 127.0.0.1, an ephemeral port, the test account and root
/// credentials, plain HTTP, no trusted proxies.
pub fn test_config(dir: &std::path::Path) -> ServerConfig {
    ServerConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        data_dir: dir.to_path_buf(),
        account_id: Some(ACCOUNT.to_owned()),
        root_credentials: Some((ROOT_KEY.to_owned(), ROOT_SECRET.to_owned())),
        master_key_file: None,
        limits: Limits::default(),
        tls: None,
        trusted_proxies: Vec::new(),
        regions: Vec::new(),
    }
}

/// An IAM client of `endpoint` (any server, not only a [`TestServer`]).
pub fn iam_at(endpoint: &str, key: &str, secret: &str) -> aws_sdk_iam::Client {
    let config = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(key, secret, None, None, "test"))
        .build();
    aws_sdk_iam::Client::from_conf(config)
}

/// The current 30-second TOTP time step.
pub fn now_step() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
        / 30
}
