//! The PostgreSQL store: the [`Store`] of the embedded SQLite store, table for table, on a
//! PostgreSQL database that several Portcullis nodes share.
//!
//! The service calls its store from blocking threads (a request's thread, the trail's writer,
//! start-up) and never from inside a future, so the trait stays synchronous; this store keeps
//! a small tokio runtime of its own, where tokio-postgres and the deadpool pool run, and each
//! call waits for its task there. A call therefore works from any thread, inside another
//! runtime or not.

mod access;
mod audit;
mod entities;
mod feed;
mod import;
mod schema;
mod shared;

use std::future::Future;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Timeouts};
use portcullis_iam::access_advisor::ActionUse;
use portcullis_iam::audit::{AuditQuery, AuditRow, ChainLink, StoredEvent};
use portcullis_iam::store::{CatchUp, Change, Cluster, Row, Store, StoreError, Table, TrailStart};
use tokio_postgres::NoTls;

pub use import::ImportReport;

/// Connections a node keeps open at most.
const POOL_SIZE: usize = 16;
/// How long a call waits for a connection, or for one to be made, before it fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The error of a PostgreSQL call, with the server's message when it sent one.
pub(crate) fn pg_error(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) => StoreError(format!("postgres: {} ({})", db.message(), db.code().code())),
        None => StoreError(format!("postgres: {e}")),
    }
}

fn pool_error(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => pg_error(e),
        other => StoreError(format!("postgres: {other}")),
    }
}

/// A store on a PostgreSQL database.
pub struct PostgresStore {
    /// `Some` until dropped (a runtime is shut down in the background, which is allowed
    /// wherever the store is dropped).
    runtime: Option<tokio::runtime::Runtime>,
    pool: Pool,
    feed: std::sync::Arc<feed::Feed>,
}

