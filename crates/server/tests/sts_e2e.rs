//! STS end to end: temporary credentials from the real server, used with the AWS SDK.

mod common;

use aws_sdk_sts::types::Credentials as StsCredentials;
use common::{ACCOUNT, ROOT_KEY, ROOT_SECRET, TestServer};

const READ_ONLY_IAM: &str = "arn:aws:iam::aws:policy/IAMReadOnlyAccess";

fn trust(principal: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":"sts:AssumeRole"}}}}"#
    )
}

/// A user with long-term keys and the given inline policy; returns (key id, secret).
async fn user(server: &TestServer, name: &str, policy: Option<&str>) -> (String, String) {
    let iam = server.root();
    iam.create_user().user_name(name).send().await.unwrap();
    if let Some(doc) = policy {
        iam.put_user_policy()
            .user_name(name)
            .policy_name("p")
            .policy_document(doc)
            .send()
            .await
            .unwrap();
    }
    let key = iam
        .create_access_key()
        .user_name(name)
        .send()
        .await
        .unwrap();
    let key = key.access_key().unwrap();
    (
        key.access_key_id().to_owned(),
        key.secret_access_key().to_owned(),
    )
}

async fn role(server: &TestServer, name: &str, trust_policy: &str, managed: Option<&str>) {
    let iam = server.root();
    iam.create_role()
        .role_name(name)
        .assume_role_policy_document(trust_policy)
        .max_session_duration(7200)
        .send()
        .await
        .unwrap();
    if let Some(arn) = managed {
        iam.attach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
            .unwrap();
    }
}

fn role_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

/// A user's long-term keys assume `role` (in the test account) as `session`: the session's
/// (key id, secret, token).
async fn assume(
    server: &TestServer,
    key: &str,
    secret: &str,
    role: &str,
    session: &str,
) -> (String, String, String) {
    let assumed = server
        .sts(key, secret, None)
        .assume_role()
        .role_arn(role_arn(role))
        .role_session_name(session)
        .send()
        .await
        .unwrap();
    creds(assumed.credentials().unwrap())
}

fn creds(c: &StsCredentials) -> (String, String, String) {
    (
        c.access_key_id().to_owned(),
        c.secret_access_key().to_owned(),
        c.session_token().to_owned(),
    )
}

fn code<T: std::fmt::Debug, E: aws_sdk_sts::error::ProvideErrorMetadata + std::fmt::Debug>(
    r: Result<T, E>,
) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.code().unwrap_or("(none)").to_owned(),
    }
}

#[tokio::test]
async fn caller_identity_for_root_and_user() {
    let server = TestServer::start().await;
    let me = server
        .sts(ROOT_KEY, ROOT_SECRET, None)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(me.account(), Some(ACCOUNT));
    assert_eq!(
        me.arn(),
        Some(format!("arn:aws:iam::{ACCOUNT}:root").as_str())
    );
    assert_eq!(me.user_id(), Some(ACCOUNT));

    // No policy at all: GetCallerIdentity is still allowed.
    let (key, secret) = user(&server, "nobody", None).await;
    let me = server
        .sts(&key, &secret, None)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.arn(),
        Some(format!("arn:aws:iam::{ACCOUNT}:user/nobody").as_str())
    );
    assert!(me.user_id().unwrap().starts_with("AIDA"));
}

#[tokio::test]
async fn a_user_assumes_a_role_and_acts_with_its_permissions() {
    let server = TestServer::start().await;
    let (key, secret) = user(
        &server,
        "alice",
        Some(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}}"#),
    )
    .await;
    // The trust policy names the account: alice's own policy must allow too (it does).
    role(&server, "reader", &trust(ACCOUNT), Some(READ_ONLY_IAM)).await;

    let sts = server.sts(&key, &secret, None);
    let assumed = sts
        .assume_role()
        .role_arn(role_arn("reader"))
        .role_session_name("alice-session")
        .send()
        .await
        .unwrap();
    let c = assumed.credentials().unwrap();
    assert!(c.access_key_id().starts_with("ASIA"));
    assert!(!c.session_token().is_empty());
    let user = assumed.assumed_role_user().unwrap();
    assert_eq!(
        user.arn(),
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/reader/alice-session")
    );
    assert!(user.assumed_role_id().starts_with("AROA"));
    assert!(user.assumed_role_id().ends_with(":alice-session"));

    let (k, s, t) = creds(c);
    let me = server
        .sts(&k, &s, Some(&t))
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(me.arn(), Some(user.arn()));
    assert_eq!(me.user_id(), Some(user.assumed_role_id()));

    // The role's permissions, not alice's.
    let as_role = server.iam_session(&k, &s, &t);
    as_role.list_users().send().await.unwrap();
    let err = as_role
        .create_user()
        .user_name("x")
        .send()
        .await
        .unwrap_err();
    let message = aws_sdk_iam::error::ProvideErrorMetadata::message(&err)
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        aws_sdk_iam::error::ProvideErrorMetadata::code(&err),
        Some("AccessDenied")
    );
    assert!(
        message.starts_with(&format!(
            "User: arn:aws:sts::{ACCOUNT}:assumed-role/reader/alice-session is not authorized"
        )),
        "{message}"
    );
}

