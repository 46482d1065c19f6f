//! The `portcullis policy` commands, run as a user runs them: the real binary, real files.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn portcullis(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("portcullis runs");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("portcullis exits")
}

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    f.write_all(text.as_bytes()).expect("write");
    f
}

const VALID: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#;
const WITH_PRINCIPAL: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"s3:GetObject","Resource":"*"},
  {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}"#;

#[test]
fn validate_exits_0_for_a_valid_policy() {
    let f = file(VALID);
    let out = portcullis(&["policy", "validate", f.path().to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "valid identity policy"
    );
}

#[test]
fn validate_exits_1_and_names_the_statement() {
    let f = file(WITH_PRINCIPAL);
    let out = portcullis(
        &[
            "policy",
            "validate",
            "--kind",
            "identity",
            f.path().to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "error: Statement[1]: Policy document should not specify a principal."
    );
    // The same document is fine as a resource policy except for the principal-less statement.
    let out = portcullis(
        &["policy", "validate", "--kind", "resource", "--json", "-"],
        Some(WITH_PRINCIPAL),
    );
    assert_eq!(out.status.code(), Some(1));
    let findings: Value = serde_json::from_slice(&out.stdout).expect("JSON findings");
    assert_eq!(findings[0]["location"], "Statement[0]");
    assert_eq!(findings[0]["severity"], "error");
}

#[test]
fn validate_warns_about_actions_the_service_reference_does_not_know() {
    let out = portcullis(
        &["policy", "validate", "-"],
        Some(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:GetObjct","s3:ListBucket"],"Resource":"*"}}"#,
        ),
    );
    // A warning, not an error: AWS accepts the document.
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "warning: Statement[0].Action: s3:GetObjct matches no action of Amazon S3 in the service authorization reference.\nvalid identity policy"
    );
}

#[test]
fn validate_exits_2_when_the_file_cannot_be_read() {
    let out = portcullis(&["policy", "validate", "/nonexistent/policy.json"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}

#[test]
fn simulate_one_object_gives_one_result() {
    let input = format!(
        r#"{{"request":{{"principal":"arn:aws:iam::111122223333:user/alice","action":"s3:GetObject","resource":"arn:aws:s3:::b/k"}},
           "identityPolicies":[{VALID}]}}"#
    );
    let out = portcullis(&["policy", "simulate", "--input", "-"], Some(&input));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_slice(&out.stdout).expect("JSON result");
    assert_eq!(result["decision"], "allowed");
    assert_eq!(
        result["matchedStatements"][0]["policy"],
        "identityPolicies[0]"
    );
    assert_eq!(result["matchedStatements"][0]["statementIndex"], 0);
    assert_eq!(result["matchedStatements"][0]["effect"], "Allow");
}

#[test]
fn simulate_an_array_gives_results_in_the_same_order() {
    let deny_boundary = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*","Resource":"*"}}"#;
    let input = format!(
        r#"[{{"request":{{"principal":"arn:aws:iam::111122223333:user/alice","action":"s3:GetObject","resource":"arn:aws:s3:::b/k"}},
             "identityPolicies":[{VALID}],"permissionsBoundary":{deny_boundary}}},
            {{"request":{{"principal":"arn:aws:iam::111122223333:user/alice","action":"s3:GetObject","resource":"arn:aws:s3:::b/k"}},
             "identityPolicies":[{VALID}]}},
            {{"request":{{"principal":"anonymous","action":"s3:GetObject","resource":"arn:aws:s3:::b/k"}}}}]"#
    );
    let f = file(&input);
    let out = portcullis(
        &["policy", "simulate", "--input", f.path().to_str().unwrap()],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Value = serde_json::from_slice(&out.stdout).expect("JSON results");
    let decisions: Vec<&str> = results
        .as_array()
        .expect("an array")
        .iter()
        .map(|r| r["decision"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(decisions, ["implicitDeny", "allowed", "implicitDeny"]);
    assert_eq!(results[0]["missingAllow"], "permissionsBoundary");
    assert_eq!(results[2]["missingAllow"], "resourcePolicy");
}

#[test]
fn simulate_malformed_input_exits_2_with_a_clear_error() {
    for (input, expected) in [
        ("not json", "not valid JSON"),
        (r#"{"identityPolicies":[]}"#, "\"request\""),
        (
            r#"{"request":{"principal":"bob","action":"s3:GetObject"}}"#,
            "request.principal",
        ),
        (
            r#"{"request":{"principal":"arn:aws:iam::111122223333:user/a","action":"s3:GetObject"},
               "identityPolicies":[{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}}]}"#,
            "identityPolicies[0] (identity policy): Statement[0]: Policy document should not specify a principal.",
        ),
    ] {
        let out = portcullis(&["policy", "simulate", "--input", "-"], Some(input));
        assert_eq!(out.status.code(), Some(2), "input {input}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(expected),
            "stderr {stderr:?} lacks {expected:?}"
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn bench_reports_rates_and_latencies() {
    let input = format!(
        r#"{{"request":{{"principal":"arn:aws:iam::111122223333:user/alice","action":"s3:GetObject","resource":"arn:aws:s3:::b/k"}},
           "identityPolicies":[{VALID}]}}"#
    );
    let out = portcullis(
        &["policy", "bench", "--input", "-", "--seconds", "0.05"],
        Some(&input),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["decision"], "allowed");
    assert_eq!(report["statements"], 1);
    for field in [
        "decisionsPerSecond",
        "medianNanos",
        "p99Nanos",
        "parseCompileMicros",
    ] {
        assert!(
            report[field].as_f64().is_some_and(|v| v > 0.0),
            "{field} in {report}"
        );
    }
    assert!(report["p99Nanos"].as_f64() >= report["medianNanos"].as_f64());
}

/// `portcullis serve`'s first start, under a umask that would leave everything open: the data
/// directory and its files end up private, and the generated root secret is written only to
/// `root-credentials`, never to stdout or stderr (which end up in journald or docker logs).
#[test]
fn serve_first_start_prints_no_secret_and_keeps_files_private() {
    use std::io::{BufRead, BufReader, Read};
    use std::os::unix::fs::PermissionsExt;

    let parent = tempfile::tempdir().expect("temp dir");
    let data = parent.path().join("data");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("umask 000; exec \"$0\" serve --listen 127.0.0.1:0 --data-dir \"$1\"")
        .arg(env!("CARGO_BIN_EXE_portcullis"))
        .arg(&data)
        .env_remove("PORTCULLIS_ROOT_ACCESS_KEY_ID")
        .env_remove("PORTCULLIS_ROOT_SECRET_ACCESS_KEY")
        .env_remove("PORTCULLIS_MASTER_KEY_FILE")
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("portcullis serve runs");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut printed = String::new();
    while !printed.contains("portcullis is serving") {
        let mut line = String::new();
        if stdout.read_line(&mut line).expect("read stdout") == 0 {
            break;
        }
        printed.push_str(&line);
    }
    let stopped = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .expect("kill runs");
    assert!(stopped.success());
    stdout.read_to_string(&mut printed).expect("read stdout");
    let mut errors = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut errors)
        .expect("read stderr");
    let status = child.wait().expect("serve exits");
    assert!(status.success(), "{status:?}\n{printed}\n{errors}");

    let credentials_path = data.join("root-credentials");
    let credentials = std::fs::read_to_string(&credentials_path).expect("root-credentials");
    let field = |name: &str| {
        credentials
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim_start_matches([' ', '=']).trim().to_owned())
            .unwrap_or_else(|| panic!("{name} in {credentials}"))
    };
    let key_id = field("aws_access_key_id");
    let secret = field("aws_secret_access_key");
    assert_eq!(secret.len(), 40);
    for output in [&printed, &errors] {
        assert!(
            !output.contains(&secret),
            "the secret was printed:\n{output}"
        );
    }
    assert!(printed.contains(&key_id), "{printed}");
    assert!(
        printed.contains(&credentials_path.display().to_string()),
        "{printed}"
    );

    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    for file in ["portcullis.db", "master.key", "root-credentials"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
}

#[test]
fn serve_refuses_half_a_tls_configuration_and_a_bad_trusted_proxy() {
    for args in [
        &["serve", "--tls-cert", "server.crt"][..],
        &["serve", "--tls-key", "server.key"][..],
        &["serve", "--trusted-proxy", "proxy.example"][..],
        &["serve", "--trusted-proxy", "10.0.0.0/33"][..],
    ] {
        let out = portcullis(args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
}
