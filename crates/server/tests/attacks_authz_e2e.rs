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
    // The model's limits are checked before authorization, as AWS validates first.
    let (code, _) = sts_error(
        sts.assume_role()
            .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/Nothing"))
            .role_session_name("sess")
            .policy("x".repeat(2049))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationError");
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
    // The shouted ARN names no provider: deleting it succeeds (AWS's delete is idempotent)
    // and deletes nothing, which the digest below checks.
    iam.delete_open_id_connect_provider()
        .open_id_connect_provider_arn(shout(&oidc))
        .send()
        .await
        .expect("an ARN that names no provider deletes nothing");
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

/// Assumes `role` with the given STS client: the session's (key id, secret, token).
async fn assume(
    sts: &aws_sdk_sts::Client,
    role: &str,
    tags: &[(&str, &str)],
    transitive: &[&str],
    source_identity: Option<&str>,
) -> Result<(String, String, String), (String, String)> {
    let mut request = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/{role}"))
        .role_session_name("chain");
    for (k, v) in tags {
        request = request.tags(
            aws_sdk_sts::types::Tag::builder()
                .key(*k)
                .value(*v)
                .build()
                .unwrap(),
        );
    }
    for k in transitive {
        request = request.transitive_tag_keys(*k);
    }
    if let Some(s) = source_identity {
        request = request.source_identity(s);
    }
    match request.send().await {
        Ok(out) => {
            let c = out.credentials().unwrap();
            Ok((
                c.access_key_id().to_owned(),
                c.secret_access_key().to_owned(),
                c.session_token().to_owned(),
            ))
        }
        Err(e) => Err(sts_error::<(), _>(Err(e))),
    }
}

const CHAIN_POLICY: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"],"Resource":"*"}}"#;

fn trust_role(role: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:role/{role}"}},"Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"]}}}}"#
    )
}

/// Hole 1: a role chain cannot set a transitive tag again, nor change its source identity.
#[tokio::test]
async fn a_role_chain_keeps_its_transitive_tags_and_source_identity() {
    let server = TestServer::start().await;
    let (key, secret) = user(&server, "alice", CHAIN_POLICY).await;
    role(&server, "/", "first", &trust_user("alice")).await;
    role(&server, "/", "second", &trust_role("first")).await;
    server
        .root()
        .put_role_policy()
        .role_name("first")
        .policy_name("chain")
        .policy_document(CHAIN_POLICY)
        .send()
        .await
        .unwrap();
    let sts = server.sts(&key, &secret, None);
    let (k, s, t) = assume(
        &sts,
        "first",
        &[("Project", "blue")],
        &["Project"],
        Some("alice"),
    )
    .await
    .unwrap();
    let first = server.sts(&k, &s, Some(&t));
    let before = digest(&server).await;
    // The transitive tag cannot be set again, in any case.
    for key in ["Project", "PROJECT"] {
        let (code, _) = assume(&first, "second", &[(key, "red")], &[], None)
            .await
            .unwrap_err();
        assert_eq!(code, "InvalidParameterValue", "{key}");
    }
    // The source identity cannot be changed...
    let (code, _) = assume(&first, "second", &[], &[], Some("mallory"))
        .await
        .unwrap_err();
    assert_eq!(code, "InvalidParameterValue");
    assert_eq!(digest(&server).await, before);
    // ...but passing it again as it is, or not at all, is fine; and it carries on.
    let (k, s, t) = assume(&first, "second", &[("Other", "x")], &[], Some("alice"))
        .await
        .unwrap();
    let chained = server.iam_session(&k, &s, &t);
    let _ = chained;
    assume(&first, "second", &[], &[], None).await.unwrap();
}