#[tokio::test]
async fn the_trust_policy_must_allow_the_caller() {
    let server = TestServer::start().await;
    let allow_assume = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}}"#;
    let (bob_key, bob_secret) = user(&server, "bob", Some(allow_assume)).await;
    let (carol_key, carol_secret) = user(&server, "carol", None).await;
    // Trusts carol by name only.
    role(
        &server,
        "carols",
        &trust(&format!("arn:aws:iam::{ACCOUNT}:user/carol")),
        None,
    )
    .await;

    // bob's policy allows sts:AssumeRole, but the trust policy does not name him.
    let bob = server.sts(&bob_key, &bob_secret, None);
    assert_eq!(
        code(
            bob.assume_role()
                .role_arn(role_arn("carols"))
                .role_session_name("s1")
                .send()
                .await
        ),
        "AccessDenied"
    );
    // carol has no identity policy, but a trust policy naming her directly suffices.
    let carol = server.sts(&carol_key, &carol_secret, None);
    carol
        .assume_role()
        .role_arn(role_arn("carols"))
        .role_session_name("s2")
        .send()
        .await
        .unwrap();
    // A role that does not exist is just as denied (no existence leak).
    assert_eq!(
        code(
            carol
                .assume_role()
                .role_arn(role_arn("nope"))
                .role_session_name("s3")
                .send()
                .await
        ),
        "AccessDenied"
    );
    // Root may not assume roles.
    let root = server.sts(ROOT_KEY, ROOT_SECRET, None);
    assert_eq!(
        code(
            root.assume_role()
                .role_arn(role_arn("carols"))
                .role_session_name("s4")
                .send()
                .await
        ),
        "AccessDenied"
    );
}

#[tokio::test]
async fn external_id_session_name_and_session_policy() {
    let server = TestServer::start().await;
    let (key, secret) = user(&server, "dan", None).await;
    let trust_with_external_id = format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/dan"}},"Action":"sts:AssumeRole","Condition":{{"StringEquals":{{"sts:ExternalId":"ext-12345"}}}}}}}}"#
    );
    role(
        &server,
        "vendor",
        &trust_with_external_id,
        Some("arn:aws:iam::aws:policy/IAMFullAccess"),
    )
    .await;
    let sts = server.sts(&key, &secret, None);
    let wrong = sts
        .assume_role()
        .role_arn(role_arn("vendor"))
        .role_session_name("sess")
        .external_id("wrong-id")
        .send()
        .await;
    assert_eq!(code(wrong), "AccessDenied");
    assert_eq!(
        code(
            sts.assume_role()
                .role_arn(role_arn("vendor"))
                .role_session_name("sess")
                .send()
                .await
        ),
        "AccessDenied"
    );
    assert_eq!(
        code(
            sts.assume_role()
                .role_arn(role_arn("vendor"))
                .role_session_name("bad name")
                .external_id("ext-12345")
                .send()
                .await
        ),
        "ValidationError"
    );

    // A session policy narrows the session to what both allow.
    let narrowed = sts
        .assume_role()
        .role_arn(role_arn("vendor"))
        .role_session_name("narrow")
        .external_id("ext-12345")
        .policy(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:List*","Resource":"*"}}"#)
        .send()
        .await
        .unwrap();
    assert!(narrowed.packed_policy_size().unwrap() > 0);
    let (k, s, t) = creds(narrowed.credentials().unwrap());
    let iam = server.iam_session(&k, &s, &t);
    iam.list_users().send().await.unwrap();
    let err = iam.create_user().user_name("y").send().await.unwrap_err();
    let message = aws_sdk_iam::error::ProvideErrorMetadata::message(&err)
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("because no session policy allows the iam:CreateUser action"),
        "{message}"
    );

    // A malformed session policy is refused.
    let bad = sts
        .assume_role()
        .role_arn(role_arn("vendor"))
        .role_session_name("bad")
        .external_id("ext-12345")
        .policy(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"iam:*","Resource":"*"}}"#)
        .send()
        .await;
    assert_eq!(code(bad), "MalformedPolicyDocument");
}

