//! The IAM API end to end: the real server on 127.0.0.1, driven by the official AWS SDK.

mod common;

use common::{ACCOUNT, TestServer, error_code};

const ALLOW_ALL_IAM: &str =
    r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*","Resource":"*"}}"#;

#[tokio::test]
async fn users_create_get_list_update_delete() {
    let server = TestServer::start().await;
    let iam = server.root();

    let created = iam
        .create_user()
        .user_name("alice")
        .path("/engineering/")
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("team")
                .value("core")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let user = created.user().unwrap();
    assert_eq!(user.user_name(), "alice");
    assert_eq!(
        user.arn(),
        format!("arn:aws:iam::{ACCOUNT}:user/engineering/alice")
    );
    assert!(user.user_id().starts_with("AIDA"));

    let got = iam.get_user().user_name("ALICE").send().await.unwrap();
    assert_eq!(got.user().unwrap().user_name(), "alice");
    assert_eq!(got.user().unwrap().tags().len(), 1);

    // Names are unique without regard to case.
    let (code, status) = error_code(iam.create_user().user_name("Alice").send().await);
    assert_eq!((code.as_str(), status), ("EntityAlreadyExists", 409));

    iam.update_user()
        .user_name("alice")
        .new_user_name("alice2")
        .new_path("/ops/")
        .send()
        .await
        .unwrap();
    let list = iam.list_users().send().await.unwrap();
    let names: Vec<&str> = list.users().iter().map(|u| u.user_name()).collect();
    assert_eq!(names, ["alice2"]);
    assert_eq!(list.users()[0].path(), "/ops/");
    let list = iam
        .list_users()
        .path_prefix("/engineering/")
        .send()
        .await
        .unwrap();
    assert!(list.users().is_empty());

    iam.delete_user().user_name("alice2").send().await.unwrap();
    let (code, status) = error_code(iam.get_user().user_name("alice2").send().await);
    assert_eq!((code.as_str(), status), ("NoSuchEntity", 404));
}

#[tokio::test]
async fn invalid_names_are_refused_and_change_nothing() {
    let server = TestServer::start().await;
    let iam = server.root();
    for bad in ["has space", "", &"x".repeat(65), "semi;colon"] {
        let (code, status) = error_code(iam.create_user().user_name(bad).send().await);
        assert_eq!(
            (code.as_str(), status),
            ("ValidationError", 400),
            "name {bad:?}"
        );
    }
    let (code, _) = error_code(
        iam.create_user()
            .user_name("ok")
            .path("no-slashes")
            .send()
            .await,
    );
    assert_eq!(code, "ValidationError");
    assert!(iam.list_users().send().await.unwrap().users().is_empty());
}

#[tokio::test]
async fn the_user_quota_is_enforced() {
    let server = TestServer::start_with(portcullis_server::Limits {
        max_users: 3,
        ..portcullis_server::Limits::default()
    })
    .await;
    let iam = server.root();
    for i in 0..3 {
        iam.create_user()
            .user_name(format!("u{i}"))
            .send()
            .await
            .unwrap();
    }
    let (code, status) = error_code(iam.create_user().user_name("u3").send().await);
    assert_eq!((code.as_str(), status), ("LimitExceeded", 409));
    assert_eq!(iam.list_users().send().await.unwrap().users().len(), 3);
}

#[tokio::test]
async fn list_users_paginates_with_marker_and_max_items() {
    let server = TestServer::start().await;
    let iam = server.root();
    for i in 0..7 {
        iam.create_user()
            .user_name(format!("user{i}"))
            .send()
            .await
            .unwrap();
    }
    let first = iam.list_users().max_items(3).send().await.unwrap();
    assert_eq!(first.users().len(), 3);
    assert!(first.is_truncated());
    let marker = first.marker().unwrap().to_owned();
    let second = iam
        .list_users()
        .max_items(3)
        .marker(marker)
        .send()
        .await
        .unwrap();
    assert_eq!(second.users()[0].user_name(), "user3");
    // The SDK's paginator walks every page.
    let all: Vec<String> = iam
        .list_users()
        .max_items(2)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.user_name().to_owned())
        .collect();
    assert_eq!(all.len(), 7);
}

#[tokio::test]
async fn groups_membership_and_delete_conflicts() {
    let server = TestServer::start().await;
    let iam = server.root();
    iam.create_group().group_name("devs").send().await.unwrap();
    iam.create_user().user_name("bob").send().await.unwrap();
    iam.add_user_to_group()
        .group_name("devs")
        .user_name("bob")
        .send()
        .await
        .unwrap();

    let group = iam.get_group().group_name("devs").send().await.unwrap();
    assert_eq!(group.users().len(), 1);
    let groups = iam
        .list_groups_for_user()
        .user_name("bob")
        .send()
        .await
        .unwrap();
    assert_eq!(groups.groups()[0].group_name(), "devs");

    let (code, status) = error_code(iam.delete_group().group_name("devs").send().await);
    assert_eq!((code.as_str(), status), ("DeleteConflict", 409));
    let (code, _) = error_code(iam.delete_user().user_name("bob").send().await);
    assert_eq!(code, "DeleteConflict");

    iam.remove_user_from_group()
        .group_name("devs")
        .user_name("bob")
        .send()
        .await
        .unwrap();
    iam.delete_group().group_name("devs").send().await.unwrap();
    iam.delete_user().user_name("bob").send().await.unwrap();
}

