//! The whole dispatch table, walked (issue 7, hole 6): every IAM and STS action served is
//! (a) denied to a principal with no permissions, (b) decided with the tags of its target
//! (`aws:ResourceTag/*`) when its target is a tagged entity, and (c) changes nothing when
//! denied. A served action without a row here fails the test, so a new handler cannot skip
//! the guard.

mod common;

use common::{ACCOUNT, RawAnswer, RawAuth, RawRequest, RawSigner, TestServer, versioned_form};

const SSH_KEY: &str = include_str!("fixtures/rsa2048.pub");
const SIGNING_CERT: &str = include_str!("fixtures/cert1.pem");
const LEAF_PEM: &str = include_str!("fixtures/leaf-rsa.pem");
const LEAF_KEY: &str = include_str!("fixtures/leaf-rsa.key");
const METADATA: &str = include_str!("fixtures/saml-metadata.xml");
const THUMB: &str = "0123456789012345678901234567890123456789";
const DOC: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#;
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}"#;
const SERVICE_CREDENTIAL: &str = "ACCAEXAMPLE123EXAMPLE";
const JOB_ID: &str = "01234567-89ab-cdef-0123-456789abcdef";
const BOUNDARY: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";

/// Whether an action's target is an entity that carries the `locked=yes` tag.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Target {
    /// A tagged user, role, policy, instance profile, provider, certificate or MFA device.
    Tagged,
    /// Nothing taggable: a creation, a list, a group, the account, the caller itself.
    Untagged,
}

/// The ids the fixture created, for the rows' parameters.
struct Ids {
    key: String,
    ssh: String,
    cert: String,
    mfa: String,
    policy: String,
    oidc: String,
    saml: String,
}

