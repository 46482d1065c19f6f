//! Passwords, the account, SSH keys and signing certificates end to end: the real server on
//! 127.0.0.1, driven by the official AWS SDK.

mod common;

use aws_sdk_iam::types::{EncodingType, StatusType, SummaryKeyType};
use base64::Engine;
use common::{ACCOUNT, TestServer, error_code};

const RSA2048: &str = include_str!("fixtures/rsa2048.pub");
const RSA1024: &str = include_str!("fixtures/rsa1024.pub");
const RSA3072: &str = include_str!("fixtures/rsa3072.pub");
const RSA3072_PEM: &str = include_str!("fixtures/rsa3072.pem");
const ED25519: &str = include_str!("fixtures/ed25519.pub");
const ECDSA256: &str = include_str!("fixtures/ecdsa256.pub");
const CERT1: &str = include_str!("fixtures/cert1.pem");
const CERT2: &str = include_str!("fixtures/cert2.pem");
const CERT3: &str = include_str!("fixtures/cert3.pem");

/// `ssh-keygen -l -E md5` of the fixtures.
const RSA2048_MD5: &str = "13:c5:8b:69:c2:d9:99:3f:c7:0e:13:d5:e9:16:42:99";
const RSA3072_MD5: &str = "5e:2c:8f:ee:6a:71:56:ba:46:7c:62:64:2d:ea:49:da";
const ED25519_MD5: &str = "80:ce:55:c7:6d:5a:fc:4f:9b:7a:ed:de:34:e2:72:7c";
const ECDSA256_MD5: &str = "35:f2:da:0e:d7:a4:be:0f:17:ef:44:49:0f:5e:28:b6";

const CHANGE_PASSWORD_POLICY: &str = "arn:aws:iam::aws:policy/IAMUserChangePassword";

/// A well-formed Ed25519 public key in OpenSSH form, made from `seed`.
fn ed25519_key(seed: u8) -> String {
    let mut blob = Vec::new();
    for field in [&b"ssh-ed25519"[..], &[seed; 32][..]] {
        blob.extend_from_slice(&(field.len() as u32).to_be_bytes());
        blob.extend_from_slice(field);
    }
    format!(
        "ssh-ed25519 {} generated",
        base64::engine::general_purpose::STANDARD.encode(blob)
    )
}

