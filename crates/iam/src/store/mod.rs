//! Durable storage. The store knows tables of JSON rows, not rules: every entity kind is a
//! table of `(account_id, key, data)`; a write is one transaction of upserts and deletes.
//! The embedded default is SQLite (WAL); PostgreSQL will implement the same trait. Beside the
//! entity tables, the audit trail ([`audit`]): chained events appended in the transaction of
//! the change they record, and the signed digests.

mod access;
mod audit;

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, params};

use crate::access_advisor::ActionUse;
use crate::audit::{AuditQuery, AuditRow, ChainLink, StoredEvent};

/// Where the kept part of a trail begins: the first kept event and its predecessor's hash
/// (`(1, GENESIS)` for a trail never pruned).
pub type TrailStart = (u64, [u8; 32]);

/// The meta key of where the kept trail begins (`SEQUENCE:HEX-HASH-OF-ITS-PREDECESSOR`).
pub const START_KEY: &str = "audit_start";

/// A stored event hash as its 32 bytes.
pub fn hash_of(blob: Vec<u8>) -> Result<[u8; 32], StoreError> {
    blob.try_into()
        .map_err(|_| StoreError("an audit event's stored hash is not 32 bytes".into()))
}

/// The [`START_KEY`] value of a trail whose kept part begins at `first`, after the event
/// whose hash is `previous`.
pub fn trail_start_value(first: u64, previous: &[u8; 32]) -> String {
    format!("{first}:{}", hex::encode(previous))
}

/// Where the kept trail begins, from its [`START_KEY`] value (`(1, GENESIS)` when none).
pub fn parse_trail_start(value: Option<&str>) -> Result<TrailStart, StoreError> {
    let Some(value) = value else {
        return Ok((1, crate::audit::GENESIS));
    };
    let bad = || StoreError(format!("the stored {START_KEY} value is malformed"));
    let (seq, hex) = value.split_once(':').ok_or_else(bad)?;
    let seq: u64 = seq.parse().map_err(|_| bad())?;
    let bytes = hex::decode(hex).map_err(|_| bad())?;
    Ok((seq, hash_of(bytes).map_err(|_| bad())?))
}

/// The tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Accounts,
    Users,
    Groups,
    Roles,
    Policies,
    AccessKeys,
    InstanceProfiles,
    SshPublicKeys,
    SigningCertificates,
    OidcProviders,
    SamlProviders,
    ServerCertificates,
    MfaDevices,
    /// The store's own facts (such as the format of its sealed values), under account `""`;
    /// not an entity table, so not in [`Table::ALL`] and not loaded.
    Meta,
}

impl Table {
    pub const ALL: [Table; 13] = [
        Table::Accounts,
        Table::Users,
        Table::Groups,
        Table::Roles,
        Table::Policies,
        Table::AccessKeys,
        Table::InstanceProfiles,
        Table::SshPublicKeys,
        Table::SigningCertificates,
        Table::OidcProviders,
        Table::SamlProviders,
        Table::ServerCertificates,
        Table::MfaDevices,
    ];

    /// The table a store name names (entity tables and meta).
    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL
            .into_iter()
            .chain([Table::Meta])
            .find(|t| t.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Table::Accounts => "accounts",
            Table::Users => "users",
            Table::Groups => "groups",
            Table::Roles => "roles",
            Table::Policies => "policies",
            Table::AccessKeys => "access_keys",
            Table::InstanceProfiles => "instance_profiles",
            Table::SshPublicKeys => "ssh_public_keys",
            Table::SigningCertificates => "signing_certificates",
            Table::OidcProviders => "oidc_providers",
            Table::SamlProviders => "saml_providers",
            Table::ServerCertificates => "server_certificates",
            Table::MfaDevices => "mfa_devices",
            Table::Meta => "meta",
        }
    }
}

/// One row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub table: Table,
    pub account_id: String,
    pub key: String,
    pub data: String,
}

/// One change of a write: the row's new data, or `None` to delete it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub table: Table,
    pub account_id: String,
    pub key: String,
    pub data: Option<String>,
}

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(pub String);

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError(e.to_string())
    }
}

/// What other nodes committed since this node last caught up with a shared store.
#[derive(Debug)]
pub enum CatchUp {
    /// Nothing new.
    Nothing,
    /// The changes, in commit order.
    Changes(Vec<Change>),
    /// The node is further behind than the store's change log reaches: every row, to
    /// rebuild the state from.
    Reload(Vec<Row>),
}

