//! Whole-crate examples: AWS's documented example, sign → verify round trips, and every way
//! a request can be refused.

use crate::canonical::{canonical_request, string_to_sign};
use crate::*;

const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/// 20150830T123600Z
const T: i64 = 1_440_938_160;
const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";

fn params(time: i64) -> SigningParams<'static> {
    SigningParams::new(AKID, SECRET, "us-east-1", "iam", time)
}

/// Adds `headers` (owned by the caller) to `request`.
fn with_headers<'a>(request: &Request<'a>, headers: &'a [(&'static str, String)]) -> Request<'a> {
    headers
        .iter()
        .fold(request.clone(), |r, (name, value)| r.header(name, value))
}

fn check(request: &Request<'_>, now: i64) -> Result<Verified, Error> {
    let auth = parse(request)?;
    verify(&auth, request, SECRET, now)
}

const EXAMPLE_SIGNATURE: &str = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";

fn example_authorization() -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential={AKID}/20150830/us-east-1/iam/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date, Signature={EXAMPLE_SIGNATURE}"
    )
}

#[test]
fn aws_documented_iam_list_users_example_verifies() {
    let authorization = example_authorization();
    let request = Request::from_target("GET", "/?Action=ListUsers&Version=2010-05-08")
        .header("Host", "iam.amazonaws.com")
        .header("Content-Type", FORM)
        .header("X-Amz-Date", "20150830T123600Z")
        .header("Authorization", &authorization);

    let auth = parse(&request).expect("parses");
    assert_eq!(auth.access_key_id(), AKID);
    assert_eq!(
        auth.scope(),
        &CredentialScope::new("20150830", "us-east-1", "iam")
    );
    assert_eq!(auth.request_time(), T);
    assert_eq!(
        auth.signed_headers(),
        ["content-type", "host", "x-amz-date"]
    );
    assert_eq!(auth.kind(), AuthKind::Header);
    assert_eq!(auth.session_token(), None);

    // The intermediate values AWS documents.
    let creq = canonical_request(
        &request,
        auth.signed_headers(),
        None,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    )
    .expect("canonical request");
    assert_eq!(
        String::from_utf8_lossy(&creq),
        "GET\n/\nAction=ListUsers&Version=2010-05-08\n\
         content-type:application/x-www-form-urlencoded; charset=utf-8\n\
         host:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n\
         content-type;host;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        string_to_sign(T, auth.scope(), &creq),
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\n\
         f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
    );

    assert_eq!(
        verify(&auth, &request, SECRET, T),
        Ok(Verified {
            payload_signed: true,
            streaming: None,
        })
    );
    assert_eq!(
        verify(&auth, &request, "not-the-secret", T),
        Err(Error::SignatureDoesNotMatch)
    );
}

#[test]
fn our_signer_reproduces_the_documented_signature() {
    let request = Request::from_target("GET", "/?Action=ListUsers&Version=2010-05-08")
        .header("Host", "iam.amazonaws.com")
        .header("Content-Type", FORM);
    let added = sign(&request, &params(T)).expect("signs");
    assert_eq!(added[0], ("x-amz-date", "20150830T123600Z".to_owned()));
    assert_eq!(added[1], ("authorization", example_authorization()));
}

fn iam_post(body: &[u8]) -> Request<'_> {
    Request::new("POST", "/", "")
        .header("Host", "iam.amazonaws.com")
        .header("Content-Type", FORM)
        .body(body)
}

