//! AssumeRoleWithSAML end to end: responses signed by an independent library (Python's
//! signxml, through `tests/saml/sign_response.py`), redeemed with the Rust SDK, boto3 and the
//! AWS CLI against `portcullis serve`'s router.
//!
//! AWS sources: the STS API reference for AssumeRoleWithSAML (parameters, response elements,
//! session duration capped by `SessionNotOnOrAfter`); the IAM user guide's "Configure SAML
//! assertions for the authentication response" (the `Role`, `RoleSessionName`,
//! `PrincipalTag:*`, `TransitiveTagKeys` and `SourceIdentity` attributes, the recipient
//! `https://signin.aws.amazon.com/saml`), "Troubleshoot SAML federation with IAM" (the error
//! messages), and "Available keys for SAML-based federation" (`saml:aud` from the recipient,
//! `saml:namequalifier`, `saml:sub_type`, `saml:doc`).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use aws_sdk_sts::error::ProvideErrorMetadata;
use base64::Engine;
use common::{ACCOUNT, TestServer};
use serde_json::{Value, json};

const METADATA: &str = include_str!("fixtures/saml-metadata.xml");
const ISSUER: &str = "https://idp.example.com/saml";
const PROVIDER: &str = "ExampleIdP";
const SIGNIN: &str = "https://signin.aws.amazon.com/saml";

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn provider_arn() -> String {
    format!("arn:aws:iam::{ACCOUNT}:saml-provider/{PROVIDER}")
}

fn role_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// Whether the signer can run; without signxml the test skips, unless CI requires clients.
fn have_signer() -> bool {
    let have = Command::new("python3")
        .args(["-c", "import signxml"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        assert!(
            std::env::var_os("PORTCULLIS_REQUIRE_CLIENTS").is_none(),
            "signxml is needed"
        );
        eprintln!("SKIPPED: signxml is needed");
    }
    have
}

/// The base64 response `sign_response.py` builds for `spec` (merged over the defaults: the
/// fixture key that the metadata trusts, a `Role` pair for `role`, session name alice).
fn signed(role: &str, spec: Value) -> String {
    let mut full = json!({
        "key": fixture("leaf-rsa.key"),
        "cert": fixture("leaf-rsa.pem"),
        "issuer": ISSUER,
        "attributes": {
            "https://aws.amazon.com/SAML/Attributes/Role": [format!("{},{}", role_arn(role), provider_arn())],
            "https://aws.amazon.com/SAML/Attributes/RoleSessionName": ["alice"],
        },
    });
    if let (Some(base), Value::Object(extra)) = (full.as_object_mut(), spec) {
        for (k, v) in extra {
            if k == "attributes" {
                if let (Some(Value::Object(attrs)), Value::Object(more)) =
                    (base.get_mut("attributes"), v)
                {
                    for (name, values) in more {
                        if values.is_null() {
                            attrs.remove(&name);
                        } else {
                            attrs.insert(name, values);
                        }
                    }
                }
            } else {
                base.insert(k, v);
            }
        }
    }
    let script = format!("{}/tests/saml/sign_response.py", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(full.to_string().as_bytes())
        .expect("spec written");
    let out = child.wait_with_output().expect("signer ends");
    assert!(
        out.status.success(),
        "signer: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("base64")
        .trim()
        .to_owned()
}

/// An STS client with no credentials: AssumeRoleWithSAML is unsigned.
fn anonymous_sts(server: &TestServer) -> aws_sdk_sts::Client {
    let config = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .endpoint_url(server.endpoint())
        .region(aws_sdk_sts::config::Region::new("us-east-1"))
        .build();
    aws_sdk_sts::Client::from_conf(config)
}

/// The provider, and a role `name` trusting it for `conditions` with a policy that allows
/// only `iam:ListUsers` (and `iam:GetRole` on itself when tagged `team=blue`).
async fn setup(server: &TestServer, role: &str, conditions: Value) {
    let iam = server.root();
    if iam
        .get_saml_provider()
        .saml_provider_arn(provider_arn())
        .send()
        .await
        .is_err()
    {
        iam.create_saml_provider()
            .name(PROVIDER)
            .saml_metadata_document(METADATA)
            .send()
            .await
            .expect("provider created");
    }
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn()},
            "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession", "sts:SetSourceIdentity"],
            "Condition": conditions,
        }],
    });
    iam.create_role()
        .role_name(role)
        .assume_role_policy_document(trust.to_string())
        .max_session_duration(7200)
        .send()
        .await
        .expect("role created");
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*"},
            {"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*",
             "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}}},
        ],
    });
    iam.put_role_policy()
        .role_name(role)
        .policy_name("p")
        .policy_document(policy.to_string())
        .send()
        .await
        .expect("policy put");
}