/// How the nodes that share a store agree (see ARCHITECTURE.md, "Several nodes"): every
/// write runs under the cluster's write lock on a state caught up with every commit before
/// it, and each commit is appended to an ordered change log the other nodes follow. The
/// store keeps how far this node has caught up.
pub trait Cluster: Send + Sync {
    /// Takes the cluster's write lock (waiting for it) and returns what other nodes
    /// committed since this node last caught up. Every write with changes is made between
    /// this and [`Cluster::unlock_writes`].
    fn lock_writes(&self) -> Result<CatchUp, StoreError>;
    /// Releases the write lock (a node's lock also ends with its connection).
    fn unlock_writes(&self);
    /// What other nodes committed since this node last caught up, without the lock.
    fn catch_up(&self) -> Result<CatchUp, StoreError>;
    /// The bounds on guessing, shared by the nodes (`attempts.rs`): the consecutive wrong
    /// codes of the MFA device `device` (`ACCOUNT/DEVICE`) that still count, and whether it
    /// is locked (`max` of them, for `lockout_ms` after the last).
    fn mfa_state(
        &self,
        device: &str,
        now_ms: i64,
        max: u32,
        lockout_ms: i64,
    ) -> Result<(u32, bool), StoreError>;
    /// Counts a wrong code of `device`, or clears its count after a right one.
    fn mfa_result(
        &self,
        device: &str,
        failed: bool,
        now_ms: i64,
        max: u32,
        lockout_ms: i64,
    ) -> Result<(), StoreError>;
    /// Counts one password verification of `user` (`ACCOUNT/name`); returns how many its
    /// current window (`window_ms` from its first) holds, this one included.
    fn password_check(&self, user: &str, now_ms: i64, window_ms: i64) -> Result<u32, StoreError>;
    /// Records the one-time token `key` of `scope` as redeemed until `until_ms`; `false`
    /// when a node redeemed it before and it has not run out.
    fn redeem_once(
        &self,
        scope: &str,
        key: &str,
        until_ms: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Waits until another node may have committed (a notification), `timeout` at most.
    fn wait_for_changes(&self, timeout: std::time::Duration);
    /// Why this node may not be following the others now (`None`: it is).
    fn lagging(&self) -> Option<String>;
}

/// Where IAM state lives between runs.
pub trait Store: Send + Sync {
    /// The coordination of the nodes sharing this store; `None` for a store one process
    /// owns (SQLite).
    fn cluster(&self) -> Option<&dyn Cluster> {
        None
    }
    /// Whether the store chains audit events itself, after whatever other nodes chained
    /// (a shared store): the trail then reads its head back after each commit.
    fn chains_events(&self) -> bool {
        false
    }
    /// Every row, to build the in-memory state at start.
    fn load(&self) -> Result<Vec<Row>, StoreError>;
    /// Applies `changes` atomically.
    fn commit(&self, changes: &[Change]) -> Result<(), StoreError> {
        self.commit_recorded(changes, &[])
    }
    /// Applies `changes` and appends `events` (chained, in order) in one transaction: the
    /// audit record of a change commits with it or not at all.
    fn commit_recorded(&self, changes: &[Change], events: &[AuditRow]) -> Result<(), StoreError>;
    /// A [`Table::Meta`] value.
    fn meta(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Every [`Table::Meta`] value, by key (to move a deployment to another store).
    fn meta_all(&self) -> Result<Vec<(String, String)>, StoreError>;
    /// Up to `limit` whole stored events (link and index) from `from_sequence` on, in
    /// sequence order (to move a trail to another store as it is).
    fn audit_rows(&self, from_sequence: u64, limit: usize) -> Result<Vec<AuditRow>, StoreError>;
    /// Every recorded attempt (last-accessed data).
    fn access_all(&self) -> Result<Vec<ActionUse>, StoreError>;

    /// The last stored event's sequence and hash, if any.
    fn audit_head(&self) -> Result<Option<(u64, [u8; 32])>, StoreError>;
    /// Where the kept trail begins.
    fn audit_start(&self) -> Result<TrailStart, StoreError>;
    /// Up to `limit` events from `from_sequence` on, in sequence order (stored order).
    fn audit_links(&self, from_sequence: u64, limit: usize) -> Result<Vec<ChainLink>, StoreError>;
    /// A search of one account's trail, newest first.
    fn audit_lookup(&self, query: &AuditQuery) -> Result<Vec<StoredEvent>, StoreError>;
    /// Deletes the events older than `before_ms` and records where the kept trail begins,
    /// in one transaction. Returns how many were deleted.
    fn audit_prune(&self, before_ms: i64) -> Result<usize, StoreError>;
    /// Stores a signed digest covering the trail up to `sequence`.
    fn audit_put_digest(&self, sequence: u64, digest: &str) -> Result<(), StoreError>;
    /// Every stored digest, by the sequence it covers.
    fn audit_digests(&self) -> Result<Vec<(u64, String)>, StoreError>;
    /// Records attempts (last-accessed data), keeping the latest per entity and action, and
    /// forgets attempts older than `before_ms`, in one transaction.
    fn record_access(&self, uses: &[ActionUse], before_ms: i64) -> Result<(), StoreError>;
    /// The recorded attempts of the users and roles `entity_ids` of `account_id`.
    fn access_of(
        &self,
        account_id: &str,
        entity_ids: &[&str],
    ) -> Result<Vec<ActionUse>, StoreError>;
}

/// The schema, by version: `PRAGMA user_version` says how many have been applied.
const MIGRATIONS: &[&str] = &["
    CREATE TABLE accounts    (account_id TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account_id, key));
    CREATE TABLE users       (account_id TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account_id, key));
    CREATE TABLE groups      (account_id TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account_id, key));
    CREATE TABLE roles       (account_id TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account_id, key));
    CREATE TABLE policies    (account_id TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account_id, key));
    CREATE TABLE access_keys (account_id TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account_id, key));