#[test]
fn header_auth_round_trips() {
    let body = b"Action=CreateUser&UserName=alice&Version=2010-05-08";
    let request = iam_post(body);
    let added = sign(&request, &params(T)).expect("signs");
    let signed = with_headers(&request, &added);
    assert_eq!(
        check(&signed, T),
        Ok(Verified {
            payload_signed: true,
            streaming: None,
        })
    );

    // With x-amz-content-sha256 and a session token.
    let mut p = params(T);
    p.content_sha256_header = true;
    p.session_token = Some("FwoGZXIvYXdzEXAMPLETOKEN+/=");
    let added = sign(&request, &p).expect("signs");
    let signed = with_headers(&request, &added);
    let auth = parse(&signed).expect("parses");
    assert_eq!(auth.session_token(), Some("FwoGZXIvYXdzEXAMPLETOKEN+/="));
    assert!(
        auth.signed_headers()
            .iter()
            .any(|h| h == "x-amz-security-token")
    );
    assert!(
        auth.signed_headers()
            .iter()
            .any(|h| h == "x-amz-content-sha256")
    );
    assert_eq!(
        verify(&auth, &signed, SECRET, T + 60),
        Ok(Verified {
            payload_signed: true,
            streaming: None,
        })
    );
}

#[test]
fn presigned_round_trips() {
    let request = Request::from_target("GET", "/?Action=GetCallerIdentity&Version=2011-06-15")
        .header("host", "sts.amazonaws.com");
    let mut p = params(T);
    p.service = "sts";
    p.session_token = Some("token/with+odd=chars");
    let query = presign(&request, &p, 900).expect("presigns");
    assert!(query.starts_with("Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm="));
    let presigned = Request::new("GET", "/", &query).header("host", "sts.amazonaws.com");
    let auth = parse(&presigned).expect("parses");
    assert_eq!(auth.kind(), AuthKind::Presigned { expires: 900 });
    assert_eq!(auth.presigned_expires(), Some(900));
    assert_eq!(auth.session_token(), Some("token/with+odd=chars"));
    assert_eq!(auth.scope().service, "sts");
    assert_eq!(
        verify(&auth, &presigned, SECRET, T + 899),
        Ok(Verified {
            payload_signed: true,
            streaming: None,
        })
    );

    // Signed as UNSIGNED-PAYLOAD (S3 style) also verifies; a body sent with it is untrusted.
    p.payload = PayloadSigning::Unsigned;
    let query = presign(&request, &p, 900).expect("presigns");
    let presigned = Request::new("GET", "/", &query).header("host", "sts.amazonaws.com");
    assert_eq!(
        check(&presigned, T),
        Ok(Verified {
            payload_signed: true,
            streaming: None,
        })
    );
    let with_body = presigned.clone().body(b"Action=DeleteUser&UserName=bob");
    assert_eq!(
        check(&with_body, T),
        Ok(Verified {
            payload_signed: false,
            streaming: None,
        })
    );
}

#[test]
fn header_auth_with_unsigned_payload_reports_an_untrusted_body() {
    let request = iam_post(b"Action=ListUsers");
    let mut p = params(T);
    p.payload = PayloadSigning::Unsigned;
    p.content_sha256_header = true;
    let added = sign(&request, &p).expect("signs");
    let signed = with_headers(&request, &added);
    assert_eq!(
        check(&signed, T),
        Ok(Verified {
            payload_signed: false,
            streaming: None,
        })
    );
}