#[tokio::test]
async fn managed_policies_versions_and_attachments() {
    let server = TestServer::start().await;
    let iam = server.root();
    let created = iam
        .create_policy()
        .policy_name("read-s3")
        .policy_document(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}}"#)
        .send()
        .await
        .unwrap();
    let arn = created.policy().unwrap().arn().unwrap().to_owned();
    assert_eq!(arn, format!("arn:aws:iam::{ACCOUNT}:policy/read-s3"));

    for _ in 0..4 {
        iam.create_policy_version()
            .policy_arn(&arn)
            .policy_document(ALLOW_ALL_IAM)
            .send()
            .await
            .unwrap();
    }
    let (code, status) = error_code(
        iam.create_policy_version()
            .policy_arn(&arn)
            .policy_document(ALLOW_ALL_IAM)
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("LimitExceeded", 409));
    let (code, _) = error_code(
        iam.delete_policy_version()
            .policy_arn(&arn)
            .version_id("v1")
            .send()
            .await,
    );
    assert_eq!(code, "DeleteConflict");
    iam.set_default_policy_version()
        .policy_arn(&arn)
        .version_id("v3")
        .send()
        .await
        .unwrap();
    let version = iam
        .get_policy_version()
        .policy_arn(&arn)
        .version_id("v3")
        .send()
        .await
        .unwrap();
    let version = version.policy_version().unwrap();
    assert!(version.is_default_version());
    // AWS returns the document URL-encoded.
    assert!(version.document().unwrap().contains("%22iam%3A%2A%22"));

    iam.create_user().user_name("carol").send().await.unwrap();
    iam.attach_user_policy()
        .user_name("carol")
        .policy_arn(&arn)
        .send()
        .await
        .unwrap();
    let attached = iam
        .list_attached_user_policies()
        .user_name("carol")
        .send()
        .await
        .unwrap();
    assert_eq!(
        attached.attached_policies()[0].policy_arn(),
        Some(arn.as_str())
    );
    let entities = iam
        .list_entities_for_policy()
        .policy_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(entities.policy_users()[0].user_name(), Some("carol"));
    let (code, _) = error_code(iam.delete_policy().policy_arn(&arn).send().await);
    assert_eq!(code, "DeleteConflict");

    // Every AWS managed policy is listed (paged, 100 at a time) and attachable.
    let aws: Vec<aws_sdk_iam::types::Policy> = iam
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Aws)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<_, _>>()
        .await
        .unwrap();
    assert!(aws.len() > 1400, "{}", aws.len());
    let names: Vec<&str> = aws.iter().filter_map(|p| p.policy_name()).collect();
    let lambda = aws
        .iter()
        .find(|p| p.policy_name() == Some("AWSLambdaBasicExecutionRole"))
        .expect("a service-role policy");
    assert_eq!(lambda.path(), Some("/service-role/"));
    assert_eq!(
        lambda.arn(),
        Some("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    );
    for expected in [
        "AmazonS3ReadOnlyAccess",
        "AdministratorAccess",
        "PowerUserAccess",
        "ReadOnlyAccess",
        "IAMFullAccess",
        "IAMReadOnlyAccess",
        "IAMUserChangePassword",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    iam.attach_user_policy()
        .user_name("carol")
        .policy_arn("arn:aws:iam::aws:policy/IAMReadOnlyAccess")
        .send()
        .await
        .unwrap();
    let only_attached = iam
        .list_policies()
        .only_attached(true)
        .send()
        .await
        .unwrap();
    assert_eq!(only_attached.policies().len(), 2);
}

#[tokio::test]
async fn malformed_policy_documents_are_refused_and_change_nothing() {
    let server = TestServer::start().await;
    let iam = server.root();
    for (doc, expected) in [
        ("not json", "Syntax errors in policy"),
        (
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}}"#,
            "Policy document should not specify a principal",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3","Resource":"*"}}"#,
            "prefaced by a vendor",
        ),
    ] {
        let result = iam
            .create_policy()
            .policy_name("bad")
            .policy_document(doc)
            .send()
            .await;
        let err = result.expect_err("malformed");
        let message = aws_sdk_iam::error::ProvideErrorMetadata::message(&err)
            .unwrap_or_default()
            .to_owned();
        assert_eq!(
            aws_sdk_iam::error::ProvideErrorMetadata::code(&err),
            Some("MalformedPolicyDocument")
        );
        assert!(message.contains(expected), "{message}");
    }
    let big = format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"s3:*","Resource":["{}"]}}}}"#,
        "arn:aws:s3:::b/x".repeat(400)
    );
    let (code, _) = error_code(
        iam.create_policy()
            .policy_name("big")
            .policy_document(big)
            .send()
            .await,
    );
    assert_eq!(code, "LimitExceeded");
    let local = iam
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Local)
        .send()
        .await
        .unwrap();
    assert!(local.policies().is_empty());
}

