//! AssumeRoleWithWebIdentity end to end: a test OpenID Connect issuer served over HTTPS on
//! 127.0.0.1 (certificates and signing keys made at test time), an OIDC provider created
//! through the IAM API, roles that trust it, and the AWS SDK calling STS unsigned.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use common::{ACCOUNT, TestServer};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer as CertIssuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// One DER element: (tag, content, rest).
fn der_element(input: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = input[0];
    let (len, header) = match input[1] {
        l if l < 0x80 => (usize::from(l), 2),
        0x81 => (usize::from(input[2]), 3),
        0x82 => ((usize::from(input[2]) << 8) | usize::from(input[3]), 4),
        other => panic!("unexpected DER length byte {other:#x}"),
    };
    (tag, &input[header..header + len], &input[header + len..])
}

/// The PKCS#1 RSAPrivateKey inside a PKCS#8 PrivateKeyInfo (what `jsonwebtoken` signs with).
fn pkcs1_from_pkcs8(pkcs8: &[u8]) -> Vec<u8> {
    let (_, info, _) = der_element(pkcs8);
    let (_, _, rest) = der_element(info); // version
    let (_, _, rest) = der_element(rest); // algorithm
    let (tag, key, _) = der_element(rest);
    assert_eq!(tag, 0x04, "privateKey OCTET STRING");
    key.to_vec()
}

/// A fresh RS256 signing key and its public JWK.
fn rsa_key(kid: &str) -> (EncodingKey, Jwk) {
    let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key");
    let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).expect("pkcs8");
    let key = EncodingKey::from_rsa_der(&pkcs1_from_pkcs8(pkcs8.as_ref()));
    let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).expect("jwk");
    jwk.common.key_id = Some(kid.to_owned());
    (key, jwk)
}

/// A fresh ES256 signing key and its public JWK.
fn ec_key(kid: &str) -> (EncodingKey, Jwk) {
    let pair = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("EC key");
    let key = EncodingKey::from_ec_der(&pair.serialize_der());
    let mut jwk = Jwk::from_encoding_key(&key, Algorithm::ES256).expect("jwk");
    jwk.common.key_id = Some(kid.to_owned());
    (key, jwk)
}

/// How the issuer's TLS certificate is made.
#[derive(Clone, Copy, PartialEq)]
enum Chain {
    /// A test CA signs the server certificate; the server sends both.
    CaSigned,
    /// One self-signed server certificate.
    SelfSigned,
}

/// A test OpenID Connect issuer over HTTPS on 127.0.0.1.
struct TestIssuer {
    /// `https://127.0.0.1:PORT`: the `iss` of its tokens.
    issuer: String,
    /// `127.0.0.1:PORT`: the IAM provider's URL (without `https://`).
    url: String,
    /// The thumbprint AWS asks for: the top certificate of the chain served.
    thumbprint: String,
    /// The server certificate's own thumbprint (the same as `thumbprint` when self-signed).
    leaf_thumbprint: String,
    rsa: EncodingKey,
    ec: EncodingKey,
    /// How many JWKS documents were served.
    jwks_fetches: Arc<AtomicUsize>,
}

impl TestIssuer {
    async fn start(chain: Chain) -> TestIssuer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let url = format!("127.0.0.1:{}", addr.port());
        let issuer = format!("https://{url}");