#[test]
fn tampering_with_any_signed_part_is_rejected() {
    let body = b"Action=CreateUser&UserName=alice&Version=2010-05-08";
    let request = Request::new("POST", "/path/a", "q=1&r=2")
        .header("Host", "iam.amazonaws.com")
        .header("Content-Type", FORM)
        .body(body);
    let added = sign(&request, &params(T)).expect("signs");
    let signed = with_headers(&request, &added);
    assert!(check(&signed, T).is_ok());

    let rebuild = |method: &'static str,
                   path: &'static str,
                   query: &'static str,
                   content_type: &'static str,
                   body: &'static [u8],
                   date: &'static str| {
        let authorization = &added
            .iter()
            .find(|(n, _)| *n == "authorization")
            .expect("auth")
            .1;
        Request::new(method, path, query)
            .header("Host", "iam.amazonaws.com")
            .header("Content-Type", content_type)
            .header("X-Amz-Date", date)
            .header("Authorization", authorization.as_str())
            .body(body)
    };
    let date = "20150830T123600Z";
    let untouched = rebuild("POST", "/path/a", "q=1&r=2", FORM, body, date);
    assert!(check(&untouched, T).is_ok());

    let tampered = [
        (
            "method",
            rebuild("PUT", "/path/a", "q=1&r=2", FORM, body, date),
        ),
        (
            "path",
            rebuild("POST", "/path/b", "q=1&r=2", FORM, body, date),
        ),
        (
            "query value",
            rebuild("POST", "/path/a", "q=1&r=3", FORM, body, date),
        ),
        (
            "query added",
            rebuild("POST", "/path/a", "q=1&r=2&s", FORM, body, date),
        ),
        (
            "header",
            rebuild("POST", "/path/a", "q=1&r=2", "text/plain", body, date),
        ),
        (
            "body",
            rebuild(
                "POST",
                "/path/a",
                "q=1&r=2",
                FORM,
                b"Action=CreateUser&UserName=mallory&Version=2010-05-08",
                date,
            ),
        ),
        (
            "date",
            rebuild("POST", "/path/a", "q=1&r=2", FORM, body, "20150830T123601Z"),
        ),
    ];
    for (what, request) in tampered {
        assert_eq!(
            check(&request, T),
            Err(Error::SignatureDoesNotMatch),
            "{what}"
        );
    }

    // An unsigned header may change freely.
    let extra = untouched.clone().header("User-Agent", "whatever");
    assert!(check(&extra, T).is_ok());
}

#[test]
fn presigned_tampering_is_rejected() {
    let request = Request::from_target("GET", "/?Action=ListUsers&Version=2010-05-08")
        .header("host", "iam.amazonaws.com");
    let query = presign(&request, &params(T), 3600).expect("presigns");
    for bad in [
        query.replace("ListUsers", "ListRoles"),
        query.replace("X-Amz-Expires=3600", "X-Amz-Expires=7200"),
        format!("{query}&Extra=1"),
    ] {
        let r = Request::new("GET", "/", &bad).header("host", "iam.amazonaws.com");
        assert_eq!(check(&r, T), Err(Error::SignatureDoesNotMatch), "{bad}");
    }
    let other_host = Request::new("GET", "/", &query).header("host", "evil.example");
    assert_eq!(check(&other_host, T), Err(Error::SignatureDoesNotMatch));
}

#[test]
fn clock_skew_beyond_15_minutes_is_rejected_for_header_auth() {
    let request = iam_post(b"Action=ListUsers&Version=2010-05-08");
    let added = sign(&request, &params(T)).expect("signs");
    let signed = with_headers(&request, &added);
    assert!(check(&signed, T + 900).is_ok());
    assert!(check(&signed, T - 900).is_ok());
    let late = check(&signed, T + 901).expect_err("too late");
    assert_eq!(
        late,
        Error::RequestTimeTooSkewed {
            request_time: T,
            now: T + 901
        }
    );
    assert_eq!(late.aws_code(), "SignatureDoesNotMatch");
    assert_eq!(
        late.to_string(),
        "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z \
         (20150830T125101Z - 15 min.)"
    );
    let early = check(&signed, T - 901).expect_err("too early");
    assert!(
        early.to_string().starts_with("Signature not yet current"),
        "{early}"
    );
}

#[test]
fn presigned_urls_expire() {
    let request = Request::new("GET", "/", "Action=ListUsers").header("host", "iam.amazonaws.com");
    let query = presign(&request, &params(T), 60).expect("presigns");
    let r = Request::new("GET", "/", &query).header("host", "iam.amazonaws.com");
    assert!(check(&r, T + 60).is_ok());
    let expired = check(&r, T + 61).expect_err("expired");
    assert_eq!(
        expired,
        Error::Expired {
            expired_at: T + 60,
            now: T + 61
        }
    );
    assert_eq!(expired.aws_code(), "RequestExpired");
    assert_eq!(
        check(&r, T - 901),
        Err(Error::NotYetValid {
            request_time: T,
            now: T - 901
        })
    );
    // A week is the longest validity.
    let week = presign(&request, &params(T), MAX_PRESIGN_EXPIRES).expect("presigns");
    let r = Request::new("GET", "/", &week).header("host", "iam.amazonaws.com");
    assert!(check(&r, T + 604_800).is_ok());
    assert_eq!(
        presign(&request, &params(T), MAX_PRESIGN_EXPIRES + 1),
        Err(SignError::InvalidExpires)
    );
    assert_eq!(
        presign(&request, &params(T), 0),
        Err(SignError::InvalidExpires)
    );
}