/// One action with well-formed parameters naming the fixture's entities.
struct Row {
    version: &'static str,
    action: &'static str,
    params: Vec<(&'static str, String)>,
    target: Target,
}

fn tag_params() -> Vec<(&'static str, String)> {
    vec![
        ("Tags.member.1.Key", "k".into()),
        ("Tags.member.1.Value", "v".into()),
    ]
}

fn rows(ids: &Ids) -> Vec<Row> {
    use Target::{Tagged, Untagged};
    let s = |v: &str| v.to_owned();
    let user = || ("UserName", s("target"));
    let role = || ("RoleName", s("rl"));
    let group = || ("GroupName", s("grp"));
    let policy = || ("PolicyArn", ids.policy.clone());
    let profile = || ("InstanceProfileName", s("ip"));
    let oidc = || ("OpenIDConnectProviderArn", ids.oidc.clone());
    let saml = || ("SAMLProviderArn", ids.saml.clone());
    let cert = || ("ServerCertificateName", s("sc"));
    let mfa = || ("SerialNumber", ids.mfa.clone());
    let untag = || ("TagKeys.member.1", s("locked"));
    let account = ids.policy.split(':').nth(4).unwrap_or_default();
    let target_arn = format!("arn:aws:iam::{account}:user/target");
    let with = |mut a: Vec<(&'static str, String)>, b: Vec<(&'static str, String)>| {
        a.extend(b);
        a
    };
    let iam = |action, params, target| Row {
        version: "2010-05-08",
        action,
        params,
        target,
    };
    let sts = |action, params, target| Row {
        version: "2011-06-15",
        action,
        params,
        target,
    };
    vec![
        // Users.
        iam("CreateUser", vec![("UserName", s("new-user"))], Untagged),
        iam("GetUser", vec![user()], Tagged),
        iam("ListUsers", vec![], Untagged),
        iam(
            "UpdateUser",
            vec![user(), ("NewPath", s("/moved/"))],
            Tagged,
        ),
        iam("DeleteUser", vec![user()], Tagged),
        iam("TagUser", with(vec![user()], tag_params()), Tagged),
        iam("UntagUser", vec![user(), untag()], Tagged),
        iam("ListUserTags", vec![user()], Tagged),
        iam(
            "PutUserPermissionsBoundary",
            vec![user(), ("PermissionsBoundary", s(BOUNDARY))],
            Tagged,
        ),
        iam("DeleteUserPermissionsBoundary", vec![user()], Tagged),
        // Groups (IAM does not tag groups).
        iam("CreateGroup", vec![("GroupName", s("new-group"))], Untagged),
        iam("GetGroup", vec![group()], Untagged),
        iam("ListGroups", vec![], Untagged),
        iam(
            "UpdateGroup",
            vec![group(), ("NewPath", s("/moved/"))],
            Untagged,
        ),
        iam("DeleteGroup", vec![group()], Untagged),
        iam("AddUserToGroup", vec![group(), user()], Untagged),
        iam("RemoveUserFromGroup", vec![group(), user()], Untagged),
        iam("ListGroupsForUser", vec![user()], Tagged),
        // Managed policies.
        iam(
            "CreatePolicy",
            vec![("PolicyName", s("new-policy")), ("PolicyDocument", s(DOC))],
            Untagged,
        ),
        iam("GetPolicy", vec![policy()], Tagged),
        iam("ListPolicies", vec![], Untagged),
        iam("DeletePolicy", vec![policy()], Tagged),
        iam(
            "CreatePolicyVersion",
            vec![policy(), ("PolicyDocument", s(DOC))],
            Tagged,
        ),
        iam(
            "GetPolicyVersion",
            vec![policy(), ("VersionId", s("v1"))],
            Tagged,
        ),
        iam("ListPolicyVersions", vec![policy()], Tagged),
        iam(
            "DeletePolicyVersion",
            vec![policy(), ("VersionId", s("v1"))],
            Tagged,
        ),
        iam(
            "SetDefaultPolicyVersion",
            vec![policy(), ("VersionId", s("v1"))],
            Tagged,
        ),
        iam("ListEntitiesForPolicy", vec![policy()], Tagged),
        iam("AttachUserPolicy", vec![user(), policy()], Tagged),
        iam("DetachUserPolicy", vec![user(), policy()], Tagged),
        iam("ListAttachedUserPolicies", vec![user()], Tagged),
        iam("AttachGroupPolicy", vec![group(), policy()], Untagged),
        iam("DetachGroupPolicy", vec![group(), policy()], Untagged),
        iam("ListAttachedGroupPolicies", vec![group()], Untagged),
        iam(
            "PutUserPolicy",
            vec![user(), ("PolicyName", s("in")), ("PolicyDocument", s(DOC))],
            Tagged,
        ),
        iam(
            "GetUserPolicy",
            vec![user(), ("PolicyName", s("in"))],
            Tagged,
        ),
        iam(
            "DeleteUserPolicy",
            vec![user(), ("PolicyName", s("in"))],
            Tagged,
        ),
        iam("ListUserPolicies", vec![user()], Tagged),
        iam(
            "PutGroupPolicy",
            vec![group(), ("PolicyName", s("in")), ("PolicyDocument", s(DOC))],
            Untagged,
        ),
        iam(
            "GetGroupPolicy",
            vec![group(), ("PolicyName", s("in"))],
            Untagged,
        ),
        iam(
            "DeleteGroupPolicy",
            vec![group(), ("PolicyName", s("in"))],
            Untagged,
        ),
        iam("ListGroupPolicies", vec![group()], Untagged),
        iam("TagPolicy", with(vec![policy()], tag_params()), Tagged),
        iam("UntagPolicy", vec![policy(), untag()], Tagged),
        iam("ListPolicyTags", vec![policy()], Tagged),
        // Roles.
        iam(
            "CreateRole",
            vec![
                ("RoleName", s("new-role")),
                ("AssumeRolePolicyDocument", s(TRUST)),
            ],
            Untagged,
        ),
        iam("GetRole", vec![role()], Tagged),
        iam("ListRoles", vec![], Untagged),
        iam("UpdateRole", vec![role(), ("Description", s("d"))], Tagged),
        iam(
            "UpdateRoleDescription",
            vec![role(), ("Description", s("d"))],
            Tagged,
        ),
        iam(
            "UpdateAssumeRolePolicy",
            vec![role(), ("PolicyDocument", s(TRUST))],
            Tagged,
        ),
        iam("DeleteRole", vec![role()], Tagged),
        iam("TagRole", with(vec![role()], tag_params()), Tagged),
        iam("UntagRole", vec![role(), untag()], Tagged),
        iam("ListRoleTags", vec![role()], Tagged),
        iam(
            "PutRolePermissionsBoundary",
            vec![role(), ("PermissionsBoundary", s(BOUNDARY))],
            Tagged,
        ),
        iam("DeleteRolePermissionsBoundary", vec![role()], Tagged),
        iam("AttachRolePolicy", vec![role(), policy()], Tagged),
        iam("DetachRolePolicy", vec![role(), policy()], Tagged),
        iam("ListAttachedRolePolicies", vec![role()], Tagged),
        iam(
            "PutRolePolicy",
            vec![role(), ("PolicyName", s("in")), ("PolicyDocument", s(DOC))],
            Tagged,
        ),
        iam(
            "GetRolePolicy",
            vec![role(), ("PolicyName", s("in"))],
            Tagged,
        ),
        iam(
            "DeleteRolePolicy",
            vec![role(), ("PolicyName", s("in"))],
            Tagged,
        ),
        iam("ListRolePolicies", vec![role()], Tagged),
        // Instance profiles.
        iam(
            "CreateInstanceProfile",
            vec![("InstanceProfileName", s("new-profile"))],
            Untagged,
        ),
        iam("GetInstanceProfile", vec![profile()], Tagged),
        iam("ListInstanceProfiles", vec![], Untagged),
        iam("DeleteInstanceProfile", vec![profile()], Tagged),
        iam("AddRoleToInstanceProfile", vec![profile(), role()], Tagged),
        iam(
            "RemoveRoleFromInstanceProfile",
            vec![profile(), role()],
            Tagged,
        ),
        iam("ListInstanceProfilesForRole", vec![role()], Tagged),
        iam(
            "TagInstanceProfile",
            with(vec![profile()], tag_params()),
            Tagged,
        ),
        iam("UntagInstanceProfile", vec![profile(), untag()], Tagged),
        iam("ListInstanceProfileTags", vec![profile()], Tagged),
        // Access keys.
        iam("CreateAccessKey", vec![user()], Tagged),
        iam("ListAccessKeys", vec![user()], Tagged),
        iam(
            "UpdateAccessKey",
            vec![
                user(),
                ("AccessKeyId", ids.key.clone()),
                ("Status", s("Inactive")),
            ],
            Tagged,
        ),
        iam(
            "DeleteAccessKey",
            vec![user(), ("AccessKeyId", ids.key.clone())],
            Tagged,
        ),
        iam(
            "GetAccessKeyLastUsed",
            vec![("AccessKeyId", ids.key.clone())],
            Tagged,
        ),
        iam("GetAccountAuthorizationDetails", vec![], Untagged),
        // Passwords and the account.
        iam(
            "CreateLoginProfile",
            vec![user(), ("Password", s("Correct-Horse-9"))],
            Tagged,
        ),
        iam("GetLoginProfile", vec![user()], Tagged),
        iam(
            "UpdateLoginProfile",
            vec![user(), ("Password", s("Battery-Staple-7"))],
            Tagged,
        ),
        iam("DeleteLoginProfile", vec![user()], Tagged),
        iam(
            "ChangePassword",
            vec![
                ("OldPassword", s("Old-Password-1")),
                ("NewPassword", s("New-Password-2")),
            ],
            Untagged,
        ),
        iam(
            "UpdateAccountPasswordPolicy",
            vec![("MinimumPasswordLength", s("12"))],
            Untagged,
        ),
        iam("GetAccountPasswordPolicy", vec![], Untagged),
        iam("DeleteAccountPasswordPolicy", vec![], Untagged),
        iam(
            "CreateAccountAlias",
            vec![("AccountAlias", s("my-alias"))],
            Untagged,
        ),
        iam("ListAccountAliases", vec![], Untagged),
        iam(
            "DeleteAccountAlias",
            vec![("AccountAlias", s("the-alias"))],
            Untagged,
        ),
        iam("GetAccountSummary", vec![], Untagged),
        iam(
            "SetSecurityTokenServicePreferences",
            vec![("GlobalEndpointTokenVersion", s("v2Token"))],
            Untagged,
        ),
        iam("GenerateCredentialReport", vec![], Untagged),
        iam("GetCredentialReport", vec![], Untagged),
        // Last-accessed data: a user's report and policies are on the user.
        iam(
            "GenerateServiceLastAccessedDetails",
            vec![("Arn", target_arn.clone())],
            Tagged,
        ),
        iam(
            "GetServiceLastAccessedDetails",
            vec![("JobId", s(JOB_ID))],
            Untagged,
        ),
        iam(
            "GetServiceLastAccessedDetailsWithEntities",
            vec![("JobId", s(JOB_ID)), ("ServiceNamespace", s("s3"))],
            Untagged,
        ),
        iam(
            "ListPoliciesGrantingServiceAccess",
            vec![
                ("Arn", target_arn.clone()),
                ("ServiceNamespaces.member.1", s("s3")),
            ],
            Tagged,
        ),
        // Service-specific credentials: their user is the target.
        iam(
            "CreateServiceSpecificCredential",
            vec![user(), ("ServiceName", s("codecommit.amazonaws.com"))],
            Tagged,
        ),
        iam("ListServiceSpecificCredentials", vec![user()], Tagged),
        iam(
            "ResetServiceSpecificCredential",
            vec![
                user(),
                ("ServiceSpecificCredentialId", s(SERVICE_CREDENTIAL)),
            ],
            Tagged,
        ),
        iam(
            "UpdateServiceSpecificCredential",
            vec![
                user(),
                ("ServiceSpecificCredentialId", s(SERVICE_CREDENTIAL)),
                ("Status", s("Inactive")),
            ],
            Tagged,
        ),
        iam(
            "DeleteServiceSpecificCredential",
            vec![
                user(),
                ("ServiceSpecificCredentialId", s(SERVICE_CREDENTIAL)),
            ],
            Tagged,
        ),
        // SSH keys and signing certificates: their user is the target.
        iam(
            "UploadSSHPublicKey",
            vec![user(), ("SSHPublicKeyBody", s(SSH_KEY.trim()))],
            Tagged,
        ),
        iam(
            "GetSSHPublicKey",
            vec![
                user(),
                ("SSHPublicKeyId", ids.ssh.clone()),
                ("Encoding", s("SSH")),
            ],
            Tagged,
        ),
        iam("ListSSHPublicKeys", vec![user()], Tagged),
        iam(
            "UpdateSSHPublicKey",
            vec![
                user(),
                ("SSHPublicKeyId", ids.ssh.clone()),
                ("Status", s("Inactive")),
            ],
            Tagged,
        ),
        iam(
            "DeleteSSHPublicKey",
            vec![user(), ("SSHPublicKeyId", ids.ssh.clone())],
            Tagged,
        ),
        iam(
            "UploadSigningCertificate",
            vec![user(), ("CertificateBody", s(SIGNING_CERT))],
            Tagged,
        ),
        iam("ListSigningCertificates", vec![user()], Tagged),
        iam(
            "UpdateSigningCertificate",
            vec![
                user(),
                ("CertificateId", ids.cert.clone()),
                ("Status", s("Inactive")),
            ],
            Tagged,
        ),
        iam(
            "DeleteSigningCertificate",
            vec![user(), ("CertificateId", ids.cert.clone())],
            Tagged,
        ),
        // OpenID Connect providers.
        iam(
            "CreateOpenIDConnectProvider",
            vec![
                ("Url", s("https://other.example.com")),
                ("ThumbprintList.member.1", s(THUMB)),
            ],
            Untagged,
        ),
        iam("GetOpenIDConnectProvider", vec![oidc()], Tagged),
        iam("ListOpenIDConnectProviders", vec![], Untagged),
        iam("DeleteOpenIDConnectProvider", vec![oidc()], Tagged),
        iam(
            "AddClientIDToOpenIDConnectProvider",
            vec![oidc(), ("ClientID", s("app"))],
            Tagged,
        ),
        iam(
            "RemoveClientIDFromOpenIDConnectProvider",
            vec![oidc(), ("ClientID", s("app"))],
            Tagged,
        ),
        iam(
            "UpdateOpenIDConnectProviderThumbprint",
            vec![oidc(), ("ThumbprintList.member.1", s(THUMB))],
            Tagged,
        ),
        iam(
            "TagOpenIDConnectProvider",
            with(vec![oidc()], tag_params()),
            Tagged,
        ),
        iam("UntagOpenIDConnectProvider", vec![oidc(), untag()], Tagged),
        iam("ListOpenIDConnectProviderTags", vec![oidc()], Tagged),
        // SAML providers.
        iam(
            "CreateSAMLProvider",
            vec![("Name", s("Other")), ("SAMLMetadataDocument", s(METADATA))],
            Untagged,
        ),
        iam("GetSAMLProvider", vec![saml()], Tagged),
        iam("ListSAMLProviders", vec![], Untagged),
        iam(
            "UpdateSAMLProvider",
            vec![saml(), ("SAMLMetadataDocument", s(METADATA))],
            Tagged,
        ),
        iam("DeleteSAMLProvider", vec![saml()], Tagged),
        iam("TagSAMLProvider", with(vec![saml()], tag_params()), Tagged),
        iam("UntagSAMLProvider", vec![saml(), untag()], Tagged),
        iam("ListSAMLProviderTags", vec![saml()], Tagged),
        // Server certificates.
        iam(
            "UploadServerCertificate",
            vec![
                ("ServerCertificateName", s("new-cert")),
                ("CertificateBody", s(LEAF_PEM)),
                ("PrivateKey", s(LEAF_KEY)),
            ],
            Untagged,
        ),
        iam("GetServerCertificate", vec![cert()], Tagged),
        iam("ListServerCertificates", vec![], Untagged),
        iam(
            "UpdateServerCertificate",
            vec![cert(), ("NewPath", s("/moved/"))],
            Tagged,
        ),
        iam("DeleteServerCertificate", vec![cert()], Tagged),
        iam(
            "TagServerCertificate",
            with(vec![cert()], tag_params()),
            Tagged,
        ),
        iam("UntagServerCertificate", vec![cert(), untag()], Tagged),
        iam("ListServerCertificateTags", vec![cert()], Tagged),
        // Virtual MFA devices.
        iam(
            "CreateVirtualMFADevice",
            vec![("VirtualMFADeviceName", s("new-device"))],
            Untagged,
        ),
        iam(
            "EnableMFADevice",
            vec![
                user(),
                mfa(),
                ("AuthenticationCode1", s("123456")),
                ("AuthenticationCode2", s("654321")),
            ],
            Tagged,
        ),
        iam(
            "ResyncMFADevice",
            vec![
                user(),
                mfa(),
                ("AuthenticationCode1", s("123456")),
                ("AuthenticationCode2", s("654321")),
            ],
            Tagged,
        ),
        iam("DeactivateMFADevice", vec![user(), mfa()], Tagged),
        iam("DeleteVirtualMFADevice", vec![mfa()], Tagged),
        iam("ListMFADevices", vec![user()], Tagged),
        iam("ListVirtualMFADevices", vec![], Untagged),
        iam("GetMFADevice", vec![mfa()], Tagged),
        iam("TagMFADevice", with(vec![mfa()], tag_params()), Tagged),
        iam("UntagMFADevice", vec![mfa(), untag()], Tagged),
        iam("ListMFADeviceTags", vec![mfa()], Tagged),
        // STS. GetCallerIdentity and GetSessionToken are served to every caller, as in AWS.
        sts(
            "AssumeRole",
            vec![
                ("RoleArn", format!("arn:aws:iam::{ACCOUNT}:role/rl")),
                ("RoleSessionName", s("probe")),
            ],
            Tagged,
        ),
        sts("GetFederationToken", vec![("Name", s("fed"))], Untagged),
        sts(
            "GetAccessKeyInfo",
            vec![("AccessKeyId", ids.key.clone())],
            Untagged,
        ),
        sts(
            "DecodeAuthorizationMessage",
            vec![("EncodedMessage", s("not-a-message"))],
            Untagged,
        ),
    ]
}

/// STS actions that no policy governs (AWS serves them to any caller with credentials).
const UNGOVERNED: [&str; 2] = ["GetCallerIdentity", "GetSessionToken"];

async fn fixture(server: &TestServer) -> Ids {
    use aws_sdk_iam::types::Tag;
    let root = server.root();
    let locked = || Tag::builder().key("locked").value("yes").build().unwrap();
    root.create_user()
        .user_name("target")
        .tags(locked())
        .send()
        .await
        .unwrap();
    let key = root
        .create_access_key()
        .user_name("target")
        .send()
        .await
        .unwrap()
        .access_key()
        .unwrap()
        .access_key_id()
        .to_owned();
    root.create_login_profile()
        .user_name("target")
        .password("Initial-Password-3")
        .send()
        .await
        .unwrap();
    root.put_user_policy()
        .user_name("target")
        .policy_name("in")
        .policy_document(DOC)
        .send()
        .await
        .unwrap();
    let ssh = root
        .upload_ssh_public_key()
        .user_name("target")
        .ssh_public_key_body(SSH_KEY.trim())
        .send()
        .await
        .unwrap()
        .ssh_public_key()
        .unwrap()
        .ssh_public_key_id()
        .to_owned();
    let cert = root
        .upload_signing_certificate()
        .user_name("target")
        .certificate_body(SIGNING_CERT)
        .send()
        .await
        .unwrap()
        .certificate()
        .unwrap()
        .certificate_id()
        .to_owned();
    root.create_group().group_name("grp").send().await.unwrap();
    root.create_role()
        .role_name("rl")
        .assume_role_policy_document(TRUST)
        .tags(locked())
        .send()
        .await
        .unwrap();
    let policy = root
        .create_policy()
        .policy_name("pol")
        .policy_document(DOC)
        .tags(locked())
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    root.create_instance_profile()
        .instance_profile_name("ip")
        .tags(locked())
        .send()
        .await
        .unwrap();
    let oidc = root
        .create_open_id_connect_provider()
        .url("https://token.example.com")
        .thumbprint_list(THUMB)
        .tags(locked())
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
        .tags(locked())
        .send()
        .await
        .unwrap()
        .saml_provider_arn()
        .unwrap()
        .to_owned();
    root.upload_server_certificate()
        .server_certificate_name("sc")
        .certificate_body(LEAF_PEM)
        .private_key(LEAF_KEY)
        .tags(locked())
        .send()
        .await
        .unwrap();
    let mfa = root
        .create_virtual_mfa_device()
        .virtual_mfa_device_name("dev")
        .tags(locked())
        .send()
        .await
        .unwrap()
        .virtual_mfa_device()
        .unwrap()
        .serial_number()
        .to_owned();
    root.create_account_alias()
        .account_alias("the-alias")
        .send()
        .await
        .unwrap();
    Ids {
        key,
        ssh,
        cert,
        mfa,
        policy,
        oidc,
        saml,
    }
}

async fn call(server: &TestServer, row: &Row, key: &str, secret: &str) -> RawAnswer {
    let pairs: Vec<(&str, &str)> = std::iter::once(("Action", row.action))
        .chain(row.params.iter().map(|(k, v)| (*k, v.as_str())))
        .collect();
    let service = if row.version == "2011-06-15" {
        "sts"
    } else {
        "iam"
    };
    let request = RawRequest::post(versioned_form(&pairs, row.version));
    server
        .send_raw(
            &request,
            &RawAuth::Signed(RawSigner::new(key, secret).service(service)),
        )
        .await
}

#[tokio::test]
async fn every_served_action_is_authorized_on_its_tagged_target_and_changes_nothing_when_denied() {
    let server = TestServer::start().await;
    let ids = fixture(&server).await;
    let rows = rows(&ids);

    // The table covers the dispatch tables exactly.
    let served = portcullis_server::served_actions();
    for (version, action) in &served {
        assert!(
            rows.iter()
                .any(|r| r.version == *version && r.action == *action)
                || (*version == "2011-06-15" && UNGOVERNED.contains(action)),
            "{action} ({version}) is served but has no row in this table"
        );
    }
    for row in &rows {
        assert!(
            served.contains(&(row.version, row.action)),
            "{} has a row but is not served",
            row.action
        );
    }

    let (nobody_key, nobody_secret) = server.user_keys("nobody", None).await;
    let (tagged_key, tagged_secret) = server
        .user_keys(
            "tag-denied",
            Some(
                r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":"*","Resource":"*"},
                {"Sid":"Locked","Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/locked":"yes"}}}]}"#,
            ),
        )
        .await;
    let before = server.digest();
    let mut failures = Vec::new();
    for row in &rows {
        let prefix = if row.version == "2011-06-15" {
            "sts"
        } else {
            "iam"
        };
        // (a) No permissions: AccessDenied for this very action.
        let answer = call(&server, row, &nobody_key, &nobody_secret).await;
        let expected = format!("is not authorized to perform: {prefix}:{}", row.action);
        if answer.code != "AccessDenied" || !answer.message.contains(&expected) {
            failures.push(format!(
                "{}: no permissions → {} {} {}",
                row.action, answer.status, answer.code, answer.message
            ));
        }
        // (c) Nothing changed.
        if server.digest() != before {
            failures.push(format!("{}: denied, yet the state changed", row.action));
            break;
        }
        // (b) The target's tags decide: an explicit deny on aws:ResourceTag/locked.
        if row.target == Target::Tagged {
            let answer = call(&server, row, &tagged_key, &tagged_secret).await;
            let explicit = answer.message.contains("explicit deny")
                // AssumeRole's denials are AWS's bare text, whatever decided them.
                || (row.action == "AssumeRole" && answer.message.contains(&expected));
            if answer.code != "AccessDenied" || !explicit {
                failures.push(format!(
                    "{}: tagged target → {} {} {}",
                    row.action, answer.status, answer.code, answer.message
                ));
            }
            if server.digest() != before {
                failures.push(format!(
                    "{}: denied by tag, yet the state changed",
                    row.action
                ));
                break;
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