fn aud_condition() -> Value {
    json!({"StringEquals": {"SAML:aud": SIGNIN}})
}

async fn redeem(
    server: &TestServer,
    role: &str,
    response: String,
) -> Result<
    aws_sdk_sts::operation::assume_role_with_saml::AssumeRoleWithSamlOutput,
    aws_sdk_sts::error::SdkError<
        aws_sdk_sts::operation::assume_role_with_saml::AssumeRoleWithSAMLError,
    >,
> {
    anonymous_sts(server)
        .assume_role_with_saml()
        .role_arn(role_arn(role))
        .principal_arn(provider_arn())
        .saml_assertion(response)
        .send()
        .await
}

fn refusal<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
    r: Result<T, E>,
) -> (String, String) {
    match r {
        Ok(v) => panic!("expected a refusal, got {v:?}"),
        Err(e) => (
            e.code().unwrap_or("(none)").to_owned(),
            e.message().unwrap_or_default().to_owned(),
        ),
    }
}

/// The signer's own check: each signing mode verifies with signxml's verifier, and signxml
/// refuses the tampered ones too, so what the other tests refuse is refused for the reason
/// they name.
#[test]
fn the_signer_agrees_with_signxmls_own_verifier() {
    if !have_signer() {
        return;
    }
    let script = format!("{}/tests/saml/sign_response.py", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .args([
            script,
            "--self-check".into(),
            fixture("leaf-rsa.key"),
            fixture("leaf-rsa.pem"),
        ])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_response_becomes_a_role_session_once() {
    if !have_signer() {
        return;
    }
    let server = TestServer::start().await;
    setup(&server, "saml-role", aud_condition()).await;

    let response = signed("saml-role", json!({}));
    let out = redeem(&server, "saml-role", response.clone())
        .await
        .expect("a good response is redeemed");
    assert_eq!(out.subject(), Some("alice@example.com"));
    assert_eq!(out.subject_type(), Some("persistent"));
    assert_eq!(out.issuer(), Some(ISSUER));
    assert_eq!(out.audience(), Some(SIGNIN));
    // NameQualifier: base64(SHA-1(issuer + account + "/" + provider name)), as AWS documents.
    let expected = {
        let text = format!("{ISSUER}{ACCOUNT}/{PROVIDER}");
        let digest = aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
            text.as_bytes(),
        );
        base64::engine::general_purpose::STANDARD.encode(digest)
    };
    assert_eq!(out.name_qualifier(), Some(expected.as_str()));
    let user = out.assumed_role_user().expect("assumed role user");
    assert_eq!(
        user.arn(),
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/saml-role/alice")
    );
    let creds = out.credentials().expect("credentials");
    let expires = creds.expiration().secs();
    assert!((expires - now() - 3600).abs() < 60, "one hour by default");

    // The credentials act as the role: its policy allows ListUsers, nothing else.
    let iam = server.iam_session(
        creds.access_key_id(),
        creds.secret_access_key(),
        creds.session_token(),
    );
    iam.list_users().send().await.expect("ListUsers allowed");
    let denied = iam.create_user().user_name("x").send().await;
    assert_eq!(refusal(denied).0, "AccessDenied");
    let who = server
        .sts(
            creds.access_key_id(),
            creds.secret_access_key(),
            Some(creds.session_token()),
        )
        .get_caller_identity()
        .send()
        .await
        .expect("caller identity");
    assert_eq!(who.arn(), Some(user.arn()));

    // The same response again is a replay.
    let (code, message) = refusal(redeem(&server, "saml-role", response).await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("InvalidIdentityToken", "Response has already been used")
    );

    // Signed as a whole response, or both, or with RSA-SHA1: all accepted.
    for spec in [
        json!({"sign": "response"}),
        json!({"sign": "both"}),
        json!({"algorithm": "rsa-sha1"}),
        json!({"pretty": true}),
    ] {
        redeem(&server, "saml-role", signed("saml-role", spec.clone()))
            .await
            .unwrap_or_else(|e| panic!("{spec}: {e:?}"));
    }

    // A duration, capped by the IdP's SessionNotOnOrAfter.
    let out = anonymous_sts(&server)
        .assume_role_with_saml()
        .role_arn(role_arn("saml-role"))
        .principal_arn(provider_arn())
        .saml_assertion(signed(
            "saml-role",
            json!({"session_not_on_or_after": now() + 1200}),
        ))
        .duration_seconds(7200)
        .send()
        .await
        .expect("capped session");
    let expires = out.credentials().expect("credentials").expiration().secs();
    assert!(
        (expires - now() - 1200).abs() < 60,
        "capped at SessionNotOnOrAfter"
    );
}

/// Every forgery is refused, and none issues credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_wrapped_resigned_and_expired_responses_are_refused() {
    if !have_signer() {
        return;
    }
    let server = TestServer::start().await;
    setup(&server, "saml-role", aud_condition()).await;
    let signature_invalid = ("InvalidIdentityToken", "Response signature invalid");
    let invalid_response = ("InvalidIdentityToken", "Invalid SAML response");
    let cases: Vec<(Value, (&str, &str))> = vec![
        (json!({"attack": "tamper_nameid"}), signature_invalid),
        (json!({"attack": "tamper_attribute"}), signature_invalid),
        (
            json!({"attack": "resign_other_key", "other_key": fixture("other-rsa.key")}),
            signature_invalid,
        ),
        (json!({"attack": "strip_signature"}), signature_invalid),
        (json!({"sign": "none"}), signature_invalid),
        // Wrapping: the signed original is kept where a careless verifier would find it.
        (json!({"attack": "xsw1"}), invalid_response),
        (json!({"attack": "xsw2"}), invalid_response),
        (json!({"attack": "xsw3"}), invalid_response),
        (
            json!({"sign": "response", "attack": "xsw_response"}),
            invalid_response,
        ),
        (json!({"attack": "two_assertions"}), invalid_response),
        (json!({"attack": "doctype"}), invalid_response),
        (
            json!({"issue_instant": now() - 900, "not_before": now() - 960, "not_on_or_after": now() - 600}),
            ("ExpiredTokenException", "Response has expired"),
        ),
        (
            json!({"issue_instant": now() - 600, "not_before": now() - 660, "not_on_or_after": now() + 600}),
            (
                "ExpiredTokenException",
                "Token must be redeemed within 5 minutes of issuance",
            ),
        ),
        (
            json!({"audiences": ["https://sp.example.com"]}),
            (
                "InvalidIdentityToken",
                "Response does not contain the required audience",
            ),
        ),
        (
            json!({"recipient": "https://sp.example.com/acs"}),
            (
                "InvalidIdentityToken",
                "Response does not contain a valid subject confirmation for this service",
            ),
        ),
        (
            json!({"issuer": "https://other-idp.example.com"}),
            (
                "InvalidIdentityToken",
                "Issuer not present in specified provider",
            ),
        ),
        (
            json!({"attributes": {"https://aws.amazon.com/SAML/Attributes/RoleSessionName": null}}),
            (
                "InvalidIdentityToken",
                "RoleSessionName is required in AuthnResponse",
            ),
        ),
        (
            json!({"attributes": {"https://aws.amazon.com/SAML/Attributes/RoleSessionName": ["a b"]}}),
            (
                "InvalidIdentityToken",
                "RoleSessionName in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{2,64}",
            ),
        ),
        (
            json!({"status": "urn:oasis:names:tc:SAML:2.0:status:Responder"}),
            (
                "IDPRejectedClaim",
                "The identity provider reported that authentication failed",
            ),
        ),
    ];
    for (spec, (want_code, want_message)) in cases {
        let response = signed("saml-role", spec.clone());
        let (code, message) = refusal(redeem(&server, "saml-role", response).await);
        assert_eq!(
            (code.as_str(), message.as_str()),
            (want_code, want_message),
            "{spec}"
        );
    }

    // A role the assertion does not offer, or a provider that does not exist.
    setup(&server, "other-role", aud_condition()).await;
    let response = signed("saml-role", json!({}));
    let (code, _) = refusal(redeem(&server, "other-role", response).await);
    assert_eq!(code, "AccessDenied");
    let response = signed("saml-role", json!({}));
    let (code, message) = refusal(
        anonymous_sts(&server)
            .assume_role_with_saml()
            .role_arn(role_arn("saml-role"))
            .principal_arn(format!("arn:aws:iam::{ACCOUNT}:saml-provider/Nobody"))
            .saml_assertion(response)
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("InvalidIdentityToken", "Specified provider doesn't exist")
    );
}