#[test]
fn invalid_presigned_expiry_is_a_parse_error() {
    for (expires, ok) in [
        ("1", true),
        ("604800", true),
        ("0", false),
        ("604801", false),
        ("+60", false),
        ("abc", false),
        ("", false),
    ] {
        let query = format!(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20150830%2Fus-east-1%2Fiam%2Faws4_request\
             &X-Amz-Date=20150830T123600Z&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host&X-Amz-Signature={EXAMPLE_SIGNATURE}"
        );
        let r = Request::new("GET", "/", &query).header("host", "h");
        match parse(&r) {
            Ok(auth) => assert!(ok, "{expires} accepted: {auth:?}"),
            Err(e) => {
                assert!(!ok, "{expires} refused: {e}");
                assert!(matches!(e, Error::InvalidExpires { .. }), "{e:?}");
            }
        }
    }
}

#[test]
fn repeated_headers_are_joined_in_order() {
    let request = iam_post(b"")
        .header("X-Custom", " one ")
        .header("x-custom", "two   words");
    let added = sign(&request, &params(T)).expect("signs");
    let signed = with_headers(&request, &added);
    let auth = parse(&signed).expect("parses");
    let creq = canonical_request(&signed, auth.signed_headers(), None, "-").expect("creq");
    assert!(String::from_utf8_lossy(&creq).contains("\nx-custom:one,two words\n"));
    assert!(verify(&auth, &signed, SECRET, T).is_ok());

    // Same values in the other order: a different request.
    let authorization = &added
        .iter()
        .find(|(n, _)| *n == "authorization")
        .expect("auth")
        .1;
    let swapped = iam_post(b"")
        .header("x-custom", "two words")
        .header("X-Custom", "one")
        .header("x-amz-date", "20150830T123600Z")
        .header("authorization", authorization.as_str());
    assert_eq!(check(&swapped, T), Err(Error::SignatureDoesNotMatch));
}

#[test]
fn host_must_be_signed() {
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={AKID}/20150830/us-east-1/iam/aws4_request, \
         SignedHeaders=content-type;x-amz-date, Signature={EXAMPLE_SIGNATURE}"
    );
    let r = iam_post(b"")
        .header("x-amz-date", "20150830T123600Z")
        .header("authorization", &authorization);
    let err = parse(&r).expect_err("host unsigned");
    assert_eq!(err, Error::HostNotSigned);
    assert_eq!(err.aws_code(), "IncompleteSignature");
    assert_eq!(
        sign(&Request::new("GET", "/", ""), &params(T)),
        Err(SignError::MissingHost)
    );
}

#[test]
fn a_signed_header_missing_from_the_request_is_rejected() {
    let request = iam_post(b"").header("x-extra", "1");
    let added = sign(&request, &params(T)).expect("signs");
    let authorization = &added
        .iter()
        .find(|(n, _)| *n == "authorization")
        .expect("auth")
        .1;
    let r = iam_post(b"")
        .header("x-amz-date", "20150830T123600Z")
        .header("authorization", authorization.as_str());
    assert_eq!(
        check(&r, T),
        Err(Error::SignedHeaderMissing {
            name: "x-extra".to_owned()
        })
    );
}

