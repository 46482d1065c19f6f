//! Issue 7, holes 10 (on disk) and 11 (transport), tried as an attacker would: the real server
//! on 127.0.0.1, its real data directory (read and altered with rusqlite), the official SDK.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_sdk_iam::config::{BehaviorVersion, Region};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::tls_files;
use common::{
    ACCOUNT, ROOT_KEY, ROOT_SECRET, error_code, iam_at, on_postgres, replace_row, stored_row,
    stored_rows, test_config,
};
use portcullis_iam::seal::{MasterKey, SealedField};
use portcullis_server::{RunningServer, StartError, TlsFiles, parse_trusted_proxy, start};
use serde_json::Value;

const LEAF_PEM: &str = include_str!("fixtures/leaf-rsa.pem");
const LEAF_KEY: &str = include_str!("fixtures/leaf-rsa.key");
const CA_PEM: &str = include_str!("fixtures/ca.pem");
const METADATA: &str = include_str!("fixtures/saml-metadata.xml");

const GET_USER: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}}"#;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

async fn start_at(dir: &Path) -> Result<RunningServer, StartError> {
    start(test_config(dir)).await
}

fn endpoint(server: &RunningServer) -> String {
    format!("http://{}", server.local_addr)
}

fn row(dir: &Path, table: &str, key: &str) -> Value {
    stored_row(dir, table, key)
}

fn set_row(dir: &Path, table: &str, key: &str, data: &Value) {
    replace_row(dir, table, key, data);
}

/// A user with `policy` inline and an access key.
async fn user_with(iam: &aws_sdk_iam::Client, name: &str, policy: &str) -> (String, String) {
    iam.create_user().user_name(name).send().await.unwrap();
    iam.put_user_policy()
        .user_name(name)
        .policy_name("p")
        .policy_document(policy)
        .send()
        .await
        .unwrap();
    let out = iam
        .create_access_key()
        .user_name(name)
        .send()
        .await
        .unwrap();
    let key = out.access_key().unwrap();
    (
        key.access_key_id().to_owned(),
        key.secret_access_key().to_owned(),
    )
}

/// The key authenticates (and its user may GetUser itself).
async fn assert_signs_in_as(server: &RunningServer, key: &str, secret: &str, user: &str) {
    let got = iam_at(&endpoint(server), key, secret)
        .get_user()
        .send()
        .await
        .unwrap_or_else(|e| panic!("{key} does not work: {e:?}"));
    assert_eq!(got.user().unwrap().user_name(), user);
}

// ---- Hole 10: file modes ----