#[tokio::test]
async fn role_chaining_is_capped_at_one_hour() {
    let server = TestServer::start().await;
    let (key, secret) = user(&server, "erin", None).await;
    role(
        &server,
        "first",
        &trust(&format!("arn:aws:iam::{ACCOUNT}:user/erin")),
        None,
    )
    .await;
    let first_arn = role_arn("first");
    role(&server, "second", &trust(&first_arn), None).await;
    // The first role may assume the second.
    server
        .root()
        .put_role_policy()
        .role_name("first")
        .policy_name("chain")
        .policy_document(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}}"#)
        .send()
        .await
        .unwrap();
    let sts = server.sts(&key, &secret, None);
    // Two hours directly is fine (MaxSessionDuration 7200).
    let first = sts
        .assume_role()
        .role_arn(&first_arn)
        .role_session_name("one")
        .duration_seconds(7200)
        .send()
        .await
        .unwrap();
    let (k, s, t) = creds(first.credentials().unwrap());
    let chained = server.sts(&k, &s, Some(&t));
    assert_eq!(
        code(
            chained
                .assume_role()
                .role_arn(role_arn("second"))
                .role_session_name("two")
                .duration_seconds(7200)
                .send()
                .await
        ),
        "ValidationError"
    );
    let second = chained
        .assume_role()
        .role_arn(role_arn("second"))
        .role_session_name("two")
        .duration_seconds(3600)
        .send()
        .await
        .unwrap();
    assert!(
        second
            .assumed_role_user()
            .unwrap()
            .arn()
            .ends_with("assumed-role/second/two")
    );
}

#[tokio::test]
async fn tampered_tokens_and_deleted_roles_end_sessions() {
    let server = TestServer::start().await;
    let (key, secret) = user(&server, "fay", None).await;
    role(
        &server,
        "temp",
        &trust(&format!("arn:aws:iam::{ACCOUNT}:user/fay")),
        Some(READ_ONLY_IAM),
    )
    .await;
    let (k, s, t) = assume(&server, &key, &secret, "temp", "sess").await;
    let mut tampered = t.clone().into_bytes();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let err = server
        .iam_session(&k, &s, &tampered)
        .list_users()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_iam::error::ProvideErrorMetadata::code(&err),
        Some("InvalidClientTokenId")
    );
    // Another session's token with this key id: refused.
    let err = server
        .iam_session(&k, "wrong-secret", &t)
        .list_users()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_iam::error::ProvideErrorMetadata::code(&err),
        Some("SignatureDoesNotMatch")
    );

    let session = server.iam_session(&k, &s, &t);
    session.list_users().send().await.unwrap();
    let root = server.root();
    root.detach_role_policy()
        .role_name("temp")
        .policy_arn(READ_ONLY_IAM)
        .send()
        .await
        .unwrap();
    // The role's policies are read at each request: the detach takes effect at once.
    let err = session.list_users().send().await.unwrap_err();
    assert_eq!(
        aws_sdk_iam::error::ProvideErrorMetadata::code(&err),
        Some("AccessDenied")
    );
    root.delete_role().role_name("temp").send().await.unwrap();
    let err = session.list_users().send().await.unwrap_err();
    assert_eq!(
        aws_sdk_iam::error::ProvideErrorMetadata::code(&err),
        Some("InvalidClientTokenId")
    );
}