/// The database files, to look for what must not be there.
fn stored_bytes(server: &TestServer) -> Vec<u8> {
    common::bytes_at_rest(server.dir.path())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A user with an access key, whose only policy is the AWS managed IAMUserChangePassword.
async fn user_with_change_password(server: &TestServer, name: &str) -> aws_sdk_iam::Client {
    let client = server.user_with_policy(name, None).await;
    server
        .root()
        .attach_user_policy()
        .user_name(name)
        .policy_arn(CHANGE_PASSWORD_POLICY)
        .send()
        .await
        .unwrap();
    client
}

/// Stops the server, dates the password of `user` (its row at rest) to 2020, and starts
/// the server again.
async fn age_password(server: &mut TestServer, user: &str) {
    if let Some(running) = server.server.take() {
        running.shutdown().await;
    }
    let mut row = common::stored_row(server.dir.path(), "users", user);
    row["login_profile"]["password_set_date"] = "2020-01-01T00:00:00Z".into();
    common::replace_row(server.dir.path(), "users", user, &row);
    server.restart().await;
}

#[tokio::test]
async fn login_profiles_create_get_update_delete() {
    let server = TestServer::start().await;
    let root = server.root();
    root.create_user().user_name("alice").send().await.unwrap();

    // The default policy: 8 characters of three kinds. A weak password stores nothing.
    let (code, status) = error_code(
        root.create_login_profile()
            .user_name("alice")
            .password("short1A")
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("PasswordPolicyViolation", 400));
    let (code, _) = error_code(
        root.create_login_profile()
            .user_name("alice")
            .password("alllowercase")
            .send()
            .await,
    );
    assert_eq!(code, "PasswordPolicyViolation");
    let (code, status) = error_code(root.get_login_profile().user_name("alice").send().await);
    assert_eq!((code.as_str(), status), ("NoSuchEntity", 404));

    let created = root
        .create_login_profile()
        .user_name("alice")
        .password("Correct-Horse-1")
        .password_reset_required(true)
        .send()
        .await
        .unwrap();
    let profile = created.login_profile().unwrap();
    assert_eq!(profile.user_name(), "alice");
    assert!(profile.password_reset_required());

    let got = root
        .get_login_profile()
        .user_name("alice")
        .send()
        .await
        .unwrap();
    assert!(got.login_profile().unwrap().password_reset_required());

    let (code, status) = error_code(
        root.create_login_profile()
            .user_name("alice")
            .password("Another-Horse-2")
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("EntityAlreadyExists", 409));

    root.update_login_profile()
        .user_name("alice")
        .password_reset_required(false)
        .send()
        .await
        .unwrap();
    let got = root
        .get_login_profile()
        .user_name("alice")
        .send()
        .await
        .unwrap();
    assert!(!got.login_profile().unwrap().password_reset_required());
    root.update_login_profile()
        .user_name("alice")
        .password("Another-Horse-2")
        .send()
        .await
        .unwrap();
    let (code, _) = error_code(
        root.update_login_profile()
            .user_name("alice")
            .password("weak")
            .send()
            .await,
    );
    assert_eq!(code, "PasswordPolicyViolation");

    let (code, status) = error_code(root.delete_user().user_name("alice").send().await);
    assert_eq!((code.as_str(), status), ("DeleteConflict", 409));
    root.delete_login_profile()
        .user_name("alice")
        .send()
        .await
        .unwrap();
    let (code, _) = error_code(root.get_login_profile().user_name("alice").send().await);
    assert_eq!(code, "NoSuchEntity");
    let (code, _) = error_code(root.delete_login_profile().user_name("alice").send().await);
    assert_eq!(code, "NoSuchEntity");
    let (code, _) = error_code(
        root.update_login_profile()
            .user_name("alice")
            .password_reset_required(true)
            .send()
            .await,
    );
    assert_eq!(code, "NoSuchEntity");
    root.delete_user().user_name("alice").send().await.unwrap();
    let (code, _) = error_code(
        root.create_login_profile()
            .user_name("nobody")
            .password("Correct-Horse-1")
            .send()
            .await,
    );
    assert_eq!(code, "NoSuchEntity");
}

#[tokio::test]
async fn the_password_policy_is_enforced_rule_by_rule() {
    let server = TestServer::start().await;
    let root = server.root();
    let (code, status) = error_code(root.get_account_password_policy().send().await);
    assert_eq!((code.as_str(), status), ("NoSuchEntity", 404));
    let (code, _) = error_code(root.delete_account_password_policy().send().await);
    assert_eq!(code, "NoSuchEntity");

    root.update_account_password_policy()
        .minimum_password_length(12)
        .require_symbols(true)
        .require_numbers(true)
        .require_uppercase_characters(true)
        .require_lowercase_characters(true)
        .allow_users_to_change_password(true)
        .max_password_age(90)
        .password_reuse_prevention(2)
        .send()
        .await
        .unwrap();
    let policy = root.get_account_password_policy().send().await.unwrap();
    let policy = policy.password_policy().unwrap();
    assert_eq!(policy.minimum_password_length(), Some(12));
    assert!(policy.require_symbols() && policy.require_numbers());
    assert!(policy.require_uppercase_characters() && policy.require_lowercase_characters());
    assert!(policy.allow_users_to_change_password());
    assert!(policy.expire_passwords());
    assert_eq!(policy.max_password_age(), Some(90));
    assert_eq!(policy.password_reuse_prevention(), Some(2));
    assert_eq!(policy.hard_expiry(), Some(false));

    // Out of range: refused, and the policy is unchanged.
    for bad in [
        root.update_account_password_policy()
            .minimum_password_length(5)
            .send()
            .await,
        root.update_account_password_policy()
            .minimum_password_length(129)
            .send()
            .await,
        root.update_account_password_policy()
            .max_password_age(1096)
            .send()
            .await,
        root.update_account_password_policy()
            .password_reuse_prevention(25)
            .send()
            .await,
    ] {
        let (code, status) = error_code(bad);
        assert_eq!((code.as_str(), status), ("ValidationError", 400));
    }
    let policy = root.get_account_password_policy().send().await.unwrap();
    assert_eq!(
        policy.password_policy().unwrap().minimum_password_length(),
        Some(12)
    );

    root.create_user().user_name("bob").send().await.unwrap();
    for (password, why) in [
        ("Aa1!aaaaaaa", "minimum length of 12"),
        ("aa1!aaaaaaaa", "uppercase"),
        ("AA1!AAAAAAAA", "lowercase"),
        ("Aa!!aaaaaaaa", "number"),
        ("Aa11aaaaaaaa", "symbol"),
    ] {
        let result = root
            .create_login_profile()
            .user_name("bob")
            .password(password)
            .send()
            .await;
        let err = result.expect_err(password);
        let message = aws_sdk_iam::error::ProvideErrorMetadata::message(&err)
            .unwrap_or_default()
            .to_owned();
        let (code, status) = error_code::<_, ()>(Err(err));
        assert_eq!((code.as_str(), status), ("PasswordPolicyViolation", 400));
        assert!(message.contains(why), "{password}: {message}");
        assert!(!message.contains(password));
    }
    let (code, _) = error_code(root.get_login_profile().user_name("bob").send().await);
    assert_eq!(code, "NoSuchEntity", "a refused password stores nothing");

    // Reuse prevention: the last 2 passwords.
    let set = |password: &'static str| {
        let root = root.clone();
        async move {
            root.update_login_profile()
                .user_name("bob")
                .password(password)
                .send()
                .await
        }
    };
    root.create_login_profile()
        .user_name("bob")
        .password("First-Pass-01")
        .send()
        .await
        .unwrap();
    set("Second-Pass-02").await.unwrap();
    let (code, _) = error_code(set("First-Pass-01").await);
    assert_eq!(code, "PasswordPolicyViolation");
    let (code, _) = error_code(set("Second-Pass-02").await);
    assert_eq!(code, "PasswordPolicyViolation");
    set("Third-Pass-003").await.unwrap();
    set("First-Pass-01").await.unwrap();

    // The policy also holds after a delete and re-create of the login profile.
    root.delete_login_profile()
        .user_name("bob")
        .send()
        .await
        .unwrap();
    let (code, _) = error_code(
        root.create_login_profile()
            .user_name("bob")
            .password("Third-Pass-003")
            .send()
            .await,
    );
    assert_eq!(code, "PasswordPolicyViolation");

    root.delete_account_password_policy().send().await.unwrap();
    let (code, _) = error_code(root.get_account_password_policy().send().await);
    assert_eq!(code, "NoSuchEntity");
    // Without a policy, the default applies again (8 characters, three kinds).
    root.create_login_profile()
        .user_name("bob")
        .password("Simple-pw1")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_user_changes_its_own_password_with_the_aws_managed_policy() {
    let server = TestServer::start().await;
    let root = server.root();
    let carol = user_with_change_password(&server, "carol").await;
    root.create_login_profile()
        .user_name("carol")
        .password("Initial-Pass-1")
        .password_reset_required(true)
        .send()
        .await
        .unwrap();

    let (code, status) = error_code(
        carol
            .change_password()
            .old_password("Wrong-Pass-1")
            .new_password("Next-Pass-22")
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("AccessDenied", 403));
    let (code, _) = error_code(
        carol
            .change_password()
            .old_password("Initial-Pass-1")
            .new_password("weak")
            .send()
            .await,
    );
    assert_eq!(code, "PasswordPolicyViolation");

    carol
        .change_password()
        .old_password("Initial-Pass-1")
        .new_password("Next-Pass-22")
        .send()
        .await
        .unwrap();
    let profile = root
        .get_login_profile()
        .user_name("carol")
        .send()
        .await
        .unwrap();
    assert!(
        !profile.login_profile().unwrap().password_reset_required(),
        "changing the password clears the reset flag"
    );
    // The old password no longer works; the new one does.
    let (code, _) = error_code(
        carol
            .change_password()
            .old_password("Initial-Pass-1")
            .new_password("Third-Pass-333")
            .send()
            .await,
    );
    assert_eq!(code, "AccessDenied");
    carol
        .change_password()
        .old_password("Next-Pass-22")
        .new_password("Third-Pass-333")
        .send()
        .await
        .unwrap();

    // The managed policy allows reading the password policy, and nothing else.
    let (code, _) = error_code(carol.get_account_password_policy().send().await);
    assert_eq!(code, "NoSuchEntity");
    let (code, status) = error_code(carol.get_login_profile().send().await);
    assert_eq!((code.as_str(), status), ("AccessDenied", 403));

    // A user without it may not.
    let dave = server.user_with_policy("dave", None).await;
    root.create_login_profile()
        .user_name("dave")
        .password("Daves-Pass-1")
        .send()
        .await
        .unwrap();
    let (code, status) = error_code(
        dave.change_password()
            .old_password("Daves-Pass-1")
            .new_password("Daves-Pass-2")
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("AccessDenied", 403));

    // Root has no IAM password to change.
    let (code, status) = error_code(
        root.change_password()
            .old_password("Anything-1")
            .new_password("Anything-2")
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("InvalidUserType", 400));

    // A user without a login profile.
    let erin = user_with_change_password(&server, "erin").await;
    let (code, status) = error_code(
        erin.change_password()
            .old_password("Anything-1")
            .new_password("Anything-2")
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("NoSuchEntity", 404));

    // AllowUsersToChangePassword=false: refused even with the permission.
    root.update_account_password_policy()
        .minimum_password_length(8)
        .allow_users_to_change_password(false)
        .send()
        .await
        .unwrap();
    let (code, status) = error_code(
        carol
            .change_password()
            .old_password("Third-Pass-333")
            .new_password("Fourth-Pass-4444")
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("PasswordPolicyViolation", 400));
    root.update_account_password_policy()
        .minimum_password_length(8)
        .allow_users_to_change_password(true)
        .send()
        .await
        .unwrap();
    carol
        .change_password()
        .old_password("Third-Pass-333")
        .new_password("Fourth-Pass-4444")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn expired_passwords_need_a_change_and_hard_expiry_needs_an_administrator() {
    let mut server = TestServer::start().await;
    let root = server.root();
    root.update_account_password_policy()
        .minimum_password_length(8)
        .allow_users_to_change_password(true)
        .max_password_age(30)
        .send()
        .await
        .unwrap();
    let _ = user_with_change_password(&server, "frank").await;
    root.create_login_profile()
        .user_name("frank")
        .password("Frank-Pass-1")
        .send()
        .await
        .unwrap();
    let profile = root
        .get_login_profile()
        .user_name("frank")
        .send()
        .await
        .unwrap();
    assert!(!profile.login_profile().unwrap().password_reset_required());

    age_password(&mut server, "frank").await;
    let root = server.root();
    let profile = root
        .get_login_profile()
        .user_name("frank")
        .send()
        .await
        .unwrap();
    assert!(
        profile.login_profile().unwrap().password_reset_required(),
        "an expired password must be changed"
    );
    // The key is unchanged across the restart; the user can still change its password.
    let key = root
        .list_access_keys()
        .user_name("frank")
        .send()
        .await
        .unwrap();
    assert_eq!(key.access_key_metadata().len(), 1);
    let frank_key = root
        .create_access_key()
        .user_name("frank")
        .send()
        .await
        .unwrap();
    let frank_key = frank_key.access_key().unwrap();
    let frank = server.iam(frank_key.access_key_id(), frank_key.secret_access_key());
    frank
        .change_password()
        .old_password("Frank-Pass-1")
        .new_password("Frank-Pass-2")
        .send()
        .await
        .unwrap();
    let profile = root
        .get_login_profile()
        .user_name("frank")
        .send()
        .await
        .unwrap();
    assert!(!profile.login_profile().unwrap().password_reset_required());

    // With HardExpiry, an expired password cannot be changed by its user...
    root.update_account_password_policy()
        .minimum_password_length(8)
        .allow_users_to_change_password(true)
        .max_password_age(30)
        .hard_expiry(true)
        .send()
        .await
        .unwrap();
    age_password(&mut server, "frank").await;
    let root = server.root();
    let frank = server.iam(frank_key.access_key_id(), frank_key.secret_access_key());
    let (code, status) = error_code(
        frank
            .change_password()
            .old_password("Frank-Pass-2")
            .new_password("Frank-Pass-3")
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("PasswordPolicyViolation", 400));
    // ...only reset by an administrator.
    root.update_login_profile()
        .user_name("frank")
        .password("Frank-Pass-3")
        .send()
        .await
        .unwrap();
    frank
        .change_password()
        .old_password("Frank-Pass-3")
        .new_password("Frank-Pass-4")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn account_alias_rules() {
    let server = TestServer::start().await;
    let root = server.root();
    for bad in [
        "ab",
        "-leading",
        "trailing-",
        "double--hyphen",
        "UpperCase",
        "under_score",
        "123456789012",
        &"a".repeat(64),
    ] {
        let (code, status) =
            error_code(root.create_account_alias().account_alias(bad).send().await);
        assert_eq!((code.as_str(), status), ("ValidationError", 400), "{bad}");
    }
    let aliases = root.list_account_aliases().send().await.unwrap();
    assert!(aliases.account_aliases().is_empty());
    assert!(!aliases.is_truncated());

    root.create_account_alias()
        .account_alias("my-company-2")
        .send()
        .await
        .unwrap();
    let aliases = root.list_account_aliases().send().await.unwrap();
    assert_eq!(aliases.account_aliases(), ["my-company-2"]);
    let (code, status) = error_code(
        root.create_account_alias()
            .account_alias("another")
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("EntityAlreadyExists", 409));
    let (code, status) = error_code(
        root.delete_account_alias()
            .account_alias("another")
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("NoSuchEntity", 404));
    root.delete_account_alias()
        .account_alias("my-company-2")
        .send()
        .await
        .unwrap();
    assert!(
        root.list_account_aliases()
            .send()
            .await
            .unwrap()
            .account_aliases()
            .is_empty()
    );
    root.create_account_alias()
        .account_alias("another")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn the_account_summary_counts_what_exists() {
    let server = TestServer::start().await;
    let root = server.root();
    let summary = |root: aws_sdk_iam::Client| async move {
        root.get_account_summary()
            .send()
            .await
            .unwrap()
            .summary_map()
            .unwrap()
            .clone()
    };
    let before = summary(root.clone()).await;
    assert_eq!(before[&SummaryKeyType::Users], 0);
    assert_eq!(before[&SummaryKeyType::UsersQuota], 5000);
    assert_eq!(before[&SummaryKeyType::GroupsQuota], 300);
    assert_eq!(before[&SummaryKeyType::PoliciesQuota], 1500);
    assert_eq!(before[&SummaryKeyType::AccessKeysPerUserQuota], 2);
    assert_eq!(before[&SummaryKeyType::SigningCertificatesPerUserQuota], 2);
    assert_eq!(before[&SummaryKeyType::AccountAccessKeysPresent], 1);
    assert_eq!(
        before[&SummaryKeyType::AccountSigningCertificatesPresent],
        0
    );
    assert_eq!(before[&SummaryKeyType::AccountMfaEnabled], 0);
    // (Keys newer than this SDK's enum arrive as unknown variants.)
    for key in [
        SummaryKeyType::from("Roles"),
        SummaryKeyType::from("RolesQuota"),
        SummaryKeyType::from("InstanceProfilesQuota"),
        SummaryKeyType::GroupsPerUserQuota,
        SummaryKeyType::AttachedPoliciesPerUserQuota,
        SummaryKeyType::PolicyVersionsInUse,
        SummaryKeyType::ServerCertificates,
        SummaryKeyType::MfaDevices,
    ] {
        assert!(before.contains_key(&key), "{key:?}");
    }

    root.create_user().user_name("u1").send().await.unwrap();
    root.create_user().user_name("u2").send().await.unwrap();
    root.create_group().group_name("g1").send().await.unwrap();
    let policy = root
        .create_policy()
        .policy_name("p1")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}}"#,
        )
        .send()
        .await
        .unwrap();
    let arn = policy.policy().unwrap().arn().unwrap().to_owned();
    root.attach_user_policy()
        .user_name("u1")
        .policy_arn(&arn)
        .send()
        .await
        .unwrap();
    root.attach_group_policy()
        .group_name("g1")
        .policy_arn(CHANGE_PASSWORD_POLICY)
        .send()
        .await
        .unwrap();
    root.upload_signing_certificate()
        .certificate_body(CERT1)
        .send()
        .await
        .unwrap();
    root.create_instance_profile()
        .instance_profile_name("ip1")
        .send()
        .await
        .unwrap();
    root.create_open_id_connect_provider()
        .url("https://idp.example.com")
        .client_id_list("app")
        .thumbprint_list("0123456789012345678901234567890123456789")
        .send()
        .await
        .unwrap();
    root.set_security_token_service_preferences()
        .global_endpoint_token_version(aws_sdk_iam::types::GlobalEndpointTokenVersion::V2Token)
        .send()
        .await
        .unwrap();
    let after = summary(root.clone()).await;
    assert_eq!(after[&SummaryKeyType::from("InstanceProfiles")], 1);
    assert_eq!(after[&SummaryKeyType::from("Providers")], 1);
    assert_eq!(after[&SummaryKeyType::ServerCertificates], 0);
    assert_eq!(after[&SummaryKeyType::GlobalEndpointTokenVersion], 2);
    assert_eq!(before[&SummaryKeyType::GlobalEndpointTokenVersion], 1);
    assert_eq!(after[&SummaryKeyType::Users], 2);
    assert_eq!(after[&SummaryKeyType::Groups], 1);
    assert_eq!(after[&SummaryKeyType::Policies], 1);
    assert_eq!(after[&SummaryKeyType::PolicyVersionsInUse], 2);
    assert_eq!(after[&SummaryKeyType::AccountSigningCertificatesPresent], 1);
}

#[tokio::test]
async fn ssh_public_keys_are_validated_fingerprinted_and_capped() {
    let server = TestServer::start().await;
    let root = server.root();
    root.create_user().user_name("gina").send().await.unwrap();

    let mut ids = Vec::new();
    for (body, fingerprint) in [
        (RSA2048, RSA2048_MD5),
        (ED25519, ED25519_MD5),
        (ECDSA256, ECDSA256_MD5),
        (RSA3072_PEM, RSA3072_MD5),
    ] {
        let uploaded = root
            .upload_ssh_public_key()
            .user_name("gina")
            .ssh_public_key_body(body)
            .send()
            .await
            .unwrap();
        let key = uploaded.ssh_public_key().unwrap();
        assert_eq!(key.fingerprint(), fingerprint);
        assert!(key.ssh_public_key_id().starts_with("APKA"));
        assert_eq!(key.status(), &StatusType::Active);
        assert_eq!(key.user_name(), "gina");
        ids.push(key.ssh_public_key_id().to_owned());
    }

    // Either encoding, whichever was uploaded; ssh-keygen agrees on the PEM form.
    let get = |id: String, encoding: EncodingType| {
        let root = root.clone();
        async move {
            root.get_ssh_public_key()
                .user_name("gina")
                .ssh_public_key_id(id)
                .encoding(encoding)
                .send()
                .await
        }
    };
    let ssh = get(ids[0].clone(), EncodingType::Ssh).await.unwrap();
    assert_eq!(
        ssh.ssh_public_key().unwrap().ssh_public_key_body().trim(),
        RSA2048.trim()
    );
    let pem = get(ids[3].clone(), EncodingType::Pem).await.unwrap();
    assert_eq!(
        pem.ssh_public_key().unwrap().ssh_public_key_body().trim(),
        RSA3072_PEM.trim()
    );
    let ssh = get(ids[3].clone(), EncodingType::Ssh).await.unwrap();
    let expected: Vec<&str> = RSA3072.split_whitespace().take(2).collect();
    let got: Vec<&str> = ssh
        .ssh_public_key()
        .unwrap()
        .ssh_public_key_body()
        .split_whitespace()
        .take(2)
        .collect();
    assert_eq!(got, expected);
    let (code, _) = error_code(get("APKANOSUCHKEY0000000".into(), EncodingType::Ssh).await);
    assert_eq!(code, "NoSuchEntity");

    // Malformed, unsupported and duplicate keys are refused and change nothing.
    for (body, expected) in [
        ("this is not a key", "UnrecognizedPublicKeyEncoding"),
        (
            "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDo",
            "InvalidPublicKey",
        ),
        (RSA1024, "InvalidPublicKey"),
        (
            "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG\n-----END PUBLIC KEY-----\n",
            "InvalidPublicKey",
        ),
        (RSA2048, "DuplicateSSHPublicKey"),
        (RSA3072, "DuplicateSSHPublicKey"),
    ] {
        let (code, status) = error_code(
            root.upload_ssh_public_key()
                .user_name("gina")
                .ssh_public_key_body(body)
                .send()
                .await,
        );
        assert_eq!((code.as_str(), status), (expected, 400), "{body}");
    }
    let list = root
        .list_ssh_public_keys()
        .user_name("gina")
        .send()
        .await
        .unwrap();
    assert_eq!(list.ssh_public_keys().len(), 4);

    // Five per user.
    root.upload_ssh_public_key()
        .user_name("gina")
        .ssh_public_key_body(ed25519_key(1))
        .send()
        .await
        .unwrap();
    let (code, status) = error_code(
        root.upload_ssh_public_key()
            .user_name("gina")
            .ssh_public_key_body(ed25519_key(2))
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("LimitExceeded", 409));

    // Status.
    root.update_ssh_public_key()
        .user_name("gina")
        .ssh_public_key_id(&ids[0])
        .status(StatusType::Inactive)
        .send()
        .await
        .unwrap();
    let list = root
        .list_ssh_public_keys()
        .user_name("gina")
        .send()
        .await
        .unwrap();
    let first = list
        .ssh_public_keys()
        .iter()
        .find(|k| k.ssh_public_key_id() == ids[0])
        .unwrap();
    assert_eq!(first.status(), &StatusType::Inactive);
    let (code, _) = error_code(
        root.update_ssh_public_key()
            .user_name("gina")
            .ssh_public_key_id(&ids[0])
            .status(StatusType::Expired)
            .send()
            .await,
    );
    assert_eq!(code, "InvalidInput");

    // Keys follow a renamed user, and keep it from being deleted.
    root.update_user()
        .user_name("gina")
        .new_user_name("gina2")
        .send()
        .await
        .unwrap();
    let list = root
        .list_ssh_public_keys()
        .user_name("gina2")
        .send()
        .await
        .unwrap();
    assert_eq!(list.ssh_public_keys().len(), 5);
    let (code, status) = error_code(root.delete_user().user_name("gina2").send().await);
    assert_eq!((code.as_str(), status), ("DeleteConflict", 409));
    for key in list.ssh_public_keys() {
        root.delete_ssh_public_key()
            .user_name("gina2")
            .ssh_public_key_id(key.ssh_public_key_id())
            .send()
            .await
            .unwrap();
    }
    let (code, _) = error_code(
        root.delete_ssh_public_key()
            .user_name("gina2")
            .ssh_public_key_id(&ids[0])
            .send()
            .await,
    );
    assert_eq!(code, "NoSuchEntity");
    root.delete_user().user_name("gina2").send().await.unwrap();
}

#[tokio::test]
async fn signing_certificates_are_validated_unique_and_capped() {
    let server = TestServer::start().await;
    let root = server.root();
    root.create_user().user_name("hank").send().await.unwrap();
    root.create_user().user_name("iris").send().await.unwrap();

    let uploaded = root
        .upload_signing_certificate()
        .user_name("hank")
        .certificate_body(CERT1)
        .send()
        .await
        .unwrap();
    let cert = uploaded.certificate().unwrap();
    let id = cert.certificate_id().to_owned();
    assert_eq!(id.len(), 24);
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    );
    assert_eq!(cert.user_name(), "hank");
    assert_eq!(cert.certificate_body(), CERT1);
    assert_eq!(cert.status(), &StatusType::Active);

    // The same certificate, for anyone in the account.
    for user in ["hank", "iris"] {
        let (code, status) = error_code(
            root.upload_signing_certificate()
                .user_name(user)
                .certificate_body(CERT1)
                .send()
                .await,
        );
        assert_eq!((code.as_str(), status), ("DuplicateCertificate", 409));
    }
    // Not certificates.
    let private_key = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n";
    let truncated = &CERT2[..CERT2.len() / 2];
    for (body, expected) in [
        ("not a certificate", "MalformedCertificate"),
        (truncated, "MalformedCertificate"),
        (
            "-----BEGIN CERTIFICATE-----\nMIIBIjANBgkqhkiG\n-----END CERTIFICATE-----\n",
            "MalformedCertificate",
        ),
        (private_key, "InvalidCertificate"),
    ] {
        let result = root
            .upload_signing_certificate()
            .user_name("hank")
            .certificate_body(body)
            .send()
            .await;
        let err = result.expect_err(expected);
        let message = aws_sdk_iam::error::ProvideErrorMetadata::message(&err)
            .unwrap_or_default()
            .to_owned();
        assert!(!message.contains("MIIEvQ"), "{message}");
        let (code, status) = error_code::<_, ()>(Err(err));
        assert_eq!((code.as_str(), status), (expected, 400), "{body}");
    }
    root.upload_signing_certificate()
        .user_name("hank")
        .certificate_body(CERT2)
        .send()
        .await
        .unwrap();
    let (code, status) = error_code(
        root.upload_signing_certificate()
            .user_name("hank")
            .certificate_body(CERT3)
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("LimitExceeded", 409));
    let list = root
        .list_signing_certificates()
        .user_name("hank")
        .send()
        .await
        .unwrap();
    assert_eq!(list.certificates().len(), 2);

    root.update_signing_certificate()
        .user_name("hank")
        .certificate_id(&id)
        .status(StatusType::Inactive)
        .send()
        .await
        .unwrap();
    let list = root
        .list_signing_certificates()
        .user_name("hank")
        .send()
        .await
        .unwrap();
    let first = list
        .certificates()
        .iter()
        .find(|c| c.certificate_id() == id)
        .unwrap();
    assert_eq!(first.status(), &StatusType::Inactive);
    let (code, _) = error_code(
        root.update_signing_certificate()
            .user_name("iris")
            .certificate_id(&id)
            .status(StatusType::Active)
            .send()
            .await,
    );
    assert_eq!(code, "NoSuchEntity", "another user's certificate");

    let (code, status) = error_code(root.delete_user().user_name("hank").send().await);
    assert_eq!((code.as_str(), status), ("DeleteConflict", 409));
    for cert in list.certificates() {
        root.delete_signing_certificate()
            .user_name("hank")
            .certificate_id(cert.certificate_id())
            .send()
            .await
            .unwrap();
    }
    root.delete_user().user_name("hank").send().await.unwrap();

    // Root's own certificates (no UserName); the freed certificate may be used again.
    root.upload_signing_certificate()
        .certificate_body(CERT1)
        .send()
        .await
        .unwrap();
    let mine = root.list_signing_certificates().send().await.unwrap();
    assert_eq!(mine.certificates().len(), 1);
    assert_eq!(mine.certificates()[0].user_name(), ACCOUNT);
    let iris = root
        .list_signing_certificates()
        .user_name("iris")
        .send()
        .await
        .unwrap();
    assert!(iris.certificates().is_empty());
}

