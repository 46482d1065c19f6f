//! The PostgreSQL store against a real server (a private one, see `testing.rs`): rows,
//! meta values, the trail's tables and last-accessed data behave as SQLite's.

use portcullis_iam::access_advisor::ActionUse;
use portcullis_iam::store::{CatchUp, Change, Cluster, Store, StoreError, Table};
use portcullis_postgres::PostgresStore;
use portcullis_postgres::testing::database_for;

fn store(name: &str) -> PostgresStore {
    let url = database_for(&format!("store-test-{name}-{}", std::process::id()))
        .expect("a PostgreSQL server for tests");
    PostgresStore::connect(&url).expect("connects and migrates")
}

/// Commits `changes` as a node does: under the cluster's write lock.
fn commit(s: &PostgresStore, changes: &[Change]) -> Result<(), StoreError> {
    s.lock_writes()?;
    let committed = s.commit(changes);
    s.unlock_writes();
    committed
}

fn change(table: Table, key: &str, data: Option<&str>) -> Change {
    Change {
        table,
        account_id: "111122223333".into(),
        key: key.into(),
        data: data.map(str::to_owned),
    }
}

#[test]
fn rows_survive_reconnecting_and_deletes_delete() {
    let s = store("rows");
    commit(
        &s,
        &[
            change(Table::Users, "alice", Some("{}")),
            change(Table::Users, "bob", Some("{\"a\":1}")),
            change(Table::Roles, "r", Some("{\"r\":1}")),
        ],
    )
    .unwrap();
    commit(
        &s,
        &[
            change(Table::Users, "alice", None),
            change(Table::Roles, "r", Some("{\"r\":2}")),
        ],
    )
    .unwrap();
    drop(s);
    let s = store("rows");
    let rows = s.load().unwrap();
    let got: Vec<_> = rows
        .iter()
        .map(|r| (r.table, r.key.as_str(), r.data.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (Table::Users, "bob", "{\"a\":1}"),
            (Table::Roles, "r", "{\"r\":2}")
        ]
    );
}

#[test]
fn meta_values_are_read_back_but_not_loaded() {
    let s = store("meta");
    assert_eq!(s.meta("sealed_format").unwrap(), None);
    s.commit(&[Change {
        table: Table::Meta,
        account_id: String::new(),
        key: "sealed_format".into(),
        data: Some("v1".into()),
    }])
    .unwrap();
    assert_eq!(s.meta("sealed_format").unwrap().as_deref(), Some("v1"));
    assert!(s.load().unwrap().is_empty());
}

#[test]
fn a_failed_transaction_changes_nothing() {
    let s = store("atomic");
    // A NUL byte is refused by PostgreSQL's text type: the whole commit fails.
    let err = commit(
        &s,
        &[
            change(Table::Users, "ok", Some("{}")),
            change(Table::Users, "bad", Some("a\0b")),
        ],
    )
    .expect_err("refused");
    assert!(err.0.contains("postgres"), "{err}");
    assert!(s.load().unwrap().is_empty());
}

#[test]
fn connecting_twice_migrates_once() {
    let a = store("twice");
    let b = store("twice");
    commit(&a, &[change(Table::Groups, "g", Some("{}"))]).unwrap();
    assert_eq!(b.load().unwrap().len(), 1);
}

#[test]
fn last_accessed_keeps_the_latest_attempt() {
    let s = store("access");
    let u = |action: &str, t: i64| ActionUse {
        account_id: "111122223333".into(),
        entity_id: "AIDA1".into(),
        action: action.into(),
        time_ms: t,
        region: "us-east-1".into(),
    };
    s.record_access(&[u("iam:GetUser", 10), u("s3:GetObject", 5)], 0)
        .unwrap();
    s.record_access(&[u("iam:GetUser", 7)], 0).unwrap();
    s.record_access(&[], 6).unwrap();
    let got = s.access_of("111122223333", &["AIDA1", "AIDA2"]).unwrap();
    assert_eq!(got, [u("iam:GetUser", 10)]);
}

#[test]
fn a_bad_url_is_refused_with_its_reason() {
    let err = PostgresStore::connect("postgres://[::1")
        .err()
        .expect("refused");
    assert!(err.0.contains("not valid"), "{err}");
}

#[test]
fn a_change_outside_the_write_lock_is_refused() {
    let s = store("unlocked");
    let err = s
        .commit(&[change(Table::Users, "u", Some("{}"))])
        .expect_err("refused");
    assert!(err.0.contains("write lock"), "{err}");
    assert!(s.load().unwrap().is_empty());
}