        let leaf_key = KeyPair::generate().unwrap();
        let mut leaf_params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "test oidc issuer");
        let (certs, thumbprint): (Vec<CertificateDer<'static>>, Vec<u8>) = match chain {
            Chain::SelfSigned => {
                let leaf = leaf_params.self_signed(&leaf_key).unwrap();
                let der = leaf.der().clone();
                (vec![der.clone()], der.to_vec())
            }
            Chain::CaSigned => {
                let ca_key = KeyPair::generate().unwrap();
                let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
                ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
                ca_params
                    .distinguished_name
                    .push(DnType::CommonName, "test oidc CA");
                ca_params.key_usages = vec![
                    rcgen::KeyUsagePurpose::KeyCertSign,
                    rcgen::KeyUsagePurpose::DigitalSignature,
                ];
                let ca_cert = ca_params.self_signed(&ca_key).unwrap();
                let ca = CertIssuer::new(ca_params, ca_key);
                let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();
                (
                    vec![leaf.der().clone(), ca_cert.der().clone()],
                    ca_cert.der().to_vec(),
                )
            }
        };
        let thumbprint = sha1_hex(&thumbprint);
        let leaf_thumbprint = sha1_hex(&certs[0]);
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                certs,
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
            )
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));

        let (rsa, rsa_jwk) = rsa_key("rsa-1");
        let (ec, ec_jwk) = ec_key("ec-1");
        let discovery = json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/keys"),
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        })
        .to_string();
        let jwks =
            json!({ "keys": [rsa_jwk, ec_jwk, {"kty": "unknown-type", "kid": "x"}] }).to_string();
        let jwks_fetches = Arc::new(AtomicUsize::new(0));
        let fetches = jwks_fetches.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let (discovery, jwks, fetches) = (discovery.clone(), jwks.clone(), fetches.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let line = String::from_utf8_lossy(&request).to_string();
                    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let (status, body) = match path.as_str() {
                        "/.well-known/openid-configuration" => ("200 OK", discovery),
                        "/keys" => {
                            fetches.fetch_add(1, Ordering::SeqCst);
                            ("200 OK", jwks)
                        }
                        _ => ("404 Not Found", "{}".to_owned()),
                    };
                    let response = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = tls.write_all(response.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        TestIssuer {
            issuer,
            url,
            thumbprint,
            leaf_thumbprint,
            rsa,
            ec,
            jwks_fetches,
        }
    }

    fn provider_arn(&self) -> String {
        format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{}", self.url)
    }

    /// Standard claims for `sub`/`aud`, valid for an hour, with `extra` merged over them.
    fn claims(&self, sub: &str, aud: &str, extra: Value) -> Value {
        let now = now();
        let mut claims = json!({
            "iss": self.issuer,
            "sub": sub,
            "aud": aud,
            "iat": now,
            "nbf": now - 5,
            "exp": now + 3600,
        });
        if let (Some(map), Value::Object(extra)) = (claims.as_object_mut(), extra) {
            map.extend(extra);
        }
        claims
    }

    fn rs256(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("rsa-1".into());
        jsonwebtoken::encode(&header, claims, &self.rsa).unwrap()
    }

    fn es256(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("ec-1".into());
        jsonwebtoken::encode(&header, claims, &self.ec).unwrap()
    }
}

fn sha1_hex(der: &[u8]) -> String {
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    hash.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

const CLIENT_ID: &str = "portcullis-test-client";

fn trust(issuer: &TestIssuer, sub: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": issuer.provider_arn()},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                format!("{}:aud", issuer.url): CLIENT_ID,
                format!("{}:sub", issuer.url): sub,
            }}
        }]
    })
    .to_string()
}

async fn create_provider(server: &TestServer, issuer: &TestIssuer, thumbprint: &str) {
    server
        .root()
        .create_open_id_connect_provider()
        .url(&issuer.issuer)
        .client_id_list(CLIENT_ID)
        .thumbprint_list(thumbprint)
        .send()
        .await
        .expect("create OIDC provider");
}

async fn create_role(server: &TestServer, name: &str, trust_policy: &str) {
    server
        .root()
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust_policy)
        .send()
        .await
        .expect("create role");
}

fn role_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

/// The AWS error code of a failed call.
fn code<T: std::fmt::Debug, E: aws_sdk_sts::error::ProvideErrorMetadata + std::fmt::Debug>(
    r: Result<T, E>,
) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.code().unwrap_or("(none)").to_owned(),
    }
}

