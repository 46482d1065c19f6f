//! The schema, versioned like the SQLite one: `portcullis_schema` holds how many migrations
//! have been applied, and a node that starts applies the missing ones in one transaction
//! under an advisory lock, so nodes starting together never apply one twice.

use deadpool_postgres::Client;
use portcullis_iam::store::StoreError;

use crate::pg_error;

/// The advisory lock key of migrations (any constant the application owns).
const MIGRATION_LOCK: i64 = 0x706f_7274_0001;

/// Every migration, in order. The first is the SQLite schema as it stands at its eighth
/// migration, in PostgreSQL's types; the second the change feed (`feed.rs`): every commit's
/// rows under one `sequence` from `change_sequence`, and how far the log has been pruned;
/// the third the bounds on guessing the nodes share (`shared.rs`).
pub(crate) const MIGRATIONS: &[&str] = &["
    CREATE TABLE accounts             (account_id TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account_id, key));
    CREATE TABLE users                (account_id TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account_id, key));
    CREATE TABLE groups               (account_id TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account_id, key));
    CREATE TABLE roles                (account_id TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account_id, key));
    CREATE TABLE policies             (account_id TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account_id, key));
    CREATE TABLE access_keys          (account_id TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account_id, key));
    CREATE TABLE instance_profiles    (account_id TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account_id, key));
    CREATE TABLE ssh_public_keys      (account_id TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account_id, key));
    CREATE TABLE signing_certificates (account_id TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account_id, key));
    CREATE TABLE oidc_providers       (account_id TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account_id, key));
    CREATE TABLE saml_providers       (account_id TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account_id, key));
    CREATE TABLE server_certificates  (account_id TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account_id, key));
    CREATE TABLE mfa_devices          (account_id TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account_id, key));
    CREATE TABLE meta                 (account_id TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account_id, key));
    CREATE TABLE audit_events (
        sequence      BIGINT PRIMARY KEY,
        hash          BYTEA NOT NULL,
        account_id    TEXT NOT NULL,
        time_ms       BIGINT NOT NULL,
        event_id      TEXT NOT NULL,
        event_name    TEXT NOT NULL,
        event_source  TEXT NOT NULL,
        username      TEXT,
        access_key_id TEXT,
        read_only     BOOLEAN NOT NULL,
        resources     TEXT NOT NULL,
        body          TEXT NOT NULL
    );
    CREATE INDEX audit_events_by_account_time ON audit_events (account_id, time_ms);
    CREATE TABLE audit_digests (sequence BIGINT PRIMARY KEY, data TEXT NOT NULL);
    CREATE TABLE access_activity (
        account_id TEXT NOT NULL,
        entity_id  TEXT NOT NULL,
        action     TEXT NOT NULL,
        time_ms    BIGINT NOT NULL,
        region     TEXT NOT NULL,
        PRIMARY KEY (account_id, entity_id, action)
    );
    CREATE INDEX access_activity_by_time ON access_activity (time_ms);
", "
    CREATE SEQUENCE change_sequence;
    CREATE TABLE change_log (
        sequence     BIGINT NOT NULL,
        position     INTEGER NOT NULL,
        tbl          TEXT NOT NULL,
        account_id   TEXT NOT NULL,
        key          TEXT NOT NULL,
        data         TEXT,
        committed_ms BIGINT NOT NULL,
        PRIMARY KEY (sequence, position)
    );
    CREATE INDEX change_log_by_time ON change_log (committed_ms);
    CREATE TABLE change_log_pruned (sequence BIGINT NOT NULL);
    INSERT INTO change_log_pruned (sequence) VALUES (0);
", "
    CREATE TABLE shared_counters (
        scope    TEXT NOT NULL,
        key      TEXT NOT NULL,
        count    INTEGER NOT NULL,
        stamp_ms BIGINT NOT NULL,
        PRIMARY KEY (scope, key)
    );
"];

/// Brings the schema up to date.
pub(crate) async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let tx = client.transaction().await.map_err(pg_error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg_error)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS portcullis_schema (version INTEGER NOT NULL)")
        .await
        .map_err(pg_error)?;
    let row = tx
        .query_opt("SELECT version FROM portcullis_schema", &[])
        .await
        .map_err(pg_error)?;
    let version = match row {
        Some(row) => row.try_get::<_, i32>(0).map_err(pg_error)?,
        None => {
            tx.execute("INSERT INTO portcullis_schema (version) VALUES (0)", &[])
                .await
                .map_err(pg_error)?;
            0
        }
    };
    let applied = usize::try_from(version)
        .map_err(|_| StoreError(format!("the schema version {version} is not valid")))?;
    if applied > MIGRATIONS.len() {
        return Err(StoreError(format!(
            "the database's schema is version {applied}, newer than this Portcullis knows ({}): upgrade Portcullis",
            MIGRATIONS.len()
        )));
    }
    for sql in &MIGRATIONS[applied..] {
        tx.batch_execute(sql).await.map_err(pg_error)?;
    }
    let now = MIGRATIONS.len() as i32;
    tx.execute("UPDATE portcullis_schema SET version = $1", &[&now])
        .await
        .map_err(pg_error)?;
    tx.commit().await.map_err(pg_error)?;
    Ok(())
}
