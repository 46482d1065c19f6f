//! Moving a deployment onto PostgreSQL (`portcullis migrate`): every row, meta value, audit
//! event (as stored: the chain and its digests stay verifiable), digest and last-accessed
//! attempt of another store, copied in one transaction into an empty database.

use deadpool_postgres::Client;
use portcullis_iam::store::{Change, Store, StoreError, Table};

use crate::{access, audit, entities, feed, pg_error};

/// What was copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub rows: usize,
    pub meta: usize,
    pub events: usize,
    pub digests: usize,
    pub attempts: usize,
}

/// Events read from the source at a time.
const EVENT_BATCH: usize = 5_000;

pub(crate) async fn import(
    client: &mut Client,
    source: &(dyn Store + Sync),
) -> Result<ImportReport, StoreError> {
    let tx = client.transaction().await.map_err(pg_error)?;
    // No node may write meanwhile, and the database must hold nothing yet.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&feed::WRITE_LOCK])
        .await
        .map_err(pg_error)?;
    let (existing, _) = entities::load_in(&tx).await?;
    let events: i64 = tx
        .query_one("SELECT count(*) FROM audit_events", &[])
        .await
        .map_err(pg_error)?
        .try_get(0)
        .map_err(pg_error)?;
    if !existing.is_empty() || events > 0 {
        return Err(StoreError(format!(
            "the target database already holds a deployment ({} rows, {events} audit events): migrate only into an empty one",
            existing.len()
        )));
    }
    let mut report = ImportReport::default();
    let rows = source.load()?;
    report.rows = rows.len();
    let changes: Vec<Change> = rows
        .into_iter()
        .map(|r| Change {
            table: r.table,
            account_id: r.account_id,
            key: r.key,
            data: Some(r.data),
        })
        .collect();
    entities::apply(&tx, &changes).await?;
    let meta: Vec<Change> = source
        .meta_all()?
        .into_iter()
        .map(|(key, data)| Change {
            table: Table::Meta,
            account_id: String::new(),
            key,
            data: Some(data),
        })
        .collect();
    report.meta = meta.len();
    entities::apply(&tx, &meta).await?;
    let (mut from, _) = source.audit_start()?;
    loop {
        let batch = source.audit_rows(from, EVENT_BATCH)?;
        let Some(last) = batch.last() else {
            break;
        };
        from = last.link.sequence + 1;
        report.events += batch.len();
        audit::append(&tx, &batch).await?;
    }
    for (sequence, digest) in source.audit_digests()? {
        audit::put_digest(&tx, sequence, &digest).await?;
        report.digests += 1;
    }
    let uses = source.access_all()?;
    report.attempts = uses.len();
    access::record(&tx, &uses, i64::MIN).await?;
    tx.commit().await.map_err(pg_error)?;
    Ok(report)
}