", "
    CREATE TABLE instance_profiles (account_id TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account_id, key));
", "
    CREATE TABLE ssh_public_keys      (account_id TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account_id, key));
    CREATE TABLE signing_certificates (account_id TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account_id, key));
", "
    CREATE TABLE oidc_providers      (account_id TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account_id, key));
    CREATE TABLE saml_providers      (account_id TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account_id, key));
    CREATE TABLE server_certificates (account_id TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account_id, key));
", "
    CREATE TABLE mfa_devices (account_id TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account_id, key));
", "
    CREATE TABLE meta (account_id TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account_id, key));
", "
    CREATE TABLE audit_events (
        sequence      INTEGER PRIMARY KEY,
        hash          BLOB NOT NULL,
        account_id    TEXT NOT NULL,
        time_ms       INTEGER NOT NULL,
        event_id      TEXT NOT NULL,
        event_name    TEXT NOT NULL,
        event_source  TEXT NOT NULL,
        username      TEXT,
        access_key_id TEXT,
        read_only     INTEGER NOT NULL,
        resources     TEXT NOT NULL,
        body          TEXT NOT NULL
    );
    CREATE INDEX audit_events_by_account_time ON audit_events (account_id, time_ms);
    CREATE TABLE audit_digests (sequence INTEGER PRIMARY KEY, data TEXT NOT NULL);
", "
    CREATE TABLE access_activity (
        account_id TEXT NOT NULL,
        entity_id  TEXT NOT NULL,
        action     TEXT NOT NULL,
        time_ms    INTEGER NOT NULL,
        region     TEXT NOT NULL,
        PRIMARY KEY (account_id, entity_id, action)
    );
    CREATE INDEX access_activity_by_time ON access_activity (time_ms);
"];

/// The embedded store: one SQLite file in WAL mode.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Every table's upsert and delete, and the trail's statements, stay prepared.
        conn.set_prepared_statement_cache_capacity(64);
        // The audit trail appends a row per request: checkpointing every 8,000 WAL pages
        // (32 MiB) rather than SQLite's 1,000 copies each hot page back fewer times (about a
        // tenth less server CPU per write, measured with the http bench). The WAL file is
        // cut back to 64 MiB after a checkpoint.
        conn.pragma_update(None, "wal_autocheckpoint", 8000)?;
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
        let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            conn.execute_batch(&format!(
                "BEGIN; {sql} PRAGMA user_version = {}; COMMIT;",
                i + 1
            ))?;
        }
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Connection>, StoreError> {
        self.conn
            .lock()
            .map_err(|_| StoreError("the database connection lock is poisoned".into()))
    }
}

impl Store for SqliteStore {
    fn load(&self) -> Result<Vec<Row>, StoreError> {
        let conn = self.lock()?;
        let mut rows = Vec::new();
        for table in Table::ALL {
            let mut stmt = conn.prepare(&format!(
                "SELECT account_id, key, data FROM {} ORDER BY account_id, key",
                table.name()
            ))?;
            let mapped = stmt.query_map([], |r| {
                Ok(Row {
                    table,
                    account_id: r.get(0)?,
                    key: r.get(1)?,
                    data: r.get(2)?,
                })
            })?;
            for row in mapped {
                rows.push(row?);
            }
        }
        Ok(rows)
    }

