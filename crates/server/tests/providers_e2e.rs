//! Identity providers, server certificates and policy tags end to end: the real server on
//! 127.0.0.1, driven by the official AWS SDK.

mod common;

use aws_sdk_iam::types::{AssertionEncryptionModeType, Tag};
use common::{ACCOUNT, TestServer, error_code};

const LEAF_PEM: &str = include_str!("fixtures/leaf-rsa.pem");
const LEAF_KEY: &str = include_str!("fixtures/leaf-rsa.key");
const LEAF_KEY_PKCS1: &str = include_str!("fixtures/leaf-rsa-pkcs1.key");
const CA_PEM: &str = include_str!("fixtures/ca.pem");
const EC_PEM: &str = include_str!("fixtures/ec.pem");
const EC_KEY: &str = include_str!("fixtures/ec.key");
const OTHER_KEY: &str = include_str!("fixtures/other-rsa.key");
const EXPIRED_PEM: &str = include_str!("fixtures/expired.pem");
const METADATA: &str = include_str!("fixtures/saml-metadata.xml");

const THUMB_A: &str = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280";
const THUMB_B: &str = "A031C46782E6E6C662C2C87C76DA9AA62CCABD8E";

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build().unwrap()
}

fn oidc_arn(url: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{url}")
}

fn saml_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:saml-provider/{name}")
}

/// A full line from the end of a PEM key, where the private numbers are (the first lines of
/// an RSA key hold the public modulus, which the certificate shows too): text that must never
/// be found in the clear.
fn key_line(pem: &str) -> &str {
    pem.lines().rev().nth(2).unwrap()
}

/// A line of a certificate.
fn certificate_line(pem: &str) -> &str {
    pem.lines().nth(3).unwrap()
}

#[tokio::test]
async fn oidc_providers_create_read_update_delete() {
    let server = TestServer::start().await;
    let iam = server.root();

    let created = iam
        .create_open_id_connect_provider()
        .url("https://Token.Example.com/tenant-1")
        .client_id_list("sts.amazonaws.com")
        .client_id_list("my-app")
        .thumbprint_list(THUMB_A)
        .thumbprint_list(THUMB_B)
        .tags(tag("env", "dev"))
        .send()
        .await
        .unwrap();
    let arn = created.open_id_connect_provider_arn().unwrap().to_owned();
    assert_eq!(arn, oidc_arn("token.example.com/tenant-1"));
    assert_eq!(created.tags().len(), 1);

    let got = iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(got.url(), Some("token.example.com/tenant-1"));
    assert_eq!(got.client_id_list(), ["sts.amazonaws.com", "my-app"]);
    assert_eq!(
        got.thumbprint_list(),
        [THUMB_A.to_owned(), THUMB_B.to_lowercase()]
    );
    assert!(got.create_date().is_some());
    assert_eq!(got.tags()[0].key(), "env");

    // The same issuer again (the host's case does not matter) is refused.
    let (code, status) = error_code(
        iam.create_open_id_connect_provider()
            .url("https://TOKEN.example.com/tenant-1")
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("EntityAlreadyExists", 409));

    // Client ids: adding one twice and removing a missing one are no-ops.
    for _ in 0..2 {
        iam.add_client_id_to_open_id_connect_provider()
            .open_id_connect_provider_arn(&arn)
            .client_id("second-app")
            .send()
            .await
            .unwrap();
    }
    iam.remove_client_id_from_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .client_id("my-app")
        .send()
        .await
        .unwrap();
    iam.remove_client_id_from_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .client_id("never-added")
        .send()
        .await
        .unwrap();
    iam.update_open_id_connect_provider_thumbprint()
        .open_id_connect_provider_arn(&arn)
        .thumbprint_list(THUMB_B)
        .send()
        .await
        .unwrap();
    let got = iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(got.client_id_list(), ["sts.amazonaws.com", "second-app"]);
    assert_eq!(got.thumbprint_list(), [THUMB_B.to_lowercase()]);

    // Tags, a page at a time.
    iam.tag_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .tags(tag("team", "core"))
        .tags(tag("cost", "42"))
        .send()
        .await
        .unwrap();
    let page = iam
        .list_open_id_connect_provider_tags()
        .open_id_connect_provider_arn(&arn)
        .max_items(2)
        .send()
        .await
        .unwrap();
    assert_eq!(page.tags().len(), 2);
    assert!(page.is_truncated());
    let all: Vec<Tag> = iam
        .list_open_id_connect_provider_tags()
        .open_id_connect_provider_arn(&arn)
        .max_items(1)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    iam.untag_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .tag_keys("cost")
        .tag_keys("ENV")
        .send()
        .await
        .unwrap();
    let tags = iam
        .list_open_id_connect_provider_tags()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 1);
    assert_eq!(tags.tags()[0].key(), "team");

    iam.create_open_id_connect_provider()
        .url("https://accounts.example.org")
        .send()
        .await
        .unwrap();
    let list = iam.list_open_id_connect_providers().send().await.unwrap();
    let arns: Vec<&str> = list
        .open_id_connect_provider_list()
        .iter()
        .filter_map(|p| p.arn())
        .collect();
    assert_eq!(
        arns,
        [oidc_arn("accounts.example.org").as_str(), arn.as_str()]
    );

    iam.delete_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await
        .unwrap();
    let (code, status) = error_code(
        iam.get_open_id_connect_provider()
            .open_id_connect_provider_arn(&arn)
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("NoSuchEntity", 404));
    // Deleting it again succeeds: the operation is idempotent, as the IAM API reference for
    // DeleteOpenIDConnectProvider says ("it does not fail or return an error if you call the
    // operation for a provider that does not exist").
    iam.delete_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await
        .expect("deleting a missing provider succeeds");
}

