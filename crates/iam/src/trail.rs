//! The audit trail as it is written and checked: the chain's head (every event gets the next
//! sequence under one lock, so stored order is chain order), the writer thread that commits
//! the events without a change in batches (many requests, one transaction), the Ed25519
//! digests signed at intervals, and the verification of a stored trail. The record itself is
//! [`crate::audit`]; the SQL is [`crate::store`].

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use futures_channel::oneshot;

use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use crate::audit::{AuditEvent, AuditRow, ChainBreak, ChainLink, EventIndex, verify_chain};
use crate::seal::MasterKey;
use crate::store::{Change, Store, StoreError, Table};

/// The meta key of the sealed digest-signing key (PKCS#8, sealed with the master key).
const SIGNING_KEY: &str = "audit_signing_key";
const SIGNING_KEY_CONTEXT: &[u8] = b"portcullis-audit-digest-key-v1";
const DIGEST_DOMAIN: &str = "portcullis-audit-digest-v1";

/// How often digests are signed.
#[derive(Debug, Clone, Copy)]
pub struct TrailConfig {
    /// A digest after this many events at most.
    pub digest_every_events: u64,
    /// A digest when this long has passed since the last one and events were added.
    pub digest_interval: Duration,
    /// How long an event appended with [`Durability::Batched`] may wait for its commit:
    /// the bound on what a crash can lose (it loses no other event).
    pub batch_window: Duration,
    /// Every event durable before its request is answered, allowed reads included (they
    /// are [`Durability::Batched`] otherwise).
    pub durable_reads: bool,
}

impl Default for TrailConfig {
    fn default() -> TrailConfig {
        TrailConfig {
            digest_every_events: 1000,
            digest_interval: Duration::from_secs(60),
            batch_window: Duration::from_millis(BATCH_WINDOW_MS),
            durable_reads: false,
        }
    }
}

/// The default [`TrailConfig::batch_window`], in milliseconds.
pub const BATCH_WINDOW_MS: u64 = 5;

/// When an appended event must be durable. A change's event is always committed with the
/// change; of the events that record no change, only an allowed read may be batched (a
/// denial, a failed authentication or validation is durable before its answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Before the request is answered: its [`Recorded`] resolves once it is committed.
    BeforeAnswer,
    /// Within [`TrailConfig::batch_window`] of the answer, committed with the events around
    /// it (its [`Recorded`] resolves at once).
    Batched,
}

/// A signed statement that the trail up to `sequence` ends with `hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Digest {
    pub sequence: u64,
    /// Hex SHA-256 of the chain at `sequence`.
    pub hash: String,
    pub time_ms: i64,
    /// Base64 Ed25519 signature over [`Digest::signed_text`].
    pub signature: String,
}

impl Digest {
    fn signed_text(sequence: u64, hash: &str, time_ms: i64) -> String {
        format!("{DIGEST_DOMAIN}\n{sequence}\n{hash}\n{time_ms}")
    }
}

fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

struct Head {
    sequence: u64,
    hash: [u8; 32],
    since_digest: u64,
    last_digest: Instant,
}

/// An event serialized and indexed, ready to be chained (done by the request's own thread,
/// outside every lock).
pub struct Prepared {
    body: Vec<u8>,
    index: EventIndex,
}

impl Prepared {
    /// `event`, recorded at `time_ms`.
    pub fn new(event: &AuditEvent, time_ms: i64) -> Result<Prepared, StoreError> {
        // Most events are 1-2 KiB: one allocation instead of a growing buffer.
        let mut body = Vec::with_capacity(2048);
        serde_json::to_writer(&mut body, event)
            .map_err(|e| StoreError(format!("an audit event does not serialize: {e}")))?;
        Ok(Prepared {
            body,
            index: EventIndex::of(event, time_ms),
        })
    }
}

/// The most events the writer commits in one transaction.
const MAX_BATCH: usize = 1024;

/// What the writer thread is given.
enum Queued {
    /// An event, and whom to tell once it is durable (no one for a batched one).
    Event(Prepared, Option<oneshot::Sender<Result<(), String>>>),
    /// Commit what is queued now, then say so.
    Flush(mpsc::SyncSender<()>),
}

impl Queued {
    /// Whether the writer must commit without waiting out the batch window.
    fn urgent(&self) -> bool {
        !matches!(self, Queued::Event(_, None))
    }
}

