//! Last-accessed data, as in SQLite: `access_activity`, one row per (account, entity,
//! action) with the latest attempt.

use deadpool_postgres::{GenericClient, Transaction};
use portcullis_iam::access_advisor::ActionUse;
use portcullis_iam::store::StoreError;

use crate::{pg_error, text};

/// Keeps the later of the stored and the given attempt of each row, and deletes attempts
/// older than `before_ms`.
pub(crate) async fn record(
    tx: &Transaction<'_>,
    uses: &[ActionUse],
    before_ms: i64,
) -> Result<(), StoreError> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO access_activity (account_id, entity_id, action, time_ms, region)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (account_id, entity_id, action) DO UPDATE
                SET time_ms = excluded.time_ms, region = excluded.region
                WHERE excluded.time_ms > access_activity.time_ms",
        )
        .await
        .map_err(pg_error)?;
    for u in uses {
        tx.execute(
            &stmt,
            &[
                &text(&u.account_id),
                &text(&u.entity_id),
                &text(&u.action),
                &u.time_ms,
                &text(&u.region),
            ],
        )
        .await
        .map_err(pg_error)?;
    }
    tx.execute(
        "DELETE FROM access_activity WHERE time_ms < $1",
        &[&before_ms],
    )
    .await
    .map_err(pg_error)?;
    Ok(())
}

/// Every stored attempt.
pub(crate) async fn all(client: &impl GenericClient) -> Result<Vec<ActionUse>, StoreError> {
    let rows = client
        .query(
            "SELECT account_id, entity_id, action, time_ms, region FROM access_activity
             ORDER BY account_id, entity_id, action",
            &[],
        )
        .await
        .map_err(pg_error)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(ActionUse {
            account_id: row.try_get(0).map_err(pg_error)?,
            entity_id: row.try_get(1).map_err(pg_error)?,
            action: row.try_get(2).map_err(pg_error)?,
            time_ms: row.try_get(3).map_err(pg_error)?,
            region: row.try_get(4).map_err(pg_error)?,
        });
    }
    Ok(out)
}

/// The stored attempts of `entity_ids` in `account_id`.
pub(crate) async fn of(
    client: &impl GenericClient,
    account_id: &str,
    entity_ids: &[String],
) -> Result<Vec<ActionUse>, StoreError> {
    let rows = client
        .query(
            "SELECT entity_id, action, time_ms, region FROM access_activity
             WHERE account_id = $1 AND entity_id = ANY($2)",
            &[&account_id, &entity_ids],
        )
        .await
        .map_err(pg_error)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(ActionUse {
            account_id: account_id.to_owned(),
            entity_id: row.try_get(0).map_err(pg_error)?,
            action: row.try_get(1).map_err(pg_error)?,
            time_ms: row.try_get(2).map_err(pg_error)?,
            region: row.try_get(3).map_err(pg_error)?,
        });
    }
    Ok(out)
}