#[tokio::test]
async fn bad_oidc_input_is_refused_and_changes_nothing() {
    let server = TestServer::start().await;
    let iam = server.root();
    let cases: [(&str, &[&str], &str); 7] = [
        ("http://idp.example.com", &[], "InvalidInput"),
        ("idp.example.com", &[], "InvalidInput"),
        ("https://idp.example.com/?tenant=1", &[], "InvalidInput"),
        ("https://idp.example.com", &["abc"], "ValidationError"),
        (
            "https://idp.example.com",
            &["zz99a48a9960b14926bb7f3b02e22da2b0ab7280"],
            "InvalidInput",
        ),
        (
            "https://idp.example.com",
            &[
                "0000000000000000000000000000000000000001",
                "0000000000000000000000000000000000000002",
                "0000000000000000000000000000000000000003",
                "0000000000000000000000000000000000000004",
                "0000000000000000000000000000000000000005",
                "0000000000000000000000000000000000000006",
            ],
            "InvalidInput",
        ),
        ("https://", &[], "InvalidInput"),
    ];
    for (url, thumbprints, expected) in cases {
        let mut request = iam.create_open_id_connect_provider().url(url);
        for t in thumbprints {
            request = request.thumbprint_list(*t);
        }
        let (code, status) = error_code(request.send().await);
        assert_eq!((code.as_str(), status), (expected, 400), "{url}");
    }
    assert!(
        iam.list_open_id_connect_providers()
            .send()
            .await
            .unwrap()
            .open_id_connect_provider_list()
            .is_empty()
    );

    let arn = iam
        .create_open_id_connect_provider()
        .url("https://idp.example.com")
        .thumbprint_list(THUMB_A)
        .send()
        .await
        .unwrap()
        .open_id_connect_provider_arn()
        .unwrap()
        .to_owned();
    let (code, _) = error_code(
        iam.update_open_id_connect_provider_thumbprint()
            .open_id_connect_provider_arn(&arn)
            .thumbprint_list("not-hex")
            .send()
            .await,
    );
    assert_eq!(code, "ValidationError");
    let got = iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(got.thumbprint_list(), [THUMB_A]);

    // A malformed ARN, and another account's provider.
    let (code, status) = error_code(
        iam.get_open_id_connect_provider()
            .open_id_connect_provider_arn("arn:aws:iam::123:oidc-provider")
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("InvalidInput", 400));
    let (code, _) = error_code(
        iam.get_open_id_connect_provider()
            .open_id_connect_provider_arn("arn:aws:iam::999999999999:oidc-provider/idp.example.com")
            .send()
            .await,
    );
    assert_eq!(code, "NoSuchEntity");
}

