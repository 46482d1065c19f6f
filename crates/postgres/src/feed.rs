//! The change feed that lets several nodes share one database (ARCHITECTURE.md, "Several
//! nodes on one PostgreSQL").
//!
//! - **The write lock**: a session advisory lock, taken on a connection of its own (the
//!   writer's) before a node computes a write and released after its commit, so writes of
//!   the whole cluster are serialized and each runs on a state caught up with every commit
//!   before it. A node that dies loses its connection and with it the lock.
//! - **The log**: each commit's rows go to `change_log` under one number from
//!   `change_sequence`, taken under the lock, so numbers follow commit order; the commit
//!   notifies `portcullis_changes` (delivered at commit).
//! - **Following**: a connection of its own LISTENs; on a notification (or a timeout, or a
//!   reconnection) the node reads the log after the last number it applied. A node further
//!   behind than the log reaches (pruned after [`LOG_KEPT_MS`]) reloads every row.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use deadpool_postgres::GenericClient;
use portcullis_iam::store::{CatchUp, Change, StoreError, Table};
use tokio_postgres::{AsyncMessage, NoTls};

use crate::{pg_error, signed, unsigned};

/// The advisory lock key of the cluster's writes.
pub(crate) const WRITE_LOCK: i64 = 0x706f_7274_0002;
/// The notification channel of commits.
pub(crate) const CHANNEL: &str = "portcullis_changes";
/// How long the log keeps a commit (a node behind by more reloads).
pub(crate) const LOG_KEPT_MS: i64 = 10 * 60 * 1000;
/// A node that has not caught up for this long says so in /healthz.
const STALE_AFTER: Duration = Duration::from_secs(5);

/// What the listener last knew.
struct Listening {
    /// Bumped by every (re)connection (notifications may have been missed).
    generation: u64,
    /// The generation the follower last woke for.
    seen: u64,
    /// The highest commit number notified (a node's own commits do not wake its follower).
    notified: u64,
    connected: bool,
    error: Option<String>,
}

/// The follower's side of the feed, shared with the listener task.
pub(crate) struct Signal {
    state: Mutex<Listening>,
    changed: Condvar,
}

impl Signal {
    fn notified(&self, sequence: u64) {
        if let Ok(mut s) = self.state.lock() {
            s.notified = s.notified.max(sequence);
        }
        self.changed.notify_all();
    }

    fn bump(&self, connected: bool, error: Option<String>) {
        if let Ok(mut s) = self.state.lock() {
            s.generation += 1;
            s.connected = connected;
            if error.is_some() || connected {
                s.error = error;
            }
        }
        self.changed.notify_all();
    }
}

/// The feed's state in a store.
pub(crate) struct Feed {
    /// The writer's connection (out of the pool's rotation while held), which holds the
    /// write lock while a write is made. Dropped out of the pool, closing it (and so ending
    /// the lock), whenever a call on it fails.
    pub(crate) writer: tokio::sync::Mutex<Option<deadpool_postgres::Client>>,
    pub(crate) locked: AtomicBool,
    /// The last commit number this node has applied.
    pub(crate) applied: Mutex<u64>,
    last_caught_up: Mutex<Instant>,
    pub(crate) signal: Arc<Signal>,
}

impl Feed {
    pub(crate) fn new() -> Feed {
        Feed {
            writer: tokio::sync::Mutex::new(None),
            locked: AtomicBool::new(false),
            applied: Mutex::new(0),
            last_caught_up: Mutex::new(Instant::now()),
            signal: Arc::new(Signal {
                state: Mutex::new(Listening {
                    generation: 0,
                    seen: 0,
                    notified: 0,
                    connected: false,
                    error: None,
                }),
                changed: Condvar::new(),
            }),
        }
    }

    pub(crate) fn applied(&self) -> u64 {
        self.applied.lock().map(|a| *a).unwrap_or(0)
    }

    pub(crate) fn set_applied(&self, n: u64) {
        if let Ok(mut a) = self.applied.lock() {
            *a = (*a).max(n);
        }
        if let Ok(mut t) = self.last_caught_up.lock() {
            *t = Instant::now();
        }
    }

    /// Waits until another node's commit is notified, or a reconnection, `timeout` at most.
    pub(crate) fn wait(&self, timeout: Duration) {
        let Ok(mut s) = self.signal.state.lock() else {
            return;
        };
        let deadline = Instant::now() + timeout;
        while s.generation == s.seen && s.notified <= self.applied() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match self.signal.changed.wait_timeout(s, left) {
                Ok((next, _)) => s = next,
                Err(_) => return,
            }
        }
        s.seen = s.generation;
    }

    /// Why this node may not be following now.
    pub(crate) fn lagging(&self) -> Option<String> {
        if let Ok(s) = self.signal.state.lock()
            && !s.connected
        {
            return Some(match &s.error {
                Some(e) => format!("the change feed is disconnected: {e}"),
                None => "the change feed is not connected yet".to_owned(),
            });
        }
        let since = self.last_caught_up.lock().map(|t| t.elapsed()).ok()?;
        (since > STALE_AFTER).then(|| {
            format!(
                "not caught up with the other nodes for {} s",
                since.as_secs()
            )
        })
    }
}