    fn commit_recorded(&self, changes: &[Change], events: &[AuditRow]) -> Result<(), StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        for change in changes {
            let table = change.table.name();
            match &change.data {
                Some(data) => {
                    tx.prepare_cached(&format!(
                        "INSERT INTO {table} (account_id, key, data) VALUES (?1, ?2, ?3)
                         ON CONFLICT (account_id, key) DO UPDATE SET data = excluded.data"
                    ))?
                    .execute(params![change.account_id, change.key, data])?;
                }
                None => {
                    tx.prepare_cached(&format!(
                        "DELETE FROM {table} WHERE account_id = ?1 AND key = ?2"
                    ))?
                    .execute(params![change.account_id, change.key])?;
                }
            }
        }
        audit::append(&tx, events)?;
        tx.commit()?;
        Ok(())
    }

    fn audit_head(&self) -> Result<Option<(u64, [u8; 32])>, StoreError> {
        audit::head(&*self.lock()?)
    }

    fn audit_start(&self) -> Result<TrailStart, StoreError> {
        audit::start(&*self.lock()?)
    }

    fn audit_links(&self, from_sequence: u64, limit: usize) -> Result<Vec<ChainLink>, StoreError> {
        audit::links(&*self.lock()?, from_sequence, limit)
    }

    fn audit_lookup(&self, query: &AuditQuery) -> Result<Vec<StoredEvent>, StoreError> {
        audit::lookup(&*self.lock()?, query)
    }

    fn audit_prune(&self, before_ms: i64) -> Result<usize, StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        let n = audit::prune(&tx, before_ms)?;
        tx.commit()?;
        Ok(n)
    }

    fn audit_put_digest(&self, sequence: u64, digest: &str) -> Result<(), StoreError> {
        self.lock()?.execute(
            "INSERT OR REPLACE INTO audit_digests (sequence, data) VALUES (?1, ?2)",
            params![sequence as i64, digest],
        )?;
        Ok(())
    }

    fn audit_digests(&self) -> Result<Vec<(u64, String)>, StoreError> {
        audit::digests(&*self.lock()?)
    }

    fn record_access(&self, uses: &[ActionUse], before_ms: i64) -> Result<(), StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        access::record(&tx, uses, before_ms)?;
        tx.commit()?;
        Ok(())
    }

    fn access_of(
        &self,
        account_id: &str,
        entity_ids: &[&str],
    ) -> Result<Vec<ActionUse>, StoreError> {
        access::of(&*self.lock()?, account_id, entity_ids)
    }

    fn meta_all(&self) -> Result<Vec<(String, String)>, StoreError> {
        let conn = self.lock()?;
        let mut stmt =
            conn.prepare("SELECT key, data FROM meta WHERE account_id = '' ORDER BY key")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn audit_rows(&self, from_sequence: u64, limit: usize) -> Result<Vec<AuditRow>, StoreError> {
        audit::rows(&*self.lock()?, from_sequence, limit)
    }

    fn access_all(&self) -> Result<Vec<ActionUse>, StoreError> {
        access::all(&*self.lock()?)
    }

    fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare("SELECT data FROM meta WHERE account_id = '' AND key = ?1")?;
        let mut rows = stmt.query(params![key])?;
        match rows.next()? {
            Some(row) => Ok(Some(row.get(0)?)),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("iam.db");
        let store = SqliteStore::open(&path).unwrap();
        store
            .commit(&[
                Change {
                    table: Table::Users,
                    account_id: "111122223333".into(),
                    key: "alice".into(),
                    data: Some("{}".into()),
                },
                Change {
                    table: Table::Users,
                    account_id: "111122223333".into(),
                    key: "bob".into(),
                    data: Some("{\"a\":1}".into()),
                },
            ])
            .unwrap();
        store
            .commit(&[Change {
                table: Table::Users,
                account_id: "111122223333".into(),
                key: "alice".into(),
                data: None,
            }])
            .unwrap();
        drop(store);
        let store = SqliteStore::open(&path).unwrap();
        let rows = store.load().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].key, "bob");
        assert_eq!(rows[0].data, "{\"a\":1}");
    }

    #[test]
    fn meta_values_are_committed_and_read_back_but_not_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("iam.db")).unwrap();
        assert_eq!(store.meta("sealed_format").unwrap(), None);
        store
            .commit(&[Change {
                table: Table::Meta,
                account_id: String::new(),
                key: "sealed_format".into(),
                data: Some("v1".into()),
            }])
            .unwrap();
        assert_eq!(store.meta("sealed_format").unwrap().as_deref(), Some("v1"));
        assert!(store.load().unwrap().is_empty());
    }
}
