//! The seeds' example end to end: a real Portcullis (in this process), the real
//! `portcullis-object-store` binary (a separate process, authorized by Portcullis), and the
//! clients people use against S3 — the AWS CLI (`aws s3`, `aws s3api`) and boto3 — with their
//! default settings.

#[path = "../../../crates/server/tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{ACCOUNT, TestServer};

const OTHER_ACCOUNT: &str = "444455556666";
const ALLOW_AUTHORIZE: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"portcullis:Authorize","Resource":"*"}}"#;

/// The object store, running until dropped.
struct Store {
    child: Child,
    endpoint: String,
    /// The CA the clients trust (`AWS_CA_BUNDLE`), for HTTPS.
    ca_bundle: Option<std::path::PathBuf>,
    _dir: tempfile::TempDir,
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_store(portcullis: &str, key: &str, secret: &str) -> Store {
    start_store_with(portcullis, key, secret, None)
}

/// The store, over HTTPS when `tls` names its certificate and key.
fn start_store_with(
    portcullis: &str,
    key: &str,
    secret: &str,
    tls: Option<&portcullis_server::TlsFiles>,
) -> Store {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_portcullis-object-store"));
    command
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path());
    if let Some(tls) = tls {
        command
            .arg("--tls-cert")
            .arg(&tls.cert)
            .arg("--tls-key")
            .arg(&tls.key);
    }
    let mut child = command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", portcullis)
        .env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_REGION", "us-east-1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the object store");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_owned();
    let scheme = if tls.is_some() { "https" } else { "http" };
    Store {
        child,
        endpoint: format!("{scheme}://{addr}"),
        ca_bundle: None,
        _dir: dir,
    }
}

/// Credentials of a client.
#[derive(Clone)]
struct Creds {
    key: String,
    secret: String,
    token: Option<String>,
}

