//! The audit trail as it is written and checked: the chain's head (every event gets the next
//! sequence under one lock, so stored order is chain order), the group commit that makes an
//! event without a change durable before its request is answered (many requests, one
//! transaction), the Ed25519 digests signed at intervals, and the verification of a stored
//! trail. The record itself is [`crate::audit`]; the SQL is [`crate::store`].

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

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
}

impl Default for TrailConfig {
    fn default() -> TrailConfig {
        TrailConfig {
            digest_every_events: 1000,
            digest_interval: Duration::from_secs(60),
        }
    }
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
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct Head {
    sequence: u64,
    hash: [u8; 32],
    since_digest: u64,
    last_digest: Instant,
}

#[derive(Default)]
struct Group {
    queue: Vec<(u64, AuditEvent, i64)>,
    next_ticket: u64,
    /// Every ticket up to this one has been committed (or has failed).
    done: u64,
    leader: bool,
    /// Ticket ranges whose batch failed, most recent last (a bounded memory of them).
    failed: VecDeque<(u64, u64)>,
}

/// The writer of one store's trail.
pub struct Trail {
    head: Mutex<Head>,
    group: Mutex<Group>,
    committed: Condvar,
    signer: Ed25519KeyPair,
    config: TrailConfig,
}

fn poisoned() -> StoreError {
    StoreError("the audit trail's lock is poisoned".into())
}

impl Trail {
    /// Opens the trail of `store`: its head, and its signing key (made and sealed at first
    /// use).
    pub fn open(
        store: &dyn Store,
        master_key: &MasterKey,
        config: TrailConfig,
    ) -> Result<Trail, StoreError> {
        let signer = signing_key(store, master_key)?;
        let (sequence, hash) = store.audit_head()?.unwrap_or((0, crate::audit::GENESIS));
        Ok(Trail {
            head: Mutex::new(Head {
                sequence,
                hash,
                since_digest: 0,
                last_digest: Instant::now(),
            }),
            group: Mutex::new(Group::default()),
            committed: Condvar::new(),
            signer,
            config,
        })
    }

    /// The public key digests are signed with (raw 32 bytes).
    pub fn public_key(&self) -> Vec<u8> {
        self.signer.public_key().as_ref().to_vec()
    }

    /// Chains `events` after the head and runs `commit` with them while no other event can
    /// be chained, so the stored order is the chain's. The head moves only if `commit`
    /// succeeds. Signs a digest when one is due.
    pub fn chain(
        &self,
        store: &dyn Store,
        events: impl IntoIterator<Item = (AuditEvent, i64)>,
        commit: impl FnOnce(&[AuditRow]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut head = self.head.lock().map_err(|_| poisoned())?;
        let mut sequence = head.sequence;
        let mut previous = head.hash;
        let mut rows = Vec::new();
        for (event, time_ms) in events {
            sequence += 1;
            let body = serde_json::to_vec(&event)
                .map_err(|e| StoreError(format!("an audit event does not serialize: {e}")))?;
            let link = ChainLink::new(sequence, &previous, body);
            previous = link.hash;
            rows.push(AuditRow {
                link,
                index: EventIndex::of(&event, time_ms),
            });
        }
        commit(&rows)?;
        head.since_digest += rows.len() as u64;
        head.sequence = sequence;
        head.hash = previous;
        let due = head.since_digest >= self.config.digest_every_events
            || (head.since_digest > 0 && head.last_digest.elapsed() >= self.config.digest_interval);
        if due {
            self.sign_head(store, &mut head)?;
        }
        Ok(())
    }

    /// Signs a digest of the current head now, if events were added since the last one.
    pub fn sign_now(&self, store: &dyn Store) -> Result<(), StoreError> {
        let mut head = self.head.lock().map_err(|_| poisoned())?;
        if head.since_digest > 0 {
            self.sign_head(store, &mut head)?;
        }
        Ok(())
    }

    fn sign_head(&self, store: &dyn Store, head: &mut Head) -> Result<(), StoreError> {
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
        store.audit_put_digest(head.sequence, &json)?;
        head.since_digest = 0;
        head.last_digest = Instant::now();
        Ok(())
    }

    /// Appends an event that records no change, and returns once it is durable. Events of
    /// requests served at the same time are committed together (one transaction for all that
    /// arrived while the previous one was being written).
    pub fn append(
        &self,
        store: &dyn Store,
        event: AuditEvent,
        time_ms: i64,
    ) -> Result<(), StoreError> {
        let mut group = self.group.lock().map_err(|_| poisoned())?;
        group.next_ticket += 1;
        let ticket = group.next_ticket;
        group.queue.push((ticket, event, time_ms));
        loop {
            if group.done >= ticket {
                let failed = group
                    .failed
                    .iter()
                    .any(|&(from, to)| (from..=to).contains(&ticket));
                return if failed {
                    Err(StoreError("the audit event could not be stored".into()))
                } else {
                    Ok(())
                };
            }
            if group.leader {
                group = self.committed.wait(group).map_err(|_| poisoned())?;
                continue;
            }
            group.leader = true;
            let batch = std::mem::take(&mut group.queue);
            drop(group);
            let first = batch.first().map_or(ticket, |b| b.0);
            let last = batch.last().map_or(ticket, |b| b.0);
            let result = self.chain(store, batch.into_iter().map(|(_, e, t)| (e, t)), |rows| {
                store.commit_recorded(&[], rows)
            });
            group = self.group.lock().map_err(|_| poisoned())?;
            group.leader = false;
            group.done = group.done.max(last);
            if let Err(e) = result {
                tracing::error!(error = %e, "audit events could not be stored");
                group.failed.push_back((first, last));
                if group.failed.len() > 64 {
                    group.failed.pop_front();
                }
            }
            self.committed.notify_all();
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
    Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| bad("is not an Ed25519 key"))
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