#[tokio::test]
async fn oidc_quotas_providers_and_client_ids() {
    let server = TestServer::start().await;
    let iam = server.root();
    for i in 0..100 {
        iam.create_open_id_connect_provider()
            .url(format!("https://idp{i}.example.com"))
            .send()
            .await
            .unwrap();
    }
    let (code, status) = error_code(
        iam.create_open_id_connect_provider()
            .url("https://one-too-many.example.com")
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("LimitExceeded", 409));
    assert_eq!(
        iam.list_open_id_connect_providers()
            .send()
            .await
            .unwrap()
            .open_id_connect_provider_list()
            .len(),
        100
    );

    let arn = oidc_arn("idp0.example.com");
    for i in 0..100 {
        iam.add_client_id_to_open_id_connect_provider()
            .open_id_connect_provider_arn(&arn)
            .client_id(format!("client-{i}"))
            .send()
            .await
            .unwrap();
    }
    let (code, _) = error_code(
        iam.add_client_id_to_open_id_connect_provider()
            .open_id_connect_provider_arn(&arn)
            .client_id("client-100")
            .send()
            .await,
    );
    assert_eq!(code, "LimitExceeded");
}

#[tokio::test]
async fn saml_providers_create_read_update_delete() {
    let server = TestServer::start().await;
    let iam = server.root();

    let created = iam
        .create_saml_provider()
        .name("Corporate-IdP")
        .saml_metadata_document(METADATA)
        .tags(tag("env", "prod"))
        .send()
        .await
        .unwrap();
    let arn = created.saml_provider_arn().unwrap().to_owned();
    assert_eq!(arn, saml_arn("Corporate-IdP"));

    let got = iam
        .get_saml_provider()
        .saml_provider_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(got.saml_metadata_document(), Some(METADATA));
    let uuid = got.saml_provider_uuid().unwrap();
    assert!(
        uuid.len() >= 22
            && uuid
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    );
    let created_at = got.create_date().unwrap().secs();
    let valid_until = got.valid_until().unwrap().secs();
    // Without a validUntil in the metadata, a provider is valid for a hundred years.
    assert!(valid_until - created_at > 99 * 365 * 86_400);
    assert_eq!(got.tags().len(), 1);
    assert!(got.private_key_list().is_empty());

    let (code, status) = error_code(
        iam.create_saml_provider()
            .name("corporate-idp")
            .saml_metadata_document(METADATA)
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("EntityAlreadyExists", 409));

    // New metadata, with a validUntil.
    let renewed = METADATA
        .replace(
            "https://idp.example.com/saml",
            "https://idp2.example.com/saml",
        )
        .replace("entityID=", "validUntil=\"2100-01-01T00:00:00Z\" entityID=");
    let updated = iam
        .update_saml_provider()
        .saml_provider_arn(&arn)
        .saml_metadata_document(&renewed)
        .send()
        .await
        .unwrap();
    assert_eq!(updated.saml_provider_arn(), Some(arn.as_str()));
    let got = iam
        .get_saml_provider()
        .saml_provider_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(got.saml_metadata_document(), Some(renewed.as_str()));
    assert_eq!(got.valid_until().unwrap().secs(), 4_102_444_800);

    // Encrypted assertions need a decryption key first.
    let (code, _) = error_code(
        iam.update_saml_provider()
            .saml_provider_arn(&arn)
            .assertion_encryption_mode(AssertionEncryptionModeType::Required)
            .send()
            .await,
    );
    assert_eq!(code, "InvalidInput");
    iam.update_saml_provider()
        .saml_provider_arn(&arn)
        .assertion_encryption_mode(AssertionEncryptionModeType::Required)
        .add_private_key(LEAF_KEY)
        .send()
        .await
        .unwrap();
    let got = iam
        .get_saml_provider()
        .saml_provider_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.assertion_encryption_mode(),
        Some(&AssertionEncryptionModeType::Required)
    );
    assert_eq!(got.private_key_list().len(), 1);
    let key_id = got.private_key_list()[0].key_id().unwrap().to_owned();
    // The last key cannot go while encryption is required; an EC key is not taken.
    let (code, _) = error_code(
        iam.update_saml_provider()
            .saml_provider_arn(&arn)
            .remove_private_key(&key_id)
            .send()
            .await,
    );
    assert_eq!(code, "InvalidInput");
    let (code, _) = error_code(
        iam.update_saml_provider()
            .saml_provider_arn(&arn)
            .add_private_key(EC_KEY)
            .send()
            .await,
    );
    assert_eq!(code, "InvalidInput");
    iam.update_saml_provider()
        .saml_provider_arn(&arn)
        .assertion_encryption_mode(AssertionEncryptionModeType::Allowed)
        .remove_private_key(&key_id)
        .send()
        .await
        .unwrap();
    let got = iam
        .get_saml_provider()
        .saml_provider_arn(&arn)
        .send()
        .await
        .unwrap();
    assert!(got.private_key_list().is_empty());

    // Tags.
    iam.tag_saml_provider()
        .saml_provider_arn(&arn)
        .tags(tag("team", "identity"))
        .send()
        .await
        .unwrap();
    iam.untag_saml_provider()
        .saml_provider_arn(&arn)
        .tag_keys("env")
        .send()
        .await
        .unwrap();
    let tags = iam
        .list_saml_provider_tags()
        .saml_provider_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 1);
    assert_eq!(tags.tags()[0].value(), "identity");

    let list = iam.list_saml_providers().send().await.unwrap();
    assert_eq!(list.saml_provider_list().len(), 1);
    assert_eq!(list.saml_provider_list()[0].arn(), Some(arn.as_str()));
    assert!(list.saml_provider_list()[0].valid_until().is_some());

    iam.delete_saml_provider()
        .saml_provider_arn(&arn)
        .send()
        .await
        .unwrap();
    let (code, status) = error_code(iam.get_saml_provider().saml_provider_arn(&arn).send().await);
    assert_eq!((code.as_str(), status), ("NoSuchEntity", 404));
}

