//! The authorization API end to end: a "service" client with its own Portcullis credentials
//! signs its `POST /v1/authorize` (signing name `portcullis`) with portcullis-sigv4's signer,
//! and hands over requests its clients signed for `s3` — by IAM users, another account's role
//! session, nobody (anonymous) or a forger. Every answer is read as the service would.

mod common;

use base64::Engine;
use common::{ACCOUNT, TestServer};
use portcullis_sigv4::{Request as SignRequest, SigningParams, sign};
use serde_json::{Value, json};

const ALLOW_AUTHORIZE: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"portcullis:Authorize","Resource":"*"}}"#;
const OTHER_ACCOUNT: &str = "444455556666";

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Credentials that sign: long-term, or a session's.
#[derive(Clone)]
struct Creds {
    key: String,
    secret: String,
    token: Option<String>,
}

impl Creds {
    fn new(key: &str, secret: &str) -> Creds {
        Creds {
            key: key.to_owned(),
            secret: secret.to_owned(),
            token: None,
        }
    }
}

/// A client's request to the object store, as the store received it.
struct ClientCall {
    method: &'static str,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl ClientCall {
    /// `method path` with `body`, unsigned.
    fn unsigned(method: &'static str, path: &str, body: &[u8]) -> ClientCall {
        ClientCall {
            method,
            path: path.to_owned(),
            headers: vec![
                ("host".to_owned(), "objects.example.com".to_owned()),
                ("user-agent".to_owned(), "test-client/1.0".to_owned()),
            ],
            body: body.to_vec(),
        }
    }

    /// The same request signed by `creds` for `service` (S3 style: `x-amz-content-sha256`).
    fn signed(
        method: &'static str,
        path: &str,
        body: &[u8],
        creds: &Creds,
        service: &str,
    ) -> ClientCall {
        let mut call = ClientCall::unsigned(method, path, body);
        let mut unsigned = SignRequest::new(method, path, "").body(body);
        for (name, value) in &call.headers {
            unsigned.push_header(name, value.as_bytes());
        }
        let mut params = SigningParams::new(&creds.key, &creds.secret, "us-east-1", service, now());
        params.session_token = creds.token.as_deref();
        params.content_sha256_header = true;
        let added = sign(&unsigned, &params).expect("sign");
        call.headers
            .extend(added.into_iter().map(|(n, v)| (n.to_owned(), v)));
        call
    }

    /// The `request` object of the API's input, with the body itself.
    fn json(&self) -> Value {
        let mut request = self.json_without_body();
        if !self.body.is_empty() {
            request["body"] = json!(base64::engine::general_purpose::STANDARD.encode(&self.body));
        }
        request
    }

    fn json_without_body(&self) -> Value {
        json!({
            "method": self.method,
            "path": self.path,
            "query": "",
            "headers": self.headers,
            "sourceIp": "203.0.113.7",
            "secureTransport": true,
        })
    }
}

/// One (action, resource) pair.
fn pair(action: &str, resource: &str) -> Value {
    json!({"action": action, "resource": resource})
}

/// The API's input for `call` signed for `s3`.
fn input(request: Value, pairs: Vec<Value>) -> Value {
    json!({"signingName": "s3", "request": request, "authorizations": pairs})
}

/// What the API answered: status and JSON body.
struct Answer {
    status: u16,
    body: Value,
}

impl Answer {
    fn result(&self, i: usize) -> &Value {
        &self.body["results"][i]
    }
}

/// POSTs `body` to `/v1/authorize` signed by `service` (signing name `portcullis`), or not
/// signed at all.
async fn ask(server: &TestServer, service: Option<&Creds>, body: &[u8]) -> Answer {
    let signer = service.map(|c| (c.key.as_str(), c.secret.as_str(), c.token.as_deref()));
    let (status, head, body) = common::post_json(server, "/v1/authorize", signer, body).await;
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    assert!(!body.is_null(), "a JSON answer");
    Answer { status, body }
}

async fn ask_json(server: &TestServer, service: &Creds, input: &Value) -> Answer {
    ask(server, Some(service), input.to_string().as_bytes()).await
}

/// A service principal allowed to ask: the user `objstore`.
async fn service_creds(server: &TestServer) -> Creds {
    let (key, secret) = server.user_keys("objstore", Some(ALLOW_AUTHORIZE)).await;
    Creds::new(&key, &secret)
}

async fn user_creds(server: &TestServer, name: &str, policy: &str) -> Creds {
    let (key, secret) = server.user_keys(name, Some(policy)).await;
    Creds::new(&key, &secret)
}