#[tokio::test]
async fn first_start_makes_the_data_dir_0700_and_every_secret_file_0600() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    let mut config = test_config(&dir);
    config.root_credentials = None;
    let server = start(config).await.expect("server starts");
    assert!(server.new_root_credentials.is_some());
    assert_eq!(mode(&dir), 0o700);
    let database: &[&str] = if on_postgres() {
        &[]
    } else {
        &["portcullis.db", "portcullis.db-wal", "portcullis.db-shm"]
    };
    for file in database.iter().chain(&["master.key", "root-credentials"]) {
        assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_looser_data_dir_and_database_are_tightened_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    start_at(dir).await.expect("first start").shutdown().await;
    chmod(dir, 0o755);
    if !on_postgres() {
        chmod(&dir.join("portcullis.db"), 0o644);
    }
    let server = start_at(dir).await.expect("second start");
    assert_eq!(mode(dir), 0o700);
    if !on_postgres() {
        assert_eq!(mode(&dir.join("portcullis.db")), 0o600);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn start_is_refused_on_a_master_key_or_root_credentials_others_can_read() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let mut config = test_config(dir);
    config.root_credentials = None;
    start(config).await.expect("first start").shutdown().await;

    for (file, loose) in [("master.key", 0o644), ("root-credentials", 0o640)] {
        let path = dir.join(file);
        chmod(&path, loose);
        let Err(e) = start_at(dir).await else {
            panic!("the server started with {file} mode {loose:o}");
        };
        let text = e.to_string();
        assert!(matches!(e, StartError::FileMode { .. }), "{text}");
        assert!(
            text.contains(&path.display().to_string())
                && text.contains(&format!("{loose:04o}"))
                && text.contains("chmod 600"),
            "{text}"
        );
        // Refused before anything was read or changed: the file keeps its mode.
        assert_eq!(mode(&path), loose);
        chmod(&path, 0o600);
    }
    // An explicit master key file elsewhere is checked the same way.
    let key_file = dir.join("master.key");
    let mut config = test_config(dir);
    config.master_key_file = Some(key_file.clone());
    chmod(&key_file, 0o604);
    assert!(matches!(
        start(config.clone()).await,
        Err(StartError::FileMode { .. })
    ));
    chmod(&key_file, 0o400);
    start(config)
        .await
        .expect("an owner-only key")
        .shutdown()
        .await;
}

// ---- Hole 10: sealed secrets bound to their rows ----

#[tokio::test]
async fn a_sealed_secret_moved_to_another_keys_row_does_not_open() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let server = start_at(dir).await.expect("start");
    let root = iam_at(&endpoint(&server), ROOT_KEY, ROOT_SECRET);
    let (alice_key, alice_secret) = user_with(&root, "alice", GET_USER).await;
    let (bob_key, _) = user_with(&root, "bob", GET_USER).await;
    server.shutdown().await;

    let alice = row(dir, "access_keys", &alice_key);
    let sealed = alice["secret_sealed"].as_str().unwrap().to_owned();
    assert!(sealed.starts_with("v1:") && !sealed.contains(&alice_secret));
    let original_bob = row(dir, "access_keys", &bob_key);

    // Alice's sealed secret on Bob's row: the store refuses to load (so Bob's key is usable
    // neither with Alice's secret nor with his own), naming the row.
    let mut bob = original_bob.clone();
    bob["secret_sealed"] = Value::String(sealed.clone());
    set_row(dir, "access_keys", &bob_key, &bob);
    let Err(e) = start_at(dir).await else {
        panic!("started with a secret moved to another row");
    };
    assert!(e.to_string().contains(&bob_key), "{e}");

    // Alice's whole row under Bob's key is refused too.
    set_row(dir, "access_keys", &bob_key, &alice);
    let Err(e) = start_at(dir).await else {
        panic!("started with a row copied under another key");
    };
    assert!(e.to_string().contains(&bob_key), "{e}");

    // Restored, both keys work again.
    set_row(dir, "access_keys", &bob_key, &original_bob);
    let server = start_at(dir).await.expect("restored");
    assert_signs_in_as(&server, &alice_key, &alice_secret, "alice").await;
    server.shutdown().await;
}

/// Every sealed field of the data directory: (table, row key, JSON pointer, field's owner).
fn sealed_fields(dir: &Path) -> Vec<(String, String, String, String)> {
    let mut out = Vec::new();
    for (table, pointer) in [
        ("access_keys", "/secret_sealed"),
        ("mfa_devices", "/seed_sealed"),
        ("server_certificates", "/private_key_sealed"),
        ("saml_providers", "/private_keys_sealed"),
    ] {
        for (key, data) in stored_rows(dir, table) {
            let data: Value = serde_json::from_str(&data).unwrap();
            if table == "saml_providers" {
                for (i, k) in data["private_keys"].as_array().unwrap().iter().enumerate() {
                    out.push((
                        table.into(),
                        key.clone(),
                        format!("{pointer}/{i}"),
                        k["key_id"].as_str().unwrap().into(),
                    ));
                }
            } else {
                out.push((table.into(), key, pointer.into(), String::new()));
            }
        }
    }
    out
}