#[tokio::test]
async fn access_keys_limits_status_and_deletion() {
    let server = TestServer::start().await;
    let iam = server.root();
    iam.create_user().user_name("dave").send().await.unwrap();
    let k1 = iam
        .create_access_key()
        .user_name("dave")
        .send()
        .await
        .unwrap();
    let k1 = k1.access_key().unwrap().clone();
    assert!(k1.access_key_id().starts_with("AKIA"));
    assert_eq!(k1.secret_access_key().len(), 40);
    iam.create_access_key()
        .user_name("dave")
        .send()
        .await
        .unwrap();
    let (code, _) = error_code(iam.create_access_key().user_name("dave").send().await);
    assert_eq!(code, "LimitExceeded");

    iam.put_user_policy()
        .user_name("dave")
        .policy_name("self")
        .policy_document(ALLOW_ALL_IAM)
        .send()
        .await
        .unwrap();
    let dave = server.iam(k1.access_key_id(), k1.secret_access_key());
    dave.get_user().send().await.unwrap();

    iam.update_access_key()
        .user_name("dave")
        .access_key_id(k1.access_key_id())
        .status(aws_sdk_iam::types::StatusType::Inactive)
        .send()
        .await
        .unwrap();
    let (code, status) = error_code(dave.get_user().send().await);
    assert_eq!((code.as_str(), status), ("InvalidClientTokenId", 403));

    let keys = iam
        .list_access_keys()
        .user_name("dave")
        .send()
        .await
        .unwrap();
    assert_eq!(keys.access_key_metadata().len(), 2);
    iam.delete_access_key()
        .user_name("dave")
        .access_key_id(k1.access_key_id())
        .send()
        .await
        .unwrap();
    let (code, _) = error_code(dave.get_user().send().await);
    assert_eq!(code, "InvalidClientTokenId");
}

#[tokio::test]
async fn a_user_is_allowed_and_denied_by_its_own_and_its_groups_policies() {
    let server = TestServer::start().await;
    let root = server.root();
    let erin = server
        .user_with_policy(
            "erin",
            Some(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["iam:GetUser","iam:ListUsers"],"Resource":"*"}}"#),
        )
        .await;
    erin.get_user().send().await.unwrap();
    erin.list_users().send().await.unwrap();
    let err = erin
        .create_user()
        .user_name("frank")
        .send()
        .await
        .expect_err("denied");
    assert_eq!(
        aws_sdk_iam::error::ProvideErrorMetadata::code(&err),
        Some("AccessDenied")
    );
    let message = aws_sdk_iam::error::ProvideErrorMetadata::message(&err)
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.starts_with(&format!(
            "User: arn:aws:iam::{ACCOUNT}:user/erin is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::{ACCOUNT}:user/frank because no identity-based policy allows the iam:CreateUser action. Encoded authorization failure message: "
        )),
        "{message}"
    );
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(403));

    // Joining a group that allows it grants it.
    root.create_group()
        .group_name("admins")
        .send()
        .await
        .unwrap();
    root.attach_group_policy()
        .group_name("admins")
        .policy_arn("arn:aws:iam::aws:policy/IAMFullAccess")
        .send()
        .await
        .unwrap();
    root.add_user_to_group()
        .group_name("admins")
        .user_name("erin")
        .send()
        .await
        .unwrap();
    erin.create_user().user_name("frank").send().await.unwrap();

    // An explicit deny wins over the group's allow.
    root.put_user_policy()
        .user_name("erin")
        .policy_name("no-deletes")
        .policy_document(r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"iam:Delete*","Resource":"*"}}"#)
        .send()
        .await
        .unwrap();
    let err = erin
        .delete_user()
        .user_name("frank")
        .send()
        .await
        .expect_err("denied");
    let message = aws_sdk_iam::error::ProvideErrorMetadata::message(&err)
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("with an explicit deny in an identity-based policy. Encoded authorization failure message: "),
        "{message}"
    );
    root.get_user().user_name("frank").send().await.unwrap();
}

#[tokio::test]
async fn a_permissions_boundary_caps_a_user() {
    let server = TestServer::start().await;
    let root = server.root();
    let boundary = root
        .create_policy()
        .policy_name("read-only-boundary")
        .policy_document(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["iam:Get*","iam:List*"],"Resource":"*"}}"#)
        .send()
        .await
        .unwrap();
    let boundary_arn = boundary.policy().unwrap().arn().unwrap().to_owned();
    let gina = server.user_with_policy("gina", Some(ALLOW_ALL_IAM)).await;
    gina.create_user()
        .user_name("made-before-boundary")
        .send()
        .await
        .unwrap();
    root.put_user_permissions_boundary()
        .user_name("gina")
        .permissions_boundary(&boundary_arn)
        .send()
        .await
        .unwrap();
    gina.list_users().send().await.unwrap();
    let err = gina
        .create_user()
        .user_name("made-after")
        .send()
        .await
        .expect_err("capped");
    let message = aws_sdk_iam::error::ProvideErrorMetadata::message(&err)
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("because no permissions boundary allows the iam:CreateUser action"),
        "{message}"
    );
    let user = root.get_user().user_name("gina").send().await.unwrap();
    assert_eq!(
        user.user()
            .unwrap()
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn()),
        Some(boundary_arn.as_str())
    );
    root.delete_user_permissions_boundary()
        .user_name("gina")
        .send()
        .await
        .unwrap();
    gina.create_user()
        .user_name("made-after")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn tag_based_conditions_are_enforced() {
    let server = TestServer::start().await;
    let root = server.root();
    // May manage users tagged team=blue only, and may only tag them team=blue.
    let hank = server
        .user_with_policy(
            "hank",
            Some(
                r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":["iam:GetUser","iam:UpdateUser"],"Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"blue"}}},
                {"Effect":"Allow","Action":"iam:CreateUser","Resource":"*","Condition":{"StringEquals":{"aws:RequestTag/team":"blue"},"ForAllValues:StringEquals":{"aws:TagKeys":["team"]}}}]}"#,
            ),
        )
        .await;
    let tag = |v: &str| {
        aws_sdk_iam::types::Tag::builder()
            .key("team")
            .value(v)
            .build()
            .unwrap()
    };
    root.create_user()
        .user_name("blue1")
        .tags(tag("blue"))
        .send()
        .await
        .unwrap();
    root.create_user()
        .user_name("red1")
        .tags(tag("red"))
        .send()
        .await
        .unwrap();
    hank.get_user().user_name("blue1").send().await.unwrap();
    let (code, _) = error_code(hank.get_user().user_name("red1").send().await);
    assert_eq!(code, "AccessDenied");
    hank.create_user()
        .user_name("blue2")
        .tags(tag("blue"))
        .send()
        .await
        .unwrap();
    let (code, _) = error_code(
        hank.create_user()
            .user_name("red2")
            .tags(tag("red"))
            .send()
            .await,
    );
    assert_eq!(code, "AccessDenied");
    let (code, _) = error_code(hank.create_user().user_name("untagged").send().await);
    assert_eq!(code, "AccessDenied");
    let (code, _) = error_code(root.get_user().user_name("red2").send().await);
    assert_eq!(code, "NoSuchEntity");
}