#[tokio::test]
async fn an_identity_policy_allows_and_the_answer_names_the_principal() {
    let server = TestServer::start().await;
    let service = service_creds(&server).await;
    let alice = user_creds(
        &server,
        "alice",
        r#"{"Version":"2012-10-17","Statement":{"Sid":"ReadA","Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::bucket-a/*"}}"#,
    )
    .await;
    server
        .root()
        .tag_user()
        .user_name("alice")
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("team")
                .value("blue")
                .build()
                .expect("tag"),
        )
        .send()
        .await
        .expect("tag alice");

    let get = ClientCall::signed("GET", "/bucket-a/report.txt", b"", &alice, "s3");
    let answer = ask_json(
        &server,
        &service,
        &input(
            get.json(),
            vec![
                pair("s3:GetObject", "arn:aws:s3:::bucket-a/report.txt"),
                pair("s3:GetObject", "arn:aws:s3:::bucket-b/report.txt"),
            ],
        ),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let principal = &answer.body["principal"];
    assert_eq!(
        principal["arn"],
        format!("arn:aws:iam::{ACCOUNT}:user/alice")
    );
    assert_eq!(principal["account"], ACCOUNT);
    assert_eq!(principal["type"], "User");
    assert!(
        principal["userId"]
            .as_str()
            .is_some_and(|id| id.starts_with("AIDA"))
    );
    assert_eq!(principal["tags"], json!({"team": "blue"}));
    assert_eq!(principal["accessKeyId"], alice.key.as_str());
    assert_eq!(answer.body["region"], "us-east-1");
    assert_eq!(answer.body["payloadSigned"], true);

    let allowed = answer.result(0);
    assert_eq!(allowed["decision"], "Allow", "{allowed}");
    assert_eq!(allowed["outcome"], "allowed");
    assert_eq!(allowed["matchedStatements"][0]["statementId"], "ReadA");
    assert_eq!(allowed["matchedStatements"][0]["effect"], "ALLOW");
    assert_eq!(
        allowed["matchedStatements"][0]["policy"],
        "user/alice:inline"
    );
    assert!(allowed.get("error").is_none());

    let denied = answer.result(1);
    assert_eq!(denied["decision"], "Deny");
    assert_eq!(denied["outcome"], "implicitDeny");
    assert_eq!(denied["error"]["code"], "AccessDenied");
    assert_eq!(denied["error"]["httpStatus"], 403);
    let message = denied["error"]["message"].as_str().expect("message");
    assert!(
        message.starts_with(&format!(
            "User: arn:aws:iam::{ACCOUNT}:user/alice is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::bucket-b/report.txt because no identity-based policy allows the s3:GetObject action. Encoded authorization failure message: "
        )),
        "{message}"
    );

    // A PutObject whose body the service hashed itself: the hash stands for the body.
    let body = b"quarterly numbers";
    let put = ClientCall::signed("PUT", "/bucket-a/report.txt", body, &alice, "s3");
    let mut request = put.json_without_body();
    request["payloadHash"] = json!(sha256_hex(body));
    let answer = ask_json(
        &server,
        &service,
        &input(
            request,
            vec![pair("s3:PutObject", "arn:aws:s3:::bucket-a/report.txt")],
        ),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.result(0)["decision"], "Allow", "{}", answer.body);
    // A hash of another body is a forged request.
    let mut request = put.json_without_body();
    request["payloadHash"] = json!(sha256_hex(b"other numbers"));
    let answer = ask_json(
        &server,
        &service,
        &input(
            request,
            vec![pair("s3:PutObject", "arn:aws:s3:::bucket-a/report.txt")],
        ),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert!(
        answer.body["clientError"]["code"].is_string(),
        "{}",
        answer.body
    );
    assert_eq!(answer.body["results"], json!([]));
}

fn sha256_hex(bytes: &[u8]) -> String {
    // The signer's own hash: what a client puts in x-amz-content-sha256.
    let unsigned = SignRequest::new("PUT", "/", "")
        .header("host", "objects.example.com")
        .body(bytes);
    let mut params = SigningParams::new("AKIDEXAMPLE", "secret", "us-east-1", "s3", now());
    params.content_sha256_header = true;
    sign(&unsigned, &params)
        .expect("sign")
        .into_iter()
        .find(|(n, _)| *n == "x-amz-content-sha256")
        .map(|(_, v)| v)
        .expect("x-amz-content-sha256")
}

#[tokio::test]
async fn an_explicit_deny_answers_the_access_denied_text_and_its_explanation() {
    let server = TestServer::start().await;
    let service = service_creds(&server).await;
    let bob = user_creds(
        &server,
        "bob",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"NoDeletes","Effect":"Deny","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::bucket-a/*"}]}"#,
    )
    .await;
    let delete = ClientCall::signed("DELETE", "/bucket-a/k", b"", &bob, "s3");
    let answer = ask_json(
        &server,
        &service,
        &input(
            delete.json(),
            vec![pair("s3:DeleteObject", "arn:aws:s3:::bucket-a/k")],
        ),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let result = answer.result(0);
    assert_eq!(result["decision"], "Deny");
    assert_eq!(result["outcome"], "explicitDeny");
    assert_eq!(result["matchedStatements"][0]["statementId"], "NoDeletes");
    assert_eq!(result["matchedStatements"][0]["effect"], "DENY");
    let message = result["error"]["message"].as_str().expect("message");
    let prefix = format!(
        "User: arn:aws:iam::{ACCOUNT}:user/bob is not authorized to perform: s3:DeleteObject on resource: arn:aws:s3:::bucket-a/k with an explicit deny in an identity-based policy. Encoded authorization failure message: "
    );
    assert!(message.starts_with(&prefix), "{message}");

    // The account decodes the explanation with STS, as from any AWS service.
    let encoded = &message[prefix.len()..];
    let sts = server.sts(common::ROOT_KEY, common::ROOT_SECRET, None);
    let decoded = sts
        .decode_authorization_message()
        .encoded_message(encoded)
        .send()
        .await
        .expect("decode");
    let decoded: Value =
        serde_json::from_str(decoded.decoded_message().expect("decoded")).expect("JSON");
    assert_eq!(decoded["explicitDeny"], true);
    assert_eq!(decoded["context"]["action"], "s3:DeleteObject");
    assert_eq!(
        decoded["context"]["principal"]["arn"],
        format!("arn:aws:iam::{ACCOUNT}:user/bob")
    );
    let conditions = decoded["context"]["conditions"]["items"].to_string();
    assert!(conditions.contains("203.0.113.7"), "{conditions}");
    assert!(conditions.contains("test-client/1.0"), "{conditions}");
}