/// A comment inside the signed NameID does not change what is read: the whole text is the
/// subject, so a trust condition on the subject's domain still holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_in_the_name_id_does_not_shorten_the_subject() {
    if !have_signer() {
        return;
    }
    let server = TestServer::start().await;
    setup(
        &server,
        "domain-role",
        json!({"StringLike": {"saml:sub": "*@example.com"}}),
    )
    .await;
    // Signed as alice@example.com.evil.com, then split by a comment after signing.
    let response = signed("domain-role", json!({"attack": "comment_in_nameid"}));
    let (code, _) = refusal(redeem(&server, "domain-role", response).await);
    assert_eq!(code, "AccessDenied");
    setup(
        &server,
        "evil-role",
        json!({"StringEquals": {"saml:sub": "alice@example.com.evil.com"}}),
    )
    .await;
    let response = signed("evil-role", json!({"attack": "comment_in_nameid"}));
    let out = redeem(&server, "evil-role", response)
        .await
        .expect("the whole subject matches");
    assert_eq!(out.subject(), Some("alice@example.com.evil.com"));
}

/// Session tags and source identity come from the assertion's attributes; the trust policy
/// sees `saml:*` keys, and the role's policy sees the tags.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attributes_become_session_tags_and_condition_keys() {
    if !have_signer() {
        return;
    }
    let server = TestServer::start().await;
    setup(
        &server,
        "staff-role",
        json!({
            "StringEquals": {"SAML:aud": SIGNIN, "saml:iss": ISSUER, "saml:sub_type": "persistent",
                             "saml:doc": format!("{ACCOUNT}/{PROVIDER}")},
            "ForAnyValue:StringEquals": {"saml:edupersonaffiliation": "staff"},
        }),
    )
    .await;
    let attributes = json!({
        "https://aws.amazon.com/SAML/Attributes/PrincipalTag:team": ["blue"],
        "https://aws.amazon.com/SAML/Attributes/TransitiveTagKeys": ["team"],
        "https://aws.amazon.com/SAML/Attributes/SourceIdentity": ["alice-src"],
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.1": ["member", "staff"],
    });
    let out = redeem(
        &server,
        "staff-role",
        signed("staff-role", json!({"attributes": attributes})),
    )
    .await
    .expect("staff may assume the role");
    assert_eq!(out.source_identity(), Some("alice-src"));
    let creds = out.credentials().expect("credentials");
    let iam = server.iam_session(
        creds.access_key_id(),
        creds.secret_access_key(),
        creds.session_token(),
    );
    iam.get_role()
        .role_name("staff-role")
        .send()
        .await
        .expect("the session's team=blue tag allows GetRole");

    // Not staff: the trust policy's multivalued key does not match.
    let attributes = json!({"urn:oid:1.3.6.1.4.1.5923.1.1.1.1": ["student"]});
    let (code, _) = refusal(
        redeem(
            &server,
            "staff-role",
            signed("staff-role", json!({"attributes": attributes})),
        )
        .await,
    );
    assert_eq!(code, "AccessDenied");
}