#[tokio::test]
async fn every_action_is_authorized() {
    let server = TestServer::start().await;
    let root = server.root();
    // jane may manage her own SSH keys and signing certificates, and nothing else.
    let own = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["iam:*SSHPublicKey*","iam:*SigningCertificate*"],"Resource":"arn:aws:iam::*:user/${aws:username}"}}"#;
    let jane = server.user_with_policy("jane", Some(own)).await;
    root.create_user().user_name("kyle").send().await.unwrap();

    jane.upload_ssh_public_key()
        .user_name("jane")
        .ssh_public_key_body(ED25519)
        .send()
        .await
        .unwrap();
    jane.upload_signing_certificate()
        .certificate_body(CERT1)
        .send()
        .await
        .unwrap();
    let mine = jane.list_ssh_public_keys().send().await.unwrap();
    assert_eq!(mine.ssh_public_keys().len(), 1);

    let denied = [
        error_code(
            jane.upload_ssh_public_key()
                .user_name("kyle")
                .ssh_public_key_body(ECDSA256)
                .send()
                .await,
        ),
        error_code(
            jane.upload_signing_certificate()
                .user_name("kyle")
                .certificate_body(CERT2)
                .send()
                .await,
        ),
        error_code(
            jane.create_login_profile()
                .user_name("kyle")
                .password("Kyles-Pass-1")
                .send()
                .await,
        ),
        error_code(
            jane.create_account_alias()
                .account_alias("janes-account")
                .send()
                .await,
        ),
        error_code(
            jane.update_account_password_policy()
                .minimum_password_length(6)
                .send()
                .await,
        ),
        error_code(jane.get_account_summary().send().await),
        error_code(jane.list_account_aliases().send().await),
        error_code(jane.delete_account_password_policy().send().await),
    ];
    for (code, status) in denied {
        assert_eq!((code.as_str(), status), ("AccessDenied", 403));
    }
    // Nothing the denied calls asked for happened.
    let kyle = root
        .list_ssh_public_keys()
        .user_name("kyle")
        .send()
        .await
        .unwrap();
    assert!(kyle.ssh_public_keys().is_empty());
    let (code, _) = error_code(root.get_login_profile().user_name("kyle").send().await);
    assert_eq!(code, "NoSuchEntity");
    assert!(
        root.list_account_aliases()
            .send()
            .await
            .unwrap()
            .account_aliases()
            .is_empty()
    );
    let (code, _) = error_code(root.get_account_password_policy().send().await);
    assert_eq!(code, "NoSuchEntity");

    // Account-level actions are authorized on "*".
    let admin_of_account = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["iam:*AccountAlias*","iam:GetAccountSummary","iam:*AccountPasswordPolicy"],"Resource":"*"}}"#;
    let lee = server.user_with_policy("lee", Some(admin_of_account)).await;
    lee.create_account_alias()
        .account_alias("lees-account")
        .send()
        .await
        .unwrap();
    lee.update_account_password_policy()
        .minimum_password_length(10)
        .send()
        .await
        .unwrap();
    lee.get_account_summary().send().await.unwrap();
    let (code, _) = error_code(
        lee.create_login_profile()
            .user_name("kyle")
            .password("Kyles-Pass-1")
            .send()
            .await,
    );
    assert_eq!(code, "AccessDenied");
}

