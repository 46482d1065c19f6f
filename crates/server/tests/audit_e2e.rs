//! The audit trail (issue 10), end to end: every call that reaches Portcullis is recorded in
//! CloudTrail's format (allowed, denied, failed authentication), secrets never reach the
//! store, a change whose record cannot be stored is not made, and the trail is read back with
//! CloudTrail's LookupEvents (with the Rust SDK, raw for the refusals, then the AWS CLI and
//! boto3).

mod common;

use aws_sdk_iam::operation::RequestId;
use common::*;
use serde_json::{Value, json};

/// LookupEvents signed by `signer`, with `input` as the JSON body.
async fn lookup(server: &TestServer, signer: RawSigner, input: Value) -> (u16, Value) {
    let request = RawRequest::post(input.to_string())
        .header(
            "x-amz-target",
            "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents",
        )
        .header("content-type", "application/x-amz-json-1.1");
    let answer = server
        .send_raw(&request, &RawAuth::Signed(signer.service("cloudtrail")))
        .await;
    // The raw answer is the whole HTTP response: the JSON follows the headers.
    let json = answer.body.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let body = serde_json::from_str(json).unwrap_or(Value::Null);
    (answer.status, body)
}

/// Every event of the account with `key` = `value`, newest first, as stored: read with the
/// Rust SDK's CloudTrail client, every page of its paginator.
async fn events(server: &TestServer, key: &str, value: &str) -> Vec<Value> {
    use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
    let config = aws_sdk_cloudtrail::Config::builder()
        .behavior_version(aws_sdk_cloudtrail::config::BehaviorVersion::latest())
        .endpoint_url(server.endpoint())
        .region(aws_sdk_cloudtrail::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_cloudtrail::config::Credentials::new(
            ROOT_KEY,
            ROOT_SECRET,
            None,
            None,
            "test",
        ))
        .build();
    let client = aws_sdk_cloudtrail::Client::from_conf(config);
    let attribute = LookupAttribute::builder()
        .attribute_key(LookupAttributeKey::from(key))
        .attribute_value(value)
        .build()
        .expect("attribute");
    let mut pages = client
        .lookup_events()
        .lookup_attributes(attribute)
        .max_results(7)
        .into_paginator()
        .send();
    let mut found = Vec::new();
    while let Some(page) = pages.next().await {
        for event in page.expect("a page").events() {
            let json = event.cloud_trail_event().expect("CloudTrailEvent");
            found.push(serde_json::from_str(json).expect("the event is JSON"));
        }
    }
    found
}

const READ_SELF: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Sid":"ReadSelf","Effect":"Allow","Action":["iam:GetUser","sts:AssumeRole"],"Resource":"*"}]}"#;