/// An STS client with no credentials at all: AssumeRoleWithWebIdentity is unsigned.
fn anonymous_sts(server: &TestServer) -> aws_sdk_sts::Client {
    let config = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .endpoint_url(server.endpoint())
        .region(aws_sdk_sts::config::Region::new("us-east-1"))
        .build();
    aws_sdk_sts::Client::from_conf(config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_identity_token_from_a_ca_signed_issuer_becomes_a_role_session() {
    let server = TestServer::start().await;
    let issuer = TestIssuer::start(Chain::CaSigned).await;
    create_provider(&server, &issuer, &issuer.thumbprint).await;
    create_role(&server, "web-role", &trust(&issuer, "user-1")).await;
    server
        .root()
        .attach_role_policy()
        .role_name("web-role")
        .policy_arn("arn:aws:iam::aws:policy/IAMReadOnlyAccess")
        .send()
        .await
        .unwrap();
    let sts = anonymous_sts(&server);
    let assume = |token: String, role: &str| {
        sts.assume_role_with_web_identity()
            .role_arn(role_arn(role))
            .role_session_name("web-session")
            .web_identity_token(token)
            .send()
    };

    // A good RS256 token.
    let token = issuer.rs256(&issuer.claims("user-1", CLIENT_ID, json!({"amr": ["pwd", "mfa"]})));
    let out = assume(token, "web-role")
        .await
        .expect("assume role with web identity");
    assert_eq!(out.subject_from_web_identity_token(), Some("user-1"));
    assert_eq!(out.provider(), Some(issuer.issuer.as_str()));
    assert_eq!(out.audience(), Some(CLIENT_ID));
    let user = out.assumed_role_user().unwrap();
    let session_arn = format!("arn:aws:sts::{ACCOUNT}:assumed-role/web-role/web-session");
    assert_eq!(user.arn(), session_arn);
    assert!(user.assumed_role_id().ends_with(":web-session"));
    let creds = out.credentials().unwrap();
    assert!(creds.access_key_id().starts_with("ASIA"));
    let expires = creds.expiration().secs();
    assert!(
        (expires - now() - 3600).abs() < 60,
        "default duration is an hour"
    );

    // The credentials work, as the role session.
    let me = server
        .sts(
            creds.access_key_id(),
            creds.secret_access_key(),
            Some(creds.session_token()),
        )
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(me.arn(), Some(session_arn.as_str()));
    let iam = server.iam_session(
        creds.access_key_id(),
        creds.secret_access_key(),
        creds.session_token(),
    );
    iam.get_role().role_name("web-role").send().await.unwrap();
    assert_eq!(
        code(iam.create_user().user_name("nope").send().await),
        "AccessDenied"
    );

    // ES256 too, with a duration.
    let token = issuer.es256(&issuer.claims("user-1", CLIENT_ID, json!({})));
    let out = sts
        .assume_role_with_web_identity()
        .role_arn(role_arn("web-role"))
        .role_session_name("ec")
        .web_identity_token(token)
        .duration_seconds(900)
        .send()
        .await
        .expect("ES256 token");
    let expires = out.credentials().unwrap().expiration().secs();
    assert!((expires - now() - 900).abs() < 60);

    // The key set was fetched once and then served from the cache.
    assert_eq!(issuer.jwks_fetches.load(Ordering::SeqCst), 1);
    // An unknown kid is refused; the set was fetched moments ago, so it is not refetched
    // (at most one forced refetch per provider per 10 s).
    let (stranger, _) = rsa_key("rsa-2");
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("rsa-2".into());
    let unknown = jsonwebtoken::encode(
        &header,
        &issuer.claims("user-1", CLIENT_ID, json!({})),
        &stranger,
    )
    .unwrap();
    assert_eq!(
        code(assume(unknown, "web-role").await),
        "InvalidIdentityToken"
    );
    assert_eq!(issuer.jwks_fetches.load(Ordering::SeqCst), 1);

    // A token signed by another key under the same kid.
    let (other_key, _) = rsa_key("rsa-1");
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("rsa-1".into());
    let forged = jsonwebtoken::encode(
        &header,
        &issuer.claims("user-1", CLIENT_ID, json!({})),
        &other_key,
    )
    .unwrap();
    assert_eq!(
        code(assume(forged, "web-role").await),
        "InvalidIdentityToken"
    );

    // A token with its payload altered after signing.
    let good = issuer.rs256(&issuer.claims("user-1", CLIENT_ID, json!({})));
    let parts: Vec<&str> = good.split('.').collect();
    let other = issuer.rs256(&issuer.claims("user-2", CLIENT_ID, json!({})));
    let other_payload = other.split('.').nth(1).unwrap();
    let spliced = format!("{}.{other_payload}.{}", parts[0], parts[2]);
    assert_eq!(
        code(assume(spliced, "web-role").await),
        "InvalidIdentityToken"
    );

    // A wrong audience.
    let token = issuer.rs256(&issuer.claims("user-1", "someone-else", json!({})));
    assert_eq!(
        code(assume(token, "web-role").await),
        "InvalidIdentityToken"
    );
    // ... unless azp names a client id (as AWS accepts).
    let token = issuer.rs256(&issuer.claims("user-1", "someone-else", json!({"azp": CLIENT_ID})));
    assume(token, "web-role").await.expect("azp is a client id");

    // Expired.
    let token = issuer.rs256(&issuer.claims(
        "user-1",
        CLIENT_ID,
        json!({"iat": now() - 7200, "nbf": now() - 7200, "exp": now() - 600}),
    ));
    assert_eq!(
        code(assume(token, "web-role").await),
        "ExpiredTokenException"
    );

    // Not valid yet.
    let token = issuer.rs256(&issuer.claims("user-1", CLIENT_ID, json!({"nbf": now() + 600})));
    assert_eq!(
        code(assume(token, "web-role").await),
        "InvalidIdentityToken"
    );

    // An issuer with no provider in the account.
    let token =
        issuer.rs256(&issuer.claims("user-1", CLIENT_ID, json!({"iss": "https://127.0.0.1:1"})));
    assert_eq!(
        code(assume(token, "web-role").await),
        "InvalidIdentityToken"
    );

    // Not a JWT; an unsigned ("alg": "none") JWT; an HMAC one.
    assert_eq!(
        code(assume("not-a-token".into(), "web-role").await),
        "InvalidIdentityToken"
    );
    let none = format!("eyJhbGciOiJub25lIn0.{}.", good.split('.').nth(1).unwrap());
    assert_eq!(code(assume(none, "web-role").await), "InvalidIdentityToken");
    let hs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &issuer.claims("user-1", CLIENT_ID, json!({})),
        &EncodingKey::from_secret(b"guess"),
    )
    .unwrap();
    assert_eq!(code(assume(hs, "web-role").await), "InvalidIdentityToken");

    // A trust policy whose sub condition does not match.
    create_role(&server, "other-sub", &trust(&issuer, "user-2")).await;
    let token = issuer.rs256(&issuer.claims("user-1", CLIENT_ID, json!({})));
    assert_eq!(code(assume(token, "other-sub").await), "AccessDenied");
    // A role that trusts a user, not the provider.
    create_role(
        &server,
        "not-federated",
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")},
            "Action": "sts:AssumeRole"}]})
        .to_string(),
    )
    .await;
    let token = issuer.rs256(&issuer.claims("user-1", CLIENT_ID, json!({})));
    assert_eq!(code(assume(token, "not-federated").await), "AccessDenied");
    // A role that does not exist.
    let token = issuer.rs256(&issuer.claims("user-1", CLIENT_ID, json!({})));
    assert_eq!(code(assume(token, "no-such-role").await), "AccessDenied");

    // An amr condition (multivalued) and aws:FederatedProvider.
    let amr_trust = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": issuer.provider_arn()},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "ForAnyValue:StringEquals": {format!("{}:amr", issuer.url): "mfa"},
                "StringEquals": {"aws:FederatedProvider": issuer.provider_arn()}
            }
        }]
    })
    .to_string();
    create_role(&server, "mfa-only", &amr_trust).await;
    let with_mfa = issuer.rs256(&issuer.claims("u", CLIENT_ID, json!({"amr": ["pwd", "mfa"]})));
    assume(with_mfa, "mfa-only").await.expect("amr has mfa");
    let without = issuer.rs256(&issuer.claims("u", CLIENT_ID, json!({"amr": ["pwd"]})));
    assert_eq!(code(assume(without, "mfa-only").await), "AccessDenied");

    // A session policy narrows the session.
    let token = issuer.rs256(&issuer.claims("user-1", CLIENT_ID, json!({})));
    let out = sts
        .assume_role_with_web_identity()
        .role_arn(role_arn("web-role"))
        .role_session_name("narrow")
        .web_identity_token(token)
        .policy(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:ListRoles","Resource":"*"}}"#)
        .send()
        .await
        .unwrap();
    assert!(out.packed_policy_size().unwrap() > 0);
    let creds = out.credentials().unwrap();
    let iam = server.iam_session(
        creds.access_key_id(),
        creds.secret_access_key(),
        creds.session_token(),
    );
    iam.list_roles().send().await.unwrap();
    assert_eq!(
        code(iam.get_role().role_name("web-role").send().await),
        "AccessDenied"
    );

    // Durations beyond the role's maximum.
    let token = issuer.rs256(&issuer.claims("user-1", CLIENT_ID, json!({})));
    let r = sts
        .assume_role_with_web_identity()
        .role_arn(role_arn("web-role"))
        .role_session_name("long")
        .web_identity_token(token)
        .duration_seconds(7200)
        .send()
        .await;
    assert_eq!(code(r), "ValidationError");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thumbprints_decide_whether_the_issuer_is_trusted() {
    let server = TestServer::start().await;
    let issuer = TestIssuer::start(Chain::SelfSigned).await;
    // The wrong thumbprint first.
    create_provider(&server, &issuer, &"ab".repeat(20)).await;
    create_role(&server, "web-role", &trust(&issuer, "user-1")).await;
    let sts = anonymous_sts(&server);
    let assume = |token: String| {
        sts.assume_role_with_web_identity()
            .role_arn(role_arn("web-role"))
            .role_session_name("sess")
            .web_identity_token(token)
            .send()
    };
    let token = issuer.rs256(&issuer.claims("user-1", CLIENT_ID, json!({})));
    let r = assume(token.clone()).await;
    match &r {
        Err(e) => {
            let msg = aws_sdk_sts::error::ProvideErrorMetadata::message(e).unwrap_or_default();
            assert!(msg.contains("thumbprint"), "{msg}");
        }
        Ok(_) => panic!("a wrong thumbprint must be refused"),
    }
    assert_eq!(code(r), "InvalidIdentityToken");
    assert_eq!(issuer.jwks_fetches.load(Ordering::SeqCst), 0);

    // With the self-signed certificate's own thumbprint, the token is accepted.
    server
        .root()
        .update_open_id_connect_provider_thumbprint()
        .open_id_connect_provider_arn(issuer.provider_arn())
        .thumbprint_list(issuer.thumbprint.to_uppercase())
        .send()
        .await
        .unwrap();
    assume(token.clone())
        .await
        .expect("the leaf's thumbprint pins a self-signed certificate");

    // The client id list is the provider's: removing ours refuses the token.
    server
        .root()
        .remove_client_id_from_open_id_connect_provider()
        .open_id_connect_provider_arn(issuer.provider_arn())
        .client_id(CLIENT_ID)
        .send()
        .await
        .unwrap();
    assert_eq!(code(assume(token.clone()).await), "InvalidIdentityToken");

    // A CA-signed server certificate may be pinned by its own thumbprint too.
    let ca_signed = TestIssuer::start(Chain::CaSigned).await;
    assert_ne!(ca_signed.leaf_thumbprint, ca_signed.thumbprint);
    create_provider(&server, &ca_signed, &ca_signed.leaf_thumbprint).await;
    create_role(&server, "leaf-pinned", &trust(&ca_signed, "user-1")).await;
    let leaf_token = ca_signed.rs256(&ca_signed.claims("user-1", CLIENT_ID, json!({})));
    sts.assume_role_with_web_identity()
        .role_arn(role_arn("leaf-pinned"))
        .role_session_name("leaf")
        .web_identity_token(leaf_token)
        .send()
        .await
        .expect("the server certificate's own thumbprint pins it");

    // Deleting the provider makes its tokens unknown.
    server
        .root()
        .delete_open_id_connect_provider()
        .open_id_connect_provider_arn(issuer.provider_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(code(assume(token).await), "InvalidIdentityToken");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_provider_is_an_idp_communication_error() {
    let server = TestServer::start().await;
    let issuer = TestIssuer::start(Chain::CaSigned).await;
    // A provider on a port where nothing listens.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_port = closed.local_addr().unwrap().port();
    drop(closed);
    let dead = format!("https://127.0.0.1:{dead_port}");
    server
        .root()
        .create_open_id_connect_provider()
        .url(&dead)
        .client_id_list(CLIENT_ID)
        .thumbprint_list(&issuer.thumbprint)
        .send()
        .await
        .unwrap();
    let dead_arn = format!("arn:aws:iam::{ACCOUNT}:oidc-provider/127.0.0.1:{dead_port}");
    create_role(
        &server,
        "dead-role",
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Federated": dead_arn},
            "Action": "sts:AssumeRoleWithWebIdentity"}]})
        .to_string(),
    )
    .await;
    let token = issuer.rs256(&issuer.claims("user-1", CLIENT_ID, json!({"iss": dead})));
    let r = anonymous_sts(&server)
        .assume_role_with_web_identity()
        .role_arn(role_arn("dead-role"))
        .role_session_name("sess")
        .web_identity_token(token)
        .send()
        .await;
    assert_eq!(code(r), "IDPCommunicationError");

    // Missing parameters are validation errors, before any token work.
    let r = anonymous_sts(&server)
        .assume_role_with_web_identity()
        .role_arn(role_arn("dead-role"))
        .role_session_name("bad name!")
        .web_identity_token("abcd")
        .send()
        .await;
    assert_eq!(code(r), "ValidationError");
}

