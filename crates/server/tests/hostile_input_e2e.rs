//! Hostile input, end to end: malformed, oversized, oddly encoded, duplicated, unsigned and
//! badly signed requests against the real server, over raw HTTP. Every case is a row of a
//! table: the request, how it is authenticated, and AWS's error code and HTTP status. Each
//! case must get that answer, a body an SDK can parse (XML 1.0 characters only), and leave the
//! state digest unchanged.
//!
//! Left to the attack suite of issue 7 (not here): role resolution by exact ARN, credential
//! types, signature scope and region, provider ARNs, missing checks, resource tags,
//! enumeration, MFA lockout, password throttling, body limits, disk and TLS.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{ACCOUNT, RawAuth, RawRequest, RawSigner, TestServer, form, versioned_form};

const IAM_VERSION: &str = "2010-05-08";
const STS_VERSION: &str = "2011-06-15";
const TEN_MB: usize = 10 * 1024 * 1024;

/// One hostile request and the answer AWS gives it.
struct Case {
    name: String,
    request: RawRequest,
    auth: RawAuth,
    code: &'static str,
    status: u16,
}

/// An IAM call signed by root, its parameters form-encoded in a POST body.
fn iam(name: &str, pairs: &[(&str, &str)], code: &'static str, status: u16) -> Case {
    as_signer(name, &RawSigner::root(), IAM_VERSION, pairs, code, status)
}

/// A call signed by `signer` (STS calls are signed for `sts`).
fn as_signer(
    name: &str,
    signer: &RawSigner,
    version: &str,
    pairs: &[(&str, &str)],
    code: &'static str,
    status: u16,
) -> Case {
    let signer = if version == STS_VERSION {
        signer.clone().service("sts")
    } else {
        signer.clone()
    };
    raw(
        name,
        RawRequest::post(versioned_form(pairs, version)),
        RawAuth::Signed(signer),
        code,
        status,
    )
}

fn raw(name: &str, request: RawRequest, auth: RawAuth, code: &'static str, status: u16) -> Case {
    Case {
        name: name.to_owned(),
        request,
        auth,
        code,
        status,
    }
}

/// Runs every case; all failures are reported together.
async fn run(server: &TestServer, cases: Vec<Case>) -> usize {
    let mut failures = Vec::new();
    for case in &cases {
        let before = server.digest();
        let answer = server.send_raw(&case.request, &case.auth).await;
        let after = server.digest();
        if (answer.code.as_str(), answer.status) != (case.code, case.status) {
            let mut message = answer.message.clone();
            message.truncate(300);
            failures.push(format!(
                "{}: expected {} {}, got {} {}: {message}",
                case.name, case.code, case.status, answer.code, answer.status
            ));
        }
        if before != after {
            failures.push(format!("{}: the state changed", case.name));
        }
        if !answer.is_xml_text() {
            failures.push(format!("{}: the body is not XML 1.0 text", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    cases.len()
}

/// A server holding a little of everything, and alice's keys (alice has no permissions).
struct Fixture {
    server: TestServer,
    alice: RawSigner,
    /// May assume role `app` (which trusts the account), so AssumeRole input is checked.
    assumer: RawSigner,
    mfa_serial: String,
}

const TRUST_ROOT: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}]}"#;
const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

async fn fixture() -> Fixture {
    let server = TestServer::start().await;
    let root = server.root();
    root.create_user()
        .user_name("alice")
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("team")
                .value("a")
                .build()
                .expect("tag"),
        )
        .send()
        .await
        .expect("alice");
    let key = root
        .create_access_key()
        .user_name("alice")
        .send()
        .await
        .expect("key");
    let key = key.access_key().expect("key");
    root.create_group()
        .group_name("devs")
        .send()
        .await
        .expect("group");
    root.create_role()
        .role_name("app")
        .assume_role_policy_document(TRUST_ROOT)
        .send()
        .await
        .expect("role");
    root.create_policy()
        .policy_name("p1")
        .policy_document(ALLOW_ALL)
        .send()
        .await
        .expect("policy");
    root.create_instance_profile()
        .instance_profile_name("ip")
        .send()
        .await
        .expect("instance profile");
    root.create_open_id_connect_provider()
        .url("https://issuer.example")
        .client_id_list("client")
        .thumbprint_list("0".repeat(40))
        .send()
        .await
        .expect("oidc provider");
    let device = root
        .create_virtual_mfa_device()
        .virtual_mfa_device_name("alice-phone")
        .send()
        .await
        .expect("mfa device");
    let mfa_serial = device
        .virtual_mfa_device()
        .map(|d| d.serial_number().to_owned())
        .expect("serial");
    let may_assume = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::111122223333:role/app"}]}"#;
    server.user_with_policy("assumer", Some(may_assume)).await;
    let key2 = root
        .create_access_key()
        .user_name("assumer")
        .send()
        .await
        .expect("assumer key");
    let key2 = key2.access_key().expect("key");
    Fixture {
        alice: RawSigner::new(key.access_key_id(), key.secret_access_key()),
        assumer: RawSigner::new(key2.access_key_id(), key2.secret_access_key()),
        server,
        mfa_serial,
    }
}