/// boto3 and the AWS CLI redeem a response with no credentials configured.
#[tokio::test(flavor = "multi_thread")]
async fn boto3_and_the_aws_cli_redeem_a_response() {
    if !have_signer() {
        return;
    }
    let server = TestServer::start().await;
    setup(&server, "saml-role", aud_condition()).await;
    let endpoint = server.endpoint();
    let response = signed("saml-role", json!({}));
    let script = r#"
import os, boto3
from botocore import UNSIGNED
from botocore.config import Config
sts = boto3.client("sts", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                   config=Config(signature_version=UNSIGNED))
out = sts.assume_role_with_saml(RoleArn=os.environ["ROLE"], PrincipalArn=os.environ["PROVIDER"],
                                SAMLAssertion=os.environ["RESPONSE"])
print(out["AssumedRoleUser"]["Arn"], out["SubjectType"], out["Credentials"]["AccessKeyId"][:4])
"#;
    let role = role_arn("saml-role");
    let provider = provider_arn();
    let printed = tokio::task::block_in_place(|| {
        common::boto3(
            script,
            &endpoint,
            ("", ""),
            &[
                ("ROLE", role.as_str()),
                ("PROVIDER", provider.as_str()),
                ("RESPONSE", response.as_str()),
            ],
        )
    });
    if let Some(printed) = printed {
        assert_eq!(
            printed.trim(),
            format!("arn:aws:sts::{ACCOUNT}:assumed-role/saml-role/alice persistent ASIA")
        );
    }

    let have_cli = Command::new("aws").arg("--version").output().is_ok();
    if !have_cli {
        assert!(
            std::env::var_os("PORTCULLIS_REQUIRE_CLIENTS").is_none(),
            "the AWS CLI is needed"
        );
        return;
    }
    let response = signed("saml-role", json!({}));
    let out = tokio::task::block_in_place(|| {
        Command::new("aws")
            .args([
                "sts",
                "assume-role-with-saml",
                "--role-arn",
                &role,
                "--principal-arn",
                &provider,
                "--saml-assertion",
                &response,
                "--endpoint-url",
                &endpoint,
                "--no-sign-request",
                "--output",
                "json",
            ])
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .output()
            .expect("aws runs")
    });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["Issuer"], ISSUER);
    assert_eq!(json["Audience"], SIGNIN);
}

