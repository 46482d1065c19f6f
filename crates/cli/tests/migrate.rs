//! `portcullis migrate` (issue 12): a single node's SQLite data directory moved onto
//! PostgreSQL with the real binary; a node started on the database holds the same state,
//! its keys sign, its trail still verifies and LookupEvents finds the old events; a second
//! migration into the same database is refused and changes nothing.

#[path = "../../server/tests/common/mod.rs"]
mod common;

use std::process::Command;

use common::*;
use portcullis_server::{StoreLocation, start};

fn portcullis(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .env_remove("PORTCULLIS_STORE")
        .env_remove("PORTCULLIS_MASTER_KEY_FILE")
        .output()
        .expect("portcullis runs");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_node_moves_onto_postgres_whole() {
    // The single node, on SQLite whatever store the suite runs on.
    let dir = tempfile::tempdir().expect("dir");
    let mut config = test_config(dir.path());
    config.store = StoreLocation::Embedded;
    let node = start(config).await.expect("starts");
    let endpoint = format!("http://{}", node.local_addr);
    let root = iam_at(&endpoint, ROOT_KEY, ROOT_SECRET);
    root.create_user().user_name("mia").send().await.unwrap();
    root.put_user_policy()
        .user_name("mia")
        .policy_name("self")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let key = root
        .create_access_key()
        .user_name("mia")
        .send()
        .await
        .unwrap();
    let key = key.access_key().unwrap().clone();
    root.create_virtual_mfa_device()
        .virtual_mfa_device_name("mia-phone")
        .send()
        .await
        .unwrap();
    let before = node.state_digest();
    node.shutdown().await;

    let url =
        portcullis_postgres::testing::database_for(&format!("migrate-{}", std::process::id()))
            .expect("a PostgreSQL server for tests");
    let from = format!("sqlite:{}", dir.path().display());
    let (code, said) = portcullis(&["migrate", "--from", &from, "--to", &url]);
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("audit events"), "{said}");

    // A node on the database, with the directory's master key.
    let other = tempfile::tempdir().expect("dir");
    let mut config = test_config(other.path());
    config.store = StoreLocation::Postgres(url.clone());
    config.master_key_file = Some(dir.path().join("master.key"));
    let node = start(config).await.expect("starts on PostgreSQL");
    assert_eq!(node.state_digest(), before, "the same state");
    let endpoint = format!("http://{}", node.local_addr);
    let mia = iam_at(&endpoint, key.access_key_id(), key.secret_access_key());
    let me = mia.get_user().send().await.expect("the moved key signs");
    assert_eq!(me.user().unwrap().user_name(), "mia");
    let cloudtrail = aws_sdk_cloudtrail::Client::from_conf(
        aws_sdk_cloudtrail::Config::builder()
            .behavior_version(aws_sdk_cloudtrail::config::BehaviorVersion::latest())
            .endpoint_url(&endpoint)
            .region(aws_sdk_cloudtrail::config::Region::new("us-east-1"))
            .credentials_provider(aws_credential_types::Credentials::new(
                ROOT_KEY,
                ROOT_SECRET,
                None,
                None,
                "test",
            ))
            .build(),
    );
    let found = cloudtrail
        .lookup_events()
        .lookup_attributes(
            aws_sdk_cloudtrail::types::LookupAttribute::builder()
                .attribute_key(aws_sdk_cloudtrail::types::LookupAttributeKey::EventName)
                .attribute_value("CreateVirtualMFADevice")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("lookup");
    assert_eq!(found.events().len(), 1, "the moved trail is searchable");
    node.shutdown().await;

    // The trail still verifies, events moved and events added on PostgreSQL alike.
    let key_file = dir.path().join("master.key");
    let (code, said) = portcullis(&[
        "audit",
        "verify",
        "--store",
        &url,
        "--master-key-file",
        &key_file.display().to_string(),
    ]);
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("audit trail intact"), "{said}");

    // Into a database that holds a deployment: refused, nothing changed.
    let (code, said) = portcullis(&["migrate", "--from", &from, "--to", &url]);
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("already holds a deployment"), "{said}");
}