fn field<'a>(table: &str, key: &'a str, key_id: &'a str) -> SealedField<'a> {
    match table {
        "access_keys" => SealedField::AccessKeySecret {
            account: ACCOUNT,
            access_key_id: key,
        },
        "mfa_devices" => SealedField::MfaSeed {
            account: ACCOUNT,
            device: key,
        },
        "server_certificates" => SealedField::ServerCertificateKey {
            account: ACCOUNT,
            certificate: key,
        },
        _ => SealedField::SamlPrivateKey {
            account: ACCOUNT,
            provider: key,
            key_id,
        },
    }
}

/// Rewrites every sealed field the way the previous version stored it (base64 of nonce and
/// ciphertext, empty associated data), and takes the schema back to before the format was
/// recorded: a legacy data directory.
fn make_legacy(dir: &Path, key: &MasterKey) {
    for (table, row_key, pointer, key_id) in sealed_fields(dir) {
        let mut data = row(dir, &table, &row_key);
        let sealed = data.pointer(&pointer).unwrap().as_str().unwrap().to_owned();
        let plain = key
            .open_field(&sealed, &field(&table, &row_key, &key_id))
            .expect("a current-format field");
        *data.pointer_mut(&pointer).unwrap() =
            Value::String(STANDARD.encode(key.seal_bytes(plain.as_bytes(), b"")));
        set_row(dir, &table, &row_key, &data);
    }
    rusqlite::Connection::open(dir.join("portcullis.db"))
        .expect("open the database")
        .execute_batch(
            "DROP TABLE meta; DROP TABLE audit_events; DROP TABLE audit_digests; DROP TABLE access_activity; PRAGMA user_version = 5;",
        )
        .unwrap();
}

#[tokio::test]
async fn a_legacy_data_dir_starts_once_sealed_again_and_then_refuses_the_legacy_form() {
    if on_postgres() {
        // The legacy format predates the PostgreSQL store: no such database exists.
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let server = start_at(dir).await.expect("start");
    let root = iam_at(&endpoint(&server), ROOT_KEY, ROOT_SECRET);
    let (alice_key, alice_secret) = user_with(&root, "alice", GET_USER).await;
    root.create_virtual_mfa_device()
        .virtual_mfa_device_name("phone")
        .send()
        .await
        .unwrap();
    root.upload_server_certificate()
        .server_certificate_name("www")
        .certificate_body(LEAF_PEM)
        .certificate_chain(CA_PEM)
        .private_key(LEAF_KEY)
        .send()
        .await
        .unwrap();
    let saml = root
        .create_saml_provider()
        .name("idp")
        .saml_metadata_document(METADATA)
        .send()
        .await
        .unwrap()
        .saml_provider_arn()
        .unwrap()
        .to_owned();
    root.update_saml_provider()
        .saml_provider_arn(&saml)
        .add_private_key(LEAF_KEY)
        .send()
        .await
        .unwrap();
    server.shutdown().await;

    let key = MasterKey::load_or_create(&dir.join("master.key")).unwrap();
    let fields = sealed_fields(dir);
    // Root's and alice's keys, the device's seed, the certificate's and the provider's keys.
    assert_eq!(fields.len(), 5, "{fields:?}");
    make_legacy(dir, &key);

    // The legacy directory starts; every value is sealed again, bound to its row.
    let server = start_at(dir).await.expect("a legacy data dir starts");
    assert_signs_in_as(&server, &alice_key, &alice_secret, "alice").await;
    server.shutdown().await;
    for (table, row_key, pointer, key_id) in sealed_fields(dir) {
        let data = row(dir, &table, &row_key);
        let sealed = data.pointer(&pointer).unwrap().as_str().unwrap();
        assert!(sealed.starts_with("v1:"), "{table}/{row_key}: {sealed}");
        key.open_field(sealed, &field(&table, &row_key, &key_id))
            .expect("bound to its row");
    }

    // From now on a value in the legacy form is refused (it could have come from any row).
    let mut data = row(dir, "access_keys", &alice_key);
    data["secret_sealed"] =
        Value::String(STANDARD.encode(key.seal_bytes(alice_secret.as_bytes(), b"")));
    set_row(dir, "access_keys", &alice_key, &data);
    let Err(e) = start_at(dir).await else {
        panic!("the legacy form was accepted after the migration");
    };
    assert!(e.to_string().contains(&alice_key), "{e}");
}

// ---- Hole 11: TLS and trusted proxies ----

/// An IAM client over HTTPS that trusts only `ca_pem`.
fn iam_tls(server: &RunningServer, ca_pem: &str, key: &str, secret: &str) -> aws_sdk_iam::Client {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .tls_context(
            TlsContext::builder()
                .with_trust_store(TrustStore::empty().with_pem_certificate(ca_pem.as_bytes()))
                .build()
                .unwrap(),
        )
        .build_https();
    let config = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(format!("https://{}", server.local_addr))
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(key, secret, None, None, "test"))
        .http_client(http)
        .build();
    aws_sdk_iam::Client::from_conf(config)
}