#[tokio::test]
async fn bad_saml_metadata_is_refused_and_changes_nothing() {
    let server = TestServer::start().await;
    let iam = server.root();
    let padding = format!("<!-- {} -->", "x".repeat(1000));
    let cases = [
        // Too short.
        ("<md:EntityDescriptor/>".to_owned(), "ValidationError"),
        // Not XML.
        (format!("{{\"json\": true}} {padding}"), "InvalidInput"),
        // Not well-formed.
        (
            METADATA.replace("</md:IDPSSODescriptor>", ""),
            "InvalidInput",
        ),
        // A service provider's metadata, not an identity provider's.
        (
            METADATA.replace("IDPSSODescriptor", "SPSSODescriptor"),
            "InvalidInput",
        ),
        // No signing certificate.
        (
            METADATA.replace("use=\"signing\"", "use=\"encryption\""),
            "InvalidInput",
        ),
        // A certificate that is not one.
        (
            METADATA.replace("<ds:X509Certificate>MII", "<ds:X509Certificate>AAAA"),
            "InvalidInput",
        ),
        // Expired metadata.
        (
            METADATA.replace("entityID=", "validUntil=\"2001-01-01T00:00:00Z\" entityID="),
            "InvalidInput",
        ),
        // A document type declaration (entity expansion is never attempted).
        (
            METADATA.replace(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
                "<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY boom \"boom\">]>",
            ),
            "InvalidInput",
        ),
    ];
    for (i, (document, expected)) in cases.iter().enumerate() {
        let (code, status) = error_code(
            iam.create_saml_provider()
                .name("idp")
                .saml_metadata_document(document)
                .send()
                .await,
        );
        assert_eq!((code.as_str(), status), (*expected, 400), "case {i}");
    }
    let (code, _) = error_code(
        iam.create_saml_provider()
            .name("bad name")
            .saml_metadata_document(METADATA)
            .send()
            .await,
    );
    assert_eq!(code, "ValidationError");
    assert!(
        iam.list_saml_providers()
            .send()
            .await
            .unwrap()
            .saml_provider_list()
            .is_empty()
    );

    // A bad update leaves the provider as it was.
    let arn = iam
        .create_saml_provider()
        .name("idp")
        .saml_metadata_document(METADATA)
        .send()
        .await
        .unwrap()
        .saml_provider_arn()
        .unwrap()
        .to_owned();
    let (code, _) = error_code(
        iam.update_saml_provider()
            .saml_provider_arn(&arn)
            .saml_metadata_document(cases[3].0.as_str())
            .send()
            .await,
    );
    assert_eq!(code, "InvalidInput");
    let got = iam
        .get_saml_provider()
        .saml_provider_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(got.saml_metadata_document(), Some(METADATA));
}

