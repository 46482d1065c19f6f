//! Roles and instance profiles end to end: the real server on 127.0.0.1, driven by the
//! official AWS SDK.

mod common;

use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_iam::types::Tag;
use common::{ACCOUNT, TestServer, error_code};

const TRUST_EC2: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}"#;
const TRUST_ACCOUNT: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":["sts:AssumeRole","sts:TagSession"]}]}"#;
const ALLOW_S3: &str =
    r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#;

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build().unwrap()
}

async fn create_role(iam: &aws_sdk_iam::Client, name: &str) {
    iam.create_role()
        .role_name(name)
        .assume_role_policy_document(TRUST_EC2)
        .send()
        .await
        .unwrap();
}

async fn create_policy(iam: &aws_sdk_iam::Client, name: &str, document: &str) -> String {
    let created = iam
        .create_policy()
        .policy_name(name)
        .policy_document(document)
        .send()
        .await
        .unwrap();
    created.policy().unwrap().arn().unwrap().to_owned()
}

#[tokio::test]
async fn roles_create_get_list_update_delete() {
    let server = TestServer::start().await;
    let iam = server.root();
    let boundary = create_policy(&iam, "boundary", ALLOW_S3).await;

    let created = iam
        .create_role()
        .role_name("Deployer")
        .path("/ci/")
        .assume_role_policy_document(TRUST_ACCOUNT)
        .description("Deploys things")
        .max_session_duration(7_200)
        .permissions_boundary(&boundary)
        .tags(tag("team", "platform"))
        .send()
        .await
        .unwrap();
    let role = created.role().unwrap();
    assert_eq!(role.role_name(), "Deployer");
    assert_eq!(role.path(), "/ci/");
    assert_eq!(
        role.arn(),
        format!("arn:aws:iam::{ACCOUNT}:role/ci/Deployer")
    );
    assert!(role.role_id().starts_with("AROA") && role.role_id().len() == 21);
    assert_eq!(role.max_session_duration(), Some(7_200));
    assert_eq!(role.tags().len(), 1);

    // GetRole answers in any case, with everything AWS shows, the trust policy URL-encoded.
    let got = iam.get_role().role_name("deployer").send().await.unwrap();
    let role = got.role().unwrap();
    assert_eq!(role.role_name(), "Deployer");
    assert_eq!(role.description(), Some("Deploys things"));
    assert_eq!(role.max_session_duration(), Some(7_200));
    let document = role.assume_role_policy_document().unwrap();
    assert!(document.contains("%22sts%3AAssumeRole%22"), "{document}");
    assert!(!document.contains('"'));
    assert_eq!(
        role.permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn()),
        Some(boundary.as_str())
    );
    assert_eq!(role.tags()[0].key(), "team");
    let last_used = role.role_last_used().expect("RoleLastUsed is returned");
    assert!(last_used.last_used_date().is_none());

    // Names are unique without regard to case.
    let (code, status) = error_code(
        iam.create_role()
            .role_name("DEPLOYER")
            .assume_role_policy_document(TRUST_EC2)
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("EntityAlreadyExists", 409));

    // Defaults: path "/", one hour, no description.
    create_role(&iam, "web").await;
    let web = iam.get_role().role_name("web").send().await.unwrap();
    let web = web.role().unwrap();
    assert_eq!(web.path(), "/");
    assert_eq!(web.max_session_duration(), Some(3_600));
    assert_eq!(web.description(), None);
    assert!(web.permissions_boundary().is_none());

    let listed = iam.list_roles().send().await.unwrap();
    let names: Vec<&str> = listed.roles().iter().map(|r| r.role_name()).collect();
    assert_eq!(names, ["Deployer", "web"]);
    assert!(!listed.is_truncated());
    // Lists show the trust policy but, as AWS's, not tags, boundary or last use.
    assert!(listed.roles()[0].assume_role_policy_document().is_some());
    assert!(listed.roles()[0].tags().is_empty());
    assert!(listed.roles()[0].permissions_boundary().is_none());
    let ci = iam.list_roles().path_prefix("/ci/").send().await.unwrap();
    assert_eq!(ci.roles().len(), 1);

    iam.update_role()
        .role_name("web")
        .description("Serves")
        .max_session_duration(43_200)
        .send()
        .await
        .unwrap();
    let web = iam.get_role().role_name("web").send().await.unwrap();
    assert_eq!(web.role().unwrap().description(), Some("Serves"));
    assert_eq!(web.role().unwrap().max_session_duration(), Some(43_200));
    // UpdateRole with only a description keeps the duration.
    iam.update_role()
        .role_name("web")
        .description("Serves pages")
        .send()
        .await
        .unwrap();
    let updated = iam
        .update_role_description()
        .role_name("web")
        .description("Serves the site")
        .send()
        .await
        .unwrap();
    let updated = updated.role().unwrap();
    assert_eq!(updated.description(), Some("Serves the site"));
    assert_eq!(updated.max_session_duration(), Some(43_200));

    iam.update_assume_role_policy()
        .role_name("web")
        .policy_document(TRUST_ACCOUNT)
        .send()
        .await
        .unwrap();
    let web = iam.get_role().role_name("web").send().await.unwrap();
    assert!(
        web.role()
            .unwrap()
            .assume_role_policy_document()
            .unwrap()
            .contains("sts%3ATagSession")
    );

    iam.delete_role().role_name("WEB").send().await.unwrap();
    let (code, status) = error_code(iam.get_role().role_name("web").send().await);
    assert_eq!((code.as_str(), status), ("NoSuchEntity", 404));
    for result in [
        error_code(iam.delete_role().role_name("web").send().await),
        error_code(
            iam.update_role()
                .role_name("web")
                .description("x")
                .send()
                .await,
        ),
        error_code(
            iam.update_assume_role_policy()
                .role_name("web")
                .policy_document(TRUST_EC2)
                .send()
                .await,
        ),
        error_code(iam.list_role_tags().role_name("web").send().await),
        error_code(iam.list_role_policies().role_name("web").send().await),
        error_code(
            iam.list_instance_profiles_for_role()
                .role_name("web")
                .send()
                .await,
        ),
    ] {
        assert_eq!(result, ("NoSuchEntity".to_owned(), 404));
    }
}