impl PostgresStore {
    /// Connects to the database `url` (`postgres://user[:password]@host[:port]/db`, or
    /// libpq's `key=value` form) and brings its schema up to date.
    pub fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError(format!("the PostgreSQL URL is not valid: {e}")))?;
        // Every statement is a short OLTP one: JIT compilation only adds latency (tens of
        // milliseconds where the planner misjudges a small table), so it is off for the
        // store's sessions, after whatever options the URL gives.
        let options = match config.get_options() {
            Some(given) => format!("{given} -c jit=off"),
            None => "-c jit=off".to_owned(),
        };
        config.options(&options);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("portcullis-postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError(format!("cannot start the PostgreSQL runtime: {e}")))?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .timeouts(Timeouts {
                wait: Some(CONNECT_TIMEOUT),
                create: Some(CONNECT_TIMEOUT),
                recycle: Some(CONNECT_TIMEOUT),
            })
            .build()
            .map_err(|e| StoreError(format!("postgres: {e}")))?;
        let feed = std::sync::Arc::new(feed::Feed::new());
        let store = PostgresStore {
            runtime: Some(runtime),
            pool,
            feed,
        };
        store.run(|pool| async move {
            let mut client = pool.get().await.map_err(pool_error)?;
            schema::migrate(&mut client).await
        })?;
        if let Some(runtime) = &store.runtime {
            runtime.spawn(feed::listen(config, store.feed.signal.clone()));
        }
        Ok(store)
    }

    /// Copies the whole of `source` (another store: every row, meta value, audit event as
    /// stored, digest and last-accessed attempt) into this database, which must hold
    /// nothing yet, in one transaction.
    pub fn import(&self, source: &(dyn Store + Sync)) -> Result<ImportReport, StoreError> {
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| StoreError("the PostgreSQL store is closed".into()))?;
        // The source is read from the store's runtime, so this waits here (the source is
        // borrowed, not moved).
        runtime.block_on(async {
            let mut client = self.pool.get().await.map_err(pool_error)?;
            import::import(&mut client, source).await
        })
    }

    /// Runs `task` (given the pool) on the store's runtime and waits for its answer.
    fn run<T, F, Fut>(&self, task: F) -> Result<T, StoreError>
    where
        F: FnOnce(Pool) -> Fut,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
        T: Send + 'static,
    {
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| StoreError("the PostgreSQL store is closed".into()))?;
        let future = task(self.pool.clone());
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let _ = tx.send(future.await);
        });
        rx.recv()
            .map_err(|_| StoreError("a PostgreSQL task ended without an answer".into()))?
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Cluster for PostgresStore {
    fn lock_writes(&self) -> Result<CatchUp, StoreError> {
        let feed = self.feed.clone();
        self.run(|pool| async move {
            let mut writer = feed.writer.lock().await;
            if writer.as_ref().is_none_or(|c| c.is_closed()) {
                *writer = Some(pool.get().await.map_err(pool_error)?);
            }
            let Some(client) = writer.as_mut() else {
                return Err(StoreError("the writer's connection is gone".into()));
            };
            if let Err(e) = client
                .execute("SELECT pg_advisory_lock($1)", &[&feed::WRITE_LOCK])
                .await
            {
                if let Some(client) = writer.take() {
                    drop(deadpool_postgres::Object::take(client));
                }
                return Err(pg_error(e));
            }
            feed.locked
                .store(true, std::sync::atomic::Ordering::Release);
            Ok(())
        })?;
        self.catch_up()
    }

    fn unlock_writes(&self) {
        let feed = self.feed.clone();
        let unlocked = self.run(|_| async move {
            feed.locked
                .store(false, std::sync::atomic::Ordering::Release);
            let mut writer = feed.writer.lock().await;
            if let Some(client) = writer.as_ref() {
                let released = client
                    .query_one("SELECT pg_advisory_unlock($1)", &[&feed::WRITE_LOCK])
                    .await
                    .and_then(|r| r.try_get::<_, bool>(0));
                if !matches!(released, Ok(true)) {
                    // Not released (or not sure): the connection goes, and the lock with it.
                    if let Some(client) = writer.take() {
                        drop(deadpool_postgres::Object::take(client));
                    }
                }
            }
            Ok(())
        });
        if let Err(e) = unlocked {
            tracing::warn!(error = %e, "the cluster's write lock was not released cleanly");
        }
    }

    fn catch_up(&self) -> Result<CatchUp, StoreError> {
        let applied = self.feed.applied();
        let (caught_up, head) = self.run(|pool| async move {
            let mut client = pool.get().await.map_err(pool_error)?;
            feed::read_since(&mut client, applied).await
        })?;
        self.feed.set_applied(head);
        Ok(caught_up)
    }

    fn mfa_state(
        &self,
        device: &str,
        now_ms: i64,
        max: u32,
        lockout_ms: i64,
    ) -> Result<(u32, bool), StoreError> {
        let device = device.to_owned();
        self.run(|pool| async move {
            let client = pool.get().await.map_err(pool_error)?;
            shared::mfa_state(&client, &device, now_ms, max, lockout_ms).await
        })
    }

    fn mfa_result(
        &self,
        device: &str,
        failed: bool,
        now_ms: i64,
        max: u32,
        lockout_ms: i64,
    ) -> Result<(), StoreError> {
        let device = device.to_owned();
        self.run(|pool| async move {
            let client = pool.get().await.map_err(pool_error)?;
            shared::mfa_result(&client, &device, failed, now_ms, max, lockout_ms).await
        })
    }

    fn password_check(&self, user: &str, now_ms: i64, window_ms: i64) -> Result<u32, StoreError> {
        let user = user.to_owned();
        self.run(|pool| async move {
            let client = pool.get().await.map_err(pool_error)?;
            shared::password_check(&client, &user, now_ms, window_ms).await
        })
    }

    fn redeem_once(
        &self,
        scope: &str,
        key: &str,
        until_ms: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let scope = scope.to_owned();
        let key = key.to_owned();
        self.run(|pool| async move {
            let client = pool.get().await.map_err(pool_error)?;
            shared::redeem_once(&client, &scope, &key, until_ms, now_ms).await
        })
    }

    fn wait_for_changes(&self, timeout: Duration) {
        self.feed.wait(timeout);
    }

    fn lagging(&self) -> Option<String> {
        self.feed.lagging()
    }
}

impl Store for PostgresStore {
    fn cluster(&self) -> Option<&dyn Cluster> {
        Some(self)
    }

    fn chains_events(&self) -> bool {
        true
    }

    fn load(&self) -> Result<Vec<Row>, StoreError> {
        let (rows, head) = self.run(|pool| async move {
            let mut client = pool.get().await.map_err(pool_error)?;
            entities::load(&mut client).await
        })?;
        self.feed.set_applied(head);
        Ok(rows)
    }

    fn commit_recorded(&self, changes: &[Change], events: &[AuditRow]) -> Result<(), StoreError> {
        let changes = changes.to_vec();
        let events = events.to_vec();
        let entities = changes.iter().any(|c| c.table != Table::Meta);
        if !entities {
            // Meta values and audit events are not the state the nodes follow: any
            // connection, no write lock.
            return self.run(|pool| async move {
                let mut client = pool.get().await.map_err(pool_error)?;
                let tx = client.transaction().await.map_err(pg_error)?;
                entities::apply(&tx, &changes).await?;
                audit::append_chained(&tx, &events).await?;
                tx.commit().await.map_err(pg_error)
            });
        }
        if !feed::holds(&self.feed.locked) {
            return Err(StoreError(
                "a change was committed without the cluster's write lock".into(),
            ));
        }
        let feed = self.feed.clone();
        let sequence = self.run(|_| async move {
            let mut writer = feed.writer.lock().await;
            let Some(client) = writer.as_mut() else {
                return Err(StoreError("the writer's connection is gone".into()));
            };
            let committed = async {
                let tx = client.transaction().await.map_err(pg_error)?;
                entities::apply(&tx, &changes).await?;
                let sequence = feed::append(&tx, &changes).await?;
                audit::append_chained(&tx, &events).await?;
                tx.commit().await.map_err(pg_error)?;
                Ok(sequence)
            }
            .await;
            if committed.is_err() {
                // Closed rather than returned to the pool: the lock ends with it.
                if let Some(client) = writer.take() {
                    drop(deadpool_postgres::Object::take(client));
                }
            }
            committed
        })?;
        self.feed.set_applied(sequence);
        Ok(())
    }