/// What a client process printed.
struct Output {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn client_env(command: &mut Command, store: &Store, creds: &Creds, home: &Path) {
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .env("AWS_ENDPOINT_URL_S3", &store.endpoint)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", &creds.key)
        .env("AWS_SECRET_ACCESS_KEY", &creds.secret)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    if let Some(ca) = &store.ca_bundle {
        command.env("AWS_CA_BUNDLE", ca);
    }
    if let Some(token) = &creds.token {
        command.env("AWS_SESSION_TOKEN", token);
    }
}

fn run(mut command: Command) -> Output {
    // The in-process Portcullis keeps serving on the runtime's other threads meanwhile.
    let out = tokio::task::block_in_place(|| command.output()).expect("run the client");
    Output {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The AWS CLI with `args`, as `creds`.
fn aws(store: &Store, creds: &Creds, args: &[&str]) -> Output {
    let home = tempfile::tempdir().expect("home");
    let mut command = Command::new("aws");
    command.args(args);
    client_env(&mut command, store, creds, home.path());
    run(command)
}

/// A boto3 script (`s3` is a client with default settings), as `creds`.
fn boto3(store: &Store, creds: &Creds, script: &str) -> Output {
    let home = tempfile::tempdir().expect("home");
    let mut command = Command::new("python3");
    command.arg("-c").arg(format!(
        "import boto3, botocore\ns3 = boto3.client('s3')\n{script}"
    ));
    client_env(&mut command, store, creds, home.path());
    run(command)
}

fn tools_present() -> bool {
    let found = |program: &str, arg: &str| {
        Command::new(program)
            .arg(arg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    found("aws", "--version") && found("python3", "--version") && {
        Command::new("python3")
            .args(["-c", "import boto3"])
            .status()
            .is_ok_and(|s| s.success())
    }
}

async fn user(iam: &aws_sdk_iam::Client, name: &str, policy: Option<&str>) -> Creds {
    let (key, secret) = common::user_keys_with(iam, name, policy).await;
    Creds {
        key,
        secret,
        token: None,
    }
}

/// A Portcullis with the store's own user (allowed portcullis:Authorize), or `None` (the test
/// skips) when the clients are missing.
async fn setup() -> Option<(TestServer, Creds)> {
    if !tools_present() {
        // .ci/run installs both (and sets PORTCULLIS_REQUIRE_CLIENTS, so CI never skips); a
        // developer machine without them skips with the reason.
        let reason = "the AWS CLI and boto3 are needed (python3 -m pip install awscli boto3)";
        assert!(
            std::env::var_os("PORTCULLIS_REQUIRE_CLIENTS").is_none(),
            "{reason}"
        );
        eprintln!("SKIPPED: {reason}");
        return None;
    }
    let server = TestServer::start().await;
    let service = user(&server.root(), "objstore", Some(ALLOW_AUTHORIZE)).await;
    Some((server, service))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_cli_and_boto3_work_against_the_store_and_portcullis_decides() {
    let Some((server, service)) = setup().await else {
        return;
    };
    let root = server.root();
    let store = start_store(&server.endpoint(), &service.key, &service.secret);

    // The owner of the buckets may do anything in S3.
    let admin = user(
        &root,
        "admin",
        Some(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#),
    )
    .await;
    for bucket in ["bucket-a", "bucket-b"] {
        let out = aws(&store, &admin, &["s3", "mb", &format!("s3://{bucket}")]);
        assert!(out.ok, "mb {bucket}: {}{}", out.stdout, out.stderr);
    }
    let file = tempfile::NamedTempFile::new().expect("file");
    std::fs::write(file.path(), b"quarterly numbers\n").expect("write");
    let path = file.path().to_str().expect("path");
    for target in [
        "s3://bucket-a/reports/q3.csv",
        "s3://bucket-a/secret/salaries.csv",
        "s3://bucket-b/b.txt",
    ] {
        let out = aws(&store, &admin, &["s3", "cp", path, target]);
        assert!(out.ok, "cp {target}: {}{}", out.stdout, out.stderr);
    }
    // Keys that need percent-encoding: S3 signs the path encoded once, as sent.
    let out = boto3(
        &store,
        &admin,
        "key = 'odd/a b+c%d=\\u00e9~(1).txt'\ns3.put_object(Bucket='bucket-b', Key=key, Body=b'odd')\nprint(s3.get_object(Bucket='bucket-b', Key=key)['Body'].read().decode())\nprint(s3.head_object(Bucket='bucket-b', Key=key)['ContentLength'])\ns3.delete_object(Bucket='bucket-b', Key=key)",
    );
    assert!(out.ok, "{}", out.stderr);
    assert_eq!(out.stdout, "odd\n3\n");
    let out = aws(&store, &admin, &["s3", "ls"]);
    assert!(
        out.ok && out.stdout.contains("bucket-a") && out.stdout.contains("bucket-b"),
        "{}{}",
        out.stdout,
        out.stderr
    );

    // The bucket policy: the other account may read bucket-a; nobody reads secret/.
    let bucket_policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Sid":"PartnerRead","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{OTHER_ACCOUNT}:root"}},"Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::bucket-a","arn:aws:s3:::bucket-a/*"]}},
            {{"Sid":"NoSecrets","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket-a/secret/*"}}]}}"#
    );
    let out = aws(
        &store,
        &admin,
        &[
            "s3api",
            "put-bucket-policy",
            "--bucket",
            "bucket-a",
            "--policy",
            &bucket_policy,
        ],
    );
    assert!(out.ok, "{}{}", out.stdout, out.stderr);
    let out = aws(
        &store,
        &admin,
        &["s3api", "get-bucket-policy", "--bucket", "bucket-a"],
    );
    assert!(
        out.ok && out.stdout.contains("PartnerRead"),
        "{}{}",
        out.stdout,
        out.stderr
    );

    // Developers read bucket-a, and may not write bucket-b.
    root.create_group()
        .group_name("Developers")
        .send()
        .await
        .expect("group");
    root.put_group_policy()
        .group_name("Developers")
        .policy_name("read-a")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"},
            {"Effect":"Allow","Action":["s3:ListBucket","s3:GetObject"],"Resource":["arn:aws:s3:::bucket-a","arn:aws:s3:::bucket-a/*"]}]}"#)
        .send()
        .await
        .expect("group policy");
    let dev = user(&root, "dev", None).await;
    root.add_user_to_group()
        .group_name("Developers")
        .user_name("dev")
        .send()
        .await
        .expect("membership");
    let out = aws(&store, &dev, &["s3", "ls", "s3://bucket-a/reports/"]);
    assert!(
        out.ok && out.stdout.contains("q3.csv"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    let out = aws(
        &store,
        &dev,
        &["s3", "cp", "s3://bucket-a/reports/q3.csv", "-"],
    );
    assert_eq!(out.stdout, "quarterly numbers\n", "{}", out.stderr);
    let out = aws(&store, &dev, &["s3", "cp", path, "s3://bucket-b/dev.txt"]);
    assert!(!out.ok, "{}", out.stdout);
    assert!(out.stderr.contains("AccessDenied"), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "User: arn:aws:iam::{ACCOUNT}:user/dev is not authorized to perform: s3:PutObject on resource: arn:aws:s3:::bucket-b/dev.txt because no identity-based policy allows the s3:PutObject action"
        )),
        "{}",
        out.stderr
    );
    // The Deny in the bucket policy wins over the group's Allow, and says so.
    let out = boto3(
        &store,
        &dev,
        "try:\n    s3.get_object(Bucket='bucket-a', Key='secret/salaries.csv')\n    print('READ')\nexcept botocore.exceptions.ClientError as e:\n    print(e.response['Error']['Code'])\n    print(e.response['Error']['Message'])",
    );
    assert!(out.ok, "{}", out.stderr);
    assert!(out.stdout.starts_with("AccessDenied\n"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("with an explicit deny in a resource-based policy"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("Encoded authorization failure message: "),
        "{}",
        out.stdout
    );

    // Another account's role session reads bucket-a through the bucket policy.
    let running = server.server.as_ref().expect("running");
    let (b_key, b_secret) = (
        "AKIAOTHERROOT0000001",
        "otherRootSecret0000000000000000000000000",
    );
    running
        .add_account(OTHER_ACCOUNT, Some((b_key.into(), b_secret.into())))
        .expect("second account");
    let other = server.iam(b_key, b_secret);
    other
        .create_role()
        .role_name("partner")
        .assume_role_policy_document(format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{OTHER_ACCOUNT}:root"}},"Action":"sts:AssumeRole"}}}}"#
        ))
        .send()
        .await
        .expect("role");
    other
        .put_role_policy()
        .role_name("partner")
        .policy_name("s3-read")
        .policy_document(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket","s3:PutObject"],"Resource":"*"}}"#)
        .send()
        .await
        .expect("role policy");
    let assumer = user(
        &other,
        "carol",
        Some(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}}"#),
    )
    .await;
    let assumed = server
        .sts(&assumer.key, &assumer.secret, None)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{OTHER_ACCOUNT}:role/partner"))
        .role_session_name("nightly")
        .send()
        .await
        .expect("assume role");
    let c = assumed.credentials().expect("credentials");
    let partner = Creds {
        key: c.access_key_id().to_owned(),
        secret: c.secret_access_key().to_owned(),
        token: Some(c.session_token().to_owned()),
    };
    let out = boto3(
        &store,
        &partner,
        "print(s3.get_object(Bucket='bucket-a', Key='reports/q3.csv')['Body'].read().decode(), end='')\nprint([o['Key'] for o in s3.list_objects_v2(Bucket='bucket-a')['Contents']])",
    );
    assert!(out.ok, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "quarterly numbers\n['reports/q3.csv', 'secret/salaries.csv']\n"
    );
    // The bucket policy grants no writes: the role's own Allow is not enough across accounts.
    let out = aws(
        &store,
        &partner,
        &["s3", "cp", path, "s3://bucket-a/partner.txt"],
    );
    assert!(!out.ok, "{}", out.stdout);
    assert!(
        out.stderr.contains(&format!(
            "User: arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/partner/nightly is not authorized to perform: s3:PutObject on resource: arn:aws:s3:::bucket-a/partner.txt because no resource-based policy allows the s3:PutObject action"
        )),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_https_the_clients_stream_aws_chunked_uploads_with_trailing_checksums() {
    let Some((server, service)) = setup().await else {
        return;
    };
    let root = server.root();
    let certs = tempfile::tempdir().expect("dir");
    let (tls, ca_pem) = common::tls_files(certs.path(), "store");
    let ca = certs.path().join("ca.pem");
    std::fs::write(&ca, ca_pem).expect("write CA");
    let mut store = start_store_with(
        &server.endpoint(),
        &service.key,
        &service.secret,
        Some(&tls),
    );
    store.ca_bundle = Some(ca);
    let admin = user(
        &root,
        "admin",
        Some(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}}"#),
    )
    .await;
    // boto3's defaults over HTTPS: PutObject streams the body aws-chunked with a CRC32
    // trailer; a 300 KB body spans several chunks.
    let out = boto3(
        &store,
        &admin,
        "s3.create_bucket(Bucket='secure')\nbody = bytes(range(256)) * 1200\nr = s3.put_object(Bucket='secure', Key='big.bin', Body=body)\nprint(r['ResponseMetadata']['HTTPStatusCode'])\ngot = s3.get_object(Bucket='secure', Key='big.bin', ChecksumMode='ENABLED')\nprint(got['Body'].read() == body, got.get('ChecksumCRC32') is not None)",
    );
    assert!(out.ok, "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout, "200\nTrue True\n");
    // The AWS CLI, with its defaults, the same way.
    let file = tempfile::NamedTempFile::new().expect("file");
    std::fs::write(file.path(), vec![b'x'; 200_000]).expect("write");
    let path = file.path().to_str().expect("path");
    let out = aws(&store, &admin, &["s3", "cp", path, "s3://secure/cli.bin"]);
    assert!(out.ok, "{}{}", out.stdout, out.stderr);
    let out = aws(
        &store,
        &admin,
        &[
            "s3api",
            "head-object",
            "--bucket",
            "secure",
            "--key",
            "cli.bin",
        ],
    );
    assert!(
        out.ok && out.stdout.contains("200000"),
        "{}{}",
        out.stdout,
        out.stderr
    );
}

/// The seeds' example whole: an application on an "instance" reaches the store with no keys of
/// its own. `portcullis-agent` serves the instance role's credentials (PassRole, trust for EC2)
/// and the AWS CLI finds them through `AWS_EC2_METADATA_SERVICE_ENDPOINT` alone; the role's
/// policy decides what the store allows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_on_an_instance_uses_the_role_from_the_metadata_service() {
    let Some((server, service)) = setup().await else {
        return;
    };
    let store = start_store(&server.endpoint(), &service.key, &service.secret);
    let root = server.root();
    root.create_role()
        .role_name("app")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}"#)
        .send()
        .await
        .expect("create role");
    root.put_role_policy()
        .role_name("app")
        .policy_name("photos")
        .policy_document(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:ListBucket","s3:GetObject","s3:PutObject"],"Resource":["arn:aws:s3:::photos","arn:aws:s3:::photos/*"]}}"#)
        .send()
        .await
        .expect("role policy");
    root.create_instance_profile()
        .instance_profile_name("app")
        .send()
        .await
        .expect("profile");
    root.add_role_to_instance_profile()
        .instance_profile_name("app")
        .role_name("app")
        .send()
        .await
        .expect("add role");
    let admin = user(
        &root,
        "admin",
        Some(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#),
    )
    .await;
    for bucket in ["photos", "secrets"] {
        let out = aws(&store, &admin, &["s3", "mb", &format!("s3://{bucket}")]);
        assert!(out.ok, "mb {bucket}: {}", out.stderr);
    }
    let agent_user = user(
        &root,
        "agent",
        Some(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{"StringEquals":{"iam:PassedToService":"ec2.amazonaws.com"}}}}"#),
    )
    .await;

    // The agent, with its own credentials, "launches" the instance.
    let agent_dir = tempfile::tempdir().expect("agent dir");
    let client = portcullis_guard::Client::new(
        &server.endpoint(),
        "us-east-1",
        aws_credential_types::Credentials::new(
            &agent_user.key,
            &agent_user.secret,
            None,
            None,
            "test",
        ),
    )
    .expect("client");
    let agent = portcullis_agent::Agent::start(
        portcullis_agent::AgentConfig {
            instance_profile: "app".into(),
            data_dir: agent_dir.path().to_owned(),
            duration_seconds: None,
            imds_v1: false,
            container_token: None,
        },
        client,
    )
    .await
    .expect("agent starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let imds = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, portcullis_agent::router(agent)).await;
    });

    // The application: no keys, only where the metadata service, Portcullis and the store are.
    let app = |args: &[&str]| {
        let home = tempfile::tempdir().expect("home");
        let mut command = Command::new("aws");
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("AWS_CONFIG_FILE", home.path().join("config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                home.path().join("credentials"),
            )
            .env(
                "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                format!("http://{imds}/"),
            )
            .env("AWS_ENDPOINT_URL", server.endpoint())
            .env("AWS_ENDPOINT_URL_S3", &store.endpoint)
            .env("AWS_DEFAULT_REGION", "us-east-1");
        run(command)
    };
    let out = app(&["sts", "get-caller-identity", "--output", "text"]);
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stdout
            .contains(&format!("arn:aws:sts::{ACCOUNT}:assumed-role/app/i-")),
        "{}",
        out.stdout
    );

    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("cat.jpg");
    std::fs::write(&file, b"not really a cat").expect("write");
    let file = file.to_str().expect("utf-8 path");
    let out = app(&["s3", "cp", file, "s3://photos/cat.jpg"]);
    assert!(out.ok, "put with the role: {}", out.stderr);
    let out = app(&["s3", "cp", "s3://photos/cat.jpg", "-"]);
    assert!(out.ok, "get with the role: {}", out.stderr);
    assert_eq!(out.stdout, "not really a cat");
    let out = app(&["s3", "ls", "s3://photos/"]);
    assert!(out.ok && out.stdout.contains("cat.jpg"), "{}", out.stderr);

    // The role's policy names only photos: the other bucket is refused.
    let out = app(&["s3", "cp", file, "s3://secrets/cat.jpg"]);
    assert!(!out.ok, "put to secrets was allowed");
    assert!(out.stderr.contains("AccessDenied"), "{}", out.stderr);
    let out = app(&["s3", "ls", "s3://secrets/"]);
    assert!(
        !out.ok && out.stderr.contains("AccessDenied"),
        "{}",
        out.stderr
    );
}