/// Hole 3: what each kind of temporary credentials may call at all.
#[tokio::test]
async fn session_credentials_are_limited_by_their_kind() {
    let server = TestServer::start().await;
    let everything =
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;
    let (key, secret) = user(&server, "sam", everything).await;
    role(&server, "/", "target", &trust_user("sam")).await;
    let sts = server.sts(&key, &secret, None);
    let before = digest(&server).await;

    // GetSessionToken without MFA: no IAM at all; in STS only AssumeRole and GetCallerIdentity.
    let token = sts.get_session_token().send().await.unwrap();
    let c = token.credentials().unwrap();
    let (k, s, t) = (
        c.access_key_id().to_owned(),
        c.secret_access_key().to_owned(),
        c.session_token().to_owned(),
    );
    let iam = server.iam_session(&k, &s, &t);
    let (code, status) = error_code(iam.list_users().send().await);
    assert_eq!((code.as_str(), status), ("InvalidClientTokenId", 403));
    let (code, _) = error_code(iam.create_user().user_name("x").send().await);
    assert_eq!(code, "InvalidClientTokenId");
    let session_sts = server.sts(&k, &s, Some(&t));
    session_sts.get_caller_identity().send().await.unwrap();
    let (code, _) = sts_error(
        session_sts
            .get_access_key_info()
            .access_key_id(&key)
            .send()
            .await,
    );
    assert_eq!(code, "AccessDenied");
    let (code, _) = sts_error(
        session_sts
            .decode_authorization_message()
            .encoded_message("abcd")
            .send()
            .await,
    );
    assert_eq!(code, "AccessDenied");
    assume(&session_sts, "target", &[], &[], None)
        .await
        .unwrap();

    // A federation token: GetCallerIdentity only.
    let fed = sts
        .get_federation_token()
        .name("fed")
        .policy(everything)
        .send()
        .await
        .unwrap();
    let c = fed.credentials().unwrap();
    let (k, s, t) = (
        c.access_key_id().to_owned(),
        c.secret_access_key().to_owned(),
        c.session_token().to_owned(),
    );
    let iam = server.iam_session(&k, &s, &t);
    let (code, status) = error_code(iam.list_users().send().await);
    assert_eq!((code.as_str(), status), ("InvalidClientTokenId", 403));
    let fed_sts = server.sts(&k, &s, Some(&t));
    fed_sts.get_caller_identity().send().await.unwrap();
    let (code, _) = assume(&fed_sts, "target", &[], &[], None)
        .await
        .unwrap_err();
    assert_eq!(code, "AccessDenied");
    let (code, _) = sts_error(
        fed_sts
            .get_access_key_info()
            .access_key_id(&key)
            .send()
            .await,
    );
    assert_eq!(code, "AccessDenied");
    assert_eq!(digest(&server).await, before);
}

/// Hole 3: a federation token belongs to the user who made it, not to its name.
#[tokio::test]
async fn a_federation_token_is_bound_to_its_user_not_its_name() {
    let server = TestServer::start().await;
    let policy = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:GetFederationToken","Resource":"*"}}"#;
    let (key, secret) = user(&server, "fred", policy).await;
    let fed = server
        .sts(&key, &secret, None)
        .get_federation_token()
        .name("fed")
        .send()
        .await
        .unwrap();
    let c = fed.credentials().unwrap();
    let fed_sts = server.sts(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token()),
    );
    fed_sts.get_caller_identity().send().await.unwrap();
    let root = server.root();
    root.delete_access_key()
        .user_name("fred")
        .access_key_id(&key)
        .send()
        .await
        .unwrap();
    root.delete_user_policy()
        .user_name("fred")
        .policy_name("inline")
        .send()
        .await
        .unwrap();
    root.delete_user().user_name("fred").send().await.unwrap();
    root.create_user().user_name("fred").send().await.unwrap();
    let (code, _) = sts_error(fed_sts.get_caller_identity().send().await);
    assert_eq!(code, "InvalidClientTokenId");
}

