//! The entity tables and `meta`: one `(account_id, key, data)` row per entity, as in SQLite.

use deadpool_postgres::{Client, GenericClient, Transaction};
use portcullis_iam::store::{Change, Row, StoreError, Table};

use crate::pg_error;

/// Every row of every entity table, read in one snapshot of the database, with the number
/// of the last commit that snapshot includes.
pub(crate) async fn load(client: &mut Client) -> Result<(Vec<Row>, u64), StoreError> {
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(pg_error)?;
    let loaded = load_in(&tx).await?;
    tx.commit().await.map_err(pg_error)?;
    Ok(loaded)
}

/// [`load`] inside the transaction `tx`.
pub(crate) async fn load_in(tx: &Transaction<'_>) -> Result<(Vec<Row>, u64), StoreError> {
    let mut rows = Vec::new();
    for table in Table::ALL {
        let found = tx
            .query(
                &format!(
                    "SELECT account_id, key, data FROM {} ORDER BY account_id, key",
                    table.name()
                ),
                &[],
            )
            .await
            .map_err(pg_error)?;
        for row in found {
            rows.push(Row {
                table,
                account_id: row.try_get(0).map_err(pg_error)?,
                key: row.try_get(1).map_err(pg_error)?,
                data: row.try_get(2).map_err(pg_error)?,
            });
        }
    }
    let head = crate::feed::head(tx).await?;
    Ok((rows, head))
}

/// Upserts and deletes `changes` in `tx`.
pub(crate) async fn apply(tx: &Transaction<'_>, changes: &[Change]) -> Result<(), StoreError> {
    for change in changes {
        let table = change.table.name();
        match &change.data {
            // A meta value, once written, is kept: nodes starting together agree on the
            // first one stored (the trail's signing key).
            Some(data) if change.table == Table::Meta => {
                let stmt = tx
                    .prepare_cached(
                        "INSERT INTO meta (account_id, key, data) VALUES ($1, $2, $3)
                         ON CONFLICT (account_id, key) DO NOTHING",
                    )
                    .await
                    .map_err(pg_error)?;
                tx.execute(&stmt, &[&change.account_id, &change.key, data])
                    .await
                    .map_err(pg_error)?;
            }
            Some(data) => {
                let stmt = tx
                    .prepare_cached(&format!(
                        "INSERT INTO {table} (account_id, key, data) VALUES ($1, $2, $3)
                         ON CONFLICT (account_id, key) DO UPDATE SET data = excluded.data"
                    ))
                    .await
                    .map_err(pg_error)?;
                tx.execute(&stmt, &[&change.account_id, &change.key, data])
                    .await
                    .map_err(pg_error)?;
            }
            None => {
                let stmt = tx
                    .prepare_cached(&format!(
                        "DELETE FROM {table} WHERE account_id = $1 AND key = $2"
                    ))
                    .await
                    .map_err(pg_error)?;
                tx.execute(&stmt, &[&change.account_id, &change.key])
                    .await
                    .map_err(pg_error)?;
            }
        }
    }
    Ok(())
}

/// Every [`Table::Meta`] value.
pub(crate) async fn meta_all(
    client: &impl GenericClient,
) -> Result<Vec<(String, String)>, StoreError> {
    let rows = client
        .query(
            "SELECT key, data FROM meta WHERE account_id = '' ORDER BY key",
            &[],
        )
        .await
        .map_err(pg_error)?;
    rows.into_iter()
        .map(|r| {
            Ok((
                r.try_get(0).map_err(pg_error)?,
                r.try_get(1).map_err(pg_error)?,
            ))
        })
        .collect()
}

/// A [`Table::Meta`] value.
pub(crate) async fn meta(
    client: &impl GenericClient,
    key: &str,
) -> Result<Option<String>, StoreError> {
    let row = client
        .query_opt(
            "SELECT data FROM meta WHERE account_id = '' AND key = $1",
            &[&key],
        )
        .await
        .map_err(pg_error)?;
    row.map(|r| r.try_get(0).map_err(pg_error)).transpose()
}
