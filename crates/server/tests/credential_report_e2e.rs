//! The credential report (issue 10): GenerateCredentialReport / GetCredentialReport with the
//! Rust SDK and boto3: AWS's CSV, its 22 columns in AWS's order, the root user's row first
//! with `not_supported` for its password, `N/A` where a column does not apply,
//! `no_information` for a password never used, ISO times with `+00:00`, a key's last use
//! (not yet flushed to the store) and the password policy's next rotation.

mod common;

use common::*;

const HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

fn field<'a>(row: &'a [String], name: &str) -> &'a str {
    let i = HEADER.split(',').position(|c| c == name).expect("a column");
    &row[i]
}

fn plus_days(iso: &str, days: i64) -> String {
    let t = time::OffsetDateTime::parse(iso, &time::format_description::well_known::Rfc3339)
        .expect("time");
    let t = t + time::Duration::days(days);
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("format")
        .replace('Z', "+00:00")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_credential_report_is_awss_csv() {
    let server = TestServer::start().await;
    let root = server.root();
    let r = root.get_credential_report().send().await;
    assert_eq!(error_code(r), ("ReportNotPresent".to_owned(), 410));

    root.update_account_password_policy()
        .max_password_age(90)
        .send()
        .await
        .expect("policy");
    let allow_self = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}]}"#;
    let (key, secret) = server.user_keys("alice", Some(allow_self)).await;
    root.create_login_profile()
        .user_name("alice")
        .password("Correct-Horse-9-Battery")
        .send()
        .await
        .expect("password");
    server
        .iam(&key, &secret)
        .get_user()
        .send()
        .await
        .expect("alice uses her key");
    root.create_user()
        .user_name("bob")
        .send()
        .await
        .expect("bob");

    let generated = root
        .generate_credential_report()
        .send()
        .await
        .expect("generate");
    assert_eq!(
        generated.state(),
        Some(&aws_sdk_iam::types::ReportStateType::Complete)
    );
    let report = root.get_credential_report().send().await.expect("report");
    assert_eq!(
        report.report_format(),
        Some(&aws_sdk_iam::types::ReportFormatType::TextCsv)
    );
    let csv =
        String::from_utf8(report.content().expect("content").as_ref().to_vec()).expect("UTF-8");
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some(HEADER));
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect();
    assert!(rows.iter().all(|r| r.len() == 22), "{csv}");
    let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(names, ["<root_account>", "alice", "bob"]);

    let root_row = &rows[0];
    assert_eq!(field(root_row, "arn"), "arn:aws:iam::111122223333:root");
    assert_eq!(field(root_row, "password_enabled"), "not_supported");
    assert_eq!(field(root_row, "password_next_rotation"), "not_supported");
    assert_eq!(field(root_row, "access_key_1_active"), "true");

    let alice = &rows[1];
    assert_eq!(field(alice, "arn"), "arn:aws:iam::111122223333:user/alice");
    assert!(field(alice, "user_creation_time").ends_with("+00:00"));
    assert_eq!(field(alice, "password_enabled"), "true");
    assert_eq!(field(alice, "password_last_used"), "no_information");
    let changed = field(alice, "password_last_changed");
    assert!(changed.ends_with("+00:00"), "{changed}");
    assert_eq!(
        field(alice, "password_next_rotation"),
        plus_days(&changed.replace("+00:00", "Z"), 90)
    );
    assert_eq!(field(alice, "mfa_active"), "false");
    assert_eq!(field(alice, "access_key_1_active"), "true");
    assert!(field(alice, "access_key_1_last_used_date").ends_with("+00:00"));
    assert_eq!(field(alice, "access_key_1_last_used_region"), "us-east-1");
    assert_eq!(field(alice, "access_key_1_last_used_service"), "iam");
    assert_eq!(field(alice, "access_key_2_active"), "false");
    assert_eq!(field(alice, "access_key_2_last_rotated"), "N/A");
    assert_eq!(field(alice, "cert_1_active"), "false");
    assert_eq!(field(alice, "cert_1_last_rotated"), "N/A");

    let bob = &rows[2];
    for column in [
        "password_last_used",
        "password_last_changed",
        "password_next_rotation",
        "access_key_1_last_rotated",
        "access_key_1_last_used_date",
        "access_key_1_last_used_region",
        "access_key_1_last_used_service",
    ] {
        assert_eq!(field(bob, column), "N/A", "{column}");
    }
    assert_eq!(field(bob, "password_enabled"), "false");

    // A report younger than four hours is not made again.
    root.create_user()
        .user_name("carol")
        .send()
        .await
        .expect("carol");
    root.generate_credential_report()
        .send()
        .await
        .expect("generate again");
    let again = root.get_credential_report().send().await.expect("report");
    assert_eq!(again.generated_time(), report.generated_time());

    // Reading it is authorized like any other action.
    let r = server
        .iam(&key, &secret)
        .get_credential_report()
        .send()
        .await;
    assert_eq!(error_code(r).0, "AccessDenied");

    // boto3 reads it unmodified (Content decoded from base64 into bytes).
    let script = r#"
import boto3, csv, io, os
iam = boto3.client("iam", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                   aws_access_key_id=os.environ["KEY"], aws_secret_access_key=os.environ["SECRET"])
r = iam.get_credential_report()
assert r["ReportFormat"] == "text/csv", r
rows = list(csv.DictReader(io.StringIO(r["Content"].decode())))
print(",".join(row["user"] + ":" + row["password_enabled"] for row in rows))
"#;
    let Some(out) = tokio::task::block_in_place(|| {
        common::boto3(script, &server.endpoint(), (ROOT_KEY, ROOT_SECRET), &[])
    }) else {
        return;
    };
    assert_eq!(
        out.trim(),
        "<root_account>:not_supported,alice:true,bob:false"
    );
}