/// The writer's queue. A batched event does not wake the writer while it waits out a
/// window (only the first event of a batch, or one someone waits for, does), so a busy
/// trail costs one wake-up per batch, not per event.
#[derive(Default)]
struct Inbox {
    state: Mutex<Pending>,
    arrived: Condvar,
}

#[derive(Default)]
struct Pending {
    queued: Vec<Queued>,
    /// When the first of `queued` arrived.
    since: Option<Instant>,
    /// Something queued must be committed now.
    urgent: bool,
    /// The writer waits for a first event.
    idle: bool,
    closed: bool,
}

impl Inbox {
    /// Queues `item`; `false` once the inbox is closed.
    fn send(&self, item: Queued) -> bool {
        let Ok(mut pending) = self.state.lock() else {
            return false;
        };
        if pending.closed {
            return false;
        }
        let urgent = item.urgent();
        let wake = pending.idle || (urgent && !pending.urgent);
        pending.urgent |= urgent;
        if pending.queued.is_empty() {
            pending.since = Some(Instant::now());
        }
        pending.queued.push(item);
        drop(pending);
        if wake {
            self.arrived.notify_one();
        }
        true
    }

    fn close(&self) {
        if let Ok(mut pending) = self.state.lock() {
            pending.closed = true;
        }
        self.arrived.notify_one();
    }

    /// The next batch: waits for a first event, then until `window` has passed since it
    /// was queued, something urgent is queued, `MAX_BATCH` are, or the inbox closes. `None`
    /// once closed and empty.
    fn next_batch(&self, window: Duration) -> Option<Vec<Queued>> {
        let mut pending = self.state.lock().ok()?;
        while pending.queued.is_empty() && !pending.closed {
            pending.idle = true;
            pending = self.arrived.wait(pending).ok()?;
        }
        pending.idle = false;
        if pending.queued.is_empty() {
            return None;
        }
        let deadline = pending.since.unwrap_or_else(Instant::now) + window;
        while !pending.urgent && !pending.closed && pending.queued.len() < MAX_BATCH {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            pending = self.arrived.wait_timeout(pending, left).ok()?.0;
        }
        pending.urgent = false;
        pending.since = None;
        Some(std::mem::take(&mut pending.queued))
    }
}

/// What the writer thread and the requests share.
struct Chain {
    store: Arc<dyn Store>,
    head: Mutex<Head>,
    /// The last commit failed: until one succeeds, no event is batched (a store that
    /// refuses writes refuses the reads it cannot record, after one batch window at most).
    failing: AtomicBool,
    signer: Ed25519KeyPair,
    config: TrailConfig,
}

/// The writer of one store's trail.
pub struct Trail {
    chain: Arc<Chain>,
    /// The writer thread's queue of events without a change (closed on drop, which ends
    /// the thread once it has written what was queued).
    inbox: Arc<Inbox>,
    writer: Option<JoinHandle<()>>,
}

fn poisoned() -> StoreError {
    StoreError("the audit trail's lock is poisoned".into())
}

/// An appended event's durability: resolves once the event is committed (or could not be).
/// A request that changed nothing is answered only after it resolves, so no answered request
/// is missing from the trail; waiting for it holds no thread.
pub struct Recorded(Option<oneshot::Receiver<Result<(), String>>>);

impl Recorded {
    /// Already durable (the event was committed with the request's change, or there was
    /// none to record).
    pub fn done() -> Recorded {
        Recorded(None)
    }
}