#[tokio::test]
async fn state_survives_a_restart() {
    let mut server = TestServer::start().await;
    let root = server.root();
    root.create_user().user_name("ivy").send().await.unwrap();
    root.put_user_policy()
        .user_name("ivy")
        .policy_name("inline")
        .policy_document(ALLOW_ALL_IAM)
        .send()
        .await
        .unwrap();
    let key = root
        .create_access_key()
        .user_name("ivy")
        .send()
        .await
        .unwrap();
    let key = key.access_key().unwrap().clone();
    root.create_group().group_name("g").send().await.unwrap();
    root.add_user_to_group()
        .group_name("g")
        .user_name("ivy")
        .send()
        .await
        .unwrap();

    let ivy = server.iam(key.access_key_id(), key.secret_access_key());
    ivy.get_user().send().await.unwrap();
    let used = root
        .get_access_key_last_used()
        .access_key_id(key.access_key_id())
        .send()
        .await
        .unwrap();
    let used = used.access_key_last_used().unwrap();
    assert_eq!(used.service_name(), "iam");
    assert!(used.last_used_date().is_some());

    server.restart().await;

    let root = server.root();
    // Key use is written at shutdown, so it survives the restart.
    let used = root
        .get_access_key_last_used()
        .access_key_id(key.access_key_id())
        .send()
        .await
        .unwrap();
    assert_eq!(used.access_key_last_used().unwrap().service_name(), "iam");
    assert_eq!(used.user_name(), Some("ivy"));
    root.get_group().group_name("g").send().await.unwrap();
    let policy = root
        .get_user_policy()
        .user_name("ivy")
        .policy_name("inline")
        .send()
        .await
        .unwrap();
    assert!(policy.policy_document().contains("iam%3A%2A"));
    // The secret was sealed at rest and opened again: the key still signs, and the user's
    // policies still allow.
    let ivy = server.iam(key.access_key_id(), key.secret_access_key());
    let me = ivy.get_user().send().await.unwrap();
    assert_eq!(me.user().unwrap().user_name(), "ivy");
    ivy.create_user()
        .user_name("after-restart")
        .send()
        .await
        .unwrap();
    // The secret is not stored in the clear.
    let at_rest = common::bytes_at_rest(server.dir.path());
    let secret = key.secret_access_key().as_bytes();
    assert!(!at_rest.windows(secret.len()).any(|w| w == secret));
}

/// POSTs a raw form with extra header lines; returns the status and the whole response.
async fn raw_post(server: &TestServer, headers: &str, body: &str) -> (u16, String) {
    let addr = server.server.as_ref().unwrap().local_addr;
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n{headers}",
        body.len()
    );
    raw(server, head, body).await
}

#[tokio::test]
async fn bad_signatures_and_bad_requests_get_aws_errors() {
    let server = TestServer::start().await;
    let (status, body) = raw_post(&server, "", "Action=ListUsers&Version=2010-05-08").await;
    assert_eq!(status, 403);
    assert!(
        body.contains("<Code>MissingAuthenticationToken</Code>"),
        "{body}"
    );

    let wrong_secret = server.iam(common::ROOT_KEY, "not-the-secret");
    let (code, status) = error_code(wrong_secret.list_users().send().await);
    assert_eq!((code.as_str(), status), ("SignatureDoesNotMatch", 403));

    let unknown = server.iam("AKIAUNKNOWNKEY000000", "whatever");
    let (code, status) = error_code(unknown.list_users().send().await);
    assert_eq!((code.as_str(), status), ("InvalidClientTokenId", 403));

    let forged = "AWS4-HMAC-SHA256 Credential=AKIAROOTEXAMPLE00001/20260101/us-east-1/iam/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000000000000000000000000000000000000000000000000000000000000000";
    let (status, body) = raw_post(
        &server,
        &format!("Authorization: {forged}\r\nX-Amz-Date: 20260101T000000Z\r\n"),
        "Action=CreateUser&Version=2010-05-08&UserName=mallory",
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("RequestTimeTooSkewed") || body.contains("SignatureDoesNotMatch"),
        "{body}"
    );

    let huge = format!(
        "Action=ListUsers&Version=2010-05-08&Pad={}",
        "x".repeat(portcullis_server::MAX_BODY_BYTES)
    );
    let (status, body) = raw_post(&server, "", &huge).await;
    assert_eq!(status, 413);
    assert!(
        body.contains("<Code>RequestEntityTooLarge</Code>"),
        "{body}"
    );

    let root = server.root();
    let (code, _) = error_code(root.get_user().user_name("mallory").send().await);
    assert_eq!(code, "NoSuchEntity");
}