#[tokio::test]
async fn token_issue_time_revokes_older_sessions() {
    let server = TestServer::start().await;
    let (key, secret) = user(&server, "gil", None).await;
    role(
        &server,
        "revocable",
        &trust(&format!("arn:aws:iam::{ACCOUNT}:user/gil")),
        Some(READ_ONLY_IAM),
    )
    .await;
    let (k, s, t) = assume(&server, &key, &secret, "revocable", "sess").await;
    let session = server.iam_session(&k, &s, &t);
    session.list_users().send().await.unwrap();
    // What the console's "Revoke active sessions" writes: deny sessions issued before now.
    let cutoff = time::OffsetDateTime::now_utc() + time::Duration::seconds(5);
    let cutoff = cutoff
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    server
        .root()
        .put_role_policy()
        .role_name("revocable")
        .policy_name("AWSRevokeOlderSessions")
        .policy_document(format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Deny","Action":"*","Resource":"*","Condition":{{"DateLessThan":{{"aws:TokenIssueTime":"{cutoff}"}}}}}}}}"#
        ))
        .send()
        .await
        .unwrap();
    let err = session.list_users().send().await.unwrap_err();
    let message = aws_sdk_iam::error::ProvideErrorMetadata::message(&err)
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("explicit deny"), "{message}");
}

#[tokio::test]
async fn get_session_token_and_federation_token() {
    let server = TestServer::start().await;
    let (key, secret) = user(
        &server,
        "hal",
        Some(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["iam:Get*","iam:List*","sts:GetFederationToken"],"Resource":"*"}}"#),
    )
    .await;
    let sts = server.sts(&key, &secret, None);
    let session = sts
        .get_session_token()
        .duration_seconds(900)
        .send()
        .await
        .unwrap();
    let (k, s, t) = creds(session.credentials().unwrap());
    let me = server
        .sts(&k, &s, Some(&t))
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.arn(),
        Some(format!("arn:aws:iam::{ACCOUNT}:user/hal").as_str())
    );
    // Made without MFA, it may not call IAM at all (AWS's rule for GetSessionToken).
    let err = server
        .iam_session(&k, &s, &t)
        .get_user()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_iam::error::ProvideErrorMetadata::code(&err),
        Some("InvalidClientTokenId")
    );
    // Session credentials cannot make another session token.
    assert_eq!(
        code(
            server
                .sts(&k, &s, Some(&t))
                .get_session_token()
                .send()
                .await
        ),
        "AccessDenied"
    );
    assert_eq!(
        code(sts.get_session_token().duration_seconds(100).send().await),
        "ValidationError"
    );

    // A federated user calls no IAM action (AWS: only sts:GetCallerIdentity), whatever its
    // session policy allows.
    let fed = sts
        .get_federation_token()
        .name("contractor")
        .policy(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        fed.federated_user().unwrap().arn(),
        format!("arn:aws:sts::{ACCOUNT}:federated-user/contractor")
    );
    let (k, s, t) = creds(fed.credentials().unwrap());
    let iam = server.iam_session(&k, &s, &t);
    let err = iam.list_users().send().await.unwrap_err();
    assert_eq!(
        aws_sdk_iam::error::ProvideErrorMetadata::code(&err),
        Some("InvalidClientTokenId")
    );
    let me = server
        .sts(&k, &s, Some(&t))
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(me.user_id(), Some(format!("{ACCOUNT}:contractor").as_str()));
}

