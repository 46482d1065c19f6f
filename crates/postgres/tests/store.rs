//! The PostgreSQL store against a real server (a private one, see `testing.rs`): rows,
//! meta values, the trail's tables and last-accessed data behave as SQLite's.

use portcullis_iam::access_advisor::ActionUse;
use portcullis_iam::store::{Change, Store, Table};
use portcullis_postgres::PostgresStore;
use portcullis_postgres::testing::database_for;

fn store(name: &str) -> PostgresStore {
    let url = database_for(&format!("store-test-{name}-{}", std::process::id()))
        .expect("a PostgreSQL server for tests");
    PostgresStore::connect(&url).expect("connects and migrates")
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
    s.commit(&[
        change(Table::Users, "alice", Some("{}")),
        change(Table::Users, "bob", Some("{\"a\":1}")),
        change(Table::Roles, "r", Some("{\"r\":1}")),
    ])
    .unwrap();
    s.commit(&[
        change(Table::Users, "alice", None),
        change(Table::Roles, "r", Some("{\"r\":2}")),
    ])
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
    let err = s
        .commit(&[
            change(Table::Users, "ok", Some("{}")),
            change(Table::Users, "bad", Some("a\0b")),
        ])
        .expect_err("refused");
    assert!(err.0.contains("postgres"), "{err}");
    assert!(s.load().unwrap().is_empty());
}

#[test]
fn connecting_twice_migrates_once() {
    let a = store("twice");
    let b = store("twice");
    a.commit(&[change(Table::Groups, "g", Some("{}"))]).unwrap();
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
