//! Attacks on authentication and authorization (issue 7, holes 0-6 and 9), each tried as an
//! attacker would through the AWS SDK or raw signed HTTP: each must be refused with AWS's
//! error and change nothing.

mod common;

use common::{ACCOUNT, ROOT_KEY, ROOT_SECRET, TestServer, error_code};

const METADATA: &str = include_str!("fixtures/saml-metadata.xml");

/// What the account holds, as root reads it, to prove a refused call changed nothing.
async fn digest(server: &TestServer) -> String {
    let root = server.root();
    let details = root
        .get_account_authorization_details()
        .send()
        .await
        .unwrap();
    let oidc = root.list_open_id_connect_providers().send().await.unwrap();
    let saml = root.list_saml_providers().send().await.unwrap();
    let mfa = root.list_virtual_mfa_devices().send().await.unwrap();
    let mut tags = Vec::new();
    for p in oidc.open_id_connect_provider_list() {
        let arn = p.arn().unwrap_or_default();
        tags.push(format!(
            "{:?}",
            root.list_open_id_connect_provider_tags()
                .open_id_connect_provider_arn(arn)
                .send()
                .await
                .unwrap()
                .tags()
        ));
    }
    format!(
        "{:?}{:?}{:?}{:?}{:?}{:?}{:?}{tags:?}",
        details.user_detail_list(),
        details.group_detail_list(),
        details.role_detail_list(),
        details.policies(),
        oidc.open_id_connect_provider_list(),
        saml.saml_provider_list(),
        mfa.virtual_mfa_devices()
    )
}

fn trust_user(user: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/{user}"}},"Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"]}}}}"#
    )
}

/// A user with long-term keys and an inline policy; returns (key id, secret).
async fn user(server: &TestServer, name: &str, policy: &str) -> (String, String) {
    server.user_keys(name, Some(policy)).await
}

async fn role(server: &TestServer, path: &str, name: &str, trust: &str) {
    server
        .root()
        .create_role()
        .path(path)
        .role_name(name)
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
}

fn sts_error<T: std::fmt::Debug, E: aws_sdk_sts::error::ProvideErrorMetadata + std::fmt::Debug>(
    r: Result<T, E>,
) -> (String, String) {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => (
            e.code().unwrap_or("(none)").to_owned(),
            e.message().unwrap_or_default().to_owned(),
        ),
    }
}

