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
mod schema;

use std::future::Future;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Timeouts};
use portcullis_iam::access_advisor::ActionUse;
use portcullis_iam::audit::{AuditQuery, AuditRow, ChainLink, StoredEvent};
use portcullis_iam::store::{Change, Row, Store, StoreError, TrailStart};
use tokio_postgres::NoTls;

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
}

impl PostgresStore {
    /// Connects to the database `url` (`postgres://user[:password]@host[:port]/db`, or
    /// libpq's `key=value` form) and brings its schema up to date.
    pub fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError(format!("the PostgreSQL URL is not valid: {e}")))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("portcullis-postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError(format!("cannot start the PostgreSQL runtime: {e}")))?;
        let manager = Manager::from_config(
            config,
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
        let store = PostgresStore {
            runtime: Some(runtime),
            pool,
        };
        store.run(|pool| async move {
            let mut client = pool.get().await.map_err(pool_error)?;
            schema::migrate(&mut client).await
        })?;
        Ok(store)
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

impl Store for PostgresStore {
    fn load(&self) -> Result<Vec<Row>, StoreError> {
        self.run(|pool| async move {
            let mut client = pool.get().await.map_err(pool_error)?;
            entities::load(&mut client).await
        })
    }

    fn commit_recorded(&self, changes: &[Change], events: &[AuditRow]) -> Result<(), StoreError> {
        let changes = changes.to_vec();
        let events = events.to_vec();
        self.run(|pool| async move {
            let mut client = pool.get().await.map_err(pool_error)?;
            let tx = client.transaction().await.map_err(pg_error)?;
            entities::apply(&tx, &changes).await?;
            audit::append(&tx, &events).await?;
            tx.commit().await.map_err(pg_error)
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
