//! `portcullis agent` end to end: Portcullis in this process, the agent as a process of its
//! own, and SDK clients (boto3, the AWS CLI) in child processes with only
//! `AWS_EC2_METADATA_SERVICE_ENDPOINT` and `AWS_ENDPOINT_URL` set, as on an EC2 instance.

#[path = "../../server/tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{ACCOUNT, TestServer, exchange};

const EC2_TRUST: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}"#;
const WEB_POLICY: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*","Condition":{"StringEquals":{"ec2:RoleDelivery":"2.0"}}}}"#;
const PASS_WEB: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::111122223333:role/web","Condition":{"StringEquals":{"iam:PassedToService":"ec2.amazonaws.com"}}}}"#;

struct AgentProcess {
    child: Child,
    addr: String,
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn clients_present() -> bool {
    let ok = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    ok("aws", &["--version"]) && ok("python3", &["-c", "import boto3"])
}

fn run(command: &mut Command) -> (bool, String, String) {
    let out = tokio::task::block_in_place(|| command.output()).expect("runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A client process that knows nothing but the metadata endpoint and Portcullis's URL.
fn on_instance(
    program: &str,
    agent: &AgentProcess,
    portcullis: &str,
    home: &std::path::Path,
) -> Command {
    let mut c = Command::new(program);
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .env(
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            format!("http://{}/", agent.addr),
        )
        .env("AWS_ENDPOINT_URL", portcullis)
        .env("AWS_DEFAULT_REGION", "us-east-1");
    c
}

/// Reads the credentials the agent serves, as an SDK does (IMDSv2).
async fn served_key(agent: &AgentProcess) -> String {
    let put = format!(
        "PUT /latest/api/token HTTP/1.1\r\nhost: {}\r\nx-aws-ec2-metadata-token-ttl-seconds: 60\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        agent.addr
    );
    let (status, _, token) = exchange(&agent.addr, put.as_bytes()).await;
    assert_eq!(status, 200);
    let get = format!(
        "GET /latest/meta-data/iam/security-credentials/web HTTP/1.1\r\nhost: {}\r\nx-aws-ec2-metadata-token: {token}\r\nconnection: close\r\n\r\n",
        agent.addr
    );
    let (status, _, body) = exchange(&agent.addr, get.as_bytes()).await;
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(json["Code"], "Success");
    assert_eq!(json["Type"], "AWS-HMAC");
    json["AccessKeyId"].as_str().expect("key").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdks_on_the_instance_get_the_role_and_its_renewals() {
    if !clients_present() {
        let reason = "the AWS CLI and boto3 are needed (python3 -m pip install awscli boto3)";
        assert!(
            std::env::var_os("PORTCULLIS_REQUIRE_CLIENTS").is_none(),
            "{reason}"
        );
        eprintln!("SKIPPED: {reason}");
        return;
    }
    let server = TestServer::start().await;
    let root = server.root();
    root.create_role()
        .role_name("web")
        .assume_role_policy_document(EC2_TRUST)
        .send()
        .await
        .expect("role");
    root.put_role_policy()
        .role_name("web")
        .policy_name("p")
        .policy_document(WEB_POLICY)
        .send()
        .await
        .expect("policy");
    root.create_instance_profile()
        .instance_profile_name("web-profile")
        .send()
        .await
        .expect("profile");
    root.add_role_to_instance_profile()
        .instance_profile_name("web-profile")
        .role_name("web")
        .send()
        .await
        .expect("add role");
    let (key, secret) = server.user_keys("agent", Some(PASS_WEB)).await;

    let dir = tempfile::tempdir().expect("dir");
    let token_file = dir.path().join("container-token");
    std::fs::write(&token_file, "container-token-0123456789abcdef").expect("token");
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args([
            "agent",
            "--instance-profile",
            "web-profile",
            "--listen",
            "127.0.0.1:0",
            "--duration-seconds",
            "60",
            "--data-dir",
        ])
        .arg(dir.path())
        .arg("--container-token-file")
        .arg(&token_file)
        .env_clear()
        .env("AWS_ENDPOINT_URL", server.endpoint())
        .env("AWS_ACCESS_KEY_ID", &key)
        .env("AWS_SECRET_ACCESS_KEY", &secret)
        .env("AWS_REGION", "us-east-1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("agent starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    tokio::task::block_in_place(|| BufReader::new(stdout).read_line(&mut line)).expect("read");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected: {line:?}"))
        .to_owned();
    let agent = AgentProcess { child, addr };
    let instance_id = std::fs::read_to_string(dir.path().join("instance-id")).expect("instance id");
    let portcullis = server.endpoint();
    let home = tempfile::tempdir().expect("home");

    // IMDSv1 is refused; IMDSv2 serves the instance id.
    let get = format!(
        "GET /latest/meta-data/instance-id HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n\r\n",
        agent.addr
    );
    let (status, _, _) = exchange(&agent.addr, get.as_bytes()).await;
    assert_eq!(status, 401);

    // boto3 with its default chain: the role session of this instance, allowed and denied
    // by the role's policy (whose condition needs IMDSv2 delivery).
    let script = "import boto3, botocore\nprint(boto3.client('sts').get_caller_identity()['Arn'])\niam = boto3.client('iam')\nprint(len(iam.list_users()['Users']) > 0)\ntry:\n    iam.create_user(UserName='x')\nexcept botocore.exceptions.ClientError as e:\n    print(e.response['Error']['Code'])";
    let (ok, out, err) =
        run(on_instance("python3", &agent, &portcullis, home.path()).args(["-c", script]));
    assert!(ok, "{out}{err}");
    let arn = format!(
        "arn:aws:sts::{ACCOUNT}:assumed-role/web/{}",
        instance_id.trim()
    );
    assert_eq!(out, format!("{arn}\nTrue\nAccessDenied\n"));

    // The AWS CLI, the same way.
    let (ok, out, err) = run(on_instance("aws", &agent, &portcullis, home.path()).args([
        "sts",
        "get-caller-identity",
        "--query",
        "Arn",
        "--output",
        "text",
    ]));
    assert!(ok, "{out}{err}");
    assert_eq!(out.trim(), arn);

    // The Rust SDK (aws-config's default chain), the same way.
    let examples = std::path::Path::new(env!("CARGO_BIN_EXE_portcullis"))
        .parent()
        .expect("target dir")
        .join("examples");
    // `cargo test` (and `cargo build --examples`) leave it as examples/sdk_whoami.
    let example = examples.join("sdk_whoami");
    let rust = |command: &mut Command| {
        let (ok, out, err) = run(command);
        assert!(ok, "{out}{err}");
        out
    };
    let out = rust(&mut on_instance(
        example.to_str().expect("path"),
        &agent,
        &portcullis,
        home.path(),
    ));
    assert_eq!(out, format!("{arn}\ntrue\n"));

    // Containers: the container credentials protocol, with the token or its file.
    let full_uri = format!("http://{}/v1/container-credentials", agent.addr);
    let (ok, out, err) = run(on_instance("python3", &agent, &portcullis, home.path())
        .env_remove("AWS_EC2_METADATA_SERVICE_ENDPOINT")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &full_uri)
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &token_file)
        .args([
            "-c",
            "import boto3\nprint(boto3.client('sts').get_caller_identity()['Arn'])",
        ]));
    assert!(ok, "{out}{err}");
    assert_eq!(out.trim(), arn);
    let (ok, out, err) = run(on_instance("aws", &agent, &portcullis, home.path())
        .env_remove("AWS_EC2_METADATA_SERVICE_ENDPOINT")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &full_uri)
        .env(
            "AWS_CONTAINER_AUTHORIZATION_TOKEN",
            "container-token-0123456789abcdef",
        )
        .args([
            "sts",
            "get-caller-identity",
            "--query",
            "Arn",
            "--output",
            "text",
        ]));
    assert!(ok, "{out}{err}");
    assert_eq!(out.trim(), arn);
    let out = rust(
        on_instance(
            example.to_str().expect("path"),
            &agent,
            &portcullis,
            home.path(),
        )
        .env_remove("AWS_EC2_METADATA_SERVICE_ENDPOINT")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &full_uri)
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &token_file),
    );
    assert!(out.starts_with(&arn), "{out}");
    // A wrong token gets nothing.
    let get = format!(
        "GET /v1/container-credentials HTTP/1.1\r\nhost: {}\r\nauthorization: wrong\r\nconnection: close\r\n\r\n",
        agent.addr
    );
    let (status, _, body) = exchange(&agent.addr, get.as_bytes()).await;
    assert_eq!(status, 401, "{body}");

    // The credentials live 60 s and are renewed at half of that, transparently.
    let first = served_key(&agent).await;
    tokio::time::sleep(Duration::from_secs(33)).await;
    let second = served_key(&agent).await;
    assert_ne!(first, second, "renewed");
    let (ok, out, err) = run(on_instance("aws", &agent, &portcullis, home.path()).args([
        "iam",
        "list-users",
        "--query",
        "length(Users)",
    ]));
    assert!(ok, "{out}{err}");
}
