//! `portcullis audit export` (issue 10): the real binary writes a data directory's trail as
//! gzipped CloudTrail log files in CloudTrail's key layout; every event is in exactly one of
//! them, read back as CloudTrail's `{"Records": [...]}`, and no secret the calls made is in
//! any of them.

#[path = "../../server/tests/common/mod.rs"]
mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use time::format_description::well_known::Rfc3339;

use common::*;

fn export(data: &Path, out: &Path, extra: &[&str]) -> (i32, String) {
    let result = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["audit", "export", "--data-dir"])
        .arg(data)
        .envs(store_env(data))
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("portcullis runs");
    (
        result.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&result.stdout),
            String::from_utf8_lossy(&result.stderr)
        ),
    )
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).expect("dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trail_exports_as_cloudtrail_log_files_without_a_secret() {
    let mut server = TestServer::start().await;
    let root = server.root();
    // alice, with no policy, and an access key (CreateUser, CreateAccessKey).
    let (key, secret) = server.user_keys("alice", None).await;
    let alice = server.iam(&key, &secret);
    // Denied: alice has no policy.
    assert_eq!(
        error_code(alice.list_users().send().await).0,
        "AccessDenied"
    );
    root.get_user()
        .user_name("alice")
        .send()
        .await
        .expect("get");
    if let Some(s) = server.server.take() {
        s.shutdown().await;
    }

    let out = tempfile::tempdir().expect("out");
    let (code, said) = export(server.dir.path(), out.path(), &["--since", "2000-01-01"]);
    assert_eq!(code, 0, "{said}");
    let written = files(out.path());
    assert!(!written.is_empty());
    let mut names = Vec::new();
    for path in &written {
        let key = path
            .strip_prefix(out.path())
            .expect("under out")
            .to_string_lossy()
            .into_owned();
        let parts: Vec<&str> = key.split('/').collect();
        assert_eq!(parts.len(), 8, "{key}");
        assert_eq!(parts[0], "AWSLogs");
        assert_eq!(parts[2], "CloudTrail");
        let (account, region) = (parts[1], parts[3]);
        assert!(
            parts[7].starts_with(&format!("{account}_CloudTrail_{region}_")),
            "{key}"
        );
        assert!(parts[7].ends_with(".json.gz"), "{key}");
        let mut json = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(path).expect("file"))
            .read_to_string(&mut json)
            .expect("gzip");
        assert!(!json.contains(&secret), "a secret key is in {key}");
        let doc: serde_json::Value = serde_json::from_str(&json).expect("JSON");
        for record in doc["Records"].as_array().expect("Records") {
            assert_eq!(record["recipientAccountId"], account);
            assert_eq!(record["awsRegion"], region);
            // The file is named for the end of its five-minute window (its delivery, as
            // CloudTrail names files); the event happened within that window, which for the
            // day's last window is the day before the folder's.
            let time = record["eventTime"].as_str().expect("time");
            let at = time::OffsetDateTime::parse(time, &Rfc3339).expect("eventTime");
            let stamp = parts[7].split('_').nth(3).expect("the file's time stamp");
            let end = time::PrimitiveDateTime::parse(
                stamp,
                time::macros::format_description!("[year][month][day]T[hour][minute]Z"),
            )
            .expect("YYYYMMDDTHHmmZ")
            .assume_utc();
            assert!(
                at < end && at >= end - time::Duration::minutes(5),
                "{time} is not in the window ending {stamp} ({key})"
            );
            assert_eq!(
                format!("{}/{}/{}", parts[4], parts[5], parts[6]),
                format!(
                    "{:04}/{:02}/{:02}",
                    end.year(),
                    u8::from(end.month()),
                    end.day()
                ),
                "{key}"
            );
            names.push(record["eventName"].as_str().expect("name").to_owned());
        }
    }
    for expected in ["CreateUser", "CreateAccessKey", "ListUsers", "GetUser"] {
        assert_eq!(
            names.iter().filter(|n| *n == expected).count(),
            1,
            "{expected} in {names:?}"
        );
    }
    assert!(
        said.contains(&format!("exported {} events", names.len())),
        "{said}"
    );

    // Exporting again writes the same files; a range after every event writes none.
    let (code, again) = export(server.dir.path(), out.path(), &[]);
    assert_eq!(code, 0, "{again}");
    assert_eq!(files(out.path()), written);
    let later = tempfile::tempdir().expect("later");
    let (code, none) = export(server.dir.path(), later.path(), &["--since", "2999-01-01"]);
    assert_eq!(code, 0, "{none}");
    assert!(files(later.path()).is_empty());
    let (code, bad) = export(server.dir.path(), later.path(), &["--since", "yesterday"]);
    assert_eq!(code, 2, "{bad}");
}

/// `portcullis audit tail` beside a running server prints each new event as one JSON line,
/// the batched reads included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_follows_the_live_trail() {
    use std::io::BufRead;
    let server = TestServer::start().await;
    server
        .root()
        .create_user()
        .user_name("before")
        .send()
        .await
        .expect("create");
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["audit", "tail", "--since", "2000-01-01", "--data-dir"])
        .arg(server.dir.path())
        .envs(store_env(server.dir.path()))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("tail runs");
    let stdout = child.stdout.take().expect("stdout");
    let (lines, seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let root = server.root();
    root.create_user()
        .user_name("tailed")
        .send()
        .await
        .expect("create");
    root.get_user()
        .user_name("tailed")
        .send()
        .await
        .expect("get");
    let mut names = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !names.contains(&"GetUser tailed".to_owned()) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let Ok(line) = seen.recv_timeout(left) else {
            break;
        };
        let event: serde_json::Value = serde_json::from_str(&line).expect("one JSON per line");
        names.push(format!(
            "{} {}",
            event["eventName"].as_str().unwrap_or_default(),
            event["requestParameters"]["userName"]
                .as_str()
                .unwrap_or_default()
        ));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        names,
        ["CreateUser before", "CreateUser tailed", "GetUser tailed"],
        "the tail, in order"
    );
}