#[tokio::test]
async fn a_bucket_policy_grants_another_accounts_role_session() {
    let server = TestServer::start().await;
    let service = service_creds(&server).await;
    let running = server.server.as_ref().expect("running");
    let (b_key, b_secret) = (
        "AKIAOTHERROOT0000001",
        "otherRootSecret0000000000000000000000000",
    );
    running
        .add_account(OTHER_ACCOUNT, Some((b_key.into(), b_secret.into())))
        .expect("second account");
    // In the other account: a user who may assume the role `reader`, whose own policy
    // allows reading any bucket.
    let other = server.iam(b_key, b_secret);
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{OTHER_ACCOUNT}:root"}},"Action":["sts:AssumeRole","sts:SetSourceIdentity"]}}}}"#
    );
    other
        .create_role()
        .role_name("reader")
        .assume_role_policy_document(trust)
        .send()
        .await
        .expect("create role");
    other
        .put_role_policy()
        .role_name("reader")
        .policy_name("read")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
        )
        .send()
        .await
        .expect("role policy");
    other
        .create_user()
        .user_name("carol")
        .send()
        .await
        .expect("user");
    other
        .put_user_policy()
        .user_name("carol")
        .policy_name("assume")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["sts:AssumeRole","sts:SetSourceIdentity"],"Resource":"*"}}"#,
        )
        .send()
        .await
        .expect("user policy");
    let key = other
        .create_access_key()
        .user_name("carol")
        .send()
        .await
        .expect("key");
    let key = key.access_key().expect("key");
    let sts = server.sts(key.access_key_id(), key.secret_access_key(), None);
    let assumed = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{OTHER_ACCOUNT}:role/reader"))
        .role_session_name("nightly")
        .source_identity("carol")
        .send()
        .await
        .expect("assume role");
    let c = assumed.credentials().expect("credentials");
    let session = Creds {
        key: c.access_key_id().to_owned(),
        secret: c.secret_access_key().to_owned(),
        token: Some(c.session_token().to_owned()),
    };

    // bucket-a belongs to the service's account; its policy grants the other account's role.
    let bucket_policy = format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Sid":"PartnerRead","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{OTHER_ACCOUNT}:role/reader"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket-a/*"}}}}"#
    );
    let get = ClientCall::signed("GET", "/bucket-a/k", b"", &session, "s3");
    let with_policy = json!({
        "action": "s3:GetObject",
        "resource": "arn:aws:s3:::bucket-a/k",
        "resourcePolicy": bucket_policy,
        "resourceAccount": ACCOUNT,
        "resourceTags": {"classification": "partner"},
    });
    let without_policy = json!({
        "action": "s3:GetObject",
        "resource": "arn:aws:s3:::bucket-a/k",
        "resourceAccount": ACCOUNT,
    });
    // The same bucket, no account given: the service's own account owns it.
    let default_account = pair("s3:GetObject", "arn:aws:s3:::bucket-a/k");
    let answer = ask_json(
        &server,
        &service,
        &input(
            get.json(),
            vec![with_policy, without_policy, default_account],
        ),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let principal = &answer.body["principal"];
    assert_eq!(
        principal["arn"],
        format!("arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/reader/nightly")
    );
    assert_eq!(principal["account"], OTHER_ACCOUNT);
    assert_eq!(principal["type"], "AssumedRole");
    assert_eq!(principal["sourceIdentity"], "carol");
    assert!(
        principal["userId"]
            .as_str()
            .is_some_and(|id| id.ends_with(":nightly"))
    );

    let granted = answer.result(0);
    assert_eq!(granted["decision"], "Allow", "{granted}");
    let policies: Vec<&str> = granted["matchedStatements"]
        .as_array()
        .expect("statements")
        .iter()
        .filter_map(|s| s["policyType"].as_str())
        .collect();
    assert!(policies.contains(&"resourcePolicy"), "{granted}");
    assert!(policies.contains(&"identityPolicies"), "{granted}");
    for refused in [answer.result(1), answer.result(2)] {
        assert_eq!(refused["decision"], "Deny", "{refused}");
        let message = refused["error"]["message"].as_str().expect("message");
        assert!(
            message.starts_with(&format!(
                "User: arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/reader/nightly is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::bucket-a/k because no resource-based policy allows the s3:GetObject action."
            )),
            "{message}"
        );
    }
}