#[tokio::test]
async fn bad_trust_policies_and_bad_input_are_refused_and_change_nothing() {
    let server = TestServer::start().await;
    let iam = server.root();
    let malformed = [
        ("not json", "Syntax errors in policy"),
        // A Resource element has no place in a trust policy.
        (
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole","Resource":"*"}}"#,
            "Has prohibited field Resource",
        ),
        // Only STS actions.
        (
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"s3:GetObject"}}"#,
            "AssumeRole policy may only specify STS AssumeRole actions",
        ),
        // An identity policy is not a trust policy.
        (ALLOW_S3, "Missing required field Principal"),
        (
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotPrincipal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}}"#,
            "NotPrincipal",
        ),
    ];
    for (doc, expected) in malformed {
        let err = iam
            .create_role()
            .role_name("bad")
            .assume_role_policy_document(doc)
            .send()
            .await
            .expect_err("malformed");
        assert_eq!(err.code(), Some("MalformedPolicyDocument"), "{doc}");
        assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
        let message = err.message().unwrap_or_default();
        assert!(message.contains(expected), "{message}");
    }

    // Over 2,048 characters (whitespace outside strings not counted): LimitExceeded.
    let services: Vec<String> = (0..80)
        .map(|i| format!("\"service{i:03}.amazonaws.com\""))
        .collect();
    let big = format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"Service":[{}]}},"Action":"sts:AssumeRole"}}}}"#,
        services.join(",")
    );
    let err = iam
        .create_role()
        .role_name("big")
        .assume_role_policy_document(&big)
        .send()
        .await
        .expect_err("too big");
    assert_eq!(err.code(), Some("LimitExceeded"));
    assert!(
        err.message()
            .unwrap_or_default()
            .contains("ACLSizePerRole: 2048")
    );

    for seconds in [3_599, 43_201, 0, -1] {
        let (code, status) = error_code(
            iam.create_role()
                .role_name("dur")
                .assume_role_policy_document(TRUST_EC2)
                .max_session_duration(seconds)
                .send()
                .await,
        );
        assert_eq!(
            (code.as_str(), status),
            ("ValidationError", 400),
            "{seconds}"
        );
    }
    for name in ["", "has space", &"r".repeat(65), "semi;colon"] {
        let (code, _) = error_code(
            iam.create_role()
                .role_name(name)
                .assume_role_policy_document(TRUST_EC2)
                .send()
                .await,
        );
        assert_eq!(code, "ValidationError", "{name:?}");
    }
    let (code, _) = error_code(
        iam.create_role()
            .role_name("desc")
            .assume_role_policy_document(TRUST_EC2)
            .description("d".repeat(1_001))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationError");
    let (code, _) = error_code(
        iam.create_role()
            .role_name("path")
            .path("no-slashes")
            .assume_role_policy_document(TRUST_EC2)
            .send()
            .await,
    );
    assert_eq!(code, "ValidationError");
    let (code, _) = error_code(
        iam.create_role()
            .role_name("boundary")
            .assume_role_policy_document(TRUST_EC2)
            .permissions_boundary(format!("arn:aws:iam::{ACCOUNT}:policy/nope"))
            .send()
            .await,
    );
    assert_eq!(code, "InvalidInput");
    let (code, _) = error_code(
        iam.create_role()
            .role_name("tags")
            .assume_role_policy_document(TRUST_EC2)
            .tags(tag("aws:reserved", "x"))
            .send()
            .await,
    );
    assert_eq!(code, "InvalidInput");
    assert!(iam.list_roles().send().await.unwrap().roles().is_empty());

    // Failed updates leave the role as it was.
    iam.create_role()
        .role_name("keep")
        .assume_role_policy_document(TRUST_EC2)
        .description("original")
        .send()
        .await
        .unwrap();
    let (code, _) = error_code(
        iam.update_assume_role_policy()
            .role_name("keep")
            .policy_document(ALLOW_S3)
            .send()
            .await,
    );
    assert_eq!(code, "MalformedPolicyDocument");
    let (code, _) = error_code(
        iam.update_assume_role_policy()
            .role_name("keep")
            .policy_document(&big)
            .send()
            .await,
    );
    assert_eq!(code, "LimitExceeded");
    let (code, _) = error_code(
        iam.update_role()
            .role_name("keep")
            .description("changed")
            .max_session_duration(100)
            .send()
            .await,
    );
    assert_eq!(code, "ValidationError");
    let (code, _) = error_code(
        iam.update_role_description()
            .role_name("keep")
            .description("d".repeat(1_001))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationError");
    let kept = iam.get_role().role_name("keep").send().await.unwrap();
    let kept = kept.role().unwrap();
    assert_eq!(kept.description(), Some("original"));
    assert_eq!(kept.max_session_duration(), Some(3_600));
    assert!(
        kept.assume_role_policy_document()
            .unwrap()
            .contains("ec2.amazonaws.com")
    );
}

#[tokio::test]
async fn role_policies_boundaries_and_delete_conflicts() {
    let server = TestServer::start().await;
    let iam = server.root();
    create_role(&iam, "app").await;

    iam.put_role_policy()
        .role_name("app")
        .policy_name("s3")
        .policy_document(ALLOW_S3)
        .send()
        .await
        .unwrap();
    let got = iam
        .get_role_policy()
        .role_name("app")
        .policy_name("s3")
        .send()
        .await
        .unwrap();
    assert_eq!(got.role_name(), "app");
    assert_eq!(got.policy_name(), "s3");
    assert!(got.policy_document().contains("%22s3%3A%2A%22"));
    let names = iam
        .list_role_policies()
        .role_name("app")
        .send()
        .await
        .unwrap();
    assert_eq!(names.policy_names(), ["s3"]);
    let (code, status) = error_code(
        iam.get_role_policy()
            .role_name("app")
            .policy_name("missing")
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("NoSuchEntity", 404));
    // A trust policy is not an identity policy.
    let (code, _) = error_code(
        iam.put_role_policy()
            .role_name("app")
            .policy_name("trust")
            .policy_document(TRUST_EC2)
            .send()
            .await,
    );
    assert_eq!(code, "MalformedPolicyDocument");

    // Inline policies of a role may total 10,240 characters.
    let padded = |n: usize| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::{}"}}}}"#,
            "b".repeat(n)
        )
    };
    iam.put_role_policy()
        .role_name("app")
        .policy_name("big1")
        .policy_document(padded(4_000))
        .send()
        .await
        .unwrap();
    iam.put_role_policy()
        .role_name("app")
        .policy_name("big2")
        .policy_document(padded(5_000))
        .send()
        .await
        .unwrap();
    let (code, status) = error_code(
        iam.put_role_policy()
            .role_name("app")
            .policy_name("big3")
            .policy_document(padded(1_000))
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("LimitExceeded", 409));
    let names = iam
        .list_role_policies()
        .role_name("app")
        .send()
        .await
        .unwrap();
    assert_eq!(names.policy_names(), ["big1", "big2", "s3"]);

    // Ten managed policies at most.
    let mut arns = Vec::new();
    for i in 0..11 {
        arns.push(create_policy(&iam, &format!("p{i}"), ALLOW_S3).await);
    }
    for arn in &arns[..10] {
        iam.attach_role_policy()
            .role_name("app")
            .policy_arn(arn)
            .send()
            .await
            .unwrap();
    }
    let err = iam
        .attach_role_policy()
        .role_name("app")
        .policy_arn(&arns[10])
        .send()
        .await
        .expect_err("quota");
    assert_eq!(err.code(), Some("LimitExceeded"));
    assert!(
        err.message()
            .unwrap_or_default()
            .contains("PoliciesPerRole: 10")
    );
    let attached = iam
        .list_attached_role_policies()
        .role_name("app")
        .send()
        .await
        .unwrap();
    assert_eq!(attached.attached_policies().len(), 10);
    let entities = iam
        .list_entities_for_policy()
        .policy_arn(&arns[0])
        .send()
        .await
        .unwrap();
    assert_eq!(entities.policy_roles()[0].role_name(), Some("app"));
    let (code, _) = error_code(iam.delete_policy().policy_arn(&arns[0]).send().await);
    assert_eq!(code, "DeleteConflict");
    let (code, _) = error_code(
        iam.attach_role_policy()
            .role_name("app")
            .policy_arn(format!("arn:aws:iam::{ACCOUNT}:policy/nope"))
            .send()
            .await,
    );
    assert_eq!(code, "NoSuchEntity");
    let (code, _) = error_code(
        iam.attach_role_policy()
            .role_name("nobody")
            .policy_arn(&arns[0])
            .send()
            .await,
    );
    assert_eq!(code, "NoSuchEntity");

    // A permissions boundary.
    iam.put_role_permissions_boundary()
        .role_name("app")
        .permissions_boundary(&arns[10])
        .send()
        .await
        .unwrap();
    let role = iam.get_role().role_name("app").send().await.unwrap();
    assert_eq!(
        role.role()
            .unwrap()
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn()),
        Some(arns[10].as_str())
    );
    let (code, _) = error_code(
        iam.put_role_permissions_boundary()
            .role_name("app")
            .permissions_boundary(format!("arn:aws:iam::{ACCOUNT}:policy/nope"))
            .send()
            .await,
    );
    assert_eq!(code, "InvalidInput");
    iam.delete_role_permissions_boundary()
        .role_name("app")
        .send()
        .await
        .unwrap();
    let role = iam.get_role().role_name("app").send().await.unwrap();
    assert!(role.role().unwrap().permissions_boundary().is_none());

    // DeleteRole refuses while policies remain: attached first, then inline.
    let err = iam
        .delete_role()
        .role_name("app")
        .send()
        .await
        .expect_err("attached policies");
    assert_eq!(err.code(), Some("DeleteConflict"));
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(409));
    assert!(
        err.message()
            .unwrap_or_default()
            .contains("detach all policies")
    );
    for arn in &arns[..10] {
        iam.detach_role_policy()
            .role_name("app")
            .policy_arn(arn)
            .send()
            .await
            .unwrap();
    }
    let (code, _) = error_code(
        iam.detach_role_policy()
            .role_name("app")
            .policy_arn(&arns[0])
            .send()
            .await,
    );
    assert_eq!(code, "NoSuchEntity");
    let err = iam
        .delete_role()
        .role_name("app")
        .send()
        .await
        .expect_err("inline policies");
    assert_eq!(err.code(), Some("DeleteConflict"));
    for name in ["s3", "big1", "big2"] {
        iam.delete_role_policy()
            .role_name("app")
            .policy_name(name)
            .send()
            .await
            .unwrap();
    }
    let (code, _) = error_code(
        iam.delete_role_policy()
            .role_name("app")
            .policy_name("s3")
            .send()
            .await,
    );
    assert_eq!(code, "NoSuchEntity");
    iam.delete_role().role_name("app").send().await.unwrap();
    iam.delete_policy()
        .policy_arn(&arns[0])
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn role_tags() {
    let server = TestServer::start().await;
    let iam = server.root();
    create_role(&iam, "tagged").await;
    iam.tag_role()
        .role_name("tagged")
        .tags(tag("team", "a"))
        .tags(tag("env", "prod"))
        .send()
        .await
        .unwrap();
    // Keys are case-insensitive: this replaces "team", in its place (AWS updates in place).
    iam.tag_role()
        .role_name("tagged")
        .tags(tag("TEAM", "b"))
        .send()
        .await
        .unwrap();
    let tags = iam
        .list_role_tags()
        .role_name("tagged")
        .send()
        .await
        .unwrap();
    let pairs: Vec<(&str, &str)> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(pairs, [("TEAM", "b"), ("env", "prod")]);
    let first = iam
        .list_role_tags()
        .role_name("tagged")
        .max_items(1)
        .send()
        .await
        .unwrap();
    assert!(first.is_truncated());
    assert_eq!(first.tags().len(), 1);

    iam.untag_role()
        .role_name("tagged")
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let tags = iam
        .list_role_tags()
        .role_name("tagged")
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 1);

    // At most 50 tags; a refused TagRole changes nothing.
    let mut too_many = iam.tag_role().role_name("tagged");
    for i in 0..50 {
        too_many = too_many.tags(tag(&format!("k{i}"), "v"));
    }
    let (code, status) = error_code(too_many.send().await);
    assert_eq!((code.as_str(), status), ("LimitExceeded", 409));
    let (code, _) = error_code(
        iam.tag_role()
            .role_name("tagged")
            .tags(tag("bad\u{2603}", "v"))
            .send()
            .await,
    );
    // The model's tag pattern: AWS answers ValidationError.
    assert_eq!(code, "ValidationError");
    let tags = iam
        .list_role_tags()
        .role_name("tagged")
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 1);
    let (code, _) = error_code(
        iam.tag_role()
            .role_name("nobody")
            .tags(tag("a", "b"))
            .send()
            .await,
    );
    assert_eq!(code, "NoSuchEntity");
}

