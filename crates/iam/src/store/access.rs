//! Last-accessed data in SQLite: `access_activity`, one row per (account, entity, action)
//! with the latest attempt. Written by the usage flusher, read by access advisor reports.

use rusqlite::{Connection, Transaction, params};

use super::StoreError;
use crate::access_advisor::ActionUse;

/// Keeps the later of the stored and the given attempt of each row, and deletes attempts
/// older than `before_ms` (the tracking period).
pub(super) fn record(
    tx: &Transaction<'_>,
    uses: &[ActionUse],
    before_ms: i64,
) -> Result<(), StoreError> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO access_activity (account_id, entity_id, action, time_ms, region)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (account_id, entity_id, action) DO UPDATE
            SET time_ms = excluded.time_ms, region = excluded.region
            WHERE excluded.time_ms > access_activity.time_ms",
    )?;
    for u in uses {
        stmt.execute(params![
            u.account_id,
            u.entity_id,
            u.action,
            u.time_ms,
            u.region
        ])?;
    }
    tx.prepare_cached("DELETE FROM access_activity WHERE time_ms < ?1")?
        .execute(params![before_ms])?;
    Ok(())
}

/// Every stored attempt.
pub(super) fn all(conn: &Connection) -> Result<Vec<ActionUse>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT account_id, entity_id, action, time_ms, region FROM access_activity
         ORDER BY account_id, entity_id, action",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(ActionUse {
            account_id: r.get(0)?,
            entity_id: r.get(1)?,
            action: r.get(2)?,
            time_ms: r.get(3)?,
            region: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The stored attempts of `entity_ids` in `account_id`.
pub(super) fn of(
    conn: &Connection,
    account_id: &str,
    entity_ids: &[&str],
) -> Result<Vec<ActionUse>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT action, time_ms, region FROM access_activity
         WHERE account_id = ?1 AND entity_id = ?2",
    )?;
    let mut out = Vec::new();
    for id in entity_ids {
        let rows = stmt.query_map(params![account_id, id], |r| {
            Ok(ActionUse {
                account_id: account_id.to_owned(),
                entity_id: (*id).to_owned(),
                action: r.get(0)?,
                time_ms: r.get(1)?,
                region: r.get(2)?,
            })
        })?;
        for row in rows {
            out.push(row?);
        }
    }
    Ok(out)
}