#[tokio::test]
async fn every_call_is_recorded_with_who_what_and_why_and_no_secret_is_stored() {
    let server = TestServer::start().await;
    let root = server.root();
    let created = root
        .create_user()
        .user_name("bob")
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("team")
                .value("red")
                .build()
                .expect("tag"),
        )
        .send()
        .await
        .expect("create user");
    let create_request_id = created.request_id().expect("request id").to_owned();
    root.put_user_policy()
        .user_name("bob")
        .policy_name("read-self")
        .policy_document(READ_SELF)
        .send()
        .await
        .expect("policy");
    let key = root
        .create_access_key()
        .user_name("bob")
        .send()
        .await
        .expect("key");
    let key = key.access_key().expect("key");
    let (bob_key, bob_secret) = (
        key.access_key_id().to_owned(),
        key.secret_access_key().to_owned(),
    );
    let bob = server.iam(&bob_key, &bob_secret);
    bob.get_user()
        .user_name("bob")
        .send()
        .await
        .expect("allowed");
    let denied = bob.list_users().send().await;
    assert_eq!(error_code(denied).0, "AccessDenied");
    let unknown = RawSigner::new("AKIANOSUCHKEY0000000", "x".repeat(40).as_str());
    let answer = server
        .send_raw(
            &RawRequest::post(versioned_form(&[("Action", "GetUser")], "2010-05-08")),
            &RawAuth::Signed(unknown),
        )
        .await;
    assert_eq!(answer.code, "InvalidClientTokenId");

    // A mutating call: who, what, the parameters, the result, the request id the client got.
    let create = events(&server, "EventName", "CreateUser").await;
    assert_eq!(create.len(), 1, "{create:?}");
    let e = &create[0];
    assert_eq!(e["eventVersion"], "1.09");
    assert_eq!(e["eventSource"], "iam.amazonaws.com");
    assert_eq!(e["userIdentity"]["type"], "Root");
    assert_eq!(e["userIdentity"]["accessKeyId"], ROOT_KEY);
    assert_eq!(e["userIdentity"]["accountId"], ACCOUNT);
    assert_eq!(e["requestParameters"]["userName"], "bob");
    assert_eq!(
        e["requestParameters"]["tags"],
        json!([{"key": "team", "value": "red"}])
    );
    assert_eq!(e["responseElements"]["user"]["userName"], "bob");
    assert_eq!(e["requestID"], create_request_id.as_str());
    assert_eq!(e["readOnly"], false);
    assert_eq!(e["eventType"], "AwsApiCall");
    assert_eq!(e["managementEvent"], true);
    assert_eq!(e["recipientAccountId"], ACCOUNT);
    assert_eq!(e["sourceIPAddress"], "127.0.0.1");
    assert!(
        e["eventTime"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{e}"
    );
    assert!(e.get("errorCode").is_none());

    // The secret key: hidden in the event, and nowhere in the data directory's files.
    let keys = events(&server, "EventName", "CreateAccessKey").await;
    let e = &keys[0];
    assert_eq!(
        e["responseElements"]["accessKey"]["accessKeyId"],
        bob_key.as_str()
    );
    assert_eq!(
        e["responseElements"]["accessKey"]["secretAccessKey"],
        "HIDDEN_DUE_TO_SECURITY_REASONS"
    );
    server.assert_not_stored(&bob_secret);

    // An allowed call by a user, with the statement that allowed it.
    let reads = events(&server, "Username", "bob").await;
    let get = reads
        .iter()
        .find(|e| e["eventName"] == "GetUser")
        .expect("bob's GetUser");
    assert_eq!(get["userIdentity"]["type"], "IAMUser");
    assert_eq!(get["userIdentity"]["userName"], "bob");
    assert_eq!(get["userIdentity"]["accessKeyId"], bob_key.as_str());
    assert_eq!(get["readOnly"], true);
    let decision = &get["portcullisDecisions"][0];
    assert_eq!(decision["action"], "iam:GetUser");
    assert_eq!(decision["decision"], "Allow");
    assert!(
        decision["matchedStatements"][0]
            .as_str()
            .is_some_and(|s| s.starts_with("ALLOW") && s.contains("(ReadSelf)")),
        "{decision}"
    );
    assert_eq!(get["resources"][0]["type"], "AWS::IAM::User");

    // A denial, explained.
    let list = reads
        .iter()
        .find(|e| e["eventName"] == "ListUsers")
        .expect("bob's ListUsers");
    assert_eq!(list["errorCode"], "AccessDenied");
    assert_eq!(list["portcullisDecisions"][0]["decision"], "ImplicitDeny");
    assert_eq!(
        list["portcullisDecisions"][0]["missingAllow"],
        "identityPolicies"
    );

    // A failed authentication: the key it presented, no identity.
    let failed = events(&server, "AccessKeyId", "AKIANOSUCHKEY0000000").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["errorCode"], "InvalidClientTokenId");
    assert_eq!(failed[0]["userIdentity"]["type"], "Unknown");
}