#[tokio::test]
async fn cross_account_assume_role_needs_both_sides() {
    const OTHER: &str = "444455556666";
    let server = TestServer::start().await;
    server
        .server
        .as_ref()
        .unwrap()
        .add_account(
            OTHER,
            Some((
                "AKIAOTHERROOT0000001".into(),
                "otherRootSecret000000000000000000000000".into(),
            )),
        )
        .unwrap();
    let other_root = server.iam(
        "AKIAOTHERROOT0000001",
        "otherRootSecret000000000000000000000000",
    );
    // Account B's role trusts account A (delegating to A's own policies).
    other_root
        .create_role()
        .role_name("shared")
        .assume_role_policy_document(trust(ACCOUNT))
        .send()
        .await
        .unwrap();
    other_root
        .attach_role_policy()
        .role_name("shared")
        .policy_arn(READ_ONLY_IAM)
        .send()
        .await
        .unwrap();
    other_root
        .create_user()
        .user_name("b-user")
        .send()
        .await
        .unwrap();
    let shared_arn = format!("arn:aws:iam::{OTHER}:role/shared");

    // In account A: one user allowed to assume B's role by its own policy, one not.
    let (allowed_key, allowed_secret) = user(
        &server,
        "ian",
        Some(&format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"{shared_arn}"}}}}"#
        )),
    )
    .await;
    let (plain_key, plain_secret) = user(&server, "jan", None).await;

    let denied = server
        .sts(&plain_key, &plain_secret, None)
        .assume_role()
        .role_arn(&shared_arn)
        .role_session_name("jan")
        .send()
        .await;
    assert_eq!(code(denied), "AccessDenied");

    let assumed = server
        .sts(&allowed_key, &allowed_secret, None)
        .assume_role()
        .role_arn(&shared_arn)
        .role_session_name("ian")
        .send()
        .await
        .unwrap();
    let (k, s, t) = creds(assumed.credentials().unwrap());
    let me = server
        .sts(&k, &s, Some(&t))
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(me.account(), Some(OTHER));
    assert_eq!(
        me.arn(),
        Some(format!("arn:aws:sts::{OTHER}:assumed-role/shared/ian").as_str())
    );
    // The session acts inside account B with the role's permissions.
    let users = server
        .iam_session(&k, &s, &t)
        .list_users()
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = users.users().iter().map(|u| u.user_name()).collect();
    assert_eq!(names, ["b-user"]);

    // A trust policy that does not name account A refuses it, whatever A's policies say.
    other_root
        .update_assume_role_policy()
        .role_name("shared")
        .policy_document(trust(OTHER))
        .send()
        .await
        .unwrap();
    let refused = server
        .sts(&allowed_key, &allowed_secret, None)
        .assume_role()
        .role_arn(&shared_arn)
        .role_session_name("ian2")
        .send()
        .await;
    assert_eq!(code(refused), "AccessDenied");
}

#[tokio::test]
async fn an_expired_session_is_refused() {
    use portcullis_iam::model::Secret;
    use portcullis_iam::seal::MasterKey;
    use portcullis_iam::session::{SessionClaims, SessionPrincipal};
    let server = TestServer::start().await;
    let (key, secret) = user(&server, "kay", None).await;
    role(
        &server,
        "brief",
        &trust(&format!("arn:aws:iam::{ACCOUNT}:user/kay")),
        Some(READ_ONLY_IAM),
    )
    .await;
    let assumed = server
        .sts(&key, &secret, None)
        .assume_role()
        .role_arn(role_arn("brief"))
        .role_session_name("sess")
        .send()
        .await
        .unwrap();
    let role_id = assumed
        .assumed_role_user()
        .unwrap()
        .assumed_role_id()
        .split(':')
        .next()
        .unwrap()
        .to_owned();
    // The same session as it will be after its hour has passed: made with the service's own
    // key (the test can read the data directory), so only the clock differs.
    let master = MasterKey::load_or_create(&server.dir.path().join("master.key")).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = SessionClaims {
        account_id: ACCOUNT.into(),
        access_key_id: "ASIAEXPIREDSESSION01".into(),
        secret_access_key: Secret::new("expiredSessionSecret00000000000000000000".into()),
        principal: SessionPrincipal::AssumedRole {
            role_name: "brief".into(),
            role_path: "/".into(),
            role_id,
            session_name: "sess".into(),
        },
        issued_at: now - 3_700,
        expires_at: now - 100,
        policies: vec![],
        policy_arns: vec![],
        tags: vec![],
        transitive_tag_keys: vec![],
        source_identity: None,
        mfa_authenticated_at: None,
        chained: false,
        context: Vec::new(),
    };
    let token = claims.seal(&master);
    let expired = server.iam_session(
        "ASIAEXPIREDSESSION01",
        "expiredSessionSecret00000000000000000000",
        &token,
    );
    let err = expired.list_users().send().await.unwrap_err();
    assert_eq!(
        aws_sdk_iam::error::ProvideErrorMetadata::code(&err),
        Some("ExpiredToken")
    );
    // The same claims, unexpired, work: the refusal was the clock's.
    let fresh = SessionClaims {
        expires_at: now + 600,
        ..claims
    };
    let token = fresh.seal(&master);
    server
        .iam_session(
            "ASIAEXPIREDSESSION01",
            "expiredSessionSecret00000000000000000000",
            &token,
        )
        .list_users()
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn session_tags_need_tag_session_and_become_principal_tags() {
    let server = TestServer::start().await;
    let (key, secret) = user(&server, "lee", None).await;
    let lee = format!("arn:aws:iam::{ACCOUNT}:user/lee");
    role(&server, "no-tags", &trust(&lee), None).await;
    let with_tags = format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"AWS":"{lee}"}},"Action":["sts:AssumeRole","sts:TagSession"]}}}}"#
    );
    role(&server, "tagged", &with_tags, None).await;
    // The role may list users only when the session carries team=blue.
    server
        .root()
        .put_role_policy()
        .role_name("tagged")
        .policy_name("abac")
        .policy_document(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"blue"}}}}"#)
        .send()
        .await
        .unwrap();
    let sts = server.sts(&key, &secret, None);
    let tag = |v: &str| {
        aws_sdk_sts::types::Tag::builder()
            .key("team")
            .value(v)
            .build()
            .unwrap()
    };
    assert_eq!(
        code(
            sts.assume_role()
                .role_arn(role_arn("no-tags"))
                .role_session_name("t1")
                .tags(tag("blue"))
                .send()
                .await
        ),
        "AccessDenied"
    );
    let blue = sts
        .assume_role()
        .role_arn(role_arn("tagged"))
        .role_session_name("t2")
        .tags(tag("blue"))
        .send()
        .await
        .unwrap();
    let (k, s, t) = creds(blue.credentials().unwrap());
    server
        .iam_session(&k, &s, &t)
        .list_users()
        .send()
        .await
        .unwrap();
    let red = sts
        .assume_role()
        .role_arn(role_arn("tagged"))
        .role_session_name("t3")
        .tags(tag("red"))
        .send()
        .await
        .unwrap();
    let (k, s, t) = creds(red.credentials().unwrap());
    let err = server
        .iam_session(&k, &s, &t)
        .list_users()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_iam::error::ProvideErrorMetadata::code(&err),
        Some("AccessDenied")
    );
}