#[test]
fn one_nodes_commits_reach_the_other_in_order_and_a_node_too_far_behind_reloads() {
    let a = store("feed");
    let b = store("feed");
    // Both start caught up (their load); b's lock hands it nothing new yet.
    a.load().unwrap();
    b.load().unwrap();
    commit(&a, &[change(Table::Users, "u1", Some("{\"v\":1}"))]).unwrap();
    commit(
        &a,
        &[
            change(Table::Users, "u1", Some("{\"v\":2}")),
            change(Table::Groups, "g", Some("{}")),
        ],
    )
    .unwrap();
    commit(&a, &[change(Table::Groups, "g", None)]).unwrap();
    b.wait_for_changes(std::time::Duration::from_secs(1));
    let CatchUp::Changes(got) = b.catch_up().unwrap() else {
        panic!("changes expected");
    };
    let got: Vec<_> = got
        .iter()
        .map(|c| (c.table, c.key.as_str(), c.data.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (Table::Users, "u1", Some("{\"v\":1}")),
            (Table::Users, "u1", Some("{\"v\":2}")),
            (Table::Groups, "g", Some("{}")),
            (Table::Groups, "g", None),
        ]
    );
    assert!(matches!(b.catch_up().unwrap(), CatchUp::Nothing));
    // b's write lock catches it up with what a committed since.
    commit(&a, &[change(Table::Roles, "r", Some("{}"))]).unwrap();
    let CatchUp::Changes(got) = b.lock_writes().unwrap() else {
        panic!("changes expected");
    };
    b.unlock_writes();
    assert_eq!(got.len(), 1);
    // The log pruned beyond where b stands: b reloads every row.
    commit(&a, &[change(Table::Roles, "r2", Some("{}"))]).unwrap();
    let url = database_for(&format!("store-test-feed-{}", std::process::id())).unwrap();
    portcullis_postgres::testing::execute(
        &url,
        "UPDATE change_log_pruned SET sequence = (SELECT max(sequence) FROM change_log)",
    )
    .unwrap();
    let CatchUp::Reload(rows) = b.catch_up().unwrap() else {
        panic!("a reload expected");
    };
    let keys: Vec<_> = rows.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["u1", "r", "r2"]);
    assert!(matches!(b.catch_up().unwrap(), CatchUp::Nothing));
}

#[test]
fn the_bounds_on_guessing_are_counted_once_for_every_node() {
    let a = store("guess");
    let b = store("guess");
    // Wrong codes seen by either node count together; the bound locks the device for both.
    for i in 0..3 {
        let node = if i % 2 == 0 { &a } else { &b };
        node.mfa_result("1/d", true, 1_000 + i, 3, 500).unwrap();
    }
    assert_eq!(a.mfa_state("1/d", 1_100, 3, 500).unwrap(), (3, true));
    assert_eq!(b.mfa_state("1/d", 1_100, 3, 500).unwrap(), (3, true));
    assert_eq!(b.mfa_state("1/other", 1_100, 3, 500).unwrap(), (0, false));
    // The lock runs out `lockout` after the last wrong code; then counting starts again.
    assert_eq!(a.mfa_state("1/d", 1_503, 3, 500).unwrap(), (0, false));
    b.mfa_result("1/d", true, 1_600, 3, 500).unwrap();
    assert_eq!(a.mfa_state("1/d", 1_601, 3, 500).unwrap(), (1, false));
    a.mfa_result("1/d", false, 1_602, 3, 500).unwrap();
    assert_eq!(b.mfa_state("1/d", 1_603, 3, 500).unwrap(), (0, false));
    // Password verifications: one window per user, whichever node counts.
    assert_eq!(a.password_check("1/u", 10_000, 60_000).unwrap(), 1);
    assert_eq!(b.password_check("1/u", 10_001, 60_000).unwrap(), 2);
    assert_eq!(a.password_check("1/v", 10_002, 60_000).unwrap(), 1);
    assert_eq!(b.password_check("1/u", 70_001, 60_000).unwrap(), 1);
    // A one-time token redeemed on one node is refused on the other until it runs out.
    assert!(a.redeem_once("saml", "idp\n_1", 5_000, 1_001).unwrap());
    assert!(!b.redeem_once("saml", "idp\n_1", 5_000, 1_003).unwrap());
    assert!(b.redeem_once("saml", "idp\n_2", 5_000, 1_003).unwrap());
    assert!(b.redeem_once("saml", "idp\n_1", 9_000, 5_001).unwrap());
}