#[tokio::test]
async fn instance_profiles_hold_one_role() {
    let server = TestServer::start().await;
    let iam = server.root();
    create_role(&iam, "ec2-app").await;
    create_role(&iam, "other").await;

    let created = iam
        .create_instance_profile()
        .instance_profile_name("AppProfile")
        .path("/apps/")
        .tags(tag("team", "web"))
        .send()
        .await
        .unwrap();
    let profile = created.instance_profile().unwrap();
    assert_eq!(
        profile.arn(),
        format!("arn:aws:iam::{ACCOUNT}:instance-profile/apps/AppProfile")
    );
    assert!(profile.instance_profile_id().starts_with("AIPA"));
    assert!(profile.roles().is_empty());
    assert_eq!(profile.tags().len(), 1);

    let (code, status) = error_code(
        iam.create_instance_profile()
            .instance_profile_name("appprofile")
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("EntityAlreadyExists", 409));
    let (code, _) = error_code(
        iam.create_instance_profile()
            .instance_profile_name("x".repeat(129))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationError");
    // 128 characters is a valid instance profile name (roles stop at 64).
    iam.create_instance_profile()
        .instance_profile_name("p".repeat(128))
        .send()
        .await
        .unwrap();

    iam.add_role_to_instance_profile()
        .instance_profile_name("appprofile")
        .role_name("EC2-APP")
        .send()
        .await
        .unwrap();
    let got = iam
        .get_instance_profile()
        .instance_profile_name("AppProfile")
        .send()
        .await
        .unwrap();
    let profile = got.instance_profile().unwrap();
    assert_eq!(profile.roles().len(), 1);
    assert_eq!(profile.roles()[0].role_name(), "ec2-app");
    assert!(profile.roles()[0].assume_role_policy_document().is_some());

    // One role per instance profile.
    let (code, status) = error_code(
        iam.add_role_to_instance_profile()
            .instance_profile_name("AppProfile")
            .role_name("other")
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("LimitExceeded", 409));
    let (code, _) = error_code(
        iam.add_role_to_instance_profile()
            .instance_profile_name("AppProfile")
            .role_name("nobody")
            .send()
            .await,
    );
    assert_eq!(code, "NoSuchEntity");
    let (code, _) = error_code(
        iam.add_role_to_instance_profile()
            .instance_profile_name("nowhere")
            .role_name("other")
            .send()
            .await,
    );
    assert_eq!(code, "NoSuchEntity");

    let for_role = iam
        .list_instance_profiles_for_role()
        .role_name("ec2-app")
        .send()
        .await
        .unwrap();
    assert_eq!(
        for_role.instance_profiles()[0].instance_profile_name(),
        "AppProfile"
    );
    let for_other = iam
        .list_instance_profiles_for_role()
        .role_name("other")
        .send()
        .await
        .unwrap();
    assert!(for_other.instance_profiles().is_empty());

    let listed = iam
        .list_instance_profiles()
        .path_prefix("/apps/")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.instance_profiles().len(), 1);
    let all = iam.list_instance_profiles().send().await.unwrap();
    assert_eq!(all.instance_profiles().len(), 2);

    // Neither may go while they hold each other.
    let err = iam
        .delete_role()
        .role_name("ec2-app")
        .send()
        .await
        .expect_err("in a profile");
    assert_eq!(err.code(), Some("DeleteConflict"));
    assert!(
        err.message()
            .unwrap_or_default()
            .contains("instance profile")
    );
    let (code, status) = error_code(
        iam.delete_instance_profile()
            .instance_profile_name("AppProfile")
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("DeleteConflict", 409));

    // Tags.
    iam.tag_instance_profile()
        .instance_profile_name("AppProfile")
        .tags(tag("env", "prod"))
        .send()
        .await
        .unwrap();
    iam.untag_instance_profile()
        .instance_profile_name("AppProfile")
        .tag_keys("TEAM")
        .send()
        .await
        .unwrap();
    let tags = iam
        .list_instance_profile_tags()
        .instance_profile_name("AppProfile")
        .send()
        .await
        .unwrap();
    let pairs: Vec<(&str, &str)> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(pairs, [("env", "prod")]);
    let (code, _) = error_code(
        iam.tag_instance_profile()
            .instance_profile_name("AppProfile")
            .tags(tag("aws:x", "v"))
            .send()
            .await,
    );
    assert_eq!(code, "InvalidInput");

    let (code, _) = error_code(
        iam.remove_role_from_instance_profile()
            .instance_profile_name("AppProfile")
            .role_name("other")
            .send()
            .await,
    );
    assert_eq!(code, "NoSuchEntity");
    iam.remove_role_from_instance_profile()
        .instance_profile_name("AppProfile")
        .role_name("ec2-app")
        .send()
        .await
        .unwrap();
    iam.delete_instance_profile()
        .instance_profile_name("AppProfile")
        .send()
        .await
        .unwrap();
    iam.delete_role().role_name("ec2-app").send().await.unwrap();
    let (code, status) = error_code(
        iam.get_instance_profile()
            .instance_profile_name("AppProfile")
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("NoSuchEntity", 404));
    let (code, _) = error_code(
        iam.delete_instance_profile()
            .instance_profile_name("AppProfile")
            .send()
            .await,
    );
    assert_eq!(code, "NoSuchEntity");
}