#[test]
fn odd_query_strings_round_trip() {
    for query in [
        "",
        "a=hello%20world",
        "a=hello+world",
        "a=%2F&b=/",
        "a=%2B",
        "name=caf%C3%A9&emoji=%F0%9F%A6%80",
        "raw=café",
        "empty=&flag&b=2&a=1&a=0",
        "a=x=y&&=v",
        "bad=%zz%",
        "Action=ListUsers&Version=2010-05-08&Marker=AAA%2BBBB%2F%3D%3D",
    ] {
        let request = Request::new("GET", "/", query).header("host", "iam.amazonaws.com");
        let added = sign(&request, &params(T)).expect("signs");
        assert!(
            check(&with_headers(&request, &added), T).is_ok(),
            "header auth: {query}"
        );
        let presigned_query = presign(&request, &params(T), 300).expect("presigns");
        let presigned =
            Request::new("GET", "/", &presigned_query).header("host", "iam.amazonaws.com");
        assert!(
            check(&presigned, T).is_ok(),
            "presigned: {query} -> {presigned_query}"
        );
    }
    // `+` is a space, as in forms: the same canonical query, so the same signature.
    let plus = Request::new("GET", "/", "a=b+c").header("host", "h");
    let added = sign(&plus, &params(T)).expect("signs");
    let spaced = Request::new("GET", "/", "a=b%20c").header("host", "h");
    assert!(check(&with_headers(&spaced, &added), T).is_ok());
    let literal_plus = Request::new("GET", "/", "a=b%2Bc").header("host", "h");
    assert!(check(&with_headers(&literal_plus, &added), T).is_err());
}

#[test]
fn odd_paths_round_trip() {
    for path in [
        "/",
        "",
        "/a/b/",
        "/a%20b/%E2%82%AC",
        "/a/./b/../c",
        "//double//slash",
        "/~user/x:y@z",
    ] {
        let request = Request::new("GET", path, "").header("host", "h");
        let added = sign(&request, &params(T)).expect("signs");
        assert!(check(&with_headers(&request, &added), T).is_ok(), "{path}");
    }
}

#[test]
fn scope_date_must_be_the_request_date() {
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={AKID}/20150831/us-east-1/iam/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature={EXAMPLE_SIGNATURE}"
    );
    let r = Request::new("GET", "/", "")
        .header("host", "h")
        .header("x-amz-date", "20150830T123600Z")
        .header("authorization", &authorization);
    let err = check(&r, T).expect_err("mismatch");
    assert_eq!(
        err.to_string(),
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from \
         HTTP: '20150831' != '20150830', from '20150830T123600Z'."
    );
    assert_eq!(err.aws_code(), "SignatureDoesNotMatch");
}

#[test]
fn the_date_header_is_used_without_x_amz_date() {
    let request = Request::new("GET", "/", "Action=ListUsers")
        .header("host", "iam.amazonaws.com")
        .header("date", "Sun, 30 Aug 2015 12:36:00 GMT");
    let names = ["date".to_owned(), "host".to_owned()];
    let scope = CredentialScope::new("20150830", "us-east-1", "iam");
    let creq = canonical_request(&request, &names, None, &crate::canonical::sha256_hex(b""))
        .expect("creq");
    let signature =
        SigningKey::derive(SECRET, &scope).sign(string_to_sign(T, &scope, &creq).as_bytes());
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={AKID}/20150830/us-east-1/iam/aws4_request, \
         SignedHeaders=date;host, Signature={}",
        crate::hex::encode(&signature)
    );
    let r = request.header("authorization", &authorization);
    let auth = parse(&r).expect("parses");
    assert_eq!(auth.request_time(), T);
    assert!(verify(&auth, &r, SECRET, T).is_ok());
}