/// Runs curl with `--aws-sigv4` (a real client of its own signer) against the server.
async fn curl_sigv4(
    server: &TestServer,
    scope: &str,
    key: &str,
    secret: &str,
    body: &str,
) -> String {
    let (endpoint, scope, user, body) = (
        server.endpoint(),
        format!("aws:amz:{scope}"),
        format!("{key}:{secret}"),
        body.to_owned(),
    );
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new("curl")
            .args(["-sS", "--aws-sigv4", &scope, "--user", &user, "-d", &body])
            .arg(format!("{endpoint}/"))
            .output()
            .expect("curl runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
    .await
    .unwrap()
}

fn iam_in(server: &TestServer, key: &str, secret: &str, region: &str) -> aws_sdk_iam::Client {
    let config = aws_sdk_iam::Config::builder()
        .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
        .endpoint_url(server.endpoint())
        .region(aws_sdk_iam::config::Region::new(region.to_owned()))
        .credentials_provider(aws_credential_types::Credentials::new(
            key, secret, None, None, "test",
        ))
        .build();
    aws_sdk_iam::Client::from_conf(config)
}

/// Hole 4: a signature is good only for the service and a region it was scoped to.
#[tokio::test]
async fn the_signature_scope_names_the_service_and_a_served_region() {
    let server = TestServer::start_configured(|c| {
        c.regions = vec!["us-east-1".into(), "eu-west-1".into()];
    })
    .await;
    let list_users = "Action=ListUsers&Version=2010-05-08";
    let ok = curl_sigv4(&server, "us-east-1:iam", ROOT_KEY, ROOT_SECRET, list_users).await;
    assert!(ok.contains("<ListUsersResponse"), "{ok}");
    let wrong_service =
        curl_sigv4(&server, "us-east-1:s3", ROOT_KEY, ROOT_SECRET, list_users).await;
    assert!(
        wrong_service.contains("<Code>SignatureDoesNotMatch</Code>"),
        "{wrong_service}"
    );
    assert!(
        wrong_service.contains("Credential should be scoped to correct service: &apos;iam&apos;")
            || wrong_service.contains("Credential should be scoped to correct service: 'iam'"),
        "{wrong_service}"
    );
    let create = "Action=CreateUser&Version=2010-05-08&UserName=mallory";
    let refused = curl_sigv4(&server, "us-east-1:s3", ROOT_KEY, ROOT_SECRET, create).await;
    assert!(refused.contains("SignatureDoesNotMatch"), "{refused}");
    // STS wants sts, IAM wants iam.
    let identity = "Action=GetCallerIdentity&Version=2011-06-15";
    let as_iam = curl_sigv4(&server, "us-east-1:iam", ROOT_KEY, ROOT_SECRET, identity).await;
    assert!(as_iam.contains("SignatureDoesNotMatch"), "{as_iam}");
    let as_sts = curl_sigv4(&server, "us-east-1:sts", ROOT_KEY, ROOT_SECRET, identity).await;
    assert!(as_sts.contains("<GetCallerIdentityResponse"), "{as_sts}");
    // A region the deployment does not serve.
    let (code, status) = error_code(
        iam_in(&server, ROOT_KEY, ROOT_SECRET, "ap-south-1")
            .list_users()
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("SignatureDoesNotMatch", 403));
    let root = server.root();
    assert!(root.list_users().send().await.unwrap().users().is_empty());

    // aws:RequestedRegion is the scope's region.
    let (key, secret) = user(
        &server,
        "regional",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegion":"eu-west-1"}}}}"#,
    )
    .await;
    iam_in(&server, &key, &secret, "eu-west-1")
        .list_users()
        .send()
        .await
        .unwrap();
    let (code, _) = error_code(
        iam_in(&server, &key, &secret, "us-east-1")
            .list_users()
            .send()
            .await,
    );
    assert_eq!(code, "AccessDenied");
}

/// Hole 5: checks that were missing.
#[tokio::test]
async fn access_key_info_pass_role_and_root_key_last_used_are_authorized() {
    let server = TestServer::start().await;
    let (key, secret) = user(
        &server,
        "nosy",
        &format!(
            r#"{{"Version":"2012-10-17","Statement":[
                {{"Effect":"Allow","Action":["iam:GetAccessKeyLastUsed","iam:AddRoleToInstanceProfile","iam:GetInstanceProfile"],"Resource":["arn:aws:iam::{ACCOUNT}:user/nosy","arn:aws:iam::{ACCOUNT}:instance-profile/*"]}}]}}"#
        ),
    )
    .await;
    let root = server.root();
    root.create_instance_profile()
        .instance_profile_name("web")
        .send()
        .await
        .unwrap();
    root.create_role()
        .role_name("admin")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}"#,
        )
        .send()
        .await
        .unwrap();
    let before = digest(&server).await;
    let (code, _) = sts_error(
        server
            .sts(&key, &secret, None)
            .get_access_key_info()
            .access_key_id(ROOT_KEY)
            .send()
            .await,
    );
    assert_eq!(code, "AccessDenied");
    let iam = server.iam(&key, &secret);
    let (code, _) = error_code(
        iam.add_role_to_instance_profile()
            .instance_profile_name("web")
            .role_name("admin")
            .send()
            .await,
    );
    assert_eq!(code, "AccessDenied");
    let (code, _) = error_code(
        iam.get_access_key_last_used()
            .access_key_id(ROOT_KEY)
            .send()
            .await,
    );
    assert_eq!(code, "AccessDenied");
    // Its own key it may ask about.
    iam.get_access_key_last_used()
        .access_key_id(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(digest(&server).await, before);
    // With iam:PassRole on the role, the role goes in.
    root.put_user_policy()
        .user_name("nosy")
        .policy_name("pass")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["iam:PassRole","sts:GetAccessKeyInfo"],"Resource":"*"}}"#,
        )
        .send()
        .await
        .unwrap();
    iam.add_role_to_instance_profile()
        .instance_profile_name("web")
        .role_name("admin")
        .send()
        .await
        .unwrap();
    let info = server
        .sts(&key, &secret, None)
        .get_access_key_info()
        .access_key_id(ROOT_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(info.account(), Some(ACCOUNT));
}