#[tokio::test]
async fn lists_paginate_with_marker_and_max_items() {
    let server = TestServer::start().await;
    let iam = server.root();
    for i in 0..7 {
        create_role(&iam, &format!("role{i}")).await;
        iam.create_instance_profile()
            .instance_profile_name(format!("profile{i}"))
            .send()
            .await
            .unwrap();
    }
    let first = iam.list_roles().max_items(3).send().await.unwrap();
    assert_eq!(first.roles().len(), 3);
    assert!(first.is_truncated());
    let second = iam
        .list_roles()
        .max_items(3)
        .marker(first.marker().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(second.roles()[0].role_name(), "role3");
    let (code, _) = error_code(iam.list_roles().marker("bogus").send().await);
    assert_eq!(code, "ValidationError");
    let (code, _) = error_code(iam.list_roles().max_items(0).send().await);
    assert_eq!(code, "ValidationError");

    let roles: Vec<String> = iam
        .list_roles()
        .max_items(2)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.role_name().to_owned())
        .collect();
    assert_eq!(roles.len(), 7);
    let profiles: Vec<String> = iam
        .list_instance_profiles()
        .max_items(2)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.instance_profile_name().to_owned())
        .collect();
    assert_eq!(
        profiles,
        (0..7).map(|i| format!("profile{i}")).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn roles_and_instance_profiles_survive_a_restart() {
    let mut server = TestServer::start().await;
    let root = server.root();
    let boundary = create_policy(&root, "boundary", ALLOW_S3).await;
    root.create_role()
        .role_name("durable")
        .path("/keep/")
        .assume_role_policy_document(TRUST_ACCOUNT)
        .description("still here")
        .max_session_duration(10_800)
        .permissions_boundary(&boundary)
        .tags(tag("team", "ops"))
        .send()
        .await
        .unwrap();
    root.put_role_policy()
        .role_name("durable")
        .policy_name("inline")
        .policy_document(ALLOW_S3)
        .send()
        .await
        .unwrap();
    root.attach_role_policy()
        .role_name("durable")
        .policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
        .send()
        .await
        .unwrap();
    root.create_instance_profile()
        .instance_profile_name("durable-profile")
        .tags(tag("k", "v"))
        .send()
        .await
        .unwrap();
    root.add_role_to_instance_profile()
        .instance_profile_name("durable-profile")
        .role_name("durable")
        .send()
        .await
        .unwrap();
    let before = root.get_role().role_name("durable").send().await.unwrap();
    let role_id = before.role().unwrap().role_id().to_owned();

    server.restart().await;

    let root = server.root();
    let after = root.get_role().role_name("durable").send().await.unwrap();
    let role = after.role().unwrap();
    assert_eq!(role.role_id(), role_id);
    assert_eq!(role.path(), "/keep/");
    assert_eq!(role.description(), Some("still here"));
    assert_eq!(role.max_session_duration(), Some(10_800));
    assert_eq!(role.tags().len(), 1);
    assert!(
        role.assume_role_policy_document()
            .unwrap()
            .contains("sts%3ATagSession")
    );
    assert_eq!(
        role.permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn()),
        Some(boundary.as_str())
    );
    let inline = root
        .get_role_policy()
        .role_name("durable")
        .policy_name("inline")
        .send()
        .await
        .unwrap();
    assert!(inline.policy_document().contains("s3%3A%2A"));
    let attached = root
        .list_attached_role_policies()
        .role_name("durable")
        .send()
        .await
        .unwrap();
    assert_eq!(
        attached.attached_policies()[0].policy_name(),
        Some("ReadOnlyAccess")
    );
    let profile = root
        .get_instance_profile()
        .instance_profile_name("durable-profile")
        .send()
        .await
        .unwrap();
    let profile = profile.instance_profile().unwrap();
    assert_eq!(profile.roles()[0].role_name(), "durable");
    assert_eq!(profile.tags()[0].key(), "k");
}