#[tokio::test]
async fn everything_survives_a_restart_and_passwords_are_not_stored_in_the_clear() {
    let mut server = TestServer::start().await;
    let root = server.root();
    let password = "Restart-Secret-Pass-9";
    let _ = user_with_change_password(&server, "mia").await;
    let key = root
        .create_access_key()
        .user_name("mia")
        .send()
        .await
        .unwrap();
    let key = key.access_key().unwrap().clone();
    root.update_account_password_policy()
        .minimum_password_length(12)
        .allow_users_to_change_password(true)
        .password_reuse_prevention(3)
        .send()
        .await
        .unwrap();
    root.create_login_profile()
        .user_name("mia")
        .password(password)
        .send()
        .await
        .unwrap();
    root.create_account_alias()
        .account_alias("restart-co")
        .send()
        .await
        .unwrap();
    let ssh = root
        .upload_ssh_public_key()
        .user_name("mia")
        .ssh_public_key_body(RSA2048)
        .send()
        .await
        .unwrap();
    let ssh_id = ssh.ssh_public_key().unwrap().ssh_public_key_id().to_owned();
    let cert = root
        .upload_signing_certificate()
        .user_name("mia")
        .certificate_body(CERT3)
        .send()
        .await
        .unwrap();
    let cert_id = cert.certificate().unwrap().certificate_id().to_owned();

    server.restart().await;
    let root = server.root();

    let stored = stored_bytes(&server);
    assert!(!contains(&stored, password.as_bytes()));
    assert!(contains(&stored, b"$argon2id$"));

    let policy = root.get_account_password_policy().send().await.unwrap();
    assert_eq!(
        policy.password_policy().unwrap().minimum_password_length(),
        Some(12)
    );
    assert_eq!(
        root.list_account_aliases()
            .send()
            .await
            .unwrap()
            .account_aliases(),
        ["restart-co"]
    );
    root.get_login_profile()
        .user_name("mia")
        .send()
        .await
        .unwrap();
    let got = root
        .get_ssh_public_key()
        .user_name("mia")
        .ssh_public_key_id(&ssh_id)
        .encoding(EncodingType::Ssh)
        .send()
        .await
        .unwrap();
    assert_eq!(got.ssh_public_key().unwrap().fingerprint(), RSA2048_MD5);
    let certs = root
        .list_signing_certificates()
        .user_name("mia")
        .send()
        .await
        .unwrap();
    assert_eq!(certs.certificates()[0].certificate_id(), cert_id);
    let summary = root.get_account_summary().send().await.unwrap();
    assert_eq!(summary.summary_map().unwrap()[&SummaryKeyType::Users], 1);

    // The hash still verifies after the restart, and the reuse history was kept.
    let mia = server.iam(key.access_key_id(), key.secret_access_key());
    let (code, _) = error_code(
        mia.change_password()
            .old_password(password)
            .new_password(password)
            .send()
            .await,
    );
    assert_eq!(code, "PasswordPolicyViolation");
    mia.change_password()
        .old_password(password)
        .new_password("Another-Secret-Pass-8")
        .send()
        .await
        .unwrap();
}