#[tokio::test]
async fn a_bad_client_signature_answers_the_clients_aws_error() {
    let server = TestServer::start().await;
    let service = service_creds(&server).await;
    let alice = user_creds(
        &server,
        "alice",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
    )
    .await;
    let pairs = || vec![pair("s3:GetObject", "arn:aws:s3:::bucket-a/k")];
    let client_error = |answer: &Answer| {
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.body["results"], json!([]));
        assert!(answer.body.get("principal").is_none());
        (
            answer.body["clientError"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            answer.body["clientError"]["httpStatus"]
                .as_u64()
                .unwrap_or(0),
            answer.body["clientError"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    };

    // A signature spoiled in transit.
    let mut get = ClientCall::signed("GET", "/bucket-a/k", b"", &alice, "s3");
    for (name, value) in &mut get.headers {
        if name == "authorization" {
            let last = value.pop().expect("a signature");
            value.push(if last == '0' { '1' } else { '0' });
        }
    }
    let answer = ask_json(&server, &service, &input(get.json(), pairs())).await;
    assert_eq!(client_error(&answer).0, "SignatureDoesNotMatch");
    assert_eq!(client_error(&answer).1, 403);

    // A path changed after signing.
    let mut moved = ClientCall::signed("GET", "/bucket-a/k", b"", &alice, "s3");
    moved.path = "/bucket-b/k".to_owned();
    let answer = ask_json(&server, &service, &input(moved.json(), pairs())).await;
    assert_eq!(client_error(&answer).0, "SignatureDoesNotMatch");

    // Signed for another service than the one asking.
    let other = ClientCall::signed("GET", "/bucket-a/k", b"", &alice, "sqs");
    let answer = ask_json(&server, &service, &input(other.json(), pairs())).await;
    let (code, _, message) = client_error(&answer);
    assert_eq!(code, "SignatureDoesNotMatch");
    assert!(message.contains("'s3'"), "{message}");

    // A key that does not exist.
    let stranger = Creds::new(
        "AKIANOSUCHKEY0000001",
        "noSuchSecret000000000000000000000000000",
    );
    let forged = ClientCall::signed("GET", "/bucket-a/k", b"", &stranger, "s3");
    let answer = ask_json(&server, &service, &input(forged.json(), pairs())).await;
    assert_eq!(
        client_error(&answer),
        (
            "InvalidClientTokenId".to_owned(),
            403,
            "The security token included in the request is invalid.".to_owned()
        )
    );

    // A session token that was altered.
    let sts = server.sts(&alice.key, &alice.secret, None);
    let token = sts.get_session_token().send().await.expect("session");
    let c = token.credentials().expect("credentials");
    let mut spoiled = c.session_token().to_owned();
    let last = spoiled.pop().expect("a token");
    spoiled.push(if last == 'A' { 'B' } else { 'A' });
    let session = Creds {
        key: c.access_key_id().to_owned(),
        secret: c.secret_access_key().to_owned(),
        token: Some(spoiled),
    };
    let forged = ClientCall::signed("GET", "/bucket-a/k", b"", &session, "s3");
    let answer = ask_json(&server, &service, &input(forged.json(), pairs())).await;
    assert_eq!(client_error(&answer).0, "InvalidClientTokenId");

    // The intact session of the same user is allowed.
    let session = Creds {
        key: c.access_key_id().to_owned(),
        secret: c.secret_access_key().to_owned(),
        token: Some(c.session_token().to_owned()),
    };
    let good = ClientCall::signed("GET", "/bucket-a/k", b"", &session, "s3");
    let answer = ask_json(&server, &service, &input(good.json(), pairs())).await;
    assert_eq!(answer.result(0)["decision"], "Allow", "{}", answer.body);
    assert_eq!(
        answer.body["principal"]["arn"],
        format!("arn:aws:iam::{ACCOUNT}:user/alice")
    );
}

#[tokio::test]
async fn a_service_without_portcullis_authorize_is_refused() {
    let server = TestServer::start().await;
    let alice = user_creds(
        &server,
        "alice",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
    )
    .await;
    let get = ClientCall::signed("GET", "/bucket-a/k", b"", &alice, "s3");
    let question = input(
        get.json(),
        vec![pair("s3:GetObject", "arn:aws:s3:::bucket-a/k")],
    );

    // No policy at all.
    let nobody = user_creds(
        &server,
        "nosvc",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}}"#,
    )
    .await;
    let answer = ask_json(&server, &nobody, &question).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert_eq!(answer.body["error"]["code"], "AccessDenied");
    let message = answer.body["error"]["message"].as_str().expect("message");
    assert!(
        message.starts_with(&format!(
            "User: arn:aws:iam::{ACCOUNT}:user/nosvc is not authorized to perform: portcullis:Authorize on resource: arn:aws:portcullis::{ACCOUNT}:service/s3 because no identity-based policy allows the portcullis:Authorize action."
        )),
        "{message}"
    );
    assert!(answer.body.get("results").is_none());

    // Allowed for another signing name only.
    let sqs_only = user_creds(
        &server,
        "queue-service",
        &format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"portcullis:Authorize","Resource":"arn:aws:portcullis::{ACCOUNT}:service/sqs"}}}}"#
        ),
    )
    .await;
    let answer = ask_json(&server, &sqs_only, &question).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert_eq!(answer.body["error"]["code"], "AccessDenied");

    // Not signed, or signed for another signing name, or by a key that does not exist.
    let answer = ask(&server, None, question.to_string().as_bytes()).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.body["error"]["code"], "MissingAuthenticationToken");
    let stranger = Creds::new(
        "AKIANOSUCHKEY0000001",
        "noSuchSecret000000000000000000000000000",
    );
    let answer = ask_json(&server, &stranger, &question).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.body["error"]["code"], "InvalidClientTokenId");
}