/// A virtual MFA device enabled for `user`; returns its serial and a code generator for the
/// time step `offset` steps from now.
async fn mfa_device(server: &TestServer, user: &str) -> (String, impl Fn(i64) -> String) {
    use totp_rs::{Algorithm, Secret as TotpSecret, TOTP};
    let root = server.root();
    let created = root
        .create_virtual_mfa_device()
        .virtual_mfa_device_name(format!("{user}-phone"))
        .send()
        .await
        .unwrap();
    let device = created.virtual_mfa_device().unwrap();
    let seed = String::from_utf8(device.base32_string_seed().unwrap().as_ref().to_vec()).unwrap();
    let serial = device.serial_number().to_owned();
    let bytes = TotpSecret::Encoded(seed).to_bytes().unwrap();
    let totp = TOTP::new(Algorithm::SHA1, 6, 0, 30, bytes).unwrap();
    let code = move |offset: i64| {
        let step = time::OffsetDateTime::now_utc().unix_timestamp() / 30 + offset;
        totp.generate(step as u64 * 30)
    };
    // Enabled with the codes of the previous and the current step; a sign-in then uses the
    // next step's code (within the one-step drift the service allows).
    root.enable_mfa_device()
        .user_name(user)
        .serial_number(&serial)
        .authentication_code1(code(-1))
        .authentication_code2(code(0))
        .send()
        .await
        .unwrap();
    (serial, code)
}

#[tokio::test]
async fn mfa_protected_actions_need_a_session_made_with_a_code() {
    let server = TestServer::start().await;
    // The classic policy: everything is allowed, but only with MFA.
    let (key, secret) = user(
        &server,
        "mia",
        Some(
            r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"iam:*","Resource":"*"},
            {"Sid":"DenyAllExceptListedIfNoMFA","Effect":"Deny","NotAction":["iam:ListMFADevices","sts:GetSessionToken"],"Resource":"*",
             "Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}"#,
        ),
    )
    .await;
    let (serial, code) = mfa_device(&server, "mia").await;

    // Long-term keys: the key is absent, BoolIfExists is true, the Deny applies.
    let long_term = server.iam(&key, &secret);
    let err = long_term.list_users().send().await.unwrap_err();
    let message = aws_sdk_iam::error::ProvideErrorMetadata::message(&err)
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("explicit deny"), "{message}");

    let sts = server.sts(&key, &secret, None);
    // A session without a code may not call IAM at all.
    let plain = sts.get_session_token().send().await.unwrap();
    let (k, s, t) = creds(plain.credentials().unwrap());
    let err = server
        .iam_session(&k, &s, &t)
        .list_users()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_iam::error::ProvideErrorMetadata::code(&err),
        Some("InvalidClientTokenId")
    );

    // A wrong code is refused.
    let wrong = sts
        .get_session_token()
        .serial_number(&serial)
        .token_code(if code(0) == "000000" {
            "111111"
        } else {
            "000000"
        })
        .send()
        .await;
    assert_eq!(code_of(wrong), "AccessDenied");

    // With a valid code: allowed.
    let with_mfa = sts
        .get_session_token()
        .serial_number(&serial)
        .token_code(code(1))
        .send()
        .await
        .unwrap();
    let (k, s, t) = creds(with_mfa.credentials().unwrap());
    server
        .iam_session(&k, &s, &t)
        .list_users()
        .send()
        .await
        .unwrap();

    // The same code again is a replay: refused.
    let replay = sts
        .get_session_token()
        .serial_number(&serial)
        .token_code(code(0))
        .send()
        .await;
    assert_eq!(code_of(replay), "AccessDenied");
}