/// Hole 0: the role is the one the ARN names exactly, and it is authorized on that ARN.
#[tokio::test]
async fn assume_role_resolves_the_exact_role_arn() {
    let server = TestServer::start().await;
    // dev may assume roles under /dev/ only.
    let (key, secret) = user(
        &server,
        "dev",
        &format!(
            r#"{{"Version":"2012-10-17","Statement":[
                {{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::{ACCOUNT}:role/dev/*"}}]}}"#
        ),
    )
    .await;
    role(&server, "/", "Admin", &trust_user("dev")).await;
    role(&server, "/dev/", "Tool", &trust_user("dev")).await;
    let sts = server.sts(&key, &secret, None);
    let before = digest(&server).await;
    for arn in [
        format!("arn:aws:iam::{ACCOUNT}:role/dev/Admin"),
        format!("arn:aws:iam::{ACCOUNT}:role/dev/x/Admin"),
        format!("arn:aws:iam::{ACCOUNT}:role/dev/ADMIN"),
    ] {
        let (code, message) = sts_error(
            sts.assume_role()
                .role_arn(&arn)
                .role_session_name("sess")
                .send()
                .await,
        );
        assert_eq!(code, "AccessDenied", "{arn}");
        assert!(
            message.ends_with(&format!("on resource: {arn}")),
            "{message}"
        );
    }
    // The role under /dev/ is still reachable by its own ARN, and only by it.
    sts.assume_role()
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/dev/Tool"))
        .role_session_name("sess")
        .send()
        .await
        .unwrap();
    let (code, _) = sts_error(
        sts.assume_role()
            .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/dev/TOOL"))
            .role_session_name("sess")
            .send()
            .await,
    );
    assert_eq!(code, "AccessDenied");

    // A Deny on role/Admin is not stepped around with another case or another path.
    let (key, secret) = user(
        &server,
        "ops",
        &format!(
            r#"{{"Version":"2012-10-17","Statement":[
                {{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}},
                {{"Effect":"Deny","Action":"sts:AssumeRole","Resource":"arn:aws:iam::{ACCOUNT}:role/Admin"}}]}}"#
        ),
    )
    .await;
    server
        .root()
        .update_assume_role_policy()
        .role_name("Admin")
        .policy_document(trust_user("ops"))
        .send()
        .await
        .unwrap();
    let before_ops = digest(&server).await;
    let sts = server.sts(&key, &secret, None);
    for arn in [
        format!("arn:aws:iam::{ACCOUNT}:role/ADMIN"),
        format!("arn:aws:iam::{ACCOUNT}:role/x/Admin"),
        format!("arn:aws:iam::{ACCOUNT}:role/Admin"),
    ] {
        let (code, _) = sts_error(
            sts.assume_role()
                .role_arn(&arn)
                .role_session_name("sess")
                .send()
                .await,
        );
        assert_eq!(code, "AccessDenied", "{arn}");
    }
    assert_eq!(digest(&server).await, before_ops);
    assert_ne!(before, before_ops);
}

/// Hole 9: a missing role and a role that does not trust the caller answer alike.
#[tokio::test]
async fn assume_role_does_not_reveal_which_roles_exist() {
    let server = TestServer::start().await;
    let (key, secret) = user(
        &server,
        "probe",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}}"#,
    )
    .await;
    server
        .root()
        .create_user()
        .user_name("someone-else")
        .send()
        .await
        .unwrap();
    role(&server, "/", "Other", &trust_user("someone-else")).await;
    let sts = server.sts(&key, &secret, None);
    let ask = |name: &'static str| {
        let sts = sts.clone();
        async move {
            sts_error(
                sts.assume_role()
                    .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/{name}"))
                    .role_session_name("sess")
                    .send()
                    .await,
            )
        }
    };
    let (existing_code, existing) = ask("Other").await;
    let (missing_code, missing) = ask("Nothing").await;
    assert_eq!(existing_code, "AccessDenied");
    assert_eq!(missing_code, "AccessDenied");
    assert_eq!(existing.replace("Other", "Nothing"), missing);
    assert_eq!(
        missing,
        format!(
            "User: arn:aws:iam::{ACCOUNT}:user/probe is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::{ACCOUNT}:role/Nothing"
        )
    );
    // Another account, held or not, answers the same way.
    let (code, message) = sts_error(
        sts.assume_role()
            .role_arn("arn:aws:iam::999988887777:role/Other")
            .role_session_name("sess")
            .send()
            .await,
    );
    assert_eq!(code, "AccessDenied");
    assert!(!message.contains("Encoded"), "{message}");
}

fn unsigned_jwt(iss: &str) -> String {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    format!(
        "{}.{}.{}",
        b64(r#"{"alg":"RS256","typ":"JWT","kid":"k"}"#),
        b64(&format!(
            r#"{{"iss":"{iss}","sub":"x","aud":"app","exp":4102444800}}"#
        )),
        b64("not a signature")
    )
}

/// Hole 9: AssumeRoleWithWebIdentity answers alike for an account this deployment does not
/// hold and one that holds no provider for the issuer.
#[tokio::test]
async fn web_identity_does_not_reveal_which_accounts_exist() {
    let server = TestServer::start().await;
    let sts = server.sts(ROOT_KEY, ROOT_SECRET, None);
    let token = unsigned_jwt("https://idp.example.com");
    let mut answers = Vec::new();
    for account in [ACCOUNT, "999988887777"] {
        answers.push(sts_error(
            sts.assume_role_with_web_identity()
                .role_arn(format!("arn:aws:iam::{account}:role/web"))
                .role_session_name("sess")
                .web_identity_token(&token)
                .send()
                .await,
        ));
    }
    assert_eq!(answers[0].0, "InvalidIdentityToken");
    assert_eq!(answers[0], answers[1]);
}

/// Hole 2: identity providers and MFA devices are found by their exact ARN, so a Deny on
/// that ARN cannot be stepped around by changing its case.
#[tokio::test]
async fn providers_and_mfa_devices_are_named_by_their_exact_arn() {
    let server = TestServer::start().await;
    let root = server.root();
    let oidc = root
        .create_open_id_connect_provider()
        .url("https://token.example.com")
        .thumbprint_list("0123456789012345678901234567890123456789")
        .send()
        .await
        .unwrap()
        .open_id_connect_provider_arn()
        .unwrap()
        .to_owned();
    let saml = root
        .create_saml_provider()
        .name("Corp")
        .saml_metadata_document(METADATA)
        .send()
        .await
        .unwrap()
        .saml_provider_arn()
        .unwrap()
        .to_owned();
    let mfa = root
        .create_virtual_mfa_device()
        .virtual_mfa_device_name("Dev")
        .send()
        .await
        .unwrap()
        .virtual_mfa_device()
        .unwrap()
        .serial_number()
        .to_owned();
    let iam = {
        let (key, secret) = user(
            &server,
            "admin",
            &format!(
                r#"{{"Version":"2012-10-17","Statement":[
                    {{"Effect":"Allow","Action":"iam:*","Resource":"*"}},
                    {{"Effect":"Deny","Action":"iam:*","Resource":["{oidc}","{saml}","{mfa}"]}}]}}"#
            ),
        )
        .await;
        server.iam(&key, &secret)
    };
    let before = digest(&server).await;
    let shout = |arn: &str| {
        let (head, name) = arn.rsplit_once('/').unwrap();
        format!("{head}/{}", name.to_uppercase())
    };
    let (code, status) = error_code(
        iam.delete_open_id_connect_provider()
            .open_id_connect_provider_arn(shout(&oidc))
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("NoSuchEntity", 404));
    let (code, _) = error_code(
        iam.get_open_id_connect_provider()
            .open_id_connect_provider_arn(shout(&oidc))
            .send()
            .await,
    );
    assert_eq!(code, "NoSuchEntity");
    let (code, _) = error_code(
        iam.tag_open_id_connect_provider()
            .open_id_connect_provider_arn(shout(&oidc))
            .tags(
                aws_sdk_iam::types::Tag::builder()
                    .key("k")
                    .value("v")
                    .build()
                    .unwrap(),
            )
            .send()
            .await,
    );
    assert_eq!(code, "NoSuchEntity");
    let (code, _) = error_code(
        iam.delete_saml_provider()
            .saml_provider_arn(shout(&saml))
            .send()
            .await,
    );
    assert_eq!(code, "NoSuchEntity");
    let (code, _) = error_code(
        iam.update_saml_provider()
            .saml_provider_arn(shout(&saml))
            .saml_metadata_document(METADATA)
            .send()
            .await,
    );
    assert_eq!(code, "NoSuchEntity");
    let (code, _) = error_code(
        iam.delete_virtual_mfa_device()
            .serial_number(shout(&mfa))
            .send()
            .await,
    );
    assert_eq!(code, "NoSuchEntity");
    let (code, _) = error_code(
        iam.tag_mfa_device()
            .serial_number(shout(&mfa))
            .tags(
                aws_sdk_iam::types::Tag::builder()
                    .key("k")
                    .value("v")
                    .build()
                    .unwrap(),
            )
            .send()
            .await,
    );
    assert_eq!(code, "NoSuchEntity");
    // By their own ARNs they are denied.
    for result in [
        error_code(
            iam.delete_open_id_connect_provider()
                .open_id_connect_provider_arn(&oidc)
                .send()
                .await,
        ),
        error_code(
            iam.delete_saml_provider()
                .saml_provider_arn(&saml)
                .send()
                .await,
        ),
        error_code(
            iam.delete_virtual_mfa_device()
                .serial_number(&mfa)
                .send()
                .await,
        ),
    ] {
        assert_eq!(result, ("AccessDenied".to_owned(), 403));
    }
    assert_eq!(digest(&server).await, before);
    // Root still reaches each by its ARN.
    root.get_open_id_connect_provider()
        .open_id_connect_provider_arn(&oidc)
        .send()
        .await
        .unwrap();
    root.get_saml_provider()
        .saml_provider_arn(&saml)
        .send()
        .await
        .unwrap();
}