/// The listener: LISTENs on a connection of its own and wakes the follower on each
/// notification; reconnects (waking it too, as notifications may have been missed) when
/// the connection ends. Runs until the runtime stops.
pub(crate) async fn listen(config: tokio_postgres::Config, signal: Arc<Signal>) {
    loop {
        match config.connect(NoTls).await {
            Ok((client, mut connection)) => {
                let (done_tx, done_rx) = tokio::sync::oneshot::channel::<String>();
                let notified = signal.clone();
                tokio::spawn(async move {
                    let reason = loop {
                        match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                            Some(Ok(AsyncMessage::Notification(n))) => {
                                match n.payload().parse::<u64>() {
                                    Ok(sequence) => notified.notified(sequence),
                                    Err(_) => notified.bump(true, None),
                                }
                            }
                            Some(Ok(_)) => {}
                            Some(Err(e)) => break e.to_string(),
                            None => break "closed".to_owned(),
                        }
                    };
                    let _ = done_tx.send(reason);
                });
                match client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
                    Ok(()) => signal.bump(true, None),
                    Err(e) => signal.bump(false, Some(e.to_string())),
                }
                let reason = done_rx.await.unwrap_or_else(|_| "closed".to_owned());
                drop(client);
                signal.bump(false, Some(reason));
            }
            Err(e) => signal.bump(false, Some(e.to_string())),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What was committed after `applied`: the log's rows, or every row when the log no longer
/// reaches back that far; with the number now applied.
pub(crate) async fn read_since(
    client: &mut deadpool_postgres::Client,
    applied: u64,
) -> Result<(CatchUp, u64), StoreError> {
    // One round trip: how far the log was pruned (every row), and the commits after
    // `applied` (none: one row of NULLs).
    let found = client
        .query(
            "SELECT p.sequence, c.sequence, c.tbl, c.account_id, c.key, c.data
             FROM change_log_pruned p LEFT JOIN change_log c ON c.sequence > $1
             ORDER BY c.sequence, c.position",
            &[&signed(applied)?],
        )
        .await
        .map_err(pg_error)?;
    let pruned: i64 = match found.first() {
        Some(row) => row.try_get(0).map_err(pg_error)?,
        None => 0,
    };
    if unsigned(pruned)? > applied {
        let (rows, head) = crate::entities::load(client).await?;
        return Ok((CatchUp::Reload(rows), head));
    }
    let mut head = applied;
    let mut changes = Vec::with_capacity(found.len());
    for row in found {
        let Some(sequence) = row.try_get::<_, Option<i64>>(1).map_err(pg_error)? else {
            continue;
        };
        head = head.max(unsigned(sequence)?);
        let name: String = row.try_get(2).map_err(pg_error)?;
        let table = Table::from_name(&name)
            .ok_or_else(|| StoreError(format!("the change log names a table {name:?}")))?;
        changes.push(Change {
            table,
            account_id: row.try_get(3).map_err(pg_error)?,
            key: row.try_get(4).map_err(pg_error)?,
            data: row.try_get(5).map_err(pg_error)?,
        });
    }
    if changes.is_empty() {
        return Ok((CatchUp::Nothing, applied));
    }
    Ok((CatchUp::Changes(changes), head))
}

/// Appends `changes` to the log as one commit (its number returned) and notifies the
/// other nodes at commit; now and then prunes what every node has had time to read.
pub(crate) async fn append(
    tx: &tokio_postgres::Transaction<'_>,
    changes: &[Change],
) -> Result<u64, StoreError> {
    let sequence: i64 = tx
        .query_one("SELECT nextval('change_sequence')", &[])
        .await
        .map_err(pg_error)?
        .try_get(0)
        .map_err(pg_error)?;
    let now = now_ms();
    let stmt = tx
        .prepare(
            "INSERT INTO change_log (sequence, position, tbl, account_id, key, data, committed_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .await
        .map_err(pg_error)?;
    for (i, c) in changes.iter().enumerate() {
        let position = i32::try_from(i).unwrap_or(i32::MAX);
        tx.execute(
            &stmt,
            &[
                &sequence,
                &position,
                &c.table.name(),
                &c.account_id,
                &c.key,
                &c.data,
                &now,
            ],
        )
        .await
        .map_err(pg_error)?;
    }
    tx.execute(
        "SELECT pg_notify($1, $2)",
        &[&CHANNEL, &sequence.to_string()],
    )
    .await
    .map_err(pg_error)?;
    if sequence % 256 == 0 {
        tx.execute(
            "WITH gone AS (DELETE FROM change_log WHERE committed_ms < $1 RETURNING sequence)
             UPDATE change_log_pruned
                SET sequence = greatest(sequence, coalesce((SELECT max(sequence) FROM gone), 0))",
            &[&(now - LOG_KEPT_MS)],
        )
        .await
        .map_err(pg_error)?;
    }
    unsigned(sequence)
}

/// The highest commit number a snapshot of the rows includes (read in its transaction).
pub(crate) async fn head(client: &impl GenericClient) -> Result<u64, StoreError> {
    let n: i64 = client
        .query_one(
            "SELECT greatest(coalesce((SELECT max(sequence) FROM change_log), 0),
                             (SELECT sequence FROM change_log_pruned))",
            &[],
        )
        .await
        .map_err(pg_error)?
        .try_get(0)
        .map_err(pg_error)?;
    unsigned(n)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Whether `locked` says this node holds the write lock.
pub(crate) fn holds(locked: &AtomicBool) -> bool {
    locked.load(Ordering::Acquire)
}
