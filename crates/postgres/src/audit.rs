//! The audit trail's tables, as in SQLite: `audit_events` (one row per chained event, with
//! the columns LookupEvents searches) and `audit_digests`; where a pruned trail begins is a
//! `meta` value written in the pruning's transaction.

use deadpool_postgres::{GenericClient, Transaction};
use portcullis_iam::audit::{
    AuditQuery, AuditRow, ChainLink, EventIndex, GENESIS, LookupKey, StoredEvent,
};
use portcullis_iam::store::{
    START_KEY, StoreError, TrailStart, hash_of, parse_trail_start, trail_start_value,
};
use tokio_postgres::types::ToSql;

use crate::{pg_error, signed, text, unsigned};

/// The advisory lock key of the trail's chain.
const CHAIN_LOCK: i64 = 0x706f_7274_0003;

/// Appends `events` after the stored head, linked again from it: the nodes sharing the
/// database write one chain, in the order their commits take the chain's lock (held to the
/// end of `tx`).
pub(crate) async fn append_chained(
    tx: &Transaction<'_>,
    events: &[AuditRow],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CHAIN_LOCK])
        .await
        .map_err(pg_error)?;
    let (mut sequence, mut previous) = head(tx).await?.unwrap_or((0, GENESIS));
    let mut linked = Vec::with_capacity(events.len());
    for row in events {
        sequence += 1;
        let link = ChainLink::new(sequence, &previous, row.link.body.clone());
        previous = link.hash;
        linked.push(AuditRow {
            link,
            index: row.index.clone(),
        });
    }
    append(tx, &linked).await
}

/// Appends `events` as they are (linked already).
pub(crate) async fn append(tx: &Transaction<'_>, events: &[AuditRow]) -> Result<(), StoreError> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO audit_events (sequence, hash, account_id, time_ms, event_id, event_name,
                event_source, username, access_key_id, read_only, resources, body)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .await
        .map_err(pg_error)?;
    for row in events {
        let i = &row.index;
        let body = std::str::from_utf8(&row.link.body)
            .map_err(|_| StoreError("an audit event is not UTF-8 JSON".into()))?;
        let sequence = signed(row.link.sequence)?;
        let hash = &row.link.hash[..];
        let resources = i.resources_text();
        let username = i.username.as_deref().map(text);
        let access_key_id = i.access_key_id.as_deref().map(text);
        tx.execute(
            &stmt,
            &[
                &sequence,
                &hash,
                &text(&i.account_id),
                &i.time_ms,
                &text(&i.event_id),
                &text(&i.event_name),
                &text(&i.event_source),
                &username,
                &access_key_id,
                &i.read_only,
                &text(&resources),
                &body,
            ],
        )
        .await
        .map_err(pg_error)?;
    }
    Ok(())
}

pub(crate) async fn head(
    client: &impl GenericClient,
) -> Result<Option<(u64, [u8; 32])>, StoreError> {
    let row = client
        .query_opt(
            "SELECT sequence, hash FROM audit_events ORDER BY sequence DESC LIMIT 1",
            &[],
        )
        .await
        .map_err(pg_error)?;
    match row {
        Some(row) => Ok(Some((
            unsigned(row.try_get(0).map_err(pg_error)?)?,
            hash_of(row.try_get(1).map_err(pg_error)?)?,
        ))),
        None => {
            // A trail pruned of every event continues from where it was cut.
            let (first, previous) = start(client).await?;
            Ok((first > 1).then(|| (first - 1, previous)))
        }
    }
}

pub(crate) async fn start(client: &impl GenericClient) -> Result<TrailStart, StoreError> {
    let value = crate::entities::meta(client, START_KEY).await?;
    parse_trail_start(value.as_deref())
}

pub(crate) async fn links(
    client: &impl GenericClient,
    from_sequence: u64,
    limit: usize,
) -> Result<Vec<ChainLink>, StoreError> {
    Ok(rows(client, from_sequence, limit)
        .await?
        .into_iter()
        .map(|r| r.link)
        .collect())
}

pub(crate) async fn rows(
    client: &impl GenericClient,
    from_sequence: u64,
    limit: usize,
) -> Result<Vec<AuditRow>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = client
        .query(
            "SELECT sequence, hash, body, account_id, time_ms, event_id, event_name,
                    event_source, username, access_key_id, read_only, resources
             FROM audit_events WHERE sequence >= $1 ORDER BY sequence LIMIT $2",
            &[&signed(from_sequence)?, &limit],
        )
        .await
        .map_err(pg_error)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let resources: String = row.try_get(11).map_err(pg_error)?;
        out.push(AuditRow {
            link: ChainLink {
                sequence: unsigned(row.try_get(0).map_err(pg_error)?)?,
                hash: hash_of(row.try_get(1).map_err(pg_error)?)?,
                body: row.try_get::<_, String>(2).map_err(pg_error)?.into_bytes(),
            },
            index: EventIndex {
                account_id: row.try_get(3).map_err(pg_error)?,
                time_ms: row.try_get(4).map_err(pg_error)?,
                event_id: row.try_get(5).map_err(pg_error)?,
                event_name: row.try_get(6).map_err(pg_error)?,
                event_source: row.try_get(7).map_err(pg_error)?,
                username: row.try_get(8).map_err(pg_error)?,
                access_key_id: row.try_get(9).map_err(pg_error)?,
                read_only: row.try_get(10).map_err(pg_error)?,
                resources: EventIndex::resources_from_text(&resources),
            },
        });
    }
    Ok(out)
}