#[tokio::test]
async fn server_certificates_upload_read_rename_delete() {
    let server = TestServer::start().await;
    let iam = server.root();

    let uploaded = iam
        .upload_server_certificate()
        .server_certificate_name("www")
        .path("/cloudfront/")
        .certificate_body(LEAF_PEM)
        .certificate_chain(CA_PEM)
        .private_key(LEAF_KEY)
        .tags(tag("env", "prod"))
        .send()
        .await
        .unwrap();
    let meta = uploaded.server_certificate_metadata().unwrap();
    assert_eq!(meta.server_certificate_name(), "www");
    assert_eq!(meta.path(), "/cloudfront/");
    assert!(meta.server_certificate_id().starts_with("ASCA"));
    assert_eq!(
        meta.arn(),
        format!("arn:aws:iam::{ACCOUNT}:server-certificate/cloudfront/www")
    );
    // The expiration is the certificate's notAfter (in 2126).
    let expiration = meta.expiration().unwrap().secs();
    assert!(expiration > 4_900_000_000, "{expiration}");
    assert_eq!(uploaded.tags().len(), 1);

    let got = iam
        .get_server_certificate()
        .server_certificate_name("WWW")
        .send()
        .await
        .unwrap();
    let cert = got.server_certificate().unwrap();
    assert_eq!(cert.certificate_body(), LEAF_PEM);
    assert_eq!(cert.certificate_chain(), Some(CA_PEM));
    assert_eq!(
        cert.server_certificate_metadata()
            .unwrap()
            .expiration()
            .unwrap()
            .secs(),
        expiration
    );
    // Nothing of the private key comes back.
    assert!(!format!("{got:?}").contains(key_line(LEAF_KEY)));

    // Same key as PKCS#1, and an ECDSA certificate.
    iam.upload_server_certificate()
        .server_certificate_name("www-pkcs1")
        .certificate_body(LEAF_PEM)
        .private_key(LEAF_KEY_PKCS1)
        .send()
        .await
        .unwrap();
    iam.upload_server_certificate()
        .server_certificate_name("ec")
        .path("/cloudfront/")
        .certificate_body(EC_PEM)
        .private_key(EC_KEY)
        .send()
        .await
        .unwrap();

    // Listing: by path, a page at a time.
    let list = iam
        .list_server_certificates()
        .path_prefix("/cloudfront/")
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = list
        .server_certificate_metadata_list()
        .iter()
        .map(|m| m.server_certificate_name())
        .collect();
    assert_eq!(names, ["ec", "www"]);
    let first = iam
        .list_server_certificates()
        .max_items(2)
        .send()
        .await
        .unwrap();
    assert_eq!(first.server_certificate_metadata_list().len(), 2);
    assert!(first.is_truncated());
    let rest = iam
        .list_server_certificates()
        .max_items(2)
        .marker(first.marker().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.server_certificate_metadata_list().len(), 1);
    assert!(!rest.is_truncated());
    let all: Vec<String> = iam
        .list_server_certificates()
        .max_items(1)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.server_certificate_name().to_owned())
        .collect();
    assert_eq!(all, ["ec", "www", "www-pkcs1"]);

    // Rename and move; the old name is gone, a taken name is refused.
    iam.update_server_certificate()
        .server_certificate_name("www")
        .new_server_certificate_name("www-2026")
        .new_path("/elb/")
        .send()
        .await
        .unwrap();
    let (code, _) = error_code(
        iam.get_server_certificate()
            .server_certificate_name("www")
            .send()
            .await,
    );
    assert_eq!(code, "NoSuchEntity");
    let got = iam
        .get_server_certificate()
        .server_certificate_name("www-2026")
        .send()
        .await
        .unwrap();
    let meta = got
        .server_certificate()
        .unwrap()
        .server_certificate_metadata()
        .unwrap();
    assert_eq!(meta.path(), "/elb/");
    assert_eq!(
        meta.arn(),
        format!("arn:aws:iam::{ACCOUNT}:server-certificate/elb/www-2026")
    );
    let (code, status) = error_code(
        iam.update_server_certificate()
            .server_certificate_name("www-2026")
            .new_server_certificate_name("EC")
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("EntityAlreadyExists", 409));

    // Tags.
    iam.tag_server_certificate()
        .server_certificate_name("www-2026")
        .tags(tag("team", "web"))
        .send()
        .await
        .unwrap();
    iam.untag_server_certificate()
        .server_certificate_name("www-2026")
        .tag_keys("env")
        .send()
        .await
        .unwrap();
    let tags = iam
        .list_server_certificate_tags()
        .server_certificate_name("www-2026")
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 1);
    assert_eq!(tags.tags()[0].key(), "team");

    iam.delete_server_certificate()
        .server_certificate_name("www-2026")
        .send()
        .await
        .unwrap();
    let (code, status) = error_code(
        iam.delete_server_certificate()
            .server_certificate_name("www-2026")
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("NoSuchEntity", 404));
}