impl Future for Recorded {
    type Output = Result<(), StoreError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.0 {
            None => Poll::Ready(Ok(())),
            Some(receiver) => match Pin::new(receiver).poll(cx) {
                Poll::Ready(Ok(result)) => Poll::Ready(result.map_err(StoreError)),
                Poll::Ready(Err(oneshot::Canceled)) => Poll::Ready(Err(StoreError(
                    "the audit writer stopped before the event was stored".into(),
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl Trail {
    /// Opens the trail of `store`: its head, its signing key (made and sealed at first use),
    /// and the writer thread that commits events without a change in batches.
    pub fn open(
        store: Arc<dyn Store>,
        master_key: &MasterKey,
        config: TrailConfig,
    ) -> Result<Trail, StoreError> {
        let signer = signing_key(&*store, master_key)?;
        let (sequence, hash) = store.audit_head()?.unwrap_or((0, crate::audit::GENESIS));
        let chain = Arc::new(Chain {
            store,
            head: Mutex::new(Head {
                sequence,
                hash,
                since_digest: 0,
                last_digest: Instant::now(),
            }),
            failing: AtomicBool::new(false),
            signer,
            config,
        });
        let inbox = Arc::new(Inbox::default());
        let writer = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn({
                let (chain, inbox) = (chain.clone(), inbox.clone());
                move || chain.write(&inbox)
            })
            .map_err(|e| StoreError(format!("the audit writer thread did not start: {e}")))?;
        Ok(Trail {
            chain,
            inbox,
            writer: Some(writer),
        })
    }

    /// The public key digests are signed with (raw 32 bytes).
    pub fn public_key(&self) -> Vec<u8> {
        self.chain.signer.public_key().as_ref().to_vec()
    }

    /// Chains `events` after the head and runs `commit` with them while no other event can
    /// be chained, so the stored order is the chain's. The head moves only if `commit`
    /// succeeds. Signs a digest when one is due.
    pub fn chain(
        &self,
        events: impl IntoIterator<Item = Prepared>,
        commit: impl FnOnce(&dyn Store, &[AuditRow]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.chain.chain(events, commit)
    }

    /// Commits what is queued and signs a digest of the head now, if events were added
    /// since the last one.
    pub fn sign_now(&self) -> Result<(), StoreError> {
        self.flush()?;
        let mut head = self.chain.head.lock().map_err(|_| poisoned())?;
        if head.since_digest > 0 {
            self.chain.sign_head(&mut head)?;
        }
        Ok(())
    }

    /// When `event`, which records no change, must be durable.
    pub fn durability_of(&self, event: &AuditEvent) -> Durability {
        let batched = event.read_only
            && event.error_code.is_none()
            && !self.chain.config.durable_reads
            && !self.chain.failing.load(Ordering::Relaxed);
        if batched {
            Durability::Batched
        } else {
            Durability::BeforeAnswer
        }
    }

    /// Appends an event that records no change: the writer thread commits it with the
    /// others queued meanwhile (one transaction for all). With [`Durability::BeforeAnswer`]
    /// the returned [`Recorded`] resolves once it is durable (and the writer commits at
    /// once); a batched event waits at most [`TrailConfig::batch_window`] for its commit.
    pub fn append(&self, event: Prepared, durability: Durability) -> Recorded {
        let (durable, receiver) = match durability {
            Durability::BeforeAnswer => {
                let (sender, receiver) = oneshot::channel();
                (Some(sender), Recorded(Some(receiver)))
            }
            Durability::Batched => (None, Recorded::done()),
        };
        if !self.inbox.send(Queued::Event(event, durable)) {
            tracing::error!("the audit writer is gone: an event was not stored");
        }
        // An event not sent dropped its sender with it: a waiting request sees it as not
        // stored.
        receiver
    }

    /// How many events wait for the writer.
    pub fn backlog(&self) -> usize {
        self.inbox.state.lock().map_or(0, |p| {
            p.queued
                .iter()
                .filter(|q| matches!(q, Queued::Event(..)))
                .count()
        })
    }

    /// Commits every event appended so far, and returns when they are durable.
    pub fn flush(&self) -> Result<(), StoreError> {
        let (done, flushed) = mpsc::sync_channel(1);
        let gone = || StoreError("the audit writer is gone".into());
        if !self.inbox.send(Queued::Flush(done)) {
            return Err(gone());
        }
        flushed.recv().map_err(|_| gone())
    }
}

impl Drop for Trail {
    fn drop(&mut self) {
        // Closing the inbox ends the writer once it has written what was queued.
        self.inbox.close();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

impl Chain {
    fn chain(
        &self,
        events: impl IntoIterator<Item = Prepared>,
        commit: impl FnOnce(&dyn Store, &[AuditRow]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut head = self.head.lock().map_err(|_| poisoned())?;
        let mut sequence = head.sequence;
        let mut previous = head.hash;
        let mut rows = Vec::new();
        for Prepared { body, index } in events {
            sequence += 1;
            let link = ChainLink::new(sequence, &previous, body);
            previous = link.hash;
            rows.push(AuditRow { link, index });
        }
        let committed = commit(&*self.store, &rows);
        self.failing.store(committed.is_err(), Ordering::Relaxed);
        committed?;
        head.since_digest += rows.len() as u64;
        if self.store.chains_events() {
            // Linked again by the store after the other nodes' events: its head is the
            // chain's.
            let (stored, hash) = self
                .store
                .audit_head()?
                .unwrap_or((0, crate::audit::GENESIS));
            sequence = stored;
            previous = hash;
        }
        head.sequence = sequence;
        head.hash = previous;
        let due = head.since_digest >= self.config.digest_every_events
            || (head.since_digest > 0 && head.last_digest.elapsed() >= self.config.digest_interval);
        if due {
            self.sign_head(&mut head)?;
        }
        Ok(())
    }

    fn sign_head(&self, head: &mut Head) -> Result<(), StoreError> {
        let hash = hex(&head.hash);
        let time_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
        let text = Digest::signed_text(head.sequence, &hash, time_ms);
        let signature = B64.encode(self.signer.sign(text.as_bytes()).as_ref());
        let digest = Digest {
            sequence: head.sequence,
            hash,
            time_ms,
            signature,
        };
        let json = serde_json::to_string(&digest)
            .map_err(|e| StoreError(format!("a digest does not serialize: {e}")))?;
        self.store.audit_put_digest(head.sequence, &json)?;
        head.since_digest = 0;
        head.last_digest = Instant::now();
        Ok(())
    }

    /// The writer thread: takes each batch ([`Inbox::next_batch`]), commits it in one
    /// transaction and tells whoever waits; until the inbox is closed and empty.
    fn write(&self, inbox: &Inbox) {
        while let Some(batch) = inbox.next_batch(self.config.batch_window) {
            let mut events = Vec::with_capacity(batch.len());
            let mut waiting = Vec::new();
            let mut flushes = Vec::new();
            for item in batch {
                match item {
                    Queued::Event(event, durable) => {
                        events.push(event);
                        waiting.extend(durable);
                    }
                    Queued::Flush(done) => flushes.push(done),
                }
            }
            let result = if events.is_empty() {
                Ok(())
            } else {
                self.chain(events, |store, rows| store.commit_recorded(&[], rows))
                    .map_err(|e| {
                        tracing::error!(error = %e, "audit events could not be stored");
                        e.0
                    })
            };
            for durable in waiting {
                let _ = durable.send(result.clone());
            }
            for done in flushes {
                let _ = done.send(());
            }
        }
    }
}

fn signing_key(store: &dyn Store, master_key: &MasterKey) -> Result<Ed25519KeyPair, StoreError> {
    let bad = |what: &str| StoreError(format!("the audit signing key {what}"));
    if let Some(sealed) = store.meta(SIGNING_KEY)? {
        let sealed = B64.decode(sealed).map_err(|_| bad("is not base64"))?;
        let pkcs8 = master_key
            .open_bytes(&sealed, SIGNING_KEY_CONTEXT)
            .map_err(|_| bad("does not open with this master key"))?;
        return Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| bad("is not an Ed25519 key"));
    }
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
        .map_err(|_| bad("could not be generated"))?;
    let sealed = master_key.seal_bytes(pkcs8.as_ref(), SIGNING_KEY_CONTEXT);
    store.commit(&[Change {
        table: Table::Meta,
        account_id: String::new(),
        key: SIGNING_KEY.to_owned(),
        data: Some(B64.encode(sealed)),
    }])?;
    // Read back: on a shared store, a node that started at the same moment may have stored
    // its key first (a meta value, once written, is kept), and every node signs with that one.
    match store.meta(SIGNING_KEY)? {
        Some(_) => signing_key(store, master_key),
        None => Err(bad("was not stored")),
    }
}

/// The public key of the trail of `store`, opened with `master_key` (none before the first
/// start with auditing).
pub fn public_key(
    store: &dyn Store,
    master_key: &MasterKey,
) -> Result<Option<Vec<u8>>, StoreError> {
    if store.meta(SIGNING_KEY)?.is_none() {
        return Ok(None);
    }
    Ok(Some(
        signing_key(store, master_key)?
            .public_key()
            .as_ref()
            .to_vec(),
    ))
}

/// What a verification found in an intact trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailReport {
    /// The first kept event (after pruning) and the last one.
    pub first: u64,
    pub last: u64,
    pub events: u64,
    /// Digests checked, and the last sequence a valid digest covers.
    pub digests: u64,
    pub signed_up_to: u64,
}

/// Why a stored trail is not intact.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrailError {
    #[error(transparent)]
    Chain(#[from] ChainBreak),
    #[error("the digest for event {sequence} has a bad signature (forged or altered)")]
    BadSignature { sequence: u64 },
    #[error(
        "the digest for event {sequence} does not match the chain: events up to {sequence} were altered and re-chained"
    )]
    DigestMismatch { sequence: u64 },
    #[error(
        "the digest for event {sequence} covers events that are gone: events {from} to {sequence} were deleted"
    )]
    Truncated { sequence: u64, from: u64 },
    #[error("the digest stored for event {sequence} is malformed")]
    MalformedDigest { sequence: u64 },
    #[error("the trail could not be read: {0}")]
    Store(String),
}

/// Checks the trail of `store`: every link, every digest's signature by `public_key` and its
/// hash at the sequence it covers, and that no digest covers events that are gone.
pub fn verify(store: &dyn Store, public_key: &[u8]) -> Result<TrailReport, TrailError> {
    let read = |e: StoreError| TrailError::Store(e.0);
    let verifier = UnparsedPublicKey::new(&ED25519, public_key);
    let mut digests = Vec::new();
    for (sequence, json) in store.audit_digests().map_err(read)? {
        let digest: Digest = serde_json::from_str(&json)
            .ok()
            .filter(|d: &Digest| d.sequence == sequence)
            .ok_or(TrailError::MalformedDigest { sequence })?;
        let signature = B64
            .decode(&digest.signature)
            .map_err(|_| TrailError::MalformedDigest { sequence })?;
        let text = Digest::signed_text(digest.sequence, &digest.hash, digest.time_ms);
        verifier
            .verify(text.as_bytes(), &signature)
            .map_err(|_| TrailError::BadSignature { sequence })?;
        digests.push(digest);
    }
    let (first, mut previous) = store.audit_start().map_err(read)?;
    let mut next = first;
    let mut pending = digests.iter().peekable();
    let mut signed_up_to = 0;
    const PAGE: usize = 2000;
    loop {
        let links = store.audit_links(next, PAGE).map_err(read)?;
        if links.is_empty() {
            break;
        }
        // A gap before the first link of a page is found by verify_chain too.
        previous = verify_chain(next, previous, &links)?;
        let mut running = None;
        for link in &links {
            running = Some(link);
            while let Some(d) = pending.peek() {
                if d.sequence > link.sequence {
                    break;
                }
                if d.sequence == link.sequence {
                    if d.hash != hex(&link.hash) {
                        return Err(TrailError::DigestMismatch {
                            sequence: d.sequence,
                        });
                    }
                    signed_up_to = d.sequence;
                } else if d.sequence >= first {
                    // A digest for an event that is not in the chain (a gap is already
                    // reported by verify_chain, so this is unreachable in practice).
                    return Err(TrailError::DigestMismatch {
                        sequence: d.sequence,
                    });
                }
                pending.next();
            }
        }
        let last = running.map_or(next, |l| l.sequence);
        next = last + 1;
        if links.len() < PAGE {
            break;
        }
    }
    // Digests beyond the end: the events they cover were cut off the tail.
    if let Some(d) = pending.rfind(|d| d.sequence >= next) {
        return Err(TrailError::Truncated {
            sequence: d.sequence,
            from: next,
        });
    }
    let last = next.saturating_sub(1);
    Ok(TrailReport {
        first,
        last,
        events: next - first,
        digests: digests.len() as u64,
        signed_up_to,
    })
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportReport {
    pub files: usize,
    pub events: usize,
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportFailure {
    #[error("the trail could not be read: {0}")]
    Store(String),
    #[error(transparent)]
    Event(#[from] crate::audit::export::ExportError),
    #[error("{path}: {error}")]
    Write {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
}

/// Writes the events of `store`'s trail whose time is in `[since, until)` (unix seconds) under
/// `out` as gzipped CloudTrail log files ([`crate::audit::export`]); files of the same name
/// are replaced, so exporting again is safe.
pub fn export(
    store: &dyn Store,
    since: Option<i64>,
    until: Option<i64>,
    out: &std::path::Path,
) -> Result<ExportReport, ExportFailure> {
    use crate::audit::export::{Exporter, LogFile};
    use std::io::Write;

    let mut report = ExportReport {
        files: 0,
        events: 0,
    };
    let mut write = |file: LogFile| -> Result<(), ExportFailure> {
        let path = out.join(&file.key);
        let failed = |error| ExportFailure::Write {
            path: path.clone(),
            error,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(failed)?;
        }
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&path).map_err(failed)?,
            flate2::Compression::default(),
        );
        gz.write_all(&file.json).map_err(failed)?;
        gz.finish().and_then(|f| f.sync_all()).map_err(failed)?;
        report.files += 1;
        report.events += file.events;
        Ok(())
    };
    let read = |e: StoreError| ExportFailure::Store(e.0);
    let mut exporter = Exporter::new(since, until);
    let (mut next, _) = store.audit_start().map_err(read)?;
    const PAGE: usize = 2000;
    loop {
        let links = store.audit_links(next, PAGE).map_err(read)?;
        for link in &links {
            for file in exporter.add(link)? {
                write(file)?;
            }
            next = link.sequence + 1;
        }
        if links.len() < PAGE {
            break;
        }
    }
    for file in exporter.finish() {
        write(file)?;
    }
    Ok(report)
}

/// Follows a trail as it grows (`portcullis audit tail`): each [`Tail::poll`] returns the
/// events stored since the last one, in order. Another process may be writing the store
/// (SQLite's WAL lets it be read meanwhile).
pub struct Tail<'a> {
    store: &'a dyn Store,
    next: u64,
    since: Option<i64>,
}

impl<'a> Tail<'a> {
    /// From the events stored after now, or with `since` (unix seconds) from the first
    /// event at or after that time.
    pub fn new(store: &'a dyn Store, since: Option<i64>) -> Result<Tail<'a>, StoreError> {
        let (start, _) = store.audit_start()?;
        let next = match since {
            Some(_) => start,
            None => store.audit_head()?.map_or(start, |(last, _)| last + 1),
        };
        Ok(Tail { store, next, since })
    }

    /// The events stored since the last poll.
    pub fn poll(&mut self) -> Result<Vec<ChainLink>, ExportFailure> {
        const PAGE: usize = 2000;
        let mut found = Vec::new();
        loop {
            let links = self
                .store
                .audit_links(self.next, PAGE)
                .map_err(|e| ExportFailure::Store(e.0))?;
            let full = links.len() == PAGE;
            for link in links {
                self.next = link.sequence + 1;
                if let Some(since) = self.since
                    && crate::audit::export::event_time(&link)? < since
                {
                    continue;
                }
                found.push(link);
            }
            if !full {
                return Ok(found);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{EVENT_VERSION, UserIdentity};
    use crate::store::SqliteStore;

    fn event(name: &str, read_only: bool, error: Option<&str>) -> AuditEvent {
        AuditEvent {
            event_version: EVENT_VERSION.into(),
            user_identity: UserIdentity::default(),
            event_time: "2026-12-04T20:00:00Z".into(),
            event_source: "iam.amazonaws.com".into(),
            event_name: name.into(),
            aws_region: "us-east-1".into(),
            source_ip_address: "127.0.0.1".into(),
            user_agent: None,
            error_code: error.map(Into::into),
            error_message: None,
            request_parameters: None,
            response_elements: None,
            request_id: "r".into(),
            event_id: name.into(),
            read_only,
            resources: vec![],
            event_type: "AwsApiCall".into(),
            management_event: true,
            recipient_account_id: "123456789012".into(),
            portcullis_decisions: vec![],
        }
    }

    /// Polls `recorded` until it resolves (the writer is another thread).
    fn wait(mut recorded: Recorded) -> Result<(), StoreError> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Poll::Ready(r) = Pin::new(&mut recorded).poll(&mut cx) {
                return r;
            }
            assert!(Instant::now() < deadline, "the writer never answered");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn is_ready(recorded: &mut Recorded) -> bool {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        Pin::new(recorded).poll(&mut cx).is_ready()
    }

    fn trail(dir: &std::path::Path, config: TrailConfig) -> (Arc<dyn Store>, Trail) {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("t.db")).expect("store"));
        let key = MasterKey::from_bytes([7; 32]);
        let trail = Trail::open(store.clone(), &key, config).expect("trail");
        (store, trail)
    }

    fn stored(store: &dyn Store) -> u64 {
        store.audit_head().expect("head").map_or(0, |h| h.0)
    }

    #[test]
    fn only_an_allowed_read_is_batched_and_a_batch_waits_out_its_window() {
        let dir = tempfile::tempdir().expect("dir");
        let config = TrailConfig {
            batch_window: Duration::from_secs(3600),
            ..TrailConfig::default()
        };
        let (store, trail) = trail(dir.path(), config);
        let read = event("GetUser", true, None);
        let denied = event("GetUser", true, Some("AccessDenied"));
        let change = event("CreateUser", false, None);
        assert_eq!(trail.durability_of(&read), Durability::Batched);
        assert_eq!(trail.durability_of(&denied), Durability::BeforeAnswer);
        assert_eq!(trail.durability_of(&change), Durability::BeforeAnswer);

        // A batched read resolves at once and waits for its window (an hour here)...
        let mut first = trail.append(Prepared::new(&read, 1).expect("event"), Durability::Batched);
        assert!(is_ready(&mut first));
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(
            stored(&*store),
            0,
            "a batched read was committed before its window"
        );
        // ...until an event someone waits for arrives: both are committed, in order.
        let denial = trail.append(
            Prepared::new(&denied, 2).expect("event"),
            Durability::BeforeAnswer,
        );
        wait(denial).expect("stored");
        assert_eq!(stored(&*store), 2);

        // A flush commits a pending batch.
        assert!(is_ready(&mut trail.append(
            Prepared::new(&read, 3).expect("event"),
            Durability::Batched
        )));
        trail.flush().expect("flush");
        assert_eq!(stored(&*store), 3);
    }

    #[test]
    fn a_batch_is_committed_when_its_window_ends_and_a_dropped_trail_drains_its_inbox() {
        let dir = tempfile::tempdir().expect("dir");
        let (store, trail) = trail(dir.path(), TrailConfig::default());
        let read = event("ListUsers", true, None);
        for t in 0..10 {
            assert!(is_ready(&mut trail.append(
                Prepared::new(&read, t).expect("event"),
                Durability::Batched
            )));
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while stored(&*store) < 10 {
            assert!(Instant::now() < deadline, "the batch window never ended");
            std::thread::sleep(Duration::from_millis(1));
        }

        let config = TrailConfig {
            batch_window: Duration::from_secs(3600),
            ..TrailConfig::default()
        };
        drop(trail);
        let key = MasterKey::from_bytes([7; 32]);
        let trail = Trail::open(store.clone(), &key, config).expect("reopened");
        assert!(is_ready(&mut trail.append(
            Prepared::new(&read, 11).expect("event"),
            Durability::Batched,
        )));
        drop(trail);
        assert_eq!(stored(&*store), 11, "the pending batch was lost on drop");
        let public = public_key(&*store, &key).expect("key").expect("made");
        assert_eq!(verify(&*store, &public).expect("intact").events, 11);
    }

    #[test]
    fn after_a_failed_commit_nothing_is_batched_until_one_succeeds() {
        let dir = tempfile::tempdir().expect("dir");
        let (_store, trail) = trail(dir.path(), TrailConfig::default());
        let conn = rusqlite::Connection::open(dir.path().join("t.db")).expect("db");
        conn.execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'full'); END;",
        )
        .expect("trigger");
        let read = event("GetUser", true, None);
        let refused = trail.append(
            Prepared::new(&event("GetUser", true, Some("AccessDenied")), 1).expect("event"),
            Durability::BeforeAnswer,
        );
        assert!(wait(refused).is_err());
        assert_eq!(trail.durability_of(&read), Durability::BeforeAnswer);
        conn.execute_batch("DROP TRIGGER refuse;").expect("drop");
        let stored = trail.append(
            Prepared::new(&read, 2).expect("event"),
            Durability::BeforeAnswer,
        );
        wait(stored).expect("stored");
        assert_eq!(trail.durability_of(&read), Durability::Batched);
    }
}