/// Service-specific credentials: AWS's shapes for the user-and-password services (CodeCommit,
/// Keyspaces) and the API-key ones (Bedrock), two per service, the secret shown once and never
/// stored, and the user kept until they are gone.
#[tokio::test]
async fn service_specific_credentials_are_made_listed_reset_and_deleted() {
    let server = TestServer::start().await;
    let root = server.root();
    let (key, secret) = server
        .user_keys(
            "dev",
            Some(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*ServiceSpecificCredential*","Resource":"arn:aws:iam::111122223333:user/dev"}}"#),
        )
        .await;
    root.create_user().user_name("other").send().await.unwrap();
    let create = |user: &'static str, service: &'static str| {
        let root = root.clone();
        async move {
            root.create_service_specific_credential()
                .user_name(user)
                .service_name(service)
                .send()
                .await
        }
    };
    let made = create("dev", "codecommit.amazonaws.com").await.unwrap();
    let c = made.service_specific_credential().unwrap();
    assert_eq!(c.service_user_name(), format!("dev-at-{ACCOUNT}"));
    let password = c.service_password().to_owned();
    assert_eq!(password.len(), 44);
    assert!(c.service_specific_credential_id().starts_with("ACCA"));
    assert_eq!(c.status(), &StatusType::Active);
    assert_eq!(c.user_name(), "dev");
    let first_id = c.service_specific_credential_id().to_owned();
    create("dev", "codecommit.amazonaws.com").await.unwrap();
    let r = create("dev", "codecommit.amazonaws.com").await;
    assert_eq!(error_code(r), ("LimitExceeded".to_owned(), 409));
    create("dev", "cassandra.amazonaws.com").await.unwrap();
    create("other", "cassandra.amazonaws.com").await.unwrap();
    let r = create("dev", "s3.amazonaws.com").await;
    assert_eq!(error_code(r), ("NotSupportedService".to_owned(), 404));
    let api_key = root
        .create_service_specific_credential()
        .user_name("dev")
        .service_name("bedrock.amazonaws.com")
        .credential_age_days(30)
        .send()
        .await
        .unwrap();
    let k = api_key.service_specific_credential().unwrap();
    assert_eq!(
        k.service_credential_alias(),
        Some(format!("dev-at-{ACCOUNT}").as_str())
    );
    assert!(k.service_credential_secret().is_some() && k.service_password().is_empty());
    let expires = k.expiration_date().unwrap().secs() - k.create_date().secs();
    assert_eq!(expires, 30 * 86_400);

    // The user lists its own (no name needed); the account's administrator lists everyone's.
    let dev = server.iam(&key, &secret);
    let mine = dev
        .list_service_specific_credentials()
        .send()
        .await
        .unwrap();
    assert_eq!(mine.service_specific_credentials().len(), 4);
    let commits = dev
        .list_service_specific_credentials()
        .service_name("codecommit.amazonaws.com")
        .send()
        .await
        .unwrap();
    assert_eq!(commits.service_specific_credentials().len(), 2);
    let everyone = root
        .list_service_specific_credentials()
        .all_users(true)
        .send()
        .await
        .unwrap();
    assert_eq!(everyone.service_specific_credentials().len(), 5);
    let r = dev
        .list_service_specific_credentials()
        .user_name("other")
        .send()
        .await;
    assert_eq!(error_code(r).0, "AccessDenied");

    // Reset answers a new password; Update deactivates; Delete removes.
    let reset = dev
        .reset_service_specific_credential()
        .service_specific_credential_id(&first_id)
        .send()
        .await
        .unwrap();
    let new_password = reset
        .service_specific_credential()
        .map(|c| c.service_password().to_owned())
        .unwrap();
    assert_ne!(new_password, password);
    dev.update_service_specific_credential()
        .service_specific_credential_id(&first_id)
        .status(StatusType::Inactive)
        .send()
        .await
        .unwrap();
    let listed = dev
        .list_service_specific_credentials()
        .service_name("codecommit.amazonaws.com")
        .send()
        .await
        .unwrap();
    let first = listed
        .service_specific_credentials()
        .iter()
        .find(|c| c.service_specific_credential_id() == first_id)
        .unwrap();
    assert_eq!(first.status(), &StatusType::Inactive);

    // No secret reaches the store or the trail.
    for s in [&password, &new_password] {
        server.assert_not_stored(s);
    }
    let r = root.delete_user().user_name("other").send().await;
    assert_eq!(error_code(r).0, "DeleteConflict");
    let others = root
        .list_service_specific_credentials()
        .user_name("other")
        .send()
        .await
        .unwrap();
    for c in others.service_specific_credentials() {
        root.delete_service_specific_credential()
            .user_name("other")
            .service_specific_credential_id(c.service_specific_credential_id())
            .send()
            .await
            .unwrap();
    }
    root.delete_user().user_name("other").send().await.unwrap();
    let r = dev
        .delete_service_specific_credential()
        .service_specific_credential_id("ACCAEXAMPLE123EXAMPLE")
        .send()
        .await;
    assert_eq!(error_code(r).0, "NoSuchEntity");
}