#[tokio::test]
async fn account_authorization_details_list_everything_with_its_policies() {
    use aws_sdk_iam::types::EntityType;
    let server = TestServer::start().await;
    let iam = server.root();
    iam.create_group().group_name("ops").send().await.unwrap();
    iam.put_group_policy()
        .group_name("ops")
        .policy_name("g-inline")
        .policy_document(ALLOW_ALL_IAM)
        .send()
        .await
        .unwrap();
    iam.create_user().user_name("jo").send().await.unwrap();
    iam.add_user_to_group()
        .group_name("ops")
        .user_name("jo")
        .send()
        .await
        .unwrap();
    iam.attach_user_policy()
        .user_name("jo")
        .policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
        .send()
        .await
        .unwrap();
    iam.create_policy()
        .policy_name("local")
        .policy_document(ALLOW_ALL_IAM)
        .send()
        .await
        .unwrap();

    let all = iam
        .get_account_authorization_details()
        .send()
        .await
        .unwrap();
    let user = &all.user_detail_list()[0];
    assert_eq!(user.user_name(), Some("jo"));
    assert_eq!(user.group_list(), ["ops"]);
    assert_eq!(
        user.attached_managed_policies()[0].policy_arn(),
        Some("arn:aws:iam::aws:policy/ReadOnlyAccess")
    );
    let group = &all.group_detail_list()[0];
    assert_eq!(group.group_policy_list()[0].policy_name(), Some("g-inline"));
    let policy_names: Vec<&str> = all
        .policies()
        .iter()
        .filter_map(|p| p.policy_name())
        .collect();
    // The local policy, and the AWS managed policy in use (not every AWS managed policy).
    assert_eq!(policy_names, ["local", "ReadOnlyAccess"]);
    assert_eq!(all.policies()[0].policy_version_list().len(), 1);

    let only_groups = iam
        .get_account_authorization_details()
        .filter(EntityType::Group)
        .send()
        .await
        .unwrap();
    assert!(only_groups.user_detail_list().is_empty());
    assert_eq!(only_groups.group_detail_list().len(), 1);
    assert!(only_groups.policies().is_empty());

    let page = iam
        .get_account_authorization_details()
        .max_items(1)
        .send()
        .await
        .unwrap();
    assert!(page.is_truncated());
    assert_eq!(page.user_detail_list().len(), 1);
    assert!(page.group_detail_list().is_empty());
}

/// Sends a raw HTTP request and returns the status and the whole response.
async fn raw(server: &TestServer, head: String, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = server.server.as_ref().unwrap().local_addr;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may answer (and close) before reading a large body: a write error is fine.
    let _ = stream
        .write_all(format!("{head}\r\n{body}").as_bytes())
        .await;
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes).await;
    let response = String::from_utf8_lossy(&bytes).into_owned();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response)
}

#[tokio::test]
async fn presigned_get_requests_and_clock_skew() {
    use portcullis_sigv4::{Request, SigningParams, presign, sign};
    let server = TestServer::start().await;
    server
        .root()
        .create_user()
        .user_name("kim")
        .send()
        .await
        .unwrap();
    let addr = server.server.as_ref().unwrap().local_addr.to_string();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();

    // A presigned GET with the parameters in the query string (the Query protocol's GET form).
    let query = "Action=GetUser&UserName=kim&Version=2010-05-08";
    let unsigned = Request::new("GET", "/", query).header("host", &addr);
    let params = SigningParams::new(
        common::ROOT_KEY,
        common::ROOT_SECRET,
        "us-east-1",
        "iam",
        now,
    );
    let signed_query = presign(&unsigned, &params, 300).unwrap();
    let (status, body) = raw(
        &server,
        format!("GET /?{signed_query} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n"),
        "",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<UserName>kim</UserName>"), "{body}");

    // Signed correctly, but 20 minutes ago.
    let form = "Action=CreateUser&Version=2010-05-08&UserName=late";
    let unsigned = Request::new("POST", "/", "")
        .header("host", &addr)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.as_bytes());
    let old = SigningParams::new(
        common::ROOT_KEY,
        common::ROOT_SECRET,
        "us-east-1",
        "iam",
        now - 1200,
    );
    let headers: String = sign(&unsigned, &old)
        .unwrap()
        .into_iter()
        .map(|(n, v)| format!("{n}: {v}\r\n"))
        .collect();
    let (status, body) = raw(
        &server,
        format!(
            "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n{headers}",
            form.len()
        ),
        form,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("<Code>SignatureDoesNotMatch</Code>"),
        "{body}"
    );
    assert!(body.contains("Signature expired: "), "{body}");
    let (code, _) = error_code(server.root().get_user().user_name("late").send().await);
    assert_eq!(code, "NoSuchEntity");
}