/// GetUser, with `headers` added to the request: `"ok"` or the AWS error code.
async fn get_user_with(client: &aws_sdk_iam::Client, headers: &[(&'static str, &str)]) -> String {
    let headers: Vec<(&'static str, String)> =
        headers.iter().map(|(n, v)| (*n, (*v).to_owned())).collect();
    let result = client
        .get_user()
        .customize()
        .mutate_request(move |request| {
            for (name, value) in &headers {
                request.headers_mut().insert(*name, value.clone());
            }
        })
        .send()
        .await;
    match result {
        Ok(_) => "ok".to_owned(),
        Err(e) => error_code(Err::<(), _>(e)).0,
    }
}

/// A user allowed GetUser only over TLS, with AWS's usual "deny insecure transport" statement.
const TLS_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"iam:GetUser","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}},
  {"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;

/// A user allowed GetUser only from 203.0.113.0/24.
const FROM_OFFICE: &str = r#"{"Version":"2012-10-17","Statement":
  {"Effect":"Allow","Action":"iam:GetUser","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}}}"#;

/// Shuts the server down, failing (rather than hanging) if that does not finish.
async fn stop(server: RunningServer) {
    tokio::time::timeout(Duration::from_secs(30), server.shutdown())
        .await
        .expect("graceful shutdown finishes");
}

#[tokio::test]
async fn over_tls_secure_transport_is_true_and_over_plain_http_false() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (files, ca_pem) = tls_files(dir, "server");
    let (_, other_ca) = tls_files(dir, "other");
    let mut config = test_config(&dir.join("data"));
    config.tls = Some(files);
    let server = start(config.clone()).await.expect("TLS server starts");
    assert!(server.tls);
    let root = iam_tls(&server, &ca_pem, ROOT_KEY, ROOT_SECRET);
    let (key, secret) = user_with(&root, "tls-only", TLS_ONLY).await;
    let user = iam_tls(&server, &ca_pem, &key, &secret);
    assert_eq!(get_user_with(&user, &[]).await, "ok");
    // A client that does not trust our CA gets no answer; plain HTTP to the TLS port neither.
    let untrusting = iam_tls(&server, &other_ca, &key, &secret);
    assert!(
        untrusting
            .get_user()
            .send()
            .await
            .is_err_and(|e| e.raw_response().is_none())
    );
    let plain = iam_at(&endpoint(&server), &key, &secret);
    assert!(
        plain
            .get_user()
            .send()
            .await
            .is_err_and(|e| e.raw_response().is_none())
    );
    // An open connection does not hold up a graceful shutdown.
    let idle = tokio::net::TcpStream::connect(server.local_addr)
        .await
        .unwrap();
    stop(server).await;
    drop(idle);

    // The same user over plain HTTP: denied by the Deny on insecure transport.
    config.tls = None;
    let server = start(config).await.expect("plain server starts");
    let user = iam_at(&endpoint(&server), &key, &secret);
    assert_eq!(get_user_with(&user, &[]).await, "AccessDenied");
    stop(server).await;
}

#[tokio::test]
async fn tls_files_that_do_not_fit_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (a, _) = tls_files(dir, "a");
    let (b, _) = tls_files(dir, "b");
    let mut config = test_config(&dir.join("data"));
    for (cert, key) in [
        (a.key.clone(), a.key.clone()),
        (a.cert.clone(), a.cert.clone()),
        (dir.join("missing.crt"), a.key.clone()),
        (a.cert.clone(), dir.join("missing.key")),
        // A key that is not the certificate's.
        (a.cert.clone(), b.key.clone()),
    ] {
        config.tls = Some(TlsFiles { cert, key });
        let Err(e) = start(config.clone()).await else {
            panic!("started with bad TLS files {:?}", config.tls);
        };
        assert!(matches!(e, StartError::Tls(_)), "{e}");
    }
}

#[tokio::test]
async fn forwarded_headers_are_believed_only_from_trusted_proxies() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let mut config = test_config(dir);
    config.trusted_proxies = vec![parse_trusted_proxy("127.0.0.1/32").unwrap()];
    let server = start(config.clone()).await.expect("start");
    let root = iam_at(&endpoint(&server), ROOT_KEY, ROOT_SECRET);
    let (office_key, office_secret) = user_with(&root, "office", FROM_OFFICE).await;
    let (tls_key, tls_secret) = user_with(&root, "tls-only", TLS_ONLY).await;
    let office = iam_at(&endpoint(&server), &office_key, &office_secret);
    let tls_only = iam_at(&endpoint(&server), &tls_key, &tls_secret);

    // The peer 127.0.0.1 is a trusted proxy: the right-most address it does not trust is the
    // client; a client's own entries to the left of it count for nothing.
    let xff = "x-forwarded-for";
    assert_eq!(get_user_with(&office, &[(xff, "203.0.113.7")]).await, "ok");
    assert_eq!(
        get_user_with(&office, &[(xff, "198.51.100.1, 203.0.113.7, 127.0.0.1")]).await,
        "ok"
    );
    assert_eq!(
        get_user_with(&office, &[(xff, "203.0.113.7, 198.51.100.1")]).await,
        "AccessDenied"
    );
    assert_eq!(get_user_with(&office, &[]).await, "AccessDenied");
    let xfp = "x-forwarded-proto";
    assert_eq!(get_user_with(&tls_only, &[(xfp, "https")]).await, "ok");
    assert_eq!(
        get_user_with(&tls_only, &[(xfp, "http")]).await,
        "AccessDenied"
    );
    assert_eq!(get_user_with(&tls_only, &[]).await, "AccessDenied");
    stop(server).await;

    // Trusting another network, the same headers from 127.0.0.1 are ignored.
    config.trusted_proxies = vec![parse_trusted_proxy("10.0.0.0/8").unwrap()];
    let server = start(config.clone()).await.expect("start");
    let office = iam_at(&endpoint(&server), &office_key, &office_secret);
    let tls_only = iam_at(&endpoint(&server), &tls_key, &tls_secret);
    assert_eq!(
        get_user_with(&office, &[(xff, "203.0.113.7")]).await,
        "AccessDenied"
    );
    assert_eq!(
        get_user_with(&tls_only, &[(xfp, "https")]).await,
        "AccessDenied"
    );
    stop(server).await;

    // And without any trusted proxy (the default).
    config.trusted_proxies.clear();
    let server = start(config).await.expect("start");
    let office = iam_at(&endpoint(&server), &office_key, &office_secret);
    assert_eq!(
        get_user_with(&office, &[(xff, "203.0.113.7")]).await,
        "AccessDenied"
    );
    stop(server).await;
}
