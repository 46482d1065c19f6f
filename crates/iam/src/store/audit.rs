//! The audit trail's tables in SQLite: `audit_events` (one row per chained event, with the
//! columns LookupEvents searches) and `audit_digests` (the signed digests). Where a pruned
//! trail begins is a [`super::Table::Meta`] value, written in the pruning's transaction.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{StoreError, TrailStart};
use crate::audit::{AuditQuery, AuditRow, ChainLink, EventIndex, LookupKey, StoredEvent};

use super::{START_KEY, hash_of};

pub(super) fn append(tx: &Transaction<'_>, events: &[AuditRow]) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let mut stmt = tx.prepare_cached(
        "INSERT INTO audit_events (sequence, hash, account_id, time_ms, event_id, event_name,
            event_source, username, access_key_id, read_only, resources, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    for row in events {
        let i = &row.index;
        let body = std::str::from_utf8(&row.link.body)
            .map_err(|_| StoreError("an audit event is not UTF-8 JSON".into()))?;
        stmt.execute(params![
            row.link.sequence as i64,
            &row.link.hash[..],
            i.account_id,
            i.time_ms,
            i.event_id,
            i.event_name,
            i.event_source,
            i.username,
            i.access_key_id,
            i.read_only,
            i.resources_text(),
            body,
        ])?;
    }
    Ok(())
}

pub(super) fn head(conn: &Connection) -> Result<Option<(u64, [u8; 32])>, StoreError> {
    let row = conn
        .query_row(
            "SELECT sequence, hash FROM audit_events ORDER BY sequence DESC LIMIT 1",
            [],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)),
        )
        .optional()?;
    match row {
        Some((seq, hash)) => Ok(Some((seq as u64, hash_of(hash)?))),
        None => {
            // A trail pruned of every event continues from where it was cut.
            let (first, previous) = start(conn)?;
            Ok((first > 1).then(|| (first - 1, previous)))
        }
    }
}

pub(super) fn start(conn: &Connection) -> Result<TrailStart, StoreError> {
    let value: Option<String> = conn
        .query_row(
            "SELECT data FROM meta WHERE account_id = '' AND key = ?1",
            params![START_KEY],
            |r| r.get(0),
        )
        .optional()?;
    super::parse_trail_start(value.as_deref())
}

pub(super) fn links(
    conn: &Connection,
    from_sequence: u64,
    limit: usize,
) -> Result<Vec<ChainLink>, StoreError> {
    // Stored order is rowid order, which is the sequence: a row inserted with another
    // sequence shows up where its sequence puts it, and the chain names it.
    Ok(rows(conn, from_sequence, limit)?
        .into_iter()
        .map(|r| r.link)
        .collect())
}

pub(super) fn rows(
    conn: &Connection,
    from_sequence: u64,
    limit: usize,
) -> Result<Vec<AuditRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT sequence, hash, body, account_id, time_ms, event_id, event_name, event_source,
                username, access_key_id, read_only, resources
         FROM audit_events WHERE sequence >= ?1 ORDER BY sequence LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![from_sequence as i64, limit as i64], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, Vec<u8>>(1)?,
            r.get::<_, String>(2)?,
            EventIndex {
                account_id: r.get(3)?,
                time_ms: r.get(4)?,
                event_id: r.get(5)?,
                event_name: r.get(6)?,
                event_source: r.get(7)?,
                username: r.get(8)?,
                access_key_id: r.get(9)?,
                read_only: r.get(10)?,
                resources: EventIndex::resources_from_text(&r.get::<_, String>(11)?),
            },
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (sequence, hash, body, index) = row?;
        out.push(AuditRow {
            link: ChainLink {
                sequence: sequence as u64,
                hash: hash_of(hash)?,
                body: body.into_bytes(),
            },
            index,
        });
    }
    Ok(out)
}

pub(super) fn lookup(conn: &Connection, q: &AuditQuery) -> Result<Vec<StoredEvent>, StoreError> {
    let mut sql = String::from(
        "SELECT sequence, time_ms, body FROM audit_events WHERE account_id = ?1
           AND time_ms >= ?2 AND time_ms <= ?3 AND sequence < ?4",
    );
    let mut value = String::new();
    if let Some((key, v)) = &q.lookup {
        value = v.clone();
        sql.push_str(match key {
            LookupKey::EventId => " AND event_id = ?5",
            LookupKey::EventName => " AND event_name = ?5",
            LookupKey::ReadOnly => " AND read_only = (lower(?5) = 'true')",
            LookupKey::Username => " AND username = ?5",
            LookupKey::EventSource => " AND event_source = ?5",
            LookupKey::AccessKeyId => " AND access_key_id = ?5",
            LookupKey::ResourceType => " AND instr(resources, char(9) || ?5 || char(31)) > 0",
            LookupKey::ResourceName => " AND instr(resources, char(31) || ?5 || char(9)) > 0",
        });
    } else {
        sql.push_str(" AND ?5 = ''");
    }
    sql.push_str(" ORDER BY sequence DESC LIMIT ?6");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![
            q.account_id,
            q.start_ms.unwrap_or(i64::MIN),
            q.end_ms.unwrap_or(i64::MAX),
            q.before_sequence.map_or(i64::MAX, |s| s as i64),
            value,
            q.limit as i64,
        ],
        |r| {
            Ok(StoredEvent {
                sequence: r.get::<_, i64>(0)? as u64,
                time_ms: r.get(1)?,
                body: r.get(2)?,
            })
        },
    )?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn prune(tx: &Transaction<'_>, before_ms: i64) -> Result<usize, StoreError> {
    // The newest event to go: the kept trail starts after it, with its hash as predecessor.
    let last_gone = tx
        .query_row(
            "SELECT sequence, hash FROM audit_events WHERE time_ms < ?1
             ORDER BY sequence DESC LIMIT 1",
            params![before_ms],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)),
        )
        .optional()?;
    let Some((seq, hash)) = last_gone else {
        return Ok(0);
    };
    let hash = hash_of(hash)?;
    let n = tx.execute(
        "DELETE FROM audit_events WHERE sequence <= ?1",
        params![seq],
    )?;
    tx.execute(
        "DELETE FROM audit_digests WHERE sequence <= ?1",
        params![seq],
    )?;
    tx.execute(
        "INSERT INTO meta (account_id, key, data) VALUES ('', ?1, ?2)
         ON CONFLICT (account_id, key) DO UPDATE SET data = excluded.data",
        params![START_KEY, super::trail_start_value(seq as u64 + 1, &hash)],
    )?;
    Ok(n)
}

pub(super) fn digests(conn: &Connection) -> Result<Vec<(u64, String)>, StoreError> {
    let mut stmt = conn.prepare("SELECT sequence, data FROM audit_digests ORDER BY sequence")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