/// GetUser without a name, as the root user: AWS answers the root identity (the account id
/// as UserId, the root ARN, no name or path).
#[tokio::test]
async fn root_get_user_without_a_name_is_the_root_identity() {
    let server = TestServer::start().await;
    let me = server.root().get_user().send().await.expect("GetUser");
    let user = me.user().expect("user");
    assert_eq!(user.user_id(), ACCOUNT);
    assert_eq!(user.arn(), format!("arn:aws:iam::{ACCOUNT}:root"));
    assert!(user.user_name().is_empty() && user.path().is_empty());
    // A user without a name in the call is still itself.
    let alice = server.user_with_policy("alice", Some(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}}"#)).await;
    let me = alice.get_user().send().await.expect("GetUser");
    assert_eq!(me.user().map(|u| u.user_name()), Some("alice"));
}

/// Response shapes as AWS answers them, read with boto3 (which keeps absent and empty apart):
/// CreatePolicy without Description, GetPolicy with it and with `Tags: []`, ListUsers without
/// PermissionsBoundary or Tags (GetUser has them).
#[tokio::test(flavor = "multi_thread")]
async fn response_shapes_are_awss() {
    let server = TestServer::start().await;
    let script = r#"
import boto3, os
iam = boto3.client("iam", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                   aws_access_key_id=os.environ["KEY"], aws_secret_access_key=os.environ["SECRET"])
doc = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}'
made = iam.create_policy(PolicyName="p", PolicyDocument=doc, Description="reads")["Policy"]
got = iam.get_policy(PolicyArn=made["Arn"])["Policy"]
iam.create_user(UserName="bounded", PermissionsBoundary=made["Arn"], Tags=[{"Key": "k", "Value": "v"}])
listed = [u for u in iam.list_users()["Users"] if u["UserName"] == "bounded"][0]
user = iam.get_user(UserName="bounded")["User"]
print("Description" in made, got.get("Description"), got.get("Tags"),
      "PermissionsBoundary" in listed, "Tags" in listed,
      user["PermissionsBoundary"]["PermissionsBoundaryArn"] == made["Arn"], user["Tags"])
"#;
    let Some(out) = tokio::task::block_in_place(|| {
        common::boto3(
            script,
            &server.endpoint(),
            (common::ROOT_KEY, common::ROOT_SECRET),
            &[],
        )
    }) else {
        return;
    };
    assert_eq!(
        out.trim(),
        "False reads [] False False True [{'Key': 'k', 'Value': 'v'}]"
    );
}

/// A managed policy needs the policy language's current version (AWS refuses CreatePolicy and
/// CreatePolicyVersion without a Version or with 2008-10-17); inline policies take either.
#[tokio::test]
async fn managed_policies_need_version_2012_10_17() {
    let server = TestServer::start().await;
    let iam = server.root();
    let statement = r#""Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}"#;
    for doc in [
        format!("{{{statement}}}"),
        format!(r#"{{"Version":"2008-10-17",{statement}}}"#),
    ] {
        let r = iam
            .create_policy()
            .policy_name("old")
            .policy_document(&doc)
            .send()
            .await;
        let message = Some(common::error_message(&r));
        assert_eq!(error_code(r), ("MalformedPolicyDocument".to_owned(), 400));
        assert_eq!(
            message.as_deref(),
            Some("Policy document must be version 2012-10-17 or greater.")
        );
    }
    let made = iam
        .create_policy()
        .policy_name("current")
        .policy_document(format!(r#"{{"Version":"2012-10-17",{statement}}}"#))
        .send()
        .await
        .unwrap();
    let arn = made.policy().and_then(|p| p.arn()).unwrap().to_owned();
    let r = iam
        .create_policy_version()
        .policy_arn(&arn)
        .policy_document(format!("{{{statement}}}"))
        .send()
        .await;
    assert_eq!(error_code(r).0, "MalformedPolicyDocument");
    iam.create_user().user_name("u").send().await.unwrap();
    iam.put_user_policy()
        .user_name("u")
        .policy_name("inline")
        .policy_document(format!("{{{statement}}}"))
        .send()
        .await
        .expect("an inline policy may omit the Version");
}

/// A refused policy document gets AWS's MalformedPolicyDocument message, without our location
/// and detail (which `portcullis policy validate` shows).
#[tokio::test]
async fn malformed_policies_get_awss_messages() {
    let server = TestServer::start().await;
    let iam = server.root();
    iam.create_user().user_name("u").send().await.unwrap();
    for (doc, message) in [
        (
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject""#,
            "Syntax errors in policy.".to_owned(),
        ),
        (
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}}"#,
            "Policy document should not specify a principal.".to_owned(),
        ),
        (
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"a","Effect":"Allow","Action":"s3:GetObject","Resource":"*"},{"Sid":"a","Effect":"Allow","Action":"s3:PutObject","Resource":"*"}]}"#,
            "Statement IDs (SID) in a single policy must be unique.".to_owned(),
        ),
        (
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam:us-east-1:111122223333:user/u"}}"#,
            "IAM resource arn:aws:iam:us-east-1:111122223333:user/u cannot contain region information.".to_owned(),
        ),
    ] {
        let r = iam
            .put_user_policy()
            .user_name("u")
            .policy_name("p")
            .policy_document(doc)
            .send()
            .await;
        let got = Some(common::error_message(&r));
        assert_eq!(error_code(r).0, "MalformedPolicyDocument", "{doc}");
        assert_eq!(got, Some(message), "{doc}");
    }
}