#[tokio::test]
async fn bad_certificates_are_refused_and_change_nothing() {
    let server = TestServer::start().await;
    let iam = server.root();
    let damaged = LEAF_PEM.replacen("MII", "MIX", 1);
    let cases: [(&str, &str, Option<&str>, &str, &str); 7] = [
        // The key of another certificate.
        ("mismatch", LEAF_PEM, None, OTHER_KEY, "KeyPairMismatch"),
        ("mismatch-ec", LEAF_PEM, None, EC_KEY, "KeyPairMismatch"),
        // Not PEM, damaged PEM, a key where the certificate goes.
        ("not-pem", "hello", None, LEAF_KEY, "MalformedCertificate"),
        ("damaged", &damaged, None, LEAF_KEY, "MalformedCertificate"),
        ("swapped", LEAF_KEY, None, LEAF_PEM, "MalformedCertificate"),
        // A chain that did not sign the certificate; an expired certificate.
        (
            "bad-chain",
            LEAF_PEM,
            Some(EC_PEM),
            LEAF_KEY,
            "MalformedCertificate",
        ),
        (
            "expired",
            EXPIRED_PEM,
            None,
            LEAF_KEY,
            "MalformedCertificate",
        ),
    ];
    for (name, body, chain, key, expected) in cases {
        let (code, status) = error_code(
            iam.upload_server_certificate()
                .server_certificate_name(name)
                .certificate_body(body)
                .set_certificate_chain(chain.map(str::to_owned))
                .private_key(key)
                .send()
                .await,
        );
        assert_eq!((code.as_str(), status), (expected, 400), "{name}");
    }
    let (code, _) = error_code(
        iam.upload_server_certificate()
            .server_certificate_name("bad name")
            .certificate_body(LEAF_PEM)
            .private_key(LEAF_KEY)
            .send()
            .await,
    );
    assert_eq!(code, "ValidationError");
    assert!(
        iam.list_server_certificates()
            .send()
            .await
            .unwrap()
            .server_certificate_metadata_list()
            .is_empty()
    );

    iam.upload_server_certificate()
        .server_certificate_name("www")
        .certificate_body(LEAF_PEM)
        .private_key(LEAF_KEY)
        .send()
        .await
        .unwrap();
    let (code, status) = error_code(
        iam.upload_server_certificate()
            .server_certificate_name("WWW")
            .certificate_body(EC_PEM)
            .private_key(EC_KEY)
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("EntityAlreadyExists", 409));
    let got = iam
        .get_server_certificate()
        .server_certificate_name("www")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.server_certificate().unwrap().certificate_body(),
        LEAF_PEM
    );

    // The account holds at most 20.
    for i in 1..20 {
        iam.upload_server_certificate()
            .server_certificate_name(format!("ec-{i}"))
            .certificate_body(EC_PEM)
            .private_key(EC_KEY)
            .send()
            .await
            .unwrap();
    }
    let (code, status) = error_code(
        iam.upload_server_certificate()
            .server_certificate_name("ec-20")
            .certificate_body(EC_PEM)
            .private_key(EC_KEY)
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("LimitExceeded", 409));
}

#[tokio::test]
async fn customer_managed_policies_take_tags() {
    let server = TestServer::start().await;
    let iam = server.root();
    let arn = iam
        .create_policy()
        .policy_name("p")
        .policy_document(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}}"#)
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    iam.tag_policy()
        .policy_arn(&arn)
        .tags(tag("a", "1"))
        .tags(tag("b", "2"))
        .tags(tag("c", "3"))
        .send()
        .await
        .unwrap();
    let page = iam
        .list_policy_tags()
        .policy_arn(&arn)
        .max_items(2)
        .send()
        .await
        .unwrap();
    assert_eq!(page.tags().len(), 2);
    assert!(page.is_truncated());
    iam.untag_policy()
        .policy_arn(&arn)
        .tag_keys("B")
        .send()
        .await
        .unwrap();
    let all: Vec<String> = iam
        .list_policy_tags()
        .policy_arn(&arn)
        .max_items(1)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.key().to_owned())
        .collect();
    assert_eq!(all, ["a", "c"]);
    let got = iam.get_policy().policy_arn(&arn).send().await.unwrap();
    assert_eq!(got.policy().unwrap().tags().len(), 2);

    // Tags are checked as everywhere else, and a refused call changes nothing.
    let (code, _) = error_code(
        iam.tag_policy()
            .policy_arn(&arn)
            .tags(tag("aws:reserved", "x"))
            .send()
            .await,
    );
    assert_eq!(code, "InvalidInput");
    assert_eq!(
        iam.list_policy_tags()
            .policy_arn(&arn)
            .send()
            .await
            .unwrap()
            .tags()
            .len(),
        2
    );

    // AWS managed policies have no tags and take none.
    let managed = "arn:aws:iam::aws:policy/ReadOnlyAccess";
    let (code, _) = error_code(
        iam.tag_policy()
            .policy_arn(managed)
            .tags(tag("a", "1"))
            .send()
            .await,
    );
    assert_eq!(code, "InvalidInput");
    assert!(
        iam.list_policy_tags()
            .policy_arn(managed)
            .send()
            .await
            .unwrap()
            .tags()
            .is_empty()
    );
    let (code, status) = error_code(
        iam.tag_policy()
            .policy_arn(format!("arn:aws:iam::{ACCOUNT}:policy/missing"))
            .tags(tag("a", "1"))
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("NoSuchEntity", 404));
}

