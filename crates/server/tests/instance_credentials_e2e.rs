//! `POST /v1/instance-credentials` end to end: an agent with its own keys obtains an instance
//! profile's role credentials as EC2 delivers them, under iam:PassRole and the role's trust in
//! ec2.amazonaws.com; the credentials sign requests as `assumed-role/ROLE/INSTANCE_ID` with
//! `ec2:RoleDelivery` and `ec2:SourceInstanceARN` in their context.

mod common;

use common::{ACCOUNT, TestServer, error_code, post_portcullis_json};
use serde_json::{Value, json};

const PATH: &str = "/v1/instance-credentials";
const INSTANCE: &str = "i-0123456789abcdef0";
const EC2_TRUST: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}"#;
const PASS_WEB: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::111122223333:role/web","Condition":{"StringEquals":{"iam:PassedToService":"ec2.amazonaws.com"},"ArnLike":{"iam:AssociatedResourceArn":"arn:aws:ec2:*:111122223333:instance/*"}}}}"#;
/// The role may list users, only from an instance that got its credentials over IMDSv2, and
/// get users only from this very instance.
const WEB_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"iam:ListUsers","Resource":"*","Condition":{"StringEquals":{"ec2:RoleDelivery":"2.0"}}},
  {"Effect":"Allow","Action":"iam:GetUser","Resource":"*","Condition":{"ArnEquals":{"ec2:SourceInstanceARN":"arn:aws:ec2:us-east-1:111122223333:instance/i-0123456789abcdef0"}}}]}"#;

async fn setup(server: &TestServer) {
    let root = server.root();
    for (name, trust) in [
        ("web", EC2_TRUST),
        ("lambda-only", &EC2_TRUST.replace("ec2.", "lambda.")),
    ] {
        root.create_role()
            .role_name(name)
            .assume_role_policy_document(trust)
            .send()
            .await
            .expect("role");
        root.put_role_policy()
            .role_name(name)
            .policy_name("p")
            .policy_document(WEB_POLICY)
            .send()
            .await
            .expect("role policy");
        root.create_instance_profile()
            .instance_profile_name(format!("{name}-profile"))
            .send()
            .await
            .expect("profile");
        root.add_role_to_instance_profile()
            .instance_profile_name(format!("{name}-profile"))
            .role_name(name)
            .send()
            .await
            .expect("add role");
    }
    root.create_instance_profile()
        .instance_profile_name("empty-profile")
        .send()
        .await
        .expect("profile");
}

async fn ask(server: &TestServer, keys: &(String, String), input: Value) -> (u16, Value) {
    post_portcullis_json(
        server,
        PATH,
        (&keys.0, &keys.1, None),
        input.to_string().as_bytes(),
    )
    .await
}

fn input(profile: &str) -> Value {
    json!({"instanceProfileName": profile, "instanceId": INSTANCE})
}

#[tokio::test]
async fn an_agent_allowed_to_pass_the_role_gets_the_instance_credentials() {
    let server = TestServer::start().await;
    setup(&server).await;
    let agent = server.user_keys("agent", Some(PASS_WEB)).await;
    let (status, answer) = ask(&server, &agent, input("web-profile")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["Code"], "Success");
    assert_eq!(answer["Type"], "AWS-HMAC");
    assert_eq!(answer["RoleName"], "web");
    assert_eq!(
        answer["InstanceArn"],
        format!("arn:aws:ec2:us-east-1:{ACCOUNT}:instance/{INSTANCE}")
    );
    let key = answer["AccessKeyId"].as_str().expect("key");
    let secret = answer["SecretAccessKey"].as_str().expect("secret");
    let token = answer["Token"].as_str().expect("token");
    assert!(key.starts_with("ASIA"), "{key}");
    assert!(
        answer["Expiration"]
            .as_str()
            .is_some_and(|e| e.ends_with('Z'))
    );

    let who = server
        .sts(key, secret, Some(token))
        .get_caller_identity()
        .send()
        .await
        .expect("caller identity");
    assert_eq!(
        who.arn(),
        Some(format!("arn:aws:sts::{ACCOUNT}:assumed-role/web/{INSTANCE}").as_str())
    );
    // The session's ec2: keys decide: delivered over IMDSv2, from this instance.
    let iam = server.iam_session(key, secret, token);
    iam.list_users()
        .send()
        .await
        .expect("ListUsers (ec2:RoleDelivery 2.0)");
    iam.get_user()
        .user_name("agent")
        .send()
        .await
        .expect("GetUser (ec2:SourceInstanceARN)");
    // Another action is not in the role's policy.
    let denied = iam.create_user().user_name("x").send().await;
    assert_eq!(error_code(denied).0, "AccessDenied");

    // IMDSv1 allowed: ec2:RoleDelivery 1.0, and the ListUsers condition no longer holds.
    let mut v1 = input("web-profile");
    v1["imdsV2Required"] = json!(false);
    let (status, answer) = ask(&server, &agent, v1).await;
    assert_eq!(status, 200, "{answer}");
    let iam = server.iam_session(
        answer["AccessKeyId"].as_str().expect("key"),
        answer["SecretAccessKey"].as_str().expect("secret"),
        answer["Token"].as_str().expect("token"),
    );
    assert_eq!(error_code(iam.list_users().send().await).0, "AccessDenied");
}

#[tokio::test]
async fn deliveries_are_refused_without_passrole_trust_or_a_role() {
    let server = TestServer::start().await;
    setup(&server).await;
    // No PassRole at all.
    let nobody = server.user_keys("nobody", None).await;
    let (status, answer) = ask(&server, &nobody, input("web-profile")).await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["error"]["code"], "AccessDenied");
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("iam:PassRole")),
        "{answer}"
    );
    // PassRole, but the role trusts Lambda, not EC2.
    let agent = server
        .user_keys("agent", Some(&PASS_WEB.replace("role/web", "role/*")))
        .await;
    let (status, answer) = ask(&server, &agent, input("lambda-only-profile")).await;
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("ec2.amazonaws.com")),
        "{answer}"
    );
    // A profile with no role, one that does not exist, a malformed instance id.
    let (status, answer) = ask(&server, &agent, input("empty-profile")).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (400, Some("InvalidParameterValue"))
    );
    let (status, answer) = ask(&server, &agent, input("missing")).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (404, Some("NoSuchEntity"))
    );
    let mut bad = input("web-profile");
    bad["instanceId"] = json!("i-../../etc");
    let (status, _) = ask(&server, &agent, bad).await;
    assert_eq!(status, 400);
    // Removing the role from the profile ends the deliveries.
    let (status, _) = ask(&server, &agent, input("web-profile")).await;
    assert_eq!(status, 200);
    server
        .root()
        .remove_role_from_instance_profile()
        .instance_profile_name("web-profile")
        .role_name("web")
        .send()
        .await
        .expect("remove role");
    let (status, answer) = ask(&server, &agent, input("web-profile")).await;
    assert_eq!(status, 400, "{answer}");
    // Durations: within 60 s and the role's maximum.
    let mut short = input("lambda-only-profile");
    short["durationSeconds"] = json!(30);
    let (status, _) = ask(&server, &agent, short).await;
    assert_eq!(status, 403, "trust is checked before the duration");
}