pub(crate) async fn lookup(
    client: &impl GenericClient,
    q: &AuditQuery,
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut sql = String::from(
        "SELECT sequence, time_ms, body FROM audit_events WHERE account_id = $1
           AND time_ms >= $2 AND time_ms <= $3 AND sequence < $4",
    );
    let mut value = String::new();
    if let Some((key, v)) = &q.lookup {
        value = v.clone();
        sql.push_str(match key {
            LookupKey::EventId => " AND event_id = $5",
            LookupKey::EventName => " AND event_name = $5",
            LookupKey::ReadOnly => " AND read_only = (lower($5) = 'true')",
            LookupKey::Username => " AND username = $5",
            LookupKey::EventSource => " AND event_source = $5",
            LookupKey::AccessKeyId => " AND access_key_id = $5",
            LookupKey::ResourceType => " AND strpos(resources, chr(9) || $5 || chr(31)) > 0",
            LookupKey::ResourceName => " AND strpos(resources, chr(31) || $5 || chr(9)) > 0",
        });
    } else {
        sql.push_str(" AND $5::text = ''");
    }
    sql.push_str(" ORDER BY sequence DESC LIMIT $6");
    let start = q.start_ms.unwrap_or(i64::MIN);
    let end = q.end_ms.unwrap_or(i64::MAX);
    let before = match q.before_sequence {
        Some(s) => signed(s)?,
        None => i64::MAX,
    };
    let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
    let params: [&(dyn ToSql + Sync); 6] = [&q.account_id, &start, &end, &before, &value, &limit];
    let rows = client.query(&sql, &params).await.map_err(pg_error)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(StoredEvent {
            sequence: unsigned(row.try_get(0).map_err(pg_error)?)?,
            time_ms: row.try_get(1).map_err(pg_error)?,
            body: row.try_get(2).map_err(pg_error)?,
        });
    }
    Ok(out)
}

pub(crate) async fn prune(tx: &Transaction<'_>, before_ms: i64) -> Result<usize, StoreError> {
    // The newest event to go: the kept trail starts after it, with its hash as predecessor.
    let last_gone = tx
        .query_opt(
            "SELECT sequence, hash FROM audit_events WHERE time_ms < $1
             ORDER BY sequence DESC LIMIT 1",
            &[&before_ms],
        )
        .await
        .map_err(pg_error)?;
    let Some(row) = last_gone else {
        return Ok(0);
    };
    let seq: i64 = row.try_get(0).map_err(pg_error)?;
    let hash = hash_of(row.try_get(1).map_err(pg_error)?)?;
    let n = tx
        .execute("DELETE FROM audit_events WHERE sequence <= $1", &[&seq])
        .await
        .map_err(pg_error)?;
    tx.execute("DELETE FROM audit_digests WHERE sequence <= $1", &[&seq])
        .await
        .map_err(pg_error)?;
    let value = trail_start_value(unsigned(seq)? + 1, &hash);
    tx.execute(
        "INSERT INTO meta (account_id, key, data) VALUES ('', $1, $2)
         ON CONFLICT (account_id, key) DO UPDATE SET data = excluded.data",
        &[&START_KEY, &value],
    )
    .await
    .map_err(pg_error)?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

pub(crate) async fn put_digest(
    client: &impl GenericClient,
    sequence: u64,
    digest: &str,
) -> Result<(), StoreError> {
    client
        .execute(
            "INSERT INTO audit_digests (sequence, data) VALUES ($1, $2)
             ON CONFLICT (sequence) DO UPDATE SET data = excluded.data",
            &[&signed(sequence)?, &digest],
        )
        .await
        .map_err(pg_error)?;
    Ok(())
}

pub(crate) async fn digests(client: &impl GenericClient) -> Result<Vec<(u64, String)>, StoreError> {
    let rows = client
        .query(
            "SELECT sequence, data FROM audit_digests ORDER BY sequence",
            &[],
        )
        .await
        .map_err(pg_error)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push((
            unsigned(row.try_get(0).map_err(pg_error)?)?,
            row.try_get(1).map_err(pg_error)?,
        ));
    }
    Ok(out)
}