    fn meta_all(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.run(|pool| async move {
            let client = pool.get().await.map_err(pool_error)?;
            entities::meta_all(&client).await
        })
    }

    fn audit_rows(&self, from_sequence: u64, limit: usize) -> Result<Vec<AuditRow>, StoreError> {
        self.run(|pool| async move {
            let client = pool.get().await.map_err(pool_error)?;
            audit::rows(&client, from_sequence, limit).await
        })
    }

    fn access_all(&self) -> Result<Vec<ActionUse>, StoreError> {
        self.run(|pool| async move {
            let client = pool.get().await.map_err(pool_error)?;
            access::all(&client).await
        })
    }

    fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        let key = key.to_owned();
        self.run(|pool| async move {
            let client = pool.get().await.map_err(pool_error)?;
            entities::meta(&client, &key).await
        })
    }

    fn audit_head(&self) -> Result<Option<(u64, [u8; 32])>, StoreError> {
        self.run(|pool| async move {
            let client = pool.get().await.map_err(pool_error)?;
            audit::head(&client).await
        })
    }

    fn audit_start(&self) -> Result<TrailStart, StoreError> {
        self.run(|pool| async move {
            let client = pool.get().await.map_err(pool_error)?;
            audit::start(&client).await
        })
    }

    fn audit_links(&self, from_sequence: u64, limit: usize) -> Result<Vec<ChainLink>, StoreError> {
        self.run(|pool| async move {
            let client = pool.get().await.map_err(pool_error)?;
            audit::links(&client, from_sequence, limit).await
        })
    }

    fn audit_lookup(&self, query: &AuditQuery) -> Result<Vec<StoredEvent>, StoreError> {
        let query = query.clone();
        self.run(|pool| async move {
            let client = pool.get().await.map_err(pool_error)?;
            audit::lookup(&client, &query).await
        })
    }

    fn audit_prune(&self, before_ms: i64) -> Result<usize, StoreError> {
        self.run(|pool| async move {
            let mut client = pool.get().await.map_err(pool_error)?;
            let tx = client.transaction().await.map_err(pg_error)?;
            let n = audit::prune(&tx, before_ms).await?;
            tx.commit().await.map_err(pg_error)?;
            Ok(n)
        })
    }

    fn audit_put_digest(&self, sequence: u64, digest: &str) -> Result<(), StoreError> {
        let digest = digest.to_owned();
        self.run(|pool| async move {
            let client = pool.get().await.map_err(pool_error)?;
            audit::put_digest(&client, sequence, &digest).await
        })
    }

    fn audit_digests(&self) -> Result<Vec<(u64, String)>, StoreError> {
        self.run(|pool| async move {
            let client = pool.get().await.map_err(pool_error)?;
            audit::digests(&client).await
        })
    }

    fn record_access(&self, uses: &[ActionUse], before_ms: i64) -> Result<(), StoreError> {
        let uses = uses.to_vec();
        self.run(|pool| async move {
            let mut client = pool.get().await.map_err(pool_error)?;
            let tx = client.transaction().await.map_err(pg_error)?;
            access::record(&tx, &uses, before_ms).await?;
            tx.commit().await.map_err(pg_error)
        })
    }

    fn access_of(
        &self,
        account_id: &str,
        entity_ids: &[&str],
    ) -> Result<Vec<ActionUse>, StoreError> {
        let account_id = account_id.to_owned();
        let entity_ids: Vec<String> = entity_ids.iter().map(|s| (*s).to_owned()).collect();
        self.run(|pool| async move {
            let client = pool.get().await.map_err(pool_error)?;
            access::of(&client, &account_id, &entity_ids).await
        })
    }
}

/// `s` as PostgreSQL's `text` takes it: the one character it cannot hold, NUL, becomes
/// U+FFFD. Only the searchable columns beside a record need this (an unknown action's name
/// as the client sent it, say); the records themselves are JSON, where NUL is escaped.
pub(crate) fn text(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('\0') {
        std::borrow::Cow::Owned(s.replace('\0', "\u{fffd}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// An `i64` column as a `u64` (sequences are never negative).
pub(crate) fn unsigned(n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError(format!("a stored sequence is negative: {n}")))
}

/// A `u64` as the `BIGINT` it is stored as.
pub(crate) fn signed(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError(format!("a sequence is out of range: {n}")))
}

#[cfg(feature = "testing")]
pub mod testing;