/// CreatePolicy answers AWS's message for the check AWS makes first when a document has
/// several problems: JSON and shape ("Syntax errors in policy."), the Version of a managed
/// policy, what AWS's older parser refuses ("The policy failed legacy parsing": an effect in
/// another case, a condition value its operator cannot read, a five-segment ARN, an ARN
/// without a service), duplicate SIDs, missing actions, missing resources, the resources'
/// form, then the actions' form. Source: IAM's answers to CreatePolicy for such documents, as
/// the IAM user guide's policy grammar and the messages AWS returns show them (the order is
/// recorded in docs/policy-decisions.md, "Managed policy documents"). Nothing is created.
#[tokio::test]
async fn create_policy_answers_the_error_aws_checks_first() {
    let server = TestServer::start().await;
    let iam = server.root();
    let doc = |statement: &str| format!(r#"{{"Version":"2012-10-17","Statement":{statement}}}"#);
    let cases = [
        (r#"{"Statement":{"Effect":"Allow","Action":"ec2:StartInstances","Resource":"*"},"Extra":true}"#.to_owned(), "Policy document must be version 2012-10-17 or greater."),
        (r#"{"Version":"2008-10-17","Statement":[{"Sid":"x","Effect":"Allow"},{"Sid":"x","Effect":"Allow"}]}"#.to_owned(), "Policy document must be version 2012-10-17 or greater."),
        (r#"{"Version":"2012-10-18","Statement":{"Effect":"Allow","Action":"ec2:StartInstances","Resource":"*"}}"#.to_owned(), "Syntax errors in policy."),
        (doc(r#"{"Effect":"Permit","Action":"ec2:StartInstances","Resource":"*"}"#), "Syntax errors in policy."),
        (doc(r#"{"Effect":"Allow","Action":"ec2:StartInstances","Resource":"*","Owner":"me"}"#), "Syntax errors in policy."),
        (doc(r#"{"Effect":"Allow","Action":"ec2:StartInstances","NotAction":"ec2:StopInstances","Resource":"*"}"#), "Syntax errors in policy."),
        (doc(r#"{"Effect":"Allow","Action":{"ec2":"StartInstances"},"Resource":"*"}"#), "Syntax errors in policy."),
        (doc(r#"{"Effect":"Allow","Action":"ec2:StartInstances","Resource":"*","Condition":{"StringEquals":"ec2:Region"}}"#), "Syntax errors in policy."),
        (doc(r#"[]"#), "Syntax errors in policy."),
        (doc(r#"{"Effect":"DENY","Action":"ec2:StartInstances"}"#), "The policy failed legacy parsing"),
        (doc(r#"{"Effect":"Allow","Condition":{"DateGreaterThan":{"aws:CurrentTime":"next week"}}}"#), "The policy failed legacy parsing"),
        (doc(r#"{"Effect":"Allow","Action":"ec2:StartInstances","Resource":"*","Condition":{"NumericLessThan":{"ec2:Count":"a few"}}}"#), "The policy failed legacy parsing"),
        (doc(r#"{"Effect":"Allow","Action":"ec2:StartInstances","Resource":"arn:aws:ec2::instance/i-1"}"#), "The policy failed legacy parsing"),
        (doc(r#"{"Effect":"Allow","Action":"ec2:StartInstances","Resource":"arn:aws::us-east-1:111122223333:instance/i-1"}"#), "The policy failed legacy parsing"),
        (doc(r#"[{"Sid":"One","Effect":"Allow","Action":"ec2:StartInstances","Resource":"*"},{"Sid":"One","Effect":"Deny"}]"#), "Statement IDs (SID) in a single policy must be unique."),
        (doc(r#"[{"Effect":"Deny","Resource":"*"},{"Effect":"Allow","Action":"no-vendor"}]"#), "Policy statement must contain actions."),
        (doc(r#"{"Effect":"Allow","Action":"no-vendor"}"#), "Policy statement must contain resources."),
        (doc(r#"{"Effect":"Allow","Action":"ec2:Start:Instances","Resource":"instance-1"}"#), "Resource instance-1 must be in ARN format or \"*\"."),
        (doc(r#"{"Effect":"Allow","Action":"ec2:StartInstances","Resource":"instance:i-1"}"#), "Partition \"i-1\" is not valid for resource \"arn:i-1:*:*:*:*\"."),
        (doc(r#"{"Effect":"Allow","Action":["ec2:StartInstances","ec2:Start:Instances"],"Resource":"*"}"#), "Actions/Condition can contain only one colon."),
        (doc(r#"{"Effect":"Allow","Action":"e c2:StartInstances","Resource":"*"}"#), "Vendor e c2 is not valid"),
        (doc(r#"{"Effect":"Allow","NotAction":"","Resource":"*"}"#), "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
    ];
    for (document, message) in cases {
        let r = iam
            .create_policy()
            .policy_name("p")
            .policy_document(&document)
            .send()
            .await;
        let got = common::error_message(&r);
        assert_eq!(error_code(r).0, "MalformedPolicyDocument", "{document}");
        assert_eq!(got, message, "{document}");
    }
    let listed = iam
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Local)
        .send()
        .await
        .unwrap();
    assert!(listed.policies().is_empty(), "nothing was created");
}

/// Every violation of a request's model is listed in one ValidationError, as AWS's request
/// validation answers, and nothing is created.
#[tokio::test]
async fn every_violation_of_a_request_is_listed() {
    let server = TestServer::start().await;
    let iam = server.root();
    let r = iam
        .create_user()
        .user_name("bad name")
        .path("no-slashes")
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("k".repeat(129))
                .value("v")
                .build()
                .unwrap(),
        )
        .send()
        .await;
    let message = common::error_message(&r);
    assert_eq!(error_code(r), ("ValidationError".to_owned(), 400));
    // In the model's member order (Path, UserName, ..., Tags), the tags' last.
    assert!(
        message.starts_with("3 validation errors detected: Value 'no-slashes' at 'path'"),
        "{message}"
    );
    assert!(
        message.contains("; Value 'bad name' at 'userName'"),
        "{message}"
    );
    assert!(message.contains("at 'tags.1.member.key'"), "{message}");
    assert!(iam.list_users().send().await.unwrap().users().is_empty());
}

/// The account password policy's numbers are checked together: every one out of range is
/// listed, and no policy is set.
#[tokio::test]
async fn password_policy_violations_are_listed_together() {
    let server = TestServer::start().await;
    let iam = server.root();
    let r = iam
        .update_account_password_policy()
        .minimum_password_length(2)
        .max_password_age(0)
        .password_reuse_prevention(5)
        .send()
        .await;
    let message = common::error_message(&r);
    assert_eq!(error_code(r), ("ValidationError".to_owned(), 400));
    assert!(
        message.starts_with("2 validation errors detected: Value '2' at 'minimumPasswordLength'"),
        "{message}"
    );
    assert!(
        message.contains("; Value '0' at 'maxPasswordAge'"),
        "{message}"
    );
    let r = iam.get_account_password_policy().send().await;
    assert_eq!(error_code(r).0, "NoSuchEntity");
}

/// Walks botocore's IAM model with boto3 (client-side validation off): for every operation
/// served and every string member the model bounds, a value one character too long is
/// refused with a ValidationError that names the member, whatever else the request holds
/// (AWS validates a request against its model before it looks anything up).
#[tokio::test(flavor = "multi_thread")]
async fn every_bounded_string_member_is_validated_against_the_model() {
    let server = TestServer::start().await;
    let served: Vec<&str> = portcullis_server::served_actions()
        .into_iter()
        .filter(|(version, _)| *version == "2010-05-08")
        .map(|(_, action)| action)
        .collect();
    let served = served.join(",");
    let script = r#"
import os, boto3, botocore
from botocore.config import Config
from botocore.exceptions import ClientError
iam = boto3.client("iam", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                   aws_access_key_id=os.environ["KEY"], aws_secret_access_key=os.environ["SECRET"],
                   config=Config(parameter_validation=False, retries={"max_attempts": 0}))
served = set(os.environ["SERVED"].split(","))
model = iam.meta.service_model
def filler(shape):
    kind = shape.type_name
    if kind == "string":
        if shape.enum:
            return shape.enum[0]
        low = shape.metadata.get("min", 1)
        return "arn:aws:iam::111122223333:user/x" if low >= 20 else "a" * max(low, 1)
    if kind in ("integer", "long"):
        return shape.metadata.get("min", 1)
    if kind == "boolean":
        return True
    if kind == "list":
        return [filler(shape.member)]
    if kind == "structure":
        return {k: filler(v) for k, v in shape.members.items() if k in shape.required_members}
    return None
checked, misses = 0, []
for op in model.operation_names:
    if op not in served:
        continue
    shape = model.operation_model(op).input_shape
    if shape is None:
        continue
    for name, member in shape.members.items():
        top = member.metadata.get("max")
        if member.type_name != "string" or member.enum or top is None:
            continue
        params = {k: filler(v) for k, v in shape.members.items() if k in shape.required_members}
        params[name] = "a" * (top + 1)
        checked += 1
        try:
            getattr(iam, botocore.xform_name(op))(**params)
            misses.append(f"{op}.{name}: accepted")
        except ClientError as e:
            err = e.response["Error"]
            at = "at '" + name[0].lower() + name[1:] + "'"
            if err["Code"] != "ValidationError" or at not in err["Message"]:
                misses.append(f"{op}.{name}: {err['Code']}: {err['Message'][:100]}")
print(checked)
for m in misses:
    print(m)
"#;
    let endpoint = server.endpoint();
    let out = tokio::task::block_in_place(|| {
        common::boto3(
            script,
            &endpoint,
            (common::ROOT_KEY, common::ROOT_SECRET),
            &[("SERVED", served.as_str())],
        )
    });
    let Some(out) = out else { return };
    let mut lines = out.lines();
    let checked: usize = lines.next().and_then(|l| l.parse().ok()).expect("a count");
    let misses: Vec<&str> = lines.collect();
    assert!(checked > 200, "{checked} members checked");
    assert!(
        misses.is_empty(),
        "{} of {checked}:\n{}",
        misses.len(),
        misses.join("\n")
    );
}