#[tokio::test]
async fn a_role_session_is_recorded_with_its_issuer_and_sts_hides_the_credentials() {
    let server = TestServer::start().await;
    let (bob_key, bob_secret) = server.user_keys("bob", Some(READ_SELF)).await;
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/bob"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    server
        .root()
        .create_role()
        .role_name("reader")
        .path("/app/")
        .assume_role_policy_document(trust)
        .send()
        .await
        .expect("role");
    let assumed = server
        .sts(&bob_key, &bob_secret, None)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/app/reader"))
        .role_session_name("night-shift")
        .send()
        .await
        .expect("assume");
    let c = assumed.credentials().expect("credentials");
    let session = server.sts(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token()),
    );
    session.get_caller_identity().send().await.expect("whoami");

    let assume = events(&server, "EventName", "AssumeRole").await;
    let e = &assume[0];
    assert_eq!(e["eventSource"], "sts.amazonaws.com");
    assert_eq!(e["requestParameters"]["roleSessionName"], "night-shift");
    let returned = &e["responseElements"]["credentials"];
    assert_eq!(returned["accessKeyId"], c.access_key_id());
    assert_eq!(
        returned["secretAccessKey"],
        "HIDDEN_DUE_TO_SECURITY_REASONS"
    );
    assert_eq!(returned["sessionToken"], "HIDDEN_DUE_TO_SECURITY_REASONS");

    let whoami = events(&server, "AccessKeyId", c.access_key_id()).await;
    let identity = &whoami[0]["userIdentity"];
    assert_eq!(identity["type"], "AssumedRole");
    assert_eq!(
        identity["arn"],
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/reader/night-shift")
    );
    let issuer = &identity["sessionContext"]["sessionIssuer"];
    assert_eq!(issuer["type"], "Role");
    assert_eq!(
        issuer["arn"],
        format!("arn:aws:iam::{ACCOUNT}:role/app/reader")
    );
    assert_eq!(issuer["userName"], "reader");
    assert_eq!(
        identity["sessionContext"]["attributes"]["mfaAuthenticated"],
        "false"
    );
    // CloudTrail's Username of a role session is the session's name.
    assert_eq!(events(&server, "Username", "night-shift").await.len(), 1);
}

