//! `portcullis audit verify` (issue 10): the real binary checks a data directory's trail and
//! names what was done to it: an event modified, moved (reordered), deleted, inserted, the
//! trail re-chained after a change (caught by the signed digests), its tail cut off, a digest
//! forged. Exit status 0 only when intact; a pruned trail still verifies.

#[path = "../../server/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use portcullis_server::iam::audit::{ChainLink, GENESIS};
use portcullis_server::iam::store::{SqliteStore, Store};

/// Runs `portcullis audit verify` on `dir`: (exit code, stdout + stderr).
fn verify(dir: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["audit", "verify", "--data-dir"])
        .arg(dir)
        .envs(store_env(dir))
        .env_remove("PORTCULLIS_MASTER_KEY_FILE")
        .output()
        .expect("portcullis runs");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A copy of the data directory `from`, to tamper with.
fn copy(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().expect("dir");
    for entry in std::fs::read_dir(from).expect("data dir") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            std::fs::copy(&path, to.path().join(path.file_name().expect("name"))).expect("copy");
        }
    }
    to
}

fn db(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("portcullis.db")).expect("db")
}

/// Recomputes every hash from `from` on, as someone who knows the chain's rule would after
/// changing an event (only the digests' signatures can reveal it).
fn rechain(dir: &Path, from: u64) {
    let conn = db(dir);
    let previous: Vec<u8> = if from == 1 {
        GENESIS.to_vec()
    } else {
        conn.query_row(
            "SELECT hash FROM audit_events WHERE sequence = ?1",
            [from as i64 - 1],
            |r| r.get(0),
        )
        .expect("previous")
    };
    let mut previous: [u8; 32] = previous.try_into().expect("32 bytes");
    let rows: Vec<(i64, String)> = conn
        .prepare("SELECT sequence, body FROM audit_events WHERE sequence >= ?1 ORDER BY sequence")
        .expect("prepare")
        .query_map([from as i64], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect();
    for (sequence, body) in rows {
        let link = ChainLink::new(sequence as u64, &previous, body.into_bytes());
        conn.execute(
            "UPDATE audit_events SET hash = ?1 WHERE sequence = ?2",
            rusqlite::params![&link.hash[..], sequence],
        )
        .expect("update");
        previous = link.hash;
    }
}

fn last_sequence(dir: &Path) -> i64 {
    db(dir)
        .query_row("SELECT max(sequence) FROM audit_events", [], |r| r.get(0))
        .expect("max")
}

#[tokio::test]
async fn verify_names_every_kind_of_tampering_and_passes_an_intact_or_pruned_trail() {
    let mut server = TestServer::start_configured(|c| {
        c.audit = Some(portcullis_server::AuditSettings {
            retention_days: None,
            trail: portcullis_server::iam::trail::TrailConfig {
                digest_every_events: 5,
                digest_interval: std::time::Duration::from_secs(3600),
                ..Default::default()
            },
        });
    })
    .await;
    for name in ["u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8"] {
        server
            .root()
            .create_user()
            .user_name(name)
            .send()
            .await
            .expect("create");
        server
            .root()
            .get_user()
            .user_name(name)
            .send()
            .await
            .expect("get");
    }
    // Shutdown signs a digest of the last events.
    if let Some(s) = server.server.take() {
        s.shutdown().await;
    }
    let dir = server.dir.path();
    if on_postgres() {
        // The tampering below is SQLite's SQL on a copy of the data directory; on
        // PostgreSQL the verifier (the same code, through the store) passes the intact trail.
        let (code, out) = verify(dir);
        assert_eq!(code, 0, "{out}");
        assert!(
            out.contains("audit trail intact: events 1 to 16 (16 events)"),
            "{out}"
        );
        return;
    }
    let last = last_sequence(dir);
    assert_eq!(last, 16);

    let (code, out) = verify(dir);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("audit trail intact: events 1 to 16 (16 events)"),
        "{out}"
    );
    assert!(out.contains("signed up to event 16"), "{out}");

    // Modified in place.
    let t = copy(dir);
    db(t.path())
        .execute(
            "UPDATE audit_events SET body = replace(body, '\"userName\":\"u', '\"userName\":\"x') WHERE sequence = 5",
            [],
        )
        .expect("modify");
    let (code, out) = verify(t.path());
    assert_eq!(
        (code, out.contains("event 5 was modified")),
        (1, true),
        "{out}"
    );

    // Deleted from the middle.
    let t = copy(dir);
    db(t.path())
        .execute("DELETE FROM audit_events WHERE sequence = 7", [])
        .expect("delete");
    let (code, out) = verify(t.path());
    assert_eq!(
        (code, out.contains("events 7 to 7 are missing")),
        (1, true),
        "{out}"
    );

    // Reordered: two events swap places (content and hashes).
    let t = copy(dir);
    db(t.path())
        .execute_batch(
            "UPDATE audit_events SET sequence = 100 WHERE sequence = 9;
             UPDATE audit_events SET sequence = 9 WHERE sequence = 10;
             UPDATE audit_events SET sequence = 10 WHERE sequence = 100;",
        )
        .expect("swap");
    let (code, out) = verify(t.path());
    assert_eq!(
        (code, out.contains("event 9 was modified or moved")),
        (1, true),
        "{out}"
    );

    // Inserted: a forged event slipped in after event 11, the rest renumbered.
    let t = copy(dir);
    db(t.path())
        .execute_batch(
            "UPDATE audit_events SET sequence = sequence + 1000 WHERE sequence >= 12;
             UPDATE audit_events SET sequence = sequence - 999 WHERE sequence >= 1000;
             INSERT INTO audit_events SELECT 12, hash, account_id, time_ms, event_id, event_name,
                 event_source, username, access_key_id, read_only, resources, body
                 FROM audit_events WHERE sequence = 11;",
        )
        .expect("insert");
    let (code, out) = verify(t.path());
    assert_eq!(
        (code, out.contains("event 12 was modified or moved")),
        (1, true),
        "{out}"
    );

    // Changed, then re-chained by someone who knows the rule: the signed digests catch it.
    let t = copy(dir);
    db(t.path())
        .execute(
            "UPDATE audit_events SET body = replace(body, 'Root', 'IAMUser') WHERE sequence = 2",
            [],
        )
        .expect("modify");
    rechain(t.path(), 2);
    let (code, out) = verify(t.path());
    assert_eq!(
        (
            code,
            out.contains("the digest for event 5 does not match the chain")
        ),
        (1, true),
        "{out}"
    );

    // The last events cut off: the digest written at shutdown covers them.
    let t = copy(dir);
    db(t.path())
        .execute("DELETE FROM audit_events WHERE sequence > 14", [])
        .expect("truncate");
    let (code, out) = verify(t.path());
    assert_eq!(
        (code, out.contains("events 15 to 16 were deleted")),
        (1, true),
        "{out}"
    );

    // A digest whose signature is not the trail's key's.
    let t = copy(dir);
    db(t.path())
        .execute(
            "UPDATE audit_digests SET data = replace(data, '\"signature\":\"', '\"signature\":\"AAAA') WHERE sequence = 10",
            [],
        )
        .expect("forge");
    let (code, out) = verify(t.path());
    assert_eq!(
        (
            code,
            out.contains("the digest for event 10 has a bad signature")
        ),
        (1, true),
        "{out}"
    );

    // Pruned (retention): the kept part still verifies from where it starts.
    let t = copy(dir);
    let cutoff: i64 = db(t.path())
        .query_row(
            "SELECT time_ms + 1 FROM audit_events WHERE sequence = 6",
            [],
            |r| r.get(0),
        )
        .expect("time");
    let store = SqliteStore::open(&t.path().join("portcullis.db")).expect("store");
    let pruned = store.audit_prune(cutoff).expect("prune");
    assert!(pruned >= 6, "{pruned}");
    drop(store);
    let (code, out) = verify(t.path());
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("to 16 ({} events)", 16 - pruned)),
        "{out}"
    );
    // And a pruned trail still names a deletion.
    db(t.path())
        .execute("DELETE FROM audit_events WHERE sequence = 15", [])
        .expect("delete");
    let (code, out) = verify(t.path());
    assert_eq!(
        (code, out.contains("events 15 to 15 are missing")),
        (1, true),
        "{out}"
    );
}