#[test]
fn content_sha256_must_match_the_body() {
    let request = iam_post(b"Action=ListUsers");
    let mut p = params(T);
    p.content_sha256_header = true;
    let added = sign(&request, &p).expect("signs");
    let signed = with_headers(&request, &added);
    assert!(check(&signed, T).is_ok());
    let other_body = with_headers(&iam_post(b"Action=DeleteUser"), &added);
    assert_eq!(check(&other_body, T), Err(Error::ContentSha256Mismatch));

    // SigV4a's ECDSA streaming form is not supported (the SigV4 streaming forms are).
    let streaming = Request::new("PUT", "/", "")
        .header("host", "h")
        .header("x-amz-content-sha256", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD")
        .header("x-amz-date", "20150830T123600Z")
        .header("authorization", "AWS4-HMAC-SHA256 Credential=A/20150830/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
    assert_eq!(check(&streaming, T), Err(Error::UnsupportedPayloadHash));
}

#[test]
fn a_cached_signing_key_verifies_only_its_own_scope() {
    let request = iam_post(b"Action=ListUsers");
    let added = sign(&request, &params(T)).expect("signs");
    let signed = with_headers(&request, &added);
    let auth = parse(&signed).expect("parses");
    let key = SigningKey::derive(SECRET, auth.scope());
    assert!(verify_with_key(&auth, &signed, &key, T).is_ok());
    let other = SigningKey::derive(
        SECRET,
        &CredentialScope::new("20150830", "eu-west-1", "iam"),
    );
    assert_eq!(
        verify_with_key(&auth, &signed, &other, T),
        Err(Error::SignatureDoesNotMatch)
    );
}

#[test]
fn parse_errors_map_to_aws_codes() {
    let example = example_authorization();
    let cases: Vec<(Request<'_>, &str)> = vec![
        (Request::new("GET", "/", "Action=ListUsers").header("host", "h"), "MissingAuthenticationToken"),
        (Request::new("GET", "/", "").header("authorization", "AWS AKID:abc"), "IncompleteSignature"),
        (Request::new("GET", "/", "").header("authorization", ""), "IncompleteSignature"),
        (Request::new("GET", "/", "").header("authorization", "AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request"), "IncompleteSignature"),
        (Request::new("GET", "/", "").header("authorization", "AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, SignedHeaders=host, Signature=xyz"), "IncompleteSignature"),
        (Request::new("GET", "/", "").header("authorization", "AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws5_request, SignedHeaders=host, Signature=x"), "IncompleteSignature"),
        (Request::new("GET", "/", "").header("authorization", "AWS4-HMAC-SHA256 Credential=A/2015083/r/s/aws4_request, SignedHeaders=host, Signature=x"), "IncompleteSignature"),
        (Request::new("GET", "/", "").header("authorization", "AWS4-HMAC-SHA256 Credential=A/20150830/r/aws4_request, SignedHeaders=host, Signature=x"), "IncompleteSignature"),
        (Request::new("GET", "/", "").header("authorization", example.as_str()), "IncompleteSignature"),
        (Request::new("GET", "/", "").header("x-amz-date", "2015-08-30T12:36:00Z").header("authorization", example.as_str()), "IncompleteSignature"),
        (Request::new("GET", "/", "X-Amz-Algorithm=AWS4-HMAC-SHA512"), "IncompleteSignature"),
        (Request::new("GET", "/", "X-Amz-Signature=abc").header("authorization", "x"), "IncompleteSignature"),
        (Request::new("GET", "/", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Algorithm=AWS4-HMAC-SHA256"), "IncompleteSignature"),
        (Request::new("GET", "/", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F20150830%2Fr%2Fs%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=0&X-Amz-SignedHeaders=host&X-Amz-Signature=x"), "InvalidParameterValue"),
    ];
    for (request, code) in cases {
        let err = parse(&request).expect_err("refused");
        assert_eq!(err.aws_code(), code, "{request:?}: {err}");
        assert_eq!(
            err.http_status(),
            if code == "MissingAuthenticationToken" {
                403
            } else {
                400
            }
        );
    }
}

#[test]
fn errors_do_not_echo_tokens_or_signatures() {
    let bearer = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlc2lnbmF0dXJl";
    let err =
        parse(&Request::new("GET", "/", "").header("authorization", bearer)).expect_err("refused");
    assert!(!err.to_string().contains("eyJ"), "{err}");
    let garbled = format!(
        "AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, SignedHeaders=host, Signature {EXAMPLE_SIGNATURE}"
    );
    let err = parse(&Request::new("GET", "/", "").header("authorization", &garbled))
        .expect_err("refused");
    assert!(!err.to_string().contains(&EXAMPLE_SIGNATURE[..16]), "{err}");
    let sigv2 = parse(&Request::new("GET", "/", "").header("authorization", "AWS AKID:c2ln"))
        .expect_err("refused");
    assert_eq!(
        sigv2,
        Error::UnsupportedAlgorithm {
            algorithm: "AWS".to_owned()
        }
    );
}

#[test]
fn debug_output_and_errors_carry_no_secret_material() {
    let request = iam_post(b"Action=ListUsers");
    let mut p = params(T);
    p.session_token = Some("SESSIONTOKENVALUE");
    let added = sign(&request, &p).expect("signs");
    let signed = with_headers(&request, &added);
    let auth = parse(&signed).expect("parses");
    let signature = added[2].1.rsplit('=').next().expect("signature").to_owned();
    let key = SigningKey::derive(SECRET, auth.scope());
    let wrong = verify(&auth, &signed, "wrong", T).expect_err("wrong secret");
    for text in [
        format!("{auth:?}"),
        format!("{p:?}"),
        format!("{key:?}"),
        format!("{signed:?}"),
        format!("{wrong:?} {wrong}"),
    ] {
        for secret in [SECRET, "SESSIONTOKENVALUE", signature.as_str()] {
            assert!(!text.contains(secret), "{text} contains {secret}");
        }
    }
}

/// Deterministic mutations of valid requests: parse and verify must return, never panic.
#[test]
fn mangled_inputs_never_panic() {
    let request = Request::from_target("POST", "/a/b?x=1").header("host", "h");
    let added = sign(&request, &params(T)).expect("signs");
    let authorization = added[1].1.clone();
    let query = presign(&request, &params(T), 60).expect("presigns");
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet = b"%+=&/;, .:AaZz09TtXx-_\xff\x00";
    for _ in 0..4000 {
        for seed in [&authorization, &query] {
            let mut bytes = seed.as_bytes().to_vec();
            for _ in 0..=(next() % 4) {
                let at = (next() as usize) % (bytes.len() + 1);
                match next() % 3 {
                    0 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    1 if at < bytes.len() => {
                        bytes[at] = alphabet[(next() as usize) % alphabet.len()]
                    }
                    _ => bytes.insert(at, alphabet[(next() as usize) % alphabet.len()]),
                }
            }
            let text = String::from_utf8_lossy(&bytes);
            let as_header = Request::new("POST", "/a/b", "x=1")
                .header("host", "h")
                .header("x-amz-date", "20150830T123600Z")
                .header("authorization", bytes.as_slice());
            let as_query = Request::new("GET", "/a/b", &text).header("host", "h");
            for r in [as_header, as_query] {
                match parse(&r) {
                    Ok(auth) => {
                        let _ = format!("{auth:?}");
                        for now in [T, i64::MAX, i64::MIN] {
                            if let Err(e) = verify(&auth, &r, SECRET, now) {
                                let _ = e.to_string();
                            }
                        }
                    }
                    Err(e) => {
                        let _ = e.to_string();
                    }
                }
            }
        }
    }
}

#[test]
fn a_payload_hash_stands_for_the_body() {
    let body = b"Action=CreateUser&UserName=alice&Version=2010-05-08";
    let hash = crate::canonical::sha256_hex(body);
    for content_sha256_header in [false, true] {
        let mut p = params(T);
        p.content_sha256_header = content_sha256_header;
        let request = iam_post(body);
        let added = sign(&request, &p).expect("signs");
        let signed = with_headers(&request, &added);
        // The verifier has only the hash: the same answer as with the body.
        let hashed = signed.clone().body(b"").payload_hash(&hash);
        assert_eq!(
            check(&hashed, T),
            Ok(Verified {
                payload_signed: true,
                streaming: None,
            })
        );
        // A hash of other bytes does not verify.
        let other = crate::canonical::sha256_hex(b"Action=DeleteUser");
        let wrong = signed.clone().body(b"").payload_hash(&other);
        assert!(check(&wrong, T).is_err());
    }
}