fn names_cases() -> Vec<Case> {
    let long65 = "a".repeat(65);
    let long129 = "g".repeat(129);
    let huge = "u".repeat(TEN_MB);
    let mut cases = Vec::new();
    for (label, name) in [
        ("empty", ""),
        ("65 characters", long65.as_str()),
        ("forbidden !", "bob!"),
        ("space", "bob smith"),
        ("slash", "a/b"),
        ("colon", "a:b"),
        ("unicode letter", "bøb"),
        ("emoji", "😀"),
        ("NUL", "bob\0"),
        ("control character", "bob\u{1b}[31m"),
        ("right-to-left override", "a\u{202e}b"),
        ("10 MB", huge.as_str()),
    ] {
        cases.push(iam(
            &format!("CreateUser name: {label}"),
            &[("Action", "CreateUser"), ("UserName", name)],
            "ValidationError",
            400,
        ));
    }
    cases.extend([
        iam(
            "CreateUser without UserName",
            &[("Action", "CreateUser")],
            "ValidationError",
            400,
        ),
        iam(
            "CreateUser ALICE (exists, names ignore case)",
            &[("Action", "CreateUser"), ("UserName", "ALICE")],
            "EntityAlreadyExists",
            409,
        ),
        iam(
            "GetUser of nobody",
            &[("Action", "GetUser"), ("UserName", "nobody")],
            "NoSuchEntity",
            404,
        ),
        iam(
            "CreateGroup name: 129 characters",
            &[("Action", "CreateGroup"), ("GroupName", &long129)],
            "ValidationError",
            400,
        ),
        iam(
            "CreateGroup DEVS (exists)",
            &[("Action", "CreateGroup"), ("GroupName", "DEVS")],
            "EntityAlreadyExists",
            409,
        ),
        iam(
            "CreateRole name: 65 characters",
            &[
                ("Action", "CreateRole"),
                ("RoleName", &long65),
                ("AssumeRolePolicyDocument", TRUST_ROOT),
            ],
            "ValidationError",
            400,
        ),
        iam(
            "CreateRole name: slash",
            &[
                ("Action", "CreateRole"),
                ("RoleName", "role/x"),
                ("AssumeRolePolicyDocument", TRUST_ROOT),
            ],
            "ValidationError",
            400,
        ),
        iam(
            "PutUserPolicy name: 129 characters",
            &[
                ("Action", "PutUserPolicy"),
                ("UserName", "alice"),
                ("PolicyName", &long129),
                ("PolicyDocument", ALLOW_ALL),
            ],
            "ValidationError",
            400,
        ),
        iam(
            "PutUserPolicy name: space",
            &[
                ("Action", "PutUserPolicy"),
                ("UserName", "alice"),
                ("PolicyName", "a b"),
                ("PolicyDocument", ALLOW_ALL),
            ],
            "ValidationError",
            400,
        ),
        iam(
            "CreatePolicy name: empty",
            &[
                ("Action", "CreatePolicy"),
                ("PolicyName", ""),
                ("PolicyDocument", ALLOW_ALL),
            ],
            "ValidationError",
            400,
        ),
        iam(
            "CreatePolicy p1 (exists)",
            &[
                ("Action", "CreatePolicy"),
                ("PolicyName", "p1"),
                ("PolicyDocument", ALLOW_ALL),
            ],
            "EntityAlreadyExists",
            409,
        ),
        iam(
            "CreateInstanceProfile name: colon",
            &[
                ("Action", "CreateInstanceProfile"),
                ("InstanceProfileName", "a:b"),
            ],
            "ValidationError",
            400,
        ),
        iam(
            "CreateAccountAlias: upper case",
            &[("Action", "CreateAccountAlias"), ("AccountAlias", "UPPER")],
            "ValidationError",
            400,
        ),
        iam(
            "CreateAccountAlias: leading hyphen",
            &[("Action", "CreateAccountAlias"), ("AccountAlias", "-start")],
            "ValidationError",
            400,
        ),
        iam(
            "CreateAccountAlias: 2 characters",
            &[("Action", "CreateAccountAlias"), ("AccountAlias", "ab")],
            "ValidationError",
            400,
        ),
        iam(
            "UpdateUser NewUserName: forbidden character",
            &[
                ("Action", "UpdateUser"),
                ("UserName", "alice"),
                ("NewUserName", "al ice"),
            ],
            "ValidationError",
            400,
        ),
        iam(
            "UpdateUser of nobody",
            &[
                ("Action", "UpdateUser"),
                ("UserName", "nobody"),
                ("NewUserName", "somebody"),
            ],
            "NoSuchEntity",
            404,
        ),
        iam(
            "CreateVirtualMFADevice name: space",
            &[
                ("Action", "CreateVirtualMFADevice"),
                ("VirtualMFADeviceName", "a b"),
            ],
            "ValidationError",
            400,
        ),
        iam(
            "DeleteUser of alice with a key (conflict)",
            &[("Action", "DeleteUser"), ("UserName", "alice")],
            "DeleteConflict",
            409,
        ),
    ]);
    // Odd encodings of the body itself.
    for (label, body) in [
        ("plus is a space", "UserName=a+b"),
        ("percent-encoded NUL", "UserName=a%00b"),
        ("invalid UTF-8", "UserName=%FF%FE"),
        ("lone percent", "UserName=bob%"),
        ("bad escape", "UserName=bob%zz"),
        ("no value", "UserName"),
        ("empty name", "=bob"),
        ("encoded right-to-left override", "UserName=a%E2%80%AEb"),
    ] {
        cases.push(raw(
            &format!("CreateUser body: {label}"),
            RawRequest::post(format!("Action=CreateUser&Version={IAM_VERSION}&{body}")),
            RawAuth::Signed(RawSigner::root()),
            "ValidationError",
            400,
        ));
    }
    cases.push(raw(
        "CreateUser body: raw non-UTF-8 bytes",
        RawRequest::post(
            [
                format!("Action=CreateUser&Version={IAM_VERSION}&UserName=").into_bytes(),
                vec![0xff, 0xfe, 0x80],
            ]
            .concat(),
        ),
        RawAuth::Signed(RawSigner::root()),
        "ValidationError",
        400,
    ));
    cases
}

fn paths_cases() -> Vec<Case> {
    let long = format!("/{}/", "p".repeat(511));
    let mut cases = Vec::new();
    for (label, path) in [
        ("no slashes", "noslash"),
        ("no trailing slash", "/a"),
        ("no leading slash", "a/"),
        ("513 characters", long.as_str()),
        ("space", "/a b/"),
        ("DEL", "/a\u{7f}/"),
        ("NUL", "/a\0/"),
        ("unicode", "/é/"),
        ("empty", ""),
    ] {
        cases.push(iam(
            &format!("CreateUser path: {label}"),
            &[
                ("Action", "CreateUser"),
                ("UserName", "pathy"),
                ("Path", path),
            ],
            "ValidationError",
            400,
        ));
    }
    cases.extend([
        iam(
            "CreateRole path: no trailing slash",
            &[
                ("Action", "CreateRole"),
                ("RoleName", "pathy"),
                ("Path", "/x"),
                ("AssumeRolePolicyDocument", TRUST_ROOT),
            ],
            "ValidationError",
            400,
        ),
        iam(
            "CreatePolicy path: no leading slash",
            &[
                ("Action", "CreatePolicy"),
                ("PolicyName", "pathy"),
                ("Path", "x/"),
                ("PolicyDocument", ALLOW_ALL),
            ],
            "ValidationError",
            400,
        ),
        iam(
            "ListUsers PathPrefix: no slash",
            &[("Action", "ListUsers"), ("PathPrefix", "nope")],
            "ValidationError",
            400,
        ),
        iam(
            "ListRoles PathPrefix: control character",
            &[("Action", "ListRoles"), ("PathPrefix", "/\u{1}")],
            "ValidationError",
            400,
        ),
        iam(
            "UpdateUser NewPath: no trailing slash",
            &[
                ("Action", "UpdateUser"),
                ("UserName", "alice"),
                ("NewPath", "/x"),
            ],
            "ValidationError",
            400,
        ),
    ]);
    cases
}

fn arn_cases() -> Vec<Case> {
    let long = format!("arn:aws:iam::{ACCOUNT}:policy/{}", "p".repeat(2048));
    let mut cases = Vec::new();
    for (label, arn, code, status) in [
        (
            "not an ARN (under 20 characters)",
            "not-an-arn",
            "ValidationError",
            400,
        ),
        ("empty", "", "ValidationError", 400),
        ("2,048+ characters", long.as_str(), "ValidationError", 400),
        (
            "missing policy",
            "arn:aws:iam::111122223333:policy/missing",
            "NoSuchEntity",
            404,
        ),
        (
            "wrong partition",
            "arn:aws-cn:iam::111122223333:policy/p1",
            "NoSuchEntity",
            404,
        ),
        (
            "wrong service",
            "arn:aws:s3::111122223333:policy/p1",
            "NoSuchEntity",
            404,
        ),
        (
            "wrong account",
            "arn:aws:iam::999999999999:policy/p1",
            "NoSuchEntity",
            404,
        ),
        (
            "trailing junk",
            "arn:aws:iam::111122223333:policy/p1 junk",
            "NoSuchEntity",
            404,
        ),
        (
            "trailing slash",
            "arn:aws:iam::111122223333:policy/p1/",
            "NoSuchEntity",
            404,
        ),
        (
            "double slash",
            "arn:aws:iam::111122223333:policy//p1",
            "NoSuchEntity",
            404,
        ),
        (
            "a user's ARN",
            "arn:aws:iam::111122223333:user/alice",
            "NoSuchEntity",
            404,
        ),
        (
            "missing AWS managed policy",
            "arn:aws:iam::aws:policy/NoSuchPolicy",
            "NoSuchEntity",
            404,
        ),
        (
            "too few fields",
            "arn:aws:iam::111122223333",
            "InvalidInput",
            400,
        ),
        (
            "NUL inside",
            "arn:aws:iam::111122223333:policy/p1\0",
            "NoSuchEntity",
            404,
        ),
    ] {
        cases.push(iam(
            &format!("AttachUserPolicy PolicyArn: {label}"),
            &[
                ("Action", "AttachUserPolicy"),
                ("UserName", "alice"),
                ("PolicyArn", arn),
            ],
            code,
            status,
        ));
    }
    cases.extend([
        iam(
            "GetPolicy PolicyArn: not an ARN",
            &[("Action", "GetPolicy"), ("PolicyArn", "p1")],
            "ValidationError",
            400,
        ),
        iam(
            "DeletePolicy PolicyArn: wrong account",
            &[
                ("Action", "DeletePolicy"),
                ("PolicyArn", "arn:aws:iam::999999999999:policy/p1"),
            ],
            "NoSuchEntity",
            404,
        ),
        iam(
            "PutUserPermissionsBoundary: not an ARN",
            &[
                ("Action", "PutUserPermissionsBoundary"),
                ("UserName", "alice"),
                ("PermissionsBoundary", "bogus"),
            ],
            "ValidationError",
            400,
        ),
        iam(
            "PutUserPermissionsBoundary: missing policy",
            &[
                ("Action", "PutUserPermissionsBoundary"),
                ("UserName", "alice"),
                (
                    "PermissionsBoundary",
                    "arn:aws:iam::111122223333:policy/missing",
                ),
            ],
            "InvalidInput",
            400,
        ),
        iam(
            "GetOpenIDConnectProvider: not an ARN",
            &[
                ("Action", "GetOpenIDConnectProvider"),
                ("OpenIDConnectProviderArn", "issuer.example"),
            ],
            "ValidationError",
            400,
        ),
        iam(
            "GetOpenIDConnectProvider: missing provider",
            &[
                ("Action", "GetOpenIDConnectProvider"),
                (
                    "OpenIDConnectProviderArn",
                    "arn:aws:iam::111122223333:oidc-provider/other.example",
                ),
            ],
            "NoSuchEntity",
            404,
        ),
        iam(
            "GetSAMLProvider: empty name",
            &[
                ("Action", "GetSAMLProvider"),
                (
                    "SAMLProviderArn",
                    "arn:aws:iam::111122223333:saml-provider/",
                ),
            ],
            "InvalidInput",
            400,
        ),
        iam(
            "DeleteVirtualMFADevice: not a serial number",
            &[
                ("Action", "DeleteVirtualMFADevice"),
                ("SerialNumber", "garbage"),
            ],
            "ValidationError",
            400,
        ),
        iam(
            "DeleteVirtualMFADevice: missing device",
            &[
                ("Action", "DeleteVirtualMFADevice"),
                ("SerialNumber", "arn:aws:iam::111122223333:mfa/nobody"),
            ],
            "NoSuchEntity",
            404,
        ),
    ]);
    cases
}