#[tokio::test]
async fn an_unsigned_client_request_is_anonymous_against_a_public_bucket_policy() {
    let server = TestServer::start().await;
    let service = service_creds(&server).await;
    let public = r#"{"Version":"2012-10-17","Statement":{"Sid":"Public","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::public-bucket/*"}}"#;
    let get = ClientCall::unsigned("GET", "/public-bucket/logo.png", b"");
    let answer = ask_json(
        &server,
        &service,
        &input(
            get.json(),
            vec![
                json!({"action": "s3:GetObject", "resource": "arn:aws:s3:::public-bucket/logo.png", "resourcePolicy": public}),
                json!({"action": "s3:PutObject", "resource": "arn:aws:s3:::public-bucket/logo.png", "resourcePolicy": public}),
                pair("s3:GetObject", "arn:aws:s3:::private-bucket/logo.png"),
            ],
        ),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let principal = &answer.body["principal"];
    assert_eq!(principal["arn"], "anonymous");
    assert_eq!(principal["type"], "Anonymous");
    assert!(principal.get("account").is_none());
    assert!(principal.get("accessKeyId").is_none());
    assert_eq!(answer.body["payloadSigned"], false);

    let allowed = answer.result(0);
    assert_eq!(allowed["decision"], "Allow", "{allowed}");
    assert_eq!(allowed["matchedStatements"][0]["statementId"], "Public");
    assert_eq!(
        allowed["matchedStatements"][0]["policyType"],
        "resourcePolicy"
    );
    for (i, action, bucket) in [
        (1, "s3:PutObject", "public-bucket"),
        (2, "s3:GetObject", "private-bucket"),
    ] {
        let denied = answer.result(i);
        assert_eq!(denied["decision"], "Deny", "{denied}");
        let message = denied["error"]["message"].as_str().expect("message");
        assert!(
            message.starts_with(&format!(
                "User: anonymous is not authorized to perform: {action} on resource: arn:aws:s3:::{bucket}/logo.png because no resource-based policy allows the {action} action. Encoded authorization failure message: "
            )),
            "{message}"
        );
    }
    // The resource's account (here the service's) decodes why.
    let message = answer.result(2)["error"]["message"]
        .as_str()
        .expect("message");
    let encoded = message.rsplit(' ').next().expect("encoded");
    let decoded = server
        .sts(common::ROOT_KEY, common::ROOT_SECRET, None)
        .decode_authorization_message()
        .encoded_message(encoded)
        .send()
        .await
        .expect("decode");
    assert!(
        decoded
            .decoded_message()
            .expect("decoded")
            .contains("\"arn\":\"anonymous\"")
    );
}

#[tokio::test]
async fn bad_input_is_refused_with_400_and_changes_nothing() {
    let server = TestServer::start().await;
    let service = service_creds(&server).await;
    let get = ClientCall::unsigned("GET", "/bucket-a/k", b"");
    let before = server.digest();
    let good = pair("s3:GetObject", "arn:aws:s3:::bucket-a/k");
    let too_many: Vec<Value> = (0..101).map(|_| good.clone()).collect();
    let big_policy = format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{}"}}}}"#,
        "x".repeat(21_000)
    );
    let mut with_body_and_hash = get.json();
    with_body_and_hash["body"] = json!("aGVsbG8=");
    with_body_and_hash["payloadHash"] = json!("0".repeat(64));
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"signingName": "s3", "request": get.json()}),
            "InvalidRequest",
        ),
        (input(get.json(), vec![]), "InvalidRequest"),
        (input(get.json(), too_many), "InvalidRequest"),
        (
            json!({"signingName": "s3", "request": get.json(), "authorizations": [good], "extra": 1}),
            "InvalidRequest",
        ),
        (
            json!({"signingName": "S3 bucket", "request": get.json(), "authorizations": [good]}),
            "InvalidRequest",
        ),
        (
            input(get.json(), vec![pair("GetObject", "arn:aws:s3:::b")]),
            "InvalidRequest",
        ),
        (
            input(get.json(), vec![pair("s3:GetObject", "")]),
            "InvalidRequest",
        ),
        (
            input(
                get.json(),
                vec![
                    json!({"action": "s3:GetObject", "resource": "arn:aws:s3:::b", "resourcePolicy": big_policy}),
                ],
            ),
            "InvalidRequest",
        ),
        (
            input(
                get.json(),
                vec![
                    json!({"action": "s3:GetObject", "resource": "arn:aws:s3:::b", "resourcePolicy": "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"*\"}}"}),
                ],
            ),
            "MalformedPolicyDocument",
        ),
        (
            input(
                get.json(),
                vec![
                    json!({"action": "s3:GetObject", "resource": "arn:aws:s3:::b", "resourceAccount": "12"}),
                ],
            ),
            "InvalidRequest",
        ),
        (
            input(
                get.json(),
                vec![
                    json!({"action": "s3:GetObject", "resource": "arn:aws:s3:::b", "context": {"aws:PrincipalArn": "arn:aws:iam::111122223333:root"}}),
                ],
            ),
            "InvalidRequest",
        ),
        (
            input(
                get.json(),
                vec![
                    json!({"action": "s3:GetObject", "resource": "arn:aws:s3:::b", "context": {"aws:SourceIp": "10.0.0.1"}}),
                ],
            ),
            "InvalidRequest",
        ),
        (
            input(with_body_and_hash, vec![good.clone()]),
            "InvalidRequest",
        ),
    ];
    for (case, code) in &cases {
        let answer = ask_json(&server, &service, case).await;
        assert_eq!(answer.status, 400, "{case}: {}", answer.body);
        assert_eq!(
            answer.body["error"]["code"], *code,
            "{case}: {}",
            answer.body
        );
        assert!(answer.body["requestId"].is_string());
    }
    let answer = ask(&server, Some(&service), b"{not json").await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.body["error"]["code"], "InvalidRequest");
    // A body over the API's bound is refused before it is read.
    let huge = vec![b' '; portcullis_server_limit() + 1];
    let answer = ask(&server, Some(&service), &huge).await;
    assert_eq!(answer.status, 413);
    assert_eq!(answer.body["error"]["code"], "RequestEntityTooLarge");

    // Service condition keys are taken.
    let keyed = json!({
        "action": "s3:ListBucket",
        "resource": "arn:aws:s3:::bucket-a",
        "resourcePolicy": r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::bucket-a","Condition":{"StringLike":{"s3:prefix":"public/*"}}}}"#,
        "context": {"s3:prefix": "public/2024/"},
    });
    let answer = ask_json(&server, &service, &input(get.json(), vec![keyed])).await;
    assert_eq!(answer.result(0)["decision"], "Allow", "{}", answer.body);
    assert_eq!(server.digest(), before);
}

/// The authorization API's body bound (1 MiB).
fn portcullis_server_limit() -> usize {
    1024 * 1024
}

#[tokio::test]
async fn a_bucket_policy_naming_the_federating_user_reaches_its_federation_sessions() {
    let server = TestServer::start().await;
    let service = service_creds(&server).await;
    // bob may only federate: nothing of s3 in his own policies.
    let bob = user_creds(
        &server,
        "bob",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:GetFederationToken","Resource":"*"}}"#,
    )
    .await;
    let federated = server
        .sts(&bob.key, &bob.secret, None)
        .get_federation_token()
        .name("bob-app")
        .policy(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#)
        .send()
        .await
        .expect("federation token");
    let c = federated.credentials().expect("credentials");
    let session = Creds {
        key: c.access_key_id().to_owned(),
        secret: c.secret_access_key().to_owned(),
        token: Some(c.session_token().to_owned()),
    };
    let bob_arn = format!("arn:aws:iam::{ACCOUNT}:user/bob");
    let bucket_policy = |effect: &str, action: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"{effect}","Principal":{{"AWS":"{bob_arn}"}},"Action":"{action}","Resource":"arn:aws:s3:::bucket-a/*"}}}}"#
        )
    };
    let with = |policy: String, action: &str| json!({"action": action, "resource": "arn:aws:s3:::bucket-a/k", "resourcePolicy": policy});
    let get = ClientCall::signed("GET", "/bucket-a/k", b"", &session, "s3");
    let answer = ask_json(
        &server,
        &service,
        &input(
            get.json(),
            vec![
                // The bucket policy names bob: his federation session may read...
                with(bucket_policy("Allow", "s3:GetObject"), "s3:GetObject"),
                // ...but only within the session policy.
                with(bucket_policy("Allow", "s3:*"), "s3:PutObject"),
                // A Deny naming bob reaches the session too.
                with(bucket_policy("Deny", "s3:GetObject"), "s3:GetObject"),
                // Without the bucket policy, bob's own policies grant nothing of s3.
                pair("s3:GetObject", "arn:aws:s3:::bucket-a/k"),
            ],
        ),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body["principal"]["arn"],
        format!("arn:aws:sts::{ACCOUNT}:federated-user/bob-app")
    );
    assert_eq!(answer.body["principal"]["type"], "FederatedUser");
    let allowed = answer.result(0);
    assert_eq!(allowed["decision"], "Allow", "{allowed}");
    assert!(
        allowed["matchedStatements"]
            .as_array()
            .expect("statements")
            .iter()
            .any(|s| s["policyType"] == "resourcePolicy"),
        "{allowed}"
    );
    let outside_session = answer.result(1);
    assert_eq!(outside_session["decision"], "Deny", "{outside_session}");
    assert_eq!(outside_session["outcome"], "implicitDeny");
    let denied = answer.result(2);
    assert_eq!(denied["outcome"], "explicitDeny", "{denied}");
    assert!(
        denied["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("with an explicit deny in a resource-based policy")),
        "{denied}"
    );
    assert_eq!(answer.result(3)["outcome"], "implicitDeny");
}

/// The authorization API's decisions are last-accessed data: the client's attempts at the
/// service's actions (allowed or denied) and the service's own `portcullis:Authorize`.
#[tokio::test]
async fn the_access_advisor_reports_what_services_asked_about() {
    let server = TestServer::start().await;
    let service = service_creds(&server).await;
    let alice = user_creds(
        &server,
        "alice",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket-a/*"}}"#,
    )
    .await;
    let get = ClientCall::signed("GET", "/bucket-b/x", b"", &alice, "s3");
    let answer = ask_json(
        &server,
        &service,
        &input(
            get.json(),
            vec![pair("s3:getobject", "arn:aws:s3:::bucket-b/x")],
        ),
    )
    .await;
    assert_eq!(
        answer.result(0)["outcome"],
        "implicitDeny",
        "{}",
        answer.body
    );

    let root = server.root();
    let tracked = |user: &'static str, ns: &'static str| {
        let root = root.clone();
        async move {
            let job = root
                .generate_service_last_accessed_details()
                .arn(format!("arn:aws:iam::{ACCOUNT}:user/{user}"))
                .granularity(aws_sdk_iam::types::AccessAdvisorUsageGranularityType::ActionLevel)
                .send()
                .await
                .expect("generate");
            let report = root
                .get_service_last_accessed_details()
                .job_id(job.job_id().expect("id"))
                .send()
                .await
                .expect("get");
            let s = report
                .services_last_accessed()
                .iter()
                .find(|s| s.service_namespace() == ns)
                .unwrap_or_else(|| panic!("{ns}: {report:?}"))
                .clone();
            (
                s.service_name().to_owned(),
                s.tracked_actions_last_accessed()
                    .iter()
                    .filter_map(|a| a.action_name().map(str::to_owned))
                    .collect::<Vec<_>>(),
            )
        }
    };
    // The denied attempt counts, under AWS's name of the action.
    assert_eq!(
        tracked("alice", "s3").await,
        ("Amazon S3".to_owned(), vec!["GetObject".to_owned()])
    );
    assert_eq!(
        tracked("objstore", "portcullis").await,
        ("Portcullis".to_owned(), vec!["Authorize".to_owned()])
    );
}

/// AWS managed policies are AWS's own: attaching AmazonS3ReadOnlyAccess grants what AWS's
/// document grants (reads of any bucket, no writes), and GetPolicyVersion returns it.
#[tokio::test]
async fn an_aws_managed_policy_grants_what_awss_document_grants() {
    let server = TestServer::start().await;
    let service = service_creds(&server).await;
    let (key, secret) = server.user_keys("reader", None).await;
    let reader = Creds::new(&key, &secret);
    let root = server.root();
    let arn = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess";
    root.attach_user_policy()
        .user_name("reader")
        .policy_arn(arn)
        .send()
        .await
        .expect("attach");
    let policy = root.get_policy().policy_arn(arn).send().await.expect("get");
    let policy = policy.policy().expect("policy");
    let version = root
        .get_policy_version()
        .policy_arn(arn)
        .version_id(policy.default_version_id().expect("default version"))
        .send()
        .await
        .expect("get version");
    // IAM sends the document URL-encoded: AWS's statement, `s3:Get*` and `s3:List*`.
    let document = version
        .policy_version()
        .and_then(|v| v.document())
        .expect("document");
    assert!(
        document.contains("%22s3%3AGet%2A%22") && document.contains("%22s3%3AList%2A%22"),
        "{document}"
    );
    assert_eq!(policy.attachment_count(), Some(1));

    let get = ClientCall::signed("GET", "/any-bucket/k", b"", &reader, "s3");
    let answer = ask_json(
        &server,
        &service,
        &input(
            get.json(),
            vec![
                pair("s3:GetObject", "arn:aws:s3:::any-bucket/k"),
                pair("s3:ListBucket", "arn:aws:s3:::any-bucket"),
                pair("s3:PutObject", "arn:aws:s3:::any-bucket/k"),
                pair("s3:DeleteBucket", "arn:aws:s3:::any-bucket"),
            ],
        ),
    )
    .await;
    let outcomes: Vec<&str> = (0..4)
        .map(|i| answer.result(i)["outcome"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        outcomes,
        ["allowed", "allowed", "implicitDeny", "implicitDeny"],
        "{}",
        answer.body
    );
}

/// The root user may call GetFederationToken (AWS allows it, for at most an hour): the session
/// has the root user's access as limited by its session policy, and none without one.
#[tokio::test]
async fn the_root_users_federation_session_is_limited_by_its_session_policy() {
    let server = TestServer::start().await;
    let service = service_creds(&server).await;
    let sts = server.sts(common::ROOT_KEY, common::ROOT_SECRET, None);
    let too_long = sts
        .get_federation_token()
        .name("ops")
        .duration_seconds(7200)
        .send()
        .await;
    assert!(
        too_long.is_err(),
        "a root federation session lasts at most an hour"
    );
    let session = |policy: Option<&'static str>| {
        let sts = sts.clone();
        async move {
            let made = sts
                .get_federation_token()
                .name("ops")
                .set_policy(policy.map(str::to_owned))
                .send()
                .await
                .expect("root federation token");
            let c = made.credentials().expect("credentials");
            let lasts = c.expiration().secs() - time::OffsetDateTime::now_utc().unix_timestamp();
            assert!((3590..=3600).contains(&lasts), "{lasts}");
            assert_eq!(
                made.federated_user().map(|f| f.arn()),
                Some(format!("arn:aws:sts::{ACCOUNT}:federated-user/ops").as_str())
            );
            Creds {
                key: c.access_key_id().to_owned(),
                secret: c.secret_access_key().to_owned(),
                token: Some(c.session_token().to_owned()),
            }
        }
    };
    let limited = session(Some(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket-a/*"}}"#,
    ))
    .await;
    let outcomes = |creds: Creds| {
        let (server, service) = (&server, &service);
        async move {
            let get = ClientCall::signed("GET", "/bucket-a/k", b"", &creds, "s3");
            let answer = ask_json(
                server,
                service,
                &input(
                    get.json(),
                    vec![
                        pair("s3:GetObject", "arn:aws:s3:::bucket-a/k"),
                        pair("s3:GetObject", "arn:aws:s3:::bucket-b/k"),
                        pair("iam:CreateUser", "arn:aws:iam::111122223333:user/x"),
                    ],
                ),
            )
            .await;
            assert_eq!(
                answer.body["principal"]["arn"],
                format!("arn:aws:sts::{ACCOUNT}:federated-user/ops")
            );
            (0..3)
                .map(|i| {
                    answer.result(i)["outcome"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        outcomes(limited).await,
        ["allowed", "implicitDeny", "implicitDeny"]
    );
    // Without a session policy the session has no permissions at all.
    let bare = session(None).await;
    assert_eq!(
        outcomes(bare).await,
        ["implicitDeny", "implicitDeny", "implicitDeny"]
    );
}