#[tokio::test]
async fn lookup_events_filters_pages_and_is_authorized() {
    let server = TestServer::start().await;
    for name in ["u1", "u2", "u3", "u4", "u5"] {
        server
            .root()
            .create_user()
            .user_name(name)
            .send()
            .await
            .expect("create");
    }
    assert_eq!(events(&server, "EventName", "CreateUser").await.len(), 5);
    assert_eq!(events(&server, "ResourceName", "u3").await.len(), 1);
    assert_eq!(
        events(&server, "ResourceType", "AWS::IAM::User")
            .await
            .len(),
        5
    );
    let writes = events(&server, "ReadOnly", "false").await;
    assert!(writes.iter().all(|e| e["readOnly"] == false), "{writes:?}");
    assert!(writes.len() >= 5);
    let newest = events(&server, "EventName", "CreateUser").await;
    assert_eq!(newest[0]["requestParameters"]["userName"], "u5");

    // Pages of two, newest first, every event once.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut input = json!({
            "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "CreateUser"}],
            "MaxResults": 2,
        });
        if let Some(t) = &token {
            input["NextToken"] = json!(t);
        }
        let (status, body) = lookup(&server, RawSigner::root(), input).await;
        assert_eq!(status, 200, "{body}");
        for e in body["Events"].as_array().expect("events") {
            seen.push(e["EventId"].as_str().expect("id").to_owned());
        }
        match body["NextToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 5);

    // A time window that ends before anything happened finds nothing.
    let (status, body) = lookup(
        &server,
        RawSigner::root(),
        json!({"StartTime": 1_000_000_000, "EndTime": 1_000_000_100}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["Events"], json!([]));

    // CloudTrail's own errors.
    for (input, code) in [
        (json!({"MaxResults": 51}), "InvalidMaxResultsException"),
        (
            json!({"LookupAttributes": [
                {"AttributeKey": "EventName", "AttributeValue": "a"},
                {"AttributeKey": "Username", "AttributeValue": "b"}]}),
            "InvalidLookupAttributesException",
        ),
        (
            json!({"LookupAttributes": [{"AttributeKey": "Colour", "AttributeValue": "a"}]}),
            "InvalidLookupAttributesException",
        ),
        (
            json!({"StartTime": 2_000_000_000, "EndTime": 1_000_000_000}),
            "InvalidTimeRangeException",
        ),
        (
            json!({"NextToken": "not-a-token"}),
            "InvalidNextTokenException",
        ),
    ] {
        let (status, body) = lookup(&server, RawSigner::root(), input).await;
        assert_eq!(
            (status, body["__type"].as_str()),
            (400, Some(code)),
            "{body}"
        );
    }

    // Without cloudtrail:LookupEvents, a user reads nothing.
    let (key, secret) = server.user_keys("nosy", Some(READ_SELF)).await;
    let (status, body) = lookup(&server, RawSigner::new(&key, &secret), json!({})).await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("AccessDeniedException")),
        "{body}"
    );
    let auditor = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"cloudtrail:LookupEvents","Resource":"*"}]}"#;
    let (key, secret) = server.user_keys("auditor", Some(auditor)).await;
    let (status, body) = lookup(&server, RawSigner::new(&key, &secret), json!({})).await;
    assert_eq!(status, 200, "{body}");
    // The refused lookup is itself in the trail.
    let refused = events(&server, "Username", "nosy").await;
    assert!(
        refused
            .iter()
            .any(|e| e["eventName"] == "LookupEvents" && e["errorCode"] == "AccessDeniedException"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_change_whose_record_cannot_be_stored_is_not_made() {
    let server = TestServer::start().await;
    // The trail's table refuses every new row, as a full disk would refuse the transaction.
    refuse_audit_rows(server.dir.path(), true);
    let before = server.digest();
    // An allowed read is answered before its batch is committed; the batch is refused, and
    // from then on reads are refused too: nothing is answered unrecorded beyond one batch
    // window.
    server
        .root()
        .list_users()
        .send()
        .await
        .expect("batched read");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let r = server.root().list_users().send().await;
    assert_eq!(error_code(r).0, "ServiceFailure");
    let r = server.root().create_user().user_name("ghost").send().await;
    assert_eq!(error_code(r).0, "ServiceFailure");
    assert_eq!(server.digest(), before, "the refused change was published");
    refuse_audit_rows(server.dir.path(), false);
    let r = server.root().get_user().user_name("ghost").send().await;
    assert_eq!(error_code(r).0, "NoSuchEntity");
    assert!(
        events(&server, "ResourceName", "ghost")
            .await
            .iter()
            .all(|e| e["eventName"] == "GetUser")
    );
    // And it was not committed either: a restart still has no ghost.
    let mut server = server;
    server.restart().await;
    let r = server.root().get_user().user_name("ghost").send().await;
    assert_eq!(error_code(r).0, "NoSuchEntity");
}

/// `aws cloudtrail lookup-events` and boto3's paginator read the trail unmodified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_cli_and_boto3_read_the_trail() {
    let have = |program: &str, args: &[&str]| {
        std::process::Command::new(program)
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !have("aws", &["--version"]) || !have("python3", &["-c", "import boto3"]) {
        let reason = "the AWS CLI and boto3 are needed";
        assert!(
            std::env::var_os("PORTCULLIS_REQUIRE_CLIENTS").is_none(),
            "{reason}"
        );
        eprintln!("SKIPPED: {reason}");
        return;
    }
    let server = TestServer::start().await;
    for name in ["alice", "carol", "dave"] {
        server
            .root()
            .create_user()
            .user_name(name)
            .send()
            .await
            .expect("create");
    }
    let dir = tempfile::tempdir().expect("dir");
    let run = |program: &str, args: &[&str]| {
        let out = tokio::task::block_in_place(|| {
            std::process::Command::new(program)
                .args(args)
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("HOME", dir.path())
                .env("AWS_CONFIG_FILE", dir.path().join("config"))
                .env(
                    "AWS_SHARED_CREDENTIALS_FILE",
                    dir.path().join("credentials"),
                )
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .env("AWS_ACCESS_KEY_ID", ROOT_KEY)
                .env("AWS_SECRET_ACCESS_KEY", ROOT_SECRET)
                .env("AWS_ENDPOINT_URL", server.endpoint())
                .env("AWS_DEFAULT_REGION", "us-east-1")
                .output()
        })
        .expect("client runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{program} {args:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let out = run(
        "aws",
        &[
            "cloudtrail",
            "lookup-events",
            "--lookup-attributes",
            "AttributeKey=EventName,AttributeValue=CreateUser",
            "--output",
            "json",
        ],
    );
    let v: Value = serde_json::from_str(&out).expect("JSON");
    let names: Vec<String> = v["Events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            let event: Value =
                serde_json::from_str(e["CloudTrailEvent"].as_str().expect("event")).expect("json");
            event["requestParameters"]["userName"]
                .as_str()
                .expect("name")
                .to_owned()
        })
        .collect();
    assert_eq!(names, ["dave", "carol", "alice"]);

    let script = "import boto3\n\
        pages = boto3.client('cloudtrail').get_paginator('lookup_events').paginate(\n\
            LookupAttributes=[{'AttributeKey': 'EventName', 'AttributeValue': 'CreateUser'}],\n\
            PaginationConfig={'PageSize': 1})\n\
        events = [e for p in pages for e in p['Events']]\n\
        print(len(events), events[0]['EventName'], events[0]['Username'], type(events[0]['EventTime']).__name__)\n";
    let out = run("python3", &["-c", script]);
    assert_eq!(out.trim(), "3 CreateUser root datetime");
}

/// With durable reads, an allowed read is answered only once its event is committed: a store
/// that refuses the trail's rows refuses the very first read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_reads_are_answered_only_once_recorded() {
    let server = TestServer::start_configured(|config| {
        if let Some(audit) = config.audit.as_mut() {
            audit.trail.durable_reads = true;
        }
    })
    .await;
    server.root().list_users().send().await.expect("recorded");
    refuse_audit_rows(server.dir.path(), true);
    let r = server.root().list_users().send().await;
    assert_eq!(error_code(r).0, "ServiceFailure");
    refuse_audit_rows(server.dir.path(), false);
    server
        .root()
        .list_users()
        .send()
        .await
        .expect("recorded again");
    let listed = events(&server, "EventName", "ListUsers").await;
    assert_eq!(listed.len(), 2, "the refused read is not in the trail");
}

/// Makes the store of `dir` refuse (`true`) or accept again (`false`) every new audit event
/// row, as a full disk would refuse the transaction: a trigger in the backend's dialect.
pub fn refuse_audit_rows(dir: &std::path::Path, refuse: bool) {
    match common::test_store(dir) {
        portcullis_server::StoreLocation::Embedded => {
            let db = rusqlite::Connection::open(dir.join("portcullis.db")).expect("db");
            db.execute_batch(if refuse {
                "CREATE TRIGGER refuse BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'no space'); END;"
            } else {
                "DROP TRIGGER refuse;"
            })
            .expect("trigger");
        }
        portcullis_server::StoreLocation::Postgres(url) => {
            portcullis_postgres::testing::execute(
                &url,
                if refuse {
                    "CREATE OR REPLACE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
                       $$ BEGIN RAISE EXCEPTION 'no space'; END $$;
                     CREATE TRIGGER refuse BEFORE INSERT ON audit_events
                       FOR EACH ROW EXECUTE FUNCTION refuse();"
                } else {
                    "DROP TRIGGER refuse ON audit_events;"
                },
            )
            .expect("trigger");
        }
    }
}