#[tokio::test]
async fn providers_and_certificates_survive_a_restart_with_keys_sealed() {
    let mut server = TestServer::start().await;
    let iam = server.root();
    let oidc = iam
        .create_open_id_connect_provider()
        .url("https://token.example.com")
        .client_id_list("sts.amazonaws.com")
        .thumbprint_list(THUMB_A)
        .tags(tag("env", "dev"))
        .send()
        .await
        .unwrap()
        .open_id_connect_provider_arn()
        .unwrap()
        .to_owned();
    let saml = iam
        .create_saml_provider()
        .name("idp")
        .saml_metadata_document(METADATA)
        .send()
        .await
        .unwrap()
        .saml_provider_arn()
        .unwrap()
        .to_owned();
    iam.update_saml_provider()
        .saml_provider_arn(&saml)
        .assertion_encryption_mode(AssertionEncryptionModeType::Required)
        .add_private_key(LEAF_KEY_PKCS1)
        .send()
        .await
        .unwrap();
    iam.upload_server_certificate()
        .server_certificate_name("www")
        .certificate_body(LEAF_PEM)
        .certificate_chain(CA_PEM)
        .private_key(LEAF_KEY)
        .send()
        .await
        .unwrap();
    let before = iam
        .get_server_certificate()
        .server_certificate_name("www")
        .send()
        .await
        .unwrap();

    server.restart().await;

    let iam = server.root();
    let got = iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&oidc)
        .send()
        .await
        .unwrap();
    assert_eq!(got.url(), Some("token.example.com"));
    assert_eq!(got.client_id_list(), ["sts.amazonaws.com"]);
    assert_eq!(got.thumbprint_list(), [THUMB_A]);
    assert_eq!(got.tags().len(), 1);
    let got = iam
        .get_saml_provider()
        .saml_provider_arn(&saml)
        .send()
        .await
        .unwrap();
    assert_eq!(got.saml_metadata_document(), Some(METADATA));
    assert_eq!(got.private_key_list().len(), 1);
    let after = iam
        .get_server_certificate()
        .server_certificate_name("www")
        .send()
        .await
        .unwrap();
    assert_eq!(before.server_certificate(), after.server_certificate());

    // The private keys are sealed at rest: no line of them is in the database.
    let at_rest = common::bytes_at_rest(server.dir.path());
    for secret in [key_line(LEAF_KEY), key_line(LEAF_KEY_PKCS1)] {
        let secret = secret.as_bytes();
        assert!(!at_rest.windows(secret.len()).any(|w| w == secret));
    }
    // ...while the certificate itself is stored as it came.
    let body = certificate_line(LEAF_PEM).as_bytes();
    assert!(at_rest.windows(body.len()).any(|w| w == body));
}