fn code_of<T: std::fmt::Debug, E: aws_sdk_sts::error::ProvideErrorMetadata + std::fmt::Debug>(
    r: Result<T, E>,
) -> String {
    code(r)
}

#[tokio::test]
async fn a_trust_policy_can_demand_mfa() {
    let server = TestServer::start().await;
    let (key, secret) = user(&server, "ned", None).await;
    let (serial, totp) = mfa_device(&server, "ned").await;
    let ned = format!("arn:aws:iam::{ACCOUNT}:user/ned");
    let trust_with_mfa = format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"AWS":"{ned}"}},"Action":"sts:AssumeRole","Condition":{{"Bool":{{"aws:MultiFactorAuthPresent":"true"}}}}}}}}"#
    );
    role(&server, "guarded", &trust_with_mfa, Some(READ_ONLY_IAM)).await;
    let sts = server.sts(&key, &secret, None);
    assert_eq!(
        code(
            sts.assume_role()
                .role_arn(role_arn("guarded"))
                .role_session_name("nomfa")
                .send()
                .await
        ),
        "AccessDenied"
    );
    let assumed = sts
        .assume_role()
        .role_arn(role_arn("guarded"))
        .role_session_name("withmfa")
        .serial_number(&serial)
        .token_code(totp(1))
        .send()
        .await
        .unwrap();
    let (k, s, t) = creds(assumed.credentials().unwrap());
    server
        .iam_session(&k, &s, &t)
        .list_users()
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_trust_policy_must_name_principals_that_exist() {
    let server = TestServer::start().await;
    let root = server.root();
    let ghost = trust(&format!("arn:aws:iam::{ACCOUNT}:user/ghost"));
    let err = root
        .create_role()
        .role_name("haunted")
        .assume_role_policy_document(&ghost)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_iam::error::ProvideErrorMetadata::code(&err),
        Some("MalformedPolicyDocument")
    );
    let message = aws_sdk_iam::error::ProvideErrorMetadata::message(&err)
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.starts_with("Invalid principal in policy"),
        "{message}"
    );
    let (code, _) = common::error_code(root.get_role().role_name("haunted").send().await);
    assert_eq!(code, "NoSuchEntity");

    // Existing principals are fine; a role naming a role that does not exist is refused on update.
    root.create_user().user_name("real").send().await.unwrap();
    role(
        &server,
        "ok",
        &trust(&format!("arn:aws:iam::{ACCOUNT}:user/real")),
        None,
    )
    .await;
    let err = root
        .update_assume_role_policy()
        .role_name("ok")
        .policy_document(trust(&role_arn("missing")))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_iam::error::ProvideErrorMetadata::code(&err),
        Some("MalformedPolicyDocument")
    );
    // An account principal, or a principal in an account this deployment does not hold, is kept.
    role(
        &server,
        "external",
        &trust("arn:aws:iam::999988887777:user/someone"),
        None,
    )
    .await;
}