/// Encrypted assertions (XML Encryption to a key added with UpdateSAMLProvider's
/// AddPrivateKey): every supported algorithm decrypts; a key the provider does not hold, or
/// RSA PKCS #1 v1.5 key transport, does not; with `AssertionEncryptionMode` Required a plain
/// assertion is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_assertions_are_decrypted_with_the_providers_keys() {
    if !have_signer() {
        return;
    }
    let server = TestServer::start().await;
    setup(&server, "saml-role", aud_condition()).await;
    let key = std::fs::read_to_string(fixture("other-rsa.key")).expect("key");
    server
        .root()
        .update_saml_provider()
        .saml_provider_arn(provider_arn())
        .add_private_key(key)
        .assertion_encryption_mode(aws_sdk_iam::types::AssertionEncryptionModeType::Allowed)
        .send()
        .await
        .expect("decryption key added");
    for (content, transport) in [
        ("aes256-gcm", "rsa-oaep-mgf1p"),
        ("aes128-gcm", "rsa-oaep-sha256"),
        ("aes128-cbc", "rsa-oaep-mgf1p"),
        ("aes256-cbc", "rsa-oaep-sha256"),
    ] {
        let encrypt = json!({"to_key": fixture("other-rsa.key"), "content": content, "key_transport": transport});
        for sign in ["assertion", "response"] {
            let out = redeem(
                &server,
                "saml-role",
                signed("saml-role", json!({"encrypt": encrypt, "sign": sign})),
            )
            .await
            .unwrap_or_else(|e| panic!("{content} {transport} {sign}: {e:?}"));
            assert_eq!(out.subject(), Some("alice@example.com"));
        }
    }
    let cant = (
        "InvalidIdentityToken",
        "Unable to decrypt the SAML assertion",
    );
    for encrypt in [
        json!({"to_key": fixture("leaf-rsa.key")}),
        json!({"to_key": fixture("other-rsa.key"), "key_transport": "rsa-1_5"}),
    ] {
        let (code, message) = refusal(
            redeem(
                &server,
                "saml-role",
                signed("saml-role", json!({"encrypt": encrypt})),
            )
            .await,
        );
        assert_eq!((code.as_str(), message.as_str()), cant, "{encrypt}");
    }
    // Encrypted but signed by nobody: still refused.
    let encrypt = json!({"to_key": fixture("other-rsa.key")});
    let (code, message) = refusal(
        redeem(
            &server,
            "saml-role",
            signed("saml-role", json!({"encrypt": encrypt, "sign": "none"})),
        )
        .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("InvalidIdentityToken", "Response signature invalid")
    );

    // Required: a plain assertion is refused, an encrypted one accepted.
    server
        .root()
        .update_saml_provider()
        .saml_provider_arn(provider_arn())
        .assertion_encryption_mode(aws_sdk_iam::types::AssertionEncryptionModeType::Required)
        .send()
        .await
        .expect("encryption required");
    let (code, message) =
        refusal(redeem(&server, "saml-role", signed("saml-role", json!({}))).await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "InvalidIdentityToken",
            "The SAML provider requires encrypted assertions"
        )
    );
    redeem(
        &server,
        "saml-role",
        signed(
            "saml-role",
            json!({"encrypt": {"to_key": fixture("other-rsa.key")}}),
        ),
    )
    .await
    .expect("an encrypted assertion is still accepted");
}