#[tokio::test]
async fn a_users_policies_allow_and_deny_these_actions() {
    let server = TestServer::start().await;
    let root = server.root();
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Action":["iam:CreateOpenIDConnectProvider","iam:GetOpenIDConnectProvider"],"Resource":"arn:aws:iam::{ACCOUNT}:oidc-provider/allowed.example.com"}},
            {{"Effect":"Allow","Action":"iam:DeleteOpenIDConnectProvider","Resource":"*","Condition":{{"StringEquals":{{"aws:ResourceTag/env":"dev"}}}}}},
            {{"Effect":"Allow","Action":["iam:GetServerCertificate","iam:ListServerCertificates"],"Resource":"arn:aws:iam::{ACCOUNT}:server-certificate/web/*"}},
            {{"Effect":"Allow","Action":"iam:TagPolicy","Resource":"*","Condition":{{"StringEquals":{{"aws:RequestTag/team":"core"}}}}}}
        ]}}"#
    );
    let carol = server.user_with_policy("carol", Some(&policy)).await;
    let denied = |code: (String, u16)| assert_eq!((code.0.as_str(), code.1), ("AccessDenied", 403));

    carol
        .create_open_id_connect_provider()
        .url("https://allowed.example.com")
        .send()
        .await
        .unwrap();
    carol
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(oidc_arn("allowed.example.com"))
        .send()
        .await
        .unwrap();
    denied(error_code(
        carol
            .create_open_id_connect_provider()
            .url("https://other.example.com")
            .send()
            .await,
    ));
    denied(error_code(
        carol.list_open_id_connect_providers().send().await,
    ));
    // Deleting depends on the provider's tags.
    denied(error_code(
        carol
            .delete_open_id_connect_provider()
            .open_id_connect_provider_arn(oidc_arn("allowed.example.com"))
            .send()
            .await,
    ));
    root.tag_open_id_connect_provider()
        .open_id_connect_provider_arn(oidc_arn("allowed.example.com"))
        .tags(tag("env", "dev"))
        .send()
        .await
        .unwrap();
    carol
        .delete_open_id_connect_provider()
        .open_id_connect_provider_arn(oidc_arn("allowed.example.com"))
        .send()
        .await
        .unwrap();
    let providers = root.list_open_id_connect_providers().send().await.unwrap();
    assert!(providers.open_id_connect_provider_list().is_empty());

    denied(error_code(
        carol
            .create_saml_provider()
            .name("idp")
            .saml_metadata_document(METADATA)
            .send()
            .await,
    ));
    assert!(
        root.list_saml_providers()
            .send()
            .await
            .unwrap()
            .saml_provider_list()
            .is_empty()
    );

    denied(error_code(
        carol
            .upload_server_certificate()
            .server_certificate_name("www")
            .path("/web/")
            .certificate_body(LEAF_PEM)
            .private_key(LEAF_KEY)
            .send()
            .await,
    ));
    for (name, path) in [("www", "/web/"), ("internal", "/")] {
        root.upload_server_certificate()
            .server_certificate_name(name)
            .path(path)
            .certificate_body(LEAF_PEM)
            .private_key(LEAF_KEY)
            .send()
            .await
            .unwrap();
    }
    carol
        .get_server_certificate()
        .server_certificate_name("www")
        .send()
        .await
        .unwrap();
    carol
        .list_server_certificates()
        .path_prefix("/web/")
        .send()
        .await
        .unwrap();
    denied(error_code(
        carol
            .get_server_certificate()
            .server_certificate_name("internal")
            .send()
            .await,
    ));
    denied(error_code(carol.list_server_certificates().send().await));

    let arn = root
        .create_policy()
        .policy_name("p")
        .policy_document(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}}"#)
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    carol
        .tag_policy()
        .policy_arn(&arn)
        .tags(tag("team", "core"))
        .send()
        .await
        .unwrap();
    denied(error_code(
        carol
            .tag_policy()
            .policy_arn(&arn)
            .tags(tag("team", "other"))
            .send()
            .await,
    ));
    denied(error_code(
        carol.list_policy_tags().policy_arn(&arn).send().await,
    ));
    let tags = root
        .list_policy_tags()
        .policy_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 1);
    assert_eq!(tags.tags()[0].value(), "core");
}

/// CreateOpenIDConnectProvider lists every model violation together (client ids and
/// thumbprints by position, as AWS's request validation names them), creating nothing.
#[tokio::test]
async fn oidc_provider_violations_are_listed_together() {
    let server = common::TestServer::start().await;
    let iam = server.root();
    let r = iam
        .create_open_id_connect_provider()
        .url("https://idp.example.com")
        .client_id_list("ok")
        .client_id_list("c".repeat(256))
        .thumbprint_list("abc")
        .send()
        .await;
    let message = common::error_message(&r);
    assert_eq!(common::error_code(r), ("ValidationError".to_owned(), 400));
    assert!(
        message.starts_with("2 validation errors detected: Value '"),
        "{message}"
    );
    assert!(message.contains("at 'clientIDList.2.member'"), "{message}");
    assert!(
        message.contains("Value 'abc' at 'thumbprintList.1.member'"),
        "{message}"
    );
    let listed = iam.list_open_id_connect_providers().send().await.unwrap();
    assert!(listed.open_id_connect_provider_list().is_empty());
}