/// Kubernetes-style workloads: boto3 with only `AWS_ROLE_ARN`, `AWS_WEB_IDENTITY_TOKEN_FILE`
/// and `AWS_ENDPOINT_URL_STS` (no keys) becomes the role; the token file is rotated between
/// two processes, as a kubelet rotates projected tokens, and the new token is the one used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_with_a_web_identity_token_file_becomes_the_role() {
    let boto3 = std::process::Command::new("python3")
        .args(["-c", "import boto3"])
        .status()
        .is_ok_and(|s| s.success());
    if !boto3 {
        let reason = "boto3 is needed (python3 -m pip install boto3)";
        assert!(
            std::env::var_os("PORTCULLIS_REQUIRE_CLIENTS").is_none(),
            "{reason}"
        );
        eprintln!("SKIPPED: {reason}");
        return;
    }
    let server = TestServer::start().await;
    let issuer = TestIssuer::start(Chain::CaSigned).await;
    create_provider(&server, &issuer, &issuer.thumbprint).await;
    // The pod's service account, as a cluster's issuer names it.
    let sub = "system:serviceaccount:shop:checkout";
    create_role(&server, "checkout", &trust(&issuer, sub)).await;
    server
        .root()
        .attach_role_policy()
        .role_name("checkout")
        .policy_arn("arn:aws:iam::aws:policy/IAMReadOnlyAccess")
        .send()
        .await
        .expect("attach");
    let dir = tempfile::tempdir().expect("dir");
    let token_file = dir.path().join("token");
    let script = "import boto3\nprint(boto3.client('sts').get_caller_identity()['Arn'])\nprint(len(boto3.client('iam').list_roles()['Roles']))";
    let run_with = |program: &std::path::Path, args: &[&str], token: &str| {
        std::fs::write(&token_file, token).expect("token file");
        let out = tokio::task::block_in_place(|| {
            std::process::Command::new(program)
                .args(args)
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("HOME", dir.path())
                .env("AWS_CONFIG_FILE", dir.path().join("config"))
                .env(
                    "AWS_SHARED_CREDENTIALS_FILE",
                    dir.path().join("credentials"),
                )
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .env("AWS_ROLE_ARN", role_arn("checkout"))
                .env("AWS_ROLE_SESSION_NAME", "checkout-pod")
                .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token_file)
                .env("AWS_ENDPOINT_URL_STS", server.endpoint())
                .env("AWS_ENDPOINT_URL_IAM", server.endpoint())
                .env("AWS_DEFAULT_REGION", "us-east-1")
                .output()
        })
        .expect("python3 runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let python = std::path::Path::new("python3");
    let run = |token: &str| run_with(python, &["-c", script], token);
    let session = format!("arn:aws:sts::{ACCOUNT}:assumed-role/checkout/checkout-pod");
    let (ok, out, err) = run(&issuer.rs256(&issuer.claims(sub, CLIENT_ID, json!({}))));
    assert!(ok, "{out}{err}");
    assert_eq!(out, format!("{session}\n1\n"));
    // Rotated: a fresh token works; a token for another service account is refused.
    let (ok, out, err) = run(&issuer.es256(&issuer.claims(sub, CLIENT_ID, json!({}))));
    assert!(ok, "{out}{err}");
    assert!(out.starts_with(&session), "{out}");
    let (ok, _, err) = run(&issuer.rs256(&issuer.claims(
        "system:serviceaccount:shop:other",
        CLIENT_ID,
        json!({}),
    )));
    assert!(!ok);
    assert!(err.contains("AccessDenied"), "{err}");

    // The Rust SDK (aws-config's default chain), built by `cargo test --workspace` as the
    // example sdk_whoami of the portcullis crate, in the same target directory.
    let example = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("examples/sdk_whoami")))
        .filter(|p| p.exists());
    match example {
        Some(example) => {
            let token = issuer.rs256(&issuer.claims(sub, CLIENT_ID, json!({})));
            let (ok, out, err) = run_with(&example, &[], &token);
            assert!(ok, "{out}{err}");
            assert_eq!(out, format!("{session}\ntrue\n"));
        }
        None => {
            assert!(
                std::env::var_os("PORTCULLIS_REQUIRE_CLIENTS").is_none(),
                "examples/sdk_whoami is not built (cargo test --workspace builds it)"
            );
            eprintln!("SKIPPED (Rust SDK part): cargo build -p portcullis --examples");
        }
    }
}