#[tokio::test]
async fn managed_session_policies_and_source_identity() {
    let server = TestServer::start().await;
    let (key, secret) = user(&server, "ola", None).await;
    let ola = format!("arn:aws:iam::{ACCOUNT}:user/ola");
    let trust_all = format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"AWS":"{ola}"}},"Action":["sts:AssumeRole","sts:SetSourceIdentity"]}}}}"#
    );
    role(
        &server,
        "wide",
        &trust_all,
        Some("arn:aws:iam::aws:policy/IAMFullAccess"),
    )
    .await;
    role(
        &server,
        "no-source",
        &trust(&ola),
        Some("arn:aws:iam::aws:policy/IAMFullAccess"),
    )
    .await;
    let sts = server.sts(&key, &secret, None);

    // A managed policy as the session policy: the session gets IAMReadOnlyAccess ∩ IAMFullAccess.
    let read_only = aws_sdk_sts::types::PolicyDescriptorType::builder()
        .arn(READ_ONLY_IAM)
        .build();
    let narrowed = sts
        .assume_role()
        .role_arn(role_arn("wide"))
        .role_session_name("narrow")
        .policy_arns(read_only.clone())
        .source_identity("ola-laptop")
        .send()
        .await
        .unwrap();
    assert_eq!(narrowed.source_identity(), Some("ola-laptop"));
    let (k, s, t) = creds(narrowed.credentials().unwrap());
    let iam = server.iam_session(&k, &s, &t);
    iam.list_roles().send().await.unwrap();
    let err = iam
        .create_user()
        .user_name("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_iam::error::ProvideErrorMetadata::code(&err),
        Some("AccessDenied")
    );

    // A managed session policy that does not exist is refused.
    let missing = aws_sdk_sts::types::PolicyDescriptorType::builder()
        .arn(format!("arn:aws:iam::{ACCOUNT}:policy/missing"))
        .build();
    assert_eq!(
        code(
            sts.assume_role()
                .role_arn(role_arn("wide"))
                .role_session_name("missing")
                .policy_arns(missing)
                .send()
                .await
        ),
        "NoSuchEntity"
    );
    // Setting a source identity needs sts:SetSourceIdentity in the trust policy.
    assert_eq!(
        code(
            sts.assume_role()
                .role_arn(role_arn("no-source"))
                .role_session_name("src")
                .source_identity("ola-laptop")
                .send()
                .await
        ),
        "AccessDenied"
    );
    // Without a source identity the same role is fine.
    sts.assume_role()
        .role_arn(role_arn("no-source"))
        .role_session_name("plain")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn access_key_info_names_the_account() {
    let server = TestServer::start().await;
    let (key, secret) = user(
        &server,
        "pat",
        Some(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:GetAccessKeyInfo","Resource":"*"}}"#),
    )
    .await;
    let sts = server.sts(&key, &secret, None);
    let info = sts
        .get_access_key_info()
        .access_key_id(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(info.account(), Some(ACCOUNT));
    let root_key = sts
        .get_access_key_info()
        .access_key_id(ROOT_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(root_key.account(), Some(ACCOUNT));
    // Key ids encode their account as AWS's do: a key this service never issued (or one since
    // deleted) still names its account, and the ids issued here decode to this account.
    for (other, account) in [
        ("ASIAY34FZKBOKMUTVV7A", "609629065308"),
        (key.as_str(), ACCOUNT),
    ] {
        assert_eq!(
            portcullis_iam::ids::account_of_access_key_id(other).as_deref(),
            Some(account)
        );
        let info = sts
            .get_access_key_info()
            .access_key_id(other)
            .send()
            .await
            .unwrap();
        assert_eq!(info.account(), Some(account));
    }
    let session = sts.get_session_token().send().await.unwrap();
    let temporary = session.credentials().unwrap().access_key_id();
    assert!(temporary.starts_with("ASIA"));
    assert_eq!(
        portcullis_iam::ids::account_of_access_key_id(temporary).as_deref(),
        Some(ACCOUNT)
    );
    assert_eq!(
        code(
            sts.get_access_key_info()
                .access_key_id("AKIANOTOURS000000000")
                .send()
                .await
        ),
        "InvalidParameterValue"
    );
    assert_eq!(
        code(
            sts.get_access_key_info()
                .access_key_id("bad key!")
                .send()
                .await
        ),
        "ValidationError"
    );
    // Root may federate (as AWS allows); a session's credentials may not.
    let root = server.sts(ROOT_KEY, ROOT_SECRET, None);
    root.get_federation_token()
        .name("root-fed")
        .send()
        .await
        .unwrap();
    let session = sts.get_session_token().send().await.unwrap();
    let c = session.credentials().unwrap();
    let from_session = server.sts(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token()),
    );
    assert_eq!(
        code(from_session.get_federation_token().name("x").send().await),
        "AccessDenied"
    );
}