fn policy_cases() -> Vec<Case> {
    let deep = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"*","Resource":"*","Condition":{{"StringEquals":{{"aws:username":{}{}}}}}}}]}}"#,
        "[".repeat(2500),
        "]".repeat(2500)
    );
    let big = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"*","Resource":"*","Sid":"{}"}}]}}"#,
        "s".repeat(7000)
    );
    let huge = format!(
        r#"{{"Version":"2012-10-17","Id":"{}"}}"#,
        "x".repeat(TEN_MB)
    );
    let statement = |s: &str| format!(r#"{{"Version":"2012-10-17","Statement":[{s}]}}"#);
    let no_effect = statement(r#"{"Action":"*","Resource":"*"}"#);
    let bad_effect = statement(r#"{"Effect":"Maybe","Action":"*","Resource":"*"}"#);
    let no_resource = statement(r#"{"Effect":"Allow","Action":"*"}"#);
    let with_principal =
        statement(r#"{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}"#);
    let bad_operator = statement(
        r#"{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEqualz":{"aws:username":"a"}}}"#,
    );
    let condition_not_object =
        statement(r#"{"Effect":"Allow","Action":"*","Resource":"*","Condition":"StringEquals"}"#);
    let bad_resource = statement(r#"{"Effect":"Allow","Action":"*","Resource":"not-an-arn"}"#);
    let bad_action = statement(r#"{"Effect":"Allow","Action":"iam","Resource":"*"}"#);
    let bad_sid = statement(r#"{"Sid":"a b","Effect":"Allow","Action":"*","Resource":"*"}"#);
    let dup_statement_key =
        statement(r#"{"Effect":"Allow","Effect":"Deny","Action":"*","Resource":"*"}"#);
    let mut cases = Vec::new();
    for (label, doc) in [
        ("invalid JSON", "{"),
        ("not an object", "[]"),
        ("a string", "\"policy\""),
        (
            "trailing garbage",
            r#"{"Version":"2012-10-17","Statement":[]} x"#,
        ),
        (
            "duplicate Version",
            r#"{"Version":"2012-10-17","Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        ),
        (
            "unknown Version",
            r#"{"Version":"2020-01-01","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        ),
        (
            "Version a number",
            r#"{"Version":2012,"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        ),
        ("no Statement", r#"{"Version":"2012-10-17"}"#),
        ("Statement without Effect", no_effect.as_str()),
        ("Effect Maybe", bad_effect.as_str()),
        ("no Resource", no_resource.as_str()),
        ("a Principal in an identity policy", with_principal.as_str()),
        ("unknown condition operator", bad_operator.as_str()),
        ("Condition not an object", condition_not_object.as_str()),
        ("Resource not an ARN", bad_resource.as_str()),
        ("Action without a service", bad_action.as_str()),
        ("Sid with a space", bad_sid.as_str()),
        ("duplicate Effect", dup_statement_key.as_str()),
        (
            "unknown top-level key",
            r#"{"Version":"2012-10-17","Statment":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        ),
        ("deeply nested", deep.as_str()),
    ] {
        cases.push(iam(
            &format!("CreatePolicy document: {label}"),
            &[
                ("Action", "CreatePolicy"),
                ("PolicyName", "hostile"),
                ("PolicyDocument", doc),
            ],
            "MalformedPolicyDocument",
            400,
        ));
    }
    // A character outside the model's policyDocumentType pattern (tab, line feed, carriage
    // return, U+0020 to U+00FF) fails the request's validation, before the document is read.
    cases.push(iam(
        "CreatePolicy document: raw control character in a string",
        &[
            ("Action", "CreatePolicy"),
            ("PolicyName", "hostile"),
            (
                "PolicyDocument",
                "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Sid\":\"a\u{1}\"}]}",
            ),
        ],
        "ValidationError",
        400,
    ));
    cases.extend([
        iam(
            "CreatePolicy document: empty",
            &[
                ("Action", "CreatePolicy"),
                ("PolicyName", "hostile"),
                ("PolicyDocument", ""),
            ],
            "ValidationError",
            400,
        ),
        iam(
            "CreatePolicy document: over 6,144 characters",
            &[
                ("Action", "CreatePolicy"),
                ("PolicyName", "hostile"),
                ("PolicyDocument", &big),
            ],
            "LimitExceeded",
            409,
        ),
        iam(
            "CreatePolicy document: 10 MB",
            &[
                ("Action", "CreatePolicy"),
                ("PolicyName", "hostile"),
                ("PolicyDocument", &huge),
            ],
            "ValidationError",
            400,
        ),
        iam(
            "PutUserPolicy document: invalid JSON",
            &[
                ("Action", "PutUserPolicy"),
                ("UserName", "alice"),
                ("PolicyName", "inline"),
                ("PolicyDocument", "{\"Version\":"),
            ],
            "MalformedPolicyDocument",
            400,
        ),
        iam(
            "PutUserPolicy document: over the user's 2,048 characters",
            &[
                ("Action", "PutUserPolicy"),
                ("UserName", "alice"),
                ("PolicyName", "inline"),
                ("PolicyDocument", &big),
            ],
            "LimitExceeded",
            409,
        ),
        iam(
            "PutGroupPolicy document: a Principal",
            &[
                ("Action", "PutGroupPolicy"),
                ("GroupName", "devs"),
                ("PolicyName", "inline"),
                ("PolicyDocument", &with_principal),
            ],
            "MalformedPolicyDocument",
            400,
        ),
        iam(
            "CreateRole trust policy: no Principal",
            &[
                ("Action", "CreateRole"),
                ("RoleName", "hostile"),
                ("AssumeRolePolicyDocument", ALLOW_ALL),
            ],
            "MalformedPolicyDocument",
            400,
        ),
        iam(
            "UpdateAssumeRolePolicy: invalid JSON",
            &[
                ("Action", "UpdateAssumeRolePolicy"),
                ("RoleName", "app"),
                ("PolicyDocument", "{{"),
            ],
            "MalformedPolicyDocument",
            400,
        ),
        iam(
            "CreatePolicyVersion: unknown operator",
            &[
                ("Action", "CreatePolicyVersion"),
                ("PolicyArn", "arn:aws:iam::111122223333:policy/p1"),
                ("PolicyDocument", &bad_operator),
            ],
            "MalformedPolicyDocument",
            400,
        ),
        iam(
            "PutRolePermissionsBoundary: a role's ARN",
            &[
                ("Action", "PutRolePermissionsBoundary"),
                ("RoleName", "app"),
                ("PermissionsBoundary", "arn:aws:iam::111122223333:role/app"),
            ],
            "InvalidInput",
            400,
        ),
    ]);
    cases.push(raw(
        "CreatePolicy document: raw non-UTF-8 bytes",
        RawRequest::post(
            [
                format!(
                    "Action=CreatePolicy&Version={IAM_VERSION}&PolicyName=hostile&PolicyDocument="
                )
                .into_bytes(),
                b"%7B%22Version%22%3A%22".to_vec(),
                vec![0xc3, 0x28],
                b"%22%7D".to_vec(),
            ]
            .concat(),
        ),
        RawAuth::Signed(RawSigner::root()),
        // Read as U+FFFD, which the model's pattern does not take.
        "ValidationError",
        400,
    ));
    cases
}

/// `Tags.member.N.Key/Value` pairs for `tags`.
fn tag_pairs(tags: &[(String, String)]) -> Vec<(String, String)> {
    tags.iter()
        .enumerate()
        .flat_map(|(i, (k, v))| {
            [
                (format!("Tags.member.{}.Key", i + 1), k.clone()),
                (format!("Tags.member.{}.Value", i + 1), v.clone()),
            ]
        })
        .collect()
}

fn tag_case(
    name: &str,
    action: &str,
    target: (&str, &str),
    tags: &[(String, String)],
    code: &'static str,
    status: u16,
) -> Case {
    let pairs = tag_pairs(tags);
    let mut all: Vec<(&str, &str)> = vec![("Action", action), target];
    all.extend(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    iam(name, &all, code, status)
}

fn tags_cases() -> Vec<Case> {
    let t = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    let many: Vec<(String, String)> = (0..51).map(|i| t(&format!("k{i}"), "v")).collect();
    let alice = ("UserName", "alice");
    let mut cases = Vec::new();
    for (label, tags, code, status) in [
        ("51 tags", many.clone(), "ValidationError", 400),
        (
            "key of 129 characters",
            vec![t(&"k".repeat(129), "v")],
            "ValidationError",
            400,
        ),
        (
            "value of 257 characters",
            vec![t("k", &"v".repeat(257))],
            "ValidationError",
            400,
        ),
        (
            "value of 10 MB",
            vec![t("k", &"v".repeat(TEN_MB))],
            "ValidationError",
            400,
        ),
        ("empty key", vec![t("", "v")], "ValidationError", 400),
        ("key with *", vec![t("a*b", "v")], "ValidationError", 400),
        (
            "value with <",
            vec![t("k", "<script>")],
            "ValidationError",
            400,
        ),
        ("key with NUL", vec![t("k\0", "v")], "ValidationError", 400),
        (
            "keys differing in case",
            vec![t("Team", "a"), t("team", "b")],
            "InvalidInput",
            400,
        ),
        (
            "the same key twice",
            vec![t("k", "a"), t("k", "a")],
            "InvalidInput",
            400,
        ),
        ("aws: prefix", vec![t("aws:team", "a")], "InvalidInput", 400),
        (
            "AWS: prefix in capitals",
            vec![t("AWS:team", "a")],
            "InvalidInput",
            400,
        ),
        ("no tags", vec![], "ValidationError", 400),
    ] {
        cases.push(tag_case(
            &format!("TagUser: {label}"),
            "TagUser",
            alice,
            &tags,
            code,
            status,
        ));
    }
    let forty_nine: Vec<(String, String)> = (0..50).map(|i| t(&format!("n{i}"), "v")).collect();
    cases.extend([
        tag_case(
            "TagUser: 50 new tags over alice's one",
            "TagUser",
            alice,
            &forty_nine,
            "LimitExceeded",
            409,
        ),
        tag_case(
            "TagUser of nobody",
            "TagUser",
            ("UserName", "nobody"),
            &[t("k", "v")],
            "NoSuchEntity",
            404,
        ),
        tag_case(
            "TagRole: aws: prefix",
            "TagRole",
            ("RoleName", "app"),
            &[t("aws:x", "v")],
            "InvalidInput",
            400,
        ),
        tag_case(
            "TagRole of a missing role",
            "TagRole",
            ("RoleName", "missing"),
            &[t("k", "v")],
            "NoSuchEntity",
            404,
        ),
        tag_case(
            "TagPolicy: keys differing in case",
            "TagPolicy",
            ("PolicyArn", "arn:aws:iam::111122223333:policy/p1"),
            &[t("A", "1"), t("a", "2")],
            "InvalidInput",
            400,
        ),
        tag_case(
            "CreateUser with an aws: tag (no user made)",
            "CreateUser",
            ("UserName", "tagged"),
            &[t("aws:x", "v")],
            "InvalidInput",
            400,
        ),
        tag_case(
            "CreateRole with 51 tags",
            "CreateRole",
            ("RoleName", "tagged"),
            &many,
            "ValidationError",
            400,
        ),
    ]);
    let untag_many: Vec<(String, String)> = (1..=51)
        .map(|i| (format!("TagKeys.member.{i}"), format!("k{i}")))
        .collect();
    let mut pairs: Vec<(&str, &str)> = vec![("Action", "UntagUser"), alice];
    pairs.extend(untag_many.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    cases.push(iam("UntagUser: 51 keys", &pairs, "ValidationError", 400));
    cases.push(iam(
        "UntagUser: no keys",
        &[("Action", "UntagUser"), alice],
        "ValidationError",
        400,
    ));
    cases.push(iam(
        "UntagUser: key of 129 characters",
        &[
            ("Action", "UntagUser"),
            alice,
            ("TagKeys.member.1", &"k".repeat(129)),
        ],
        "ValidationError",
        400,
    ));
    cases
}

fn paging_enum_integer_cases() -> Vec<Case> {
    let huge = "m".repeat(TEN_MB);
    let mut cases = Vec::new();
    for value in [
        "0",
        "1001",
        "-1",
        "abc",
        "99999999999999999999999",
        "1.5",
        "",
        " 10",
        "0x10",
        "1e2",
        "+",
        "１０",
    ] {
        cases.push(iam(
            &format!("ListUsers MaxItems={value:?}"),
            &[("Action", "ListUsers"), ("MaxItems", value)],
            "ValidationError",
            400,
        ));
    }
    for (label, marker) in [
        ("garbage", "garbage"),
        ("empty", ""),
        ("10 MB", huge.as_str()),
    ] {
        cases.push(iam(
            &format!("ListUsers Marker: {label}"),
            &[("Action", "ListUsers"), ("Marker", marker)],
            "ValidationError",
            400,
        ));
    }
    cases.push(iam(
        "ListPolicies MaxItems=0",
        &[("Action", "ListPolicies"), ("MaxItems", "0")],
        "ValidationError",
        400,
    ));
    for (action, name, value) in [
        ("ListPolicies", "Scope", "Everything"),
        ("ListPolicies", "Scope", "local"),
        ("ListPolicies", "PolicyUsageFilter", "Bogus"),
        ("ListPolicies", "OnlyAttached", "yes"),
        ("ListEntitiesForPolicy", "EntityFilter", "Bogus"),
        ("GetAccountAuthorizationDetails", "Filter.member.1", "Nope"),
    ] {
        let mut pairs = vec![("Action", action), (name, value)];
        if action == "ListEntitiesForPolicy" {
            pairs.push(("PolicyArn", "arn:aws:iam::111122223333:policy/p1"));
        }
        cases.push(iam(
            &format!("{action} {name}={value}"),
            &pairs,
            "ValidationError",
            400,
        ));
    }
    cases.push(iam(
        "UpdateAccessKey Status=Enabled",
        &[
            ("Action", "UpdateAccessKey"),
            ("AccessKeyId", common::ROOT_KEY),
            ("Status", "Enabled"),
        ],
        "ValidationError",
        400,
    ));
    cases.push(iam(
        "UpdateAccessKey Status=active (enums are case-sensitive)",
        &[
            ("Action", "UpdateAccessKey"),
            ("AccessKeyId", common::ROOT_KEY),
            ("Status", "active"),
        ],
        "ValidationError",
        400,
    ));
    for value in [
        "3599",
        "43201",
        "99999999999999999999",
        "-3600",
        "1e4",
        "3600.0",
    ] {
        cases.push(iam(
            &format!("CreateRole MaxSessionDuration={value}"),
            &[
                ("Action", "CreateRole"),
                ("RoleName", "durations"),
                ("AssumeRolePolicyDocument", TRUST_ROOT),
                ("MaxSessionDuration", value),
            ],
            "ValidationError",
            400,
        ));
    }
    cases.push(iam(
        "UpdateRole MaxSessionDuration=0",
        &[
            ("Action", "UpdateRole"),
            ("RoleName", "app"),
            ("MaxSessionDuration", "0"),
        ],
        "ValidationError",
        400,
    ));
    for (name, value) in [
        ("MinimumPasswordLength", "5"),
        ("MinimumPasswordLength", "129"),
        ("MinimumPasswordLength", "abc"),
        ("MaxPasswordAge", "0"),
        ("MaxPasswordAge", "1096"),
        ("PasswordReusePrevention", "25"),
        ("PasswordReusePrevention", "-1"),
        ("RequireSymbols", "maybe"),
    ] {
        cases.push(iam(
            &format!("UpdateAccountPasswordPolicy {name}={value}"),
            &[("Action", "UpdateAccountPasswordPolicy"), (name, value)],
            "ValidationError",
            400,
        ));
    }
    cases
}

fn sts_cases(alice: &RawSigner, assumer: &RawSigner) -> Vec<Case> {
    let role = "arn:aws:iam::111122223333:role/app";
    let long_policy = format!(r#"{{"Version":"2012-10-17","Id":"{}"}}"#, "x".repeat(2100));
    let sts = |name: &str, pairs: &[(&str, &str)], code: &'static str, status: u16| {
        as_signer(name, alice, STS_VERSION, pairs, code, status)
    };
    let assume = |name: &str, extra: &[(&str, &str)], code: &'static str| {
        let mut pairs = vec![
            ("Action", "AssumeRole"),
            ("RoleArn", role),
            ("RoleSessionName", "s1"),
        ];
        for (k, v) in extra {
            match pairs.iter_mut().find(|(pk, _)| pk == k) {
                Some(p) => p.1 = v,
                None => pairs.push((k, v)),
            }
        }
        as_signer(name, assumer, STS_VERSION, &pairs, code, 400)
    };
    let many_tags: Vec<(String, String)> = tag_pairs(
        &(0..51)
            .map(|i| (format!("k{i}"), "v".to_owned()))
            .collect::<Vec<_>>(),
    );
    let tag_extra: Vec<(&str, &str)> = many_tags
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let name_65 = "n".repeat(65);
    let mut cases = Vec::new();
    for value in ["899", "129601", "abc", "-1", "99999999999999999999"] {
        cases.push(sts(
            &format!("GetSessionToken DurationSeconds={value}"),
            &[("Action", "GetSessionToken"), ("DurationSeconds", value)],
            "ValidationError",
            400,
        ));
    }
    for value in ["899", "43201", "1.5", "99999999999999999999"] {
        cases.push(assume(
            &format!("AssumeRole DurationSeconds={value}"),
            &[("DurationSeconds", value)],
            "ValidationError",
        ));
    }
    for (label, extra) in [
        (
            "RoleSessionName with a space",
            vec![("RoleSessionName", "a b")],
        ),
        (
            "RoleSessionName of 1 character",
            vec![("RoleSessionName", "a")],
        ),
        (
            "RoleSessionName of 65 characters",
            vec![("RoleSessionName", name_65.as_str())],
        ),
        ("ExternalId of 1 character", vec![("ExternalId", "a")]),
        ("ExternalId with a space", vec![("ExternalId", "a b")]),
        ("SourceIdentity aws:", vec![("SourceIdentity", "aws:me")]),
        ("RoleArn too short", vec![("RoleArn", "x")]),
        ("51 session tags", tag_extra.clone()),
        (
            "SerialNumber without TokenCode",
            vec![("SerialNumber", "arn:aws:iam::111122223333:mfa/alice-phone")],
        ),
    ] {
        cases.push(assume(
            &format!("AssumeRole {label}"),
            &extra,
            "ValidationError",
        ));
    }
    cases.extend([
        assume(
            "AssumeRole empty RoleSessionName",
            &[("RoleSessionName", "")],
            "ValidationError",
        ),
        assume(
            "AssumeRole session Policy: invalid JSON",
            &[("Policy", "{")],
            "MalformedPolicyDocument",
        ),
        assume(
            "AssumeRole session tag aws: (reserved)",
            &[("Tags.member.1.Key", "aws:k"), ("Tags.member.1.Value", "v")],
            "InvalidInput",
        ),
        assume(
            "AssumeRole session Policy: over 2,048 characters",
            &[("Policy", &long_policy)],
            "ValidationError",
        ),
        sts(
            "GetFederationToken Name of 1 character",
            &[("Action", "GetFederationToken"), ("Name", "a")],
            "ValidationError",
            400,
        ),
        sts(
            "GetFederationToken Name with a space",
            &[("Action", "GetFederationToken"), ("Name", "a b")],
            "ValidationError",
            400,
        ),
        as_signer(
            "DecodeAuthorizationMessage: garbage",
            &RawSigner::root(),
            STS_VERSION,
            &[
                ("Action", "DecodeAuthorizationMessage"),
                ("EncodedMessage", "garbage"),
            ],
            "InvalidAuthorizationMessageException",
            400,
        ),
        sts(
            "GetAccessKeyInfo: not a key id",
            &[("Action", "GetAccessKeyInfo"), ("AccessKeyId", "x")],
            "ValidationError",
            400,
        ),
    ]);
    cases
}

fn totp_cases(fixture: &Fixture) -> Vec<Case> {
    let serial = fixture.mfa_serial.as_str();
    let huge = "1".repeat(TEN_MB);
    let mut cases = Vec::new();
    for (label, code1, code2) in [
        ("letters", "abcdef", "123456"),
        ("7 digits", "1234567", "123456"),
        ("5 digits", "12345", "123456"),
        ("empty", "", "123456"),
        ("full-width digits", "１２３４５６", "123456"),
        ("second code with a sign", "123456", "-12345"),
        ("10 MB", huge.as_str(), "123456"),
        ("spaces", "123 45", "123456"),
    ] {
        cases.push(iam(
            &format!("EnableMFADevice codes: {label}"),
            &[
                ("Action", "EnableMFADevice"),
                ("UserName", "alice"),
                ("SerialNumber", serial),
                ("AuthenticationCode1", code1),
                ("AuthenticationCode2", code2),
            ],
            "ValidationError",
            400,
        ));
    }
    cases.push(iam(
        "EnableMFADevice: a wrong pair",
        &[
            ("Action", "EnableMFADevice"),
            ("UserName", "alice"),
            ("SerialNumber", serial),
            ("AuthenticationCode1", "000000"),
            ("AuthenticationCode2", "000001"),
        ],
        "InvalidAuthenticationCode",
        403,
    ));
    cases.push(iam(
        "ResyncMFADevice codes: letters",
        &[
            ("Action", "ResyncMFADevice"),
            ("UserName", "alice"),
            ("SerialNumber", serial),
            ("AuthenticationCode1", "abcdef"),
            ("AuthenticationCode2", "ghijkl"),
        ],
        "ValidationError",
        400,
    ));
    for (label, code) in [
        ("letters", "abcdef"),
        ("5 digits", "12345"),
        ("7 digits", "1234567"),
        ("a NUL", "12345\0"),
    ] {
        cases.push(as_signer(
            &format!("GetSessionToken TokenCode: {label}"),
            &fixture.alice,
            STS_VERSION,
            &[
                ("Action", "GetSessionToken"),
                ("SerialNumber", serial),
                ("TokenCode", code),
            ],
            "ValidationError",
            400,
        ));
    }
    cases
}

/// An unsigned JWT of these header and claims (any signature bytes).
fn jwt(header: &str, claims: &str, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

fn web_identity_cases() -> Vec<Case> {
    let role = "arn:aws:iam::111122223333:role/app";
    let claims = r#"{"iss":"https://issuer.example","sub":"s","aud":"client","exp":4000000000,"iat":1700000000}"#;
    let none = jwt(r#"{"alg":"none","typ":"JWT"}"#, claims, b"");
    let hmac = jwt(r#"{"alg":"HS256","typ":"JWT"}"#, claims, b"mac");
    let no_alg = jwt(r#"{"typ":"JWT"}"#, claims, b"sig");
    let header_not_json = jwt("{", claims, b"sig");
    let claims_not_json = jwt(r#"{"alg":"RS256"}"#, "{", b"sig");
    let claims_array = jwt(r#"{"alg":"RS256"}"#, "[]", b"sig");
    let no_iss = jwt(r#"{"alg":"RS256","kid":"k"}"#, r#"{"sub":"s"}"#, b"sig");
    let iss_number = jwt(
        r#"{"alg":"RS256","kid":"k"}"#,
        r#"{"iss":7,"sub":"s"}"#,
        b"sig",
    );
    let huge = jwt(
        r#"{"alg":"RS256"}"#,
        &format!(r#"{{"pad":"{}"}}"#, "x".repeat(30_000)),
        b"s",
    );
    let request = |token: &str, extra: &[(&str, &str)]| {
        let mut pairs = vec![
            ("Action", "AssumeRoleWithWebIdentity"),
            ("RoleArn", role),
            ("RoleSessionName", "web"),
            ("WebIdentityToken", token),
        ];
        for (k, v) in extra {
            match pairs.iter_mut().find(|(pk, _)| pk == k) {
                Some(p) => p.1 = v,
                None => pairs.push((k, v)),
            }
        }
        RawRequest::post(versioned_form(&pairs, STS_VERSION))
    };
    let mut cases = Vec::new();
    for (label, token) in [
        ("garbage", "garbage-token"),
        ("empty parts", "x..y"),
        ("a.b.c", "a.b.c"),
        ("alg none", none.as_str()),
        ("alg HS256", hmac.as_str()),
        ("no alg", no_alg.as_str()),
        ("header not JSON", header_not_json.as_str()),
        ("claims not JSON", claims_not_json.as_str()),
        ("claims an array", claims_array.as_str()),
        ("no iss", no_iss.as_str()),
        ("iss a number", iss_number.as_str()),
        ("NUL bytes", "a\0b.c\0d.e\0f"),
    ] {
        cases.push(raw(
            &format!("AssumeRoleWithWebIdentity token: {label}"),
            request(token, &[]),
            RawAuth::Unsigned,
            "InvalidIdentityToken",
            400,
        ));
    }
    let name_65 = "n".repeat(65);
    for (label, extra) in [
        (
            "token over 20,000 characters",
            vec![("WebIdentityToken", huge.as_str())],
        ),
        ("token of 3 characters", vec![("WebIdentityToken", "a.b")]),
        ("empty token", vec![("WebIdentityToken", "")]),
        (
            "RoleSessionName with a space",
            vec![("RoleSessionName", "a b")],
        ),
        (
            "RoleSessionName of 65 characters",
            vec![("RoleSessionName", name_65.as_str())],
        ),
        ("DurationSeconds=100", vec![("DurationSeconds", "100")]),
        ("DurationSeconds=abc", vec![("DurationSeconds", "abc")]),
        ("RoleArn too short", vec![("RoleArn", "arn:aws:iam::1:r")]),
        ("ProviderId of 1 character", vec![("ProviderId", "x")]),
    ] {
        cases.push(raw(
            &format!("AssumeRoleWithWebIdentity {label}"),
            request(&none, &extra),
            RawAuth::Unsigned,
            "ValidationError",
            400,
        ));
    }
    cases.push(raw(
        "AssumeRoleWithWebIdentity without a token",
        RawRequest::post(versioned_form(
            &[
                ("Action", "AssumeRoleWithWebIdentity"),
                ("RoleArn", role),
                ("RoleSessionName", "web"),
            ],
            STS_VERSION,
        )),
        RawAuth::Unsigned,
        "ValidationError",
        400,
    ));
    cases
}

fn action_version_cases() -> Vec<Case> {
    let huge = "A".repeat(TEN_MB);
    let mut cases = Vec::new();
    for (label, action) in [
        ("unknown", "DeleteEverything"),
        ("empty", ""),
        ("lower case", "listusers"),
        ("trailing space", "ListUsers "),
        ("NUL", "ListUsers\0"),
        ("control character", "List\u{1}Users"),
        ("an STS action", "GetCallerIdentity"),
        ("10 MB", huge.as_str()),
    ] {
        cases.push(iam(
            &format!("IAM Action: {label}"),
            &[("Action", action)],
            "InvalidAction",
            400,
        ));
    }
    cases.extend([
        as_signer(
            "STS Action: an IAM action",
            &RawSigner::root(),
            STS_VERSION,
            &[("Action", "CreateUser"), ("UserName", "stsuser")],
            "InvalidAction",
            400,
        ),
        iam("no Action", &[("UserName", "x")], "MissingAction", 400),
        iam(
            "unknown Version",
            &[("Action", "ListUsers"), ("Version", "2099-01-01")],
            "InvalidAction",
            400,
        ),
        iam(
            "Version with a NUL",
            &[("Action", "ListUsers"), ("Version", "2010-05-08\0")],
            "InvalidAction",
            400,
        ),
    ]);
    cases
}

fn signature_cases(server: &TestServer, alice: &RawSigner) -> Vec<Case> {
    let body = versioned_form(
        &[("Action", "CreateUser"), ("UserName", "sigtest")],
        IAM_VERSION,
    );
    let post = || RawRequest::post(body.clone());
    let root = RawSigner::root;
    let addr = server.server.as_ref().expect("running").local_addr;
    let now = time::OffsetDateTime::now_utc();
    let amz_date = portcullis_sigv4::format_amz_date(now.unix_timestamp());
    let scope_date = &amz_date[..8];
    let credential = format!(
        "{}/{scope_date}/us-east-1/iam/aws4_request",
        common::ROOT_KEY
    );
    let zero_sig = "0".repeat(64);
    // A correctly presigned URL, to spoil.
    let presigned_query = {
        let host = addr.to_string();
        let unsigned = portcullis_sigv4::Request::new("GET", "/", &body).header("host", &host);
        let params = portcullis_sigv4::SigningParams::new(
            common::ROOT_KEY,
            common::ROOT_SECRET,
            "us-east-1",
            "iam",
            now.unix_timestamp(),
        );
        portcullis_sigv4::presign(&unsigned, &params, 300).expect("presign")
    };
    let mut cases = vec![
        raw("unsigned POST", post(), RawAuth::Unsigned, "MissingAuthenticationToken", 403),
        raw(
            "unsigned GET",
            RawRequest::get(body.clone()),
            RawAuth::Unsigned,
            "MissingAuthenticationToken",
            403,
        ),
        raw(
            "a spoiled signature",
            post(),
            RawAuth::BadSignature(root()),
            "SignatureDoesNotMatch",
            403,
        ),
        raw(
            "the wrong secret",
            post(),
            RawAuth::Signed(RawSigner::new(common::ROOT_KEY, "not-the-secret")),
            "SignatureDoesNotMatch",
            403,
        ),
        raw(
            "alice's key id with root's secret",
            post(),
            RawAuth::Signed(RawSigner::new(&alice.access_key_id, common::ROOT_SECRET)),
            "SignatureDoesNotMatch",
            403,
        ),
        raw(
            "an unknown key id",
            post(),
            RawAuth::Signed(RawSigner::new("AKIAUNKNOWNKEY000000", "whatever")),
            "InvalidClientTokenId",
            403,
        ),
        raw(
            "signed 20 minutes ago",
            post(),
            RawAuth::Signed(root().shifted(-1200)),
            "SignatureDoesNotMatch",
            403,
        ),
        raw(
            "signed 20 minutes ahead",
            post(),
            RawAuth::Signed(root().shifted(1200)),
            "SignatureDoesNotMatch",
            403,
        ),
        raw(
            "a spoiled presigned signature",
            RawRequest::get(body.clone()),
            RawAuth::BadSignature(root().presigned(300)),
            "SignatureDoesNotMatch",
            403,
        ),
        raw(
            "presigned 2 hours ago for 60 seconds",
            RawRequest::get(body.clone()),
            RawAuth::Signed(root().shifted(-7200).presigned(60)),
            "RequestExpired",
            400,
        ),
        raw(
            "presigned for 20 minutes ahead",
            RawRequest::get(body.clone()),
            RawAuth::Signed(root().shifted(1200).presigned(60)),
            "SignatureDoesNotMatch",
            403,
        ),
        raw(
            "presigned, X-Amz-Expires raised after signing",
            RawRequest::get(presigned_query.replace("X-Amz-Expires=300", "X-Amz-Expires=3000")),
            RawAuth::Unsigned,
            "SignatureDoesNotMatch",
            403,
        ),
        raw(
            "presigned, X-Amz-Expires over a week",
            RawRequest::get(presigned_query.replace("X-Amz-Expires=300", "X-Amz-Expires=604801")),
            RawAuth::Unsigned,
            "InvalidParameterValue",
            400,
        ),
        raw(
            "presigned, X-Amz-Expires not a number",
            RawRequest::get(presigned_query.replace("X-Amz-Expires=300", "X-Amz-Expires=soon")),
            RawAuth::Unsigned,
            "InvalidParameterValue",
            400,
        ),
        raw(
            "presigned, a parameter added after signing",
            RawRequest::get(format!("{presigned_query}&Path=%2Fx%2F")),
            RawAuth::Unsigned,
            "SignatureDoesNotMatch",
            403,
        ),
        raw(
            "presigned, and an Authorization header too",
            RawRequest::get(presigned_query.clone()).header(
                "authorization",
                format!("AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host, Signature={zero_sig}"),
            ),
            RawAuth::Unsigned,
            "IncompleteSignature",
            400,
        ),
        raw(
            "x-amz-content-sha256 of another body",
            post(),
            RawAuth::Signed(root().content_sha256().signing_body(b"Action=ListUsers")),
            "XAmzContentSHA256Mismatch",
            400,
        ),
        raw(
            "x-amz-content-sha256 of a streaming payload",
            post()
                .header("x-amz-date", amz_date.clone())
                .header("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
                .header(
                    "authorization",
                    format!("AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={zero_sig}"),
                ),
            RawAuth::Unsigned,
            "InvalidParameterValue",
            400,
        ),
        raw(
            "UNSIGNED-PAYLOAD with a body",
            post(),
            RawAuth::Signed(root().content_sha256().unsigned_payload()),
            "IncompleteSignature",
            400,
        ),
        raw(
            "a body other than the one signed",
            post(),
            RawAuth::Signed(root().signing_body(b"Action=ListUsers&Version=2010-05-08")),
            "SignatureDoesNotMatch",
            403,
        ),
    ];
    // Forged Authorization headers (with a current X-Amz-Date unless the row gives its own).
    let v4 = |credential: &str, headers: &str, signature: &str| {
        format!(
            "AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders={headers}, Signature={signature}"
        )
    };
    let key = common::ROOT_KEY;
    let month_13 = format!("{}13{}", &amz_date[..4], &amz_date[6..]);
    let hd = "host;x-amz-date";
    for (label, date, authorization, code, status) in [
        (
            "SigV2",
            Some(amz_date.as_str()),
            format!("AWS {key}:c2lnbmF0dXJl"),
            "IncompleteSignature",
            400,
        ),
        (
            "AWS4-HMAC-SHA512",
            Some(&amz_date),
            v4(&credential, hd, &zero_sig).replace("SHA256", "SHA512"),
            "IncompleteSignature",
            400,
        ),
        (
            "empty",
            Some(&amz_date),
            String::new(),
            "IncompleteSignature",
            400,
        ),
        (
            "without SignedHeaders",
            Some(&amz_date),
            format!("AWS4-HMAC-SHA256 Credential={credential}, Signature={zero_sig}"),
            "IncompleteSignature",
            400,
        ),
        (
            "without Signature",
            Some(&amz_date),
            format!("AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders={hd}"),
            "IncompleteSignature",
            400,
        ),
        (
            "Credential without a scope",
            Some(&amz_date),
            v4(key, hd, &zero_sig),
            "IncompleteSignature",
            400,
        ),
        (
            "scope not ending in aws4_request",
            Some(&amz_date),
            v4(
                &credential.replace("aws4_request", "aws5_request"),
                hd,
                &zero_sig,
            ),
            "IncompleteSignature",
            400,
        ),
        (
            "host not signed",
            Some(&amz_date),
            v4(&credential, "x-amz-date", &zero_sig),
            "IncompleteSignature",
            400,
        ),
        (
            "a signed header that is absent",
            Some(&amz_date),
            v4(&credential, "host;x-amz-date;x-amz-missing", &zero_sig),
            "SignatureDoesNotMatch",
            403,
        ),
        (
            "a signature that is not hex",
            Some(&amz_date),
            v4(&credential, hd, &"z".repeat(64)),
            "IncompleteSignature",
            400,
        ),
        (
            "a signature of zeros",
            Some(&amz_date),
            v4(&credential, hd, &zero_sig),
            "SignatureDoesNotMatch",
            403,
        ),
        (
            "scope date not the request's date",
            Some(&amz_date),
            v4(
                &format!("{key}/20200101/us-east-1/iam/aws4_request"),
                hd,
                &zero_sig,
            ),
            "SignatureDoesNotMatch",
            403,
        ),
        (
            "no X-Amz-Date nor Date",
            None,
            v4(&credential, "host", &zero_sig),
            "IncompleteSignature",
            400,
        ),
        (
            "X-Amz-Date in the wrong format",
            Some("2026-01-01T00:00:00Z"),
            v4(&credential, hd, &zero_sig),
            "IncompleteSignature",
            400,
        ),
        (
            "X-Amz-Date of month 13",
            Some(&month_13),
            v4(&credential, hd, &zero_sig),
            "IncompleteSignature",
            400,
        ),
        (
            "64 KB of junk",
            Some(&amz_date),
            "A".repeat(64 * 1024),
            "IncompleteSignature",
            400,
        ),
    ] {
        let mut request = post();
        if let Some(date) = date {
            request = request.header("x-amz-date", date);
        }
        cases.push(raw(
            &format!("forged Authorization: {label}"),
            request.header("authorization", authorization),
            RawAuth::Unsigned,
            code,
            status,
        ));
    }
    // Two Authorization headers: a valid one and a forged one.
    let valid = {
        let host = addr.to_string();
        let unsigned = portcullis_sigv4::Request::new("POST", "/", "")
            .header("host", &host)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.as_bytes());
        let params = portcullis_sigv4::SigningParams::new(
            common::ROOT_KEY,
            common::ROOT_SECRET,
            "us-east-1",
            "iam",
            now.unix_timestamp(),
        );
        portcullis_sigv4::sign(&unsigned, &params).expect("sign")
    };
    let mut twice = post();
    for (name, value) in &valid {
        twice = twice.header(name, value.clone());
    }
    let twice = twice.header(
        "authorization",
        format!("AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host;x-amz-date, Signature={zero_sig}"),
    );
    cases.push(raw(
        "two Authorization headers",
        twice,
        RawAuth::Unsigned,
        "IncompleteSignature",
        400,
    ));
    // A signed body with a parameter appended after signing.
    let mut altered = post();
    for (name, value) in &valid {
        altered = altered.header(name, value.clone());
    }
    altered.body.extend_from_slice(b"&Path=%2Fx%2F");
    cases.push(raw(
        "a body changed after signing",
        altered,
        RawAuth::Unsigned,
        "SignatureDoesNotMatch",
        403,
    ));
    cases
}

fn session_token_cases(key_id: &str, secret: &str, token: &str) -> Vec<Case> {
    let flipped = {
        let mut bytes = token.as_bytes().to_vec();
        let i = bytes.len() / 2;
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).expect("ASCII")
    };
    let truncated = &token[..token.len() / 2];
    let extended = format!("{token}AAAA");
    let huge = "A".repeat(64 * 1024);
    let list = [("Action", "ListUsers")];
    let mut cases = Vec::new();
    for (label, key, tok) in [
        ("garbage", key_id, "garbage"),
        ("the prefix alone", key_id, "PCS1"),
        ("the prefix and junk", key_id, "PCS1!!!!not-base64"),
        ("truncated", key_id, truncated),
        ("bit-flipped", key_id, flipped.as_str()),
        ("with bytes appended", key_id, extended.as_str()),
        ("64 KB", key_id, huge.as_str()),
        ("another session's key id", "ASIAOTHERKEY00000000", token),
        ("a long-term key id", common::ROOT_KEY, token),
    ] {
        let signer = RawSigner::new(key, secret).token(tok);
        cases.push(as_signer(
            &format!("session token: {label}"),
            &signer,
            IAM_VERSION,
            &list,
            "InvalidClientTokenId",
            403,
        ));
    }
    cases.push(as_signer(
        "session token, the wrong secret",
        &RawSigner::new(key_id, "wrong").token(token),
        IAM_VERSION,
        &list,
        "SignatureDoesNotMatch",
        403,
    ));
    cases.push(as_signer(
        "session credentials without their token",
        &RawSigner::new(key_id, secret),
        IAM_VERSION,
        &list,
        "InvalidClientTokenId",
        403,
    ));
    cases
}

/// Runs the families of cases `families` makes against a fresh fixture.
async fn check(families: impl FnOnce(&Fixture) -> Vec<Vec<Case>>) {
    let f = fixture().await;
    let cases = families(&f).into_iter().flatten().collect();
    run(&f.server, cases).await;
}

#[tokio::test]
async fn malformed_names_paths_and_arns_get_aws_errors_and_change_nothing() {
    check(|_| vec![names_cases(), paths_cases(), arn_cases()]).await;
}

#[tokio::test]
async fn malformed_policies_and_tags_get_aws_errors_and_change_nothing() {
    check(|_| vec![policy_cases(), tags_cases()]).await;
}

#[tokio::test]
async fn bad_paging_enums_integers_and_actions_get_aws_errors_and_change_nothing() {
    check(|_| vec![paging_enum_integer_cases(), action_version_cases()]).await;
}

#[tokio::test]
async fn bad_sts_input_totp_codes_and_web_identity_tokens_get_aws_errors_and_change_nothing() {
    check(|f| {
        vec![
            sts_cases(&f.alice, &f.assumer),
            totp_cases(f),
            web_identity_cases(),
        ]
    })
    .await;
}

#[tokio::test]
async fn bad_signatures_and_session_tokens_get_aws_errors_and_change_nothing() {
    let f = fixture().await;
    let session = f
        .server
        .sts(common::ROOT_KEY, common::ROOT_SECRET, None)
        .get_session_token()
        .send()
        .await
        .expect("session");
    let c = session.credentials().expect("credentials");
    let mut cases = signature_cases(&f.server, &f.alice);
    cases.extend(session_token_cases(
        c.access_key_id(),
        c.secret_access_key(),
        c.session_token(),
    ));
    run(&f.server, cases).await;
}

/// A repeated parameter: the first value is the one authorized and the one executed, whether
/// the repeat is in the body or in the URL, so what the signature covered and the policy
/// allowed is what is done.
#[tokio::test]
async fn a_duplicated_parameter_is_authorized_and_executed_as_one_value() {
    let f = fixture().await;
    let server = &f.server;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:CreateUser","Resource":"arn:aws:iam::111122223333:user/dup-ok"},{"Effect":"Allow","Action":["iam:GetUser","iam:ListUsers"],"Resource":"*"}]}"#;
    server.user_with_policy("limited", Some(policy)).await;
    let key = server
        .root()
        .create_access_key()
        .user_name("limited")
        .send()
        .await
        .expect("key");
    let key = key.access_key().expect("key");
    let limited = RawSigner::new(key.access_key_id(), key.secret_access_key());

    // Refused: the first value is the one not allowed, whatever follows.
    let cases = vec![
        as_signer(
            "UserName=dup-evil&UserName=dup-ok",
            &limited,
            IAM_VERSION,
            &[
                ("Action", "CreateUser"),
                ("UserName", "dup-evil"),
                ("UserName", "dup-ok"),
            ],
            "AccessDenied",
            403,
        ),
        raw(
            "body UserName=dup-evil, URL UserName=dup-ok",
            RawRequest::post(versioned_form(
                &[("Action", "CreateUser"), ("UserName", "dup-evil")],
                IAM_VERSION,
            ))
            .with_query(form(&[("UserName", "dup-ok")])),
            RawAuth::Signed(limited.clone()),
            "AccessDenied",
            403,
        ),
        raw(
            "GET UserName=dup-evil&UserName=dup-ok",
            RawRequest::get(versioned_form(
                &[
                    ("Action", "CreateUser"),
                    ("UserName", "dup-evil"),
                    ("UserName", "dup-ok"),
                ],
                IAM_VERSION,
            )),
            RawAuth::Signed(limited.clone()),
            "AccessDenied",
            403,
        ),
        as_signer(
            "Action=CreateUser&Action=GetUser",
            &limited,
            IAM_VERSION,
            &[
                ("Action", "CreateUser"),
                ("Action", "GetUser"),
                ("UserName", "dup-evil"),
            ],
            "AccessDenied",
            403,
        ),
    ];
    run(server, cases).await;

    // Allowed: the first value is executed, and only it.
    let before = server.digest();
    let answer = server
        .send_raw(
            &RawRequest::post(versioned_form(
                &[
                    ("Action", "CreateUser"),
                    ("UserName", "dup-ok"),
                    ("UserName", "dup-evil"),
                ],
                IAM_VERSION,
            )),
            &RawAuth::Signed(limited.clone()),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        answer.body.contains("<UserName>dup-ok</UserName>"),
        "{}",
        answer.body
    );
    assert_ne!(server.digest(), before);
    let after_create = server.digest();
    let missing = server
        .root_query(&[("Action", "GetUser"), ("UserName", "dup-evil")])
        .await;
    assert_eq!(missing.code, "NoSuchEntity");

    // Root: Action=ListUsers first, DeleteUser second: a list, nothing deleted.
    let answer = server
        .root_query(&[
            ("Action", "ListUsers"),
            ("Action", "DeleteUser"),
            ("UserName", "dup-ok"),
        ])
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        answer.body.contains("<ListUsersResponse"),
        "{}",
        answer.body
    );
    assert_eq!(server.digest(), after_create);
}

/// The digest sees a change of any entity and ignores usage times.
#[tokio::test]
async fn the_state_digest_changes_with_the_state_only() {
    let f = fixture().await;
    let server = &f.server;
    let start = server.digest();
    // Authenticated reads (which record key and role use) change nothing.
    let answer = server.root_query(&[("Action", "ListUsers")]).await;
    assert_eq!(answer.status, 200);
    let answer = server
        .send_raw(
            &RawRequest::post(versioned_form(&[("Action", "GetUser")], IAM_VERSION)),
            &RawAuth::Signed(f.alice.clone()),
        )
        .await;
    assert_eq!(answer.code, "AccessDenied");
    assert_eq!(server.digest(), start);
    // A tag is a change; taking it away restores the digest.
    let answer = server
        .root_query(&[
            ("Action", "TagUser"),
            ("UserName", "alice"),
            ("Tags.member.1.Key", "new"),
            ("Tags.member.1.Value", "v"),
        ])
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_ne!(server.digest(), start);
    let answer = server
        .root_query(&[
            ("Action", "UntagUser"),
            ("UserName", "alice"),
            ("TagKeys.member.1", "new"),
        ])
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(server.digest(), start);
}