#[tokio::test]
async fn a_user_is_allowed_and_denied_role_actions_by_its_policies() {
    let server = TestServer::start().await;
    let root = server.root();
    let no_roles = server
        .user_with_policy(
            "reader",
            Some(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["iam:GetRole","iam:ListRoles"],"Resource":"*"}}"#),
        )
        .await;
    let err = no_roles
        .create_role()
        .role_name("denied")
        .assume_role_policy_document(TRUST_EC2)
        .send()
        .await
        .expect_err("denied");
    assert_eq!(err.code(), Some("AccessDenied"));
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(403));
    assert!(
        err.message().unwrap_or_default().starts_with(&format!(
            "User: arn:aws:iam::{ACCOUNT}:user/reader is not authorized to perform: iam:CreateRole on resource: arn:aws:iam::{ACCOUNT}:role/denied because no identity-based policy allows the iam:CreateRole action. Encoded authorization failure message: "
        )),
        "{err:?}"
    );
    no_roles.list_roles().send().await.unwrap();
    let (code, _) = error_code(root.get_role().role_name("denied").send().await);
    assert_eq!(code, "NoSuchEntity");

    // Allowed to create roles under /apps/ only, and instance profiles; putting a role in an
    // instance profile passes it (iam:PassRole on the role).
    let maker = server
        .user_with_policy(
            "maker",
            Some(&format!(
                r#"{{"Version":"2012-10-17","Statement":[
                {{"Effect":"Allow","Action":["iam:CreateRole","iam:PutRolePolicy","iam:GetRole","iam:PassRole"],"Resource":"arn:aws:iam::{ACCOUNT}:role/apps/*"}},
                {{"Effect":"Allow","Action":["iam:CreateInstanceProfile","iam:AddRoleToInstanceProfile"],"Resource":"*"}},
                {{"Effect":"Deny","Action":"iam:DeleteRole","Resource":"*"}}]}}"#
            )),
        )
        .await;
    maker
        .create_role()
        .role_name("worker")
        .path("/apps/")
        .assume_role_policy_document(TRUST_EC2)
        .send()
        .await
        .unwrap();
    maker
        .put_role_policy()
        .role_name("worker")
        .policy_name("s3")
        .policy_document(ALLOW_S3)
        .send()
        .await
        .unwrap();
    let (code, _) = error_code(
        maker
            .create_role()
            .role_name("elsewhere")
            .assume_role_policy_document(TRUST_EC2)
            .send()
            .await,
    );
    assert_eq!(code, "AccessDenied");
    maker
        .create_instance_profile()
        .instance_profile_name("worker")
        .send()
        .await
        .unwrap();
    maker
        .add_role_to_instance_profile()
        .instance_profile_name("worker")
        .role_name("worker")
        .send()
        .await
        .unwrap();
    let err = maker
        .delete_role()
        .role_name("worker")
        .send()
        .await
        .expect_err("explicit deny");
    assert!(
        err.message()
            .unwrap_or_default()
            .contains("with an explicit deny in an identity-based policy."),
        "{err:?}"
    );

    // Conditions on the role's tags and on the boundary a new role gets.
    let tagger = server
        .user_with_policy(
            "tagger",
            Some(&format!(
                r#"{{"Version":"2012-10-17","Statement":[
                {{"Effect":"Allow","Action":"iam:GetRole","Resource":"*","Condition":{{"StringEquals":{{"aws:ResourceTag/team":"blue"}}}}}},
                {{"Effect":"Allow","Action":"iam:CreateRole","Resource":"*","Condition":{{"StringEquals":{{"iam:PermissionsBoundary":"arn:aws:iam::{ACCOUNT}:policy/fence"}}}}}}]}}"#
            )),
        )
        .await;
    root.create_role()
        .role_name("blue")
        .assume_role_policy_document(TRUST_EC2)
        .tags(tag("team", "blue"))
        .send()
        .await
        .unwrap();
    tagger.get_role().role_name("blue").send().await.unwrap();
    let (code, _) = error_code(tagger.get_role().role_name("worker").send().await);
    assert_eq!(code, "AccessDenied");
    let fence = create_policy(&root, "fence", ALLOW_S3).await;
    let (code, _) = error_code(
        tagger
            .create_role()
            .role_name("unfenced")
            .assume_role_policy_document(TRUST_EC2)
            .send()
            .await,
    );
    assert_eq!(code, "AccessDenied");
    tagger
        .create_role()
        .role_name("fenced")
        .assume_role_policy_document(TRUST_EC2)
        .permissions_boundary(&fence)
        .send()
        .await
        .unwrap();
    let (code, _) = error_code(root.get_role().role_name("unfenced").send().await);
    assert_eq!(code, "NoSuchEntity");
}
