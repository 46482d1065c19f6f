//! Tamper evidence: each stored event carries its sequence number and the SHA-256 of
//! (domain tag, sequence, the previous event's hash, the event's bytes), so changing, deleting,
//! inserting or reordering an event breaks the chain at a place [`verify_chain`] names.

use sha2::{Digest, Sha256};

/// The hash before the first event.
pub const GENESIS: [u8; 32] = [0; 32];

const DOMAIN: &[u8] = b"portcullis-audit-chain-v1";

/// One stored event, as the chain sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainLink {
    /// 1, 2, 3, ... with no gap (pruning keeps the first kept event's predecessor hash).
    pub sequence: u64,
    /// The hash stored with the event.
    pub hash: [u8; 32],
    /// The event as stored (its canonical JSON).
    pub body: Vec<u8>,
}

impl ChainLink {
    /// The link for `body` after the event whose hash is `previous`.
    pub fn new(sequence: u64, previous: &[u8; 32], body: Vec<u8>) -> ChainLink {
        let hash = link_hash(sequence, previous, &body);
        ChainLink {
            sequence,
            hash,
            body,
        }
    }
}

fn link_hash(sequence: u64, previous: &[u8; 32], body: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(sequence.to_be_bytes());
    h.update(previous);
    h.update((body.len() as u64).to_be_bytes());
    h.update(body);
    h.finalize().into()
}

/// Where and how a chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error(
        "event {sequence} was modified or moved (its hash does not match its content at this place in the chain)"
    )]
    Modified { sequence: u64 },
    #[error("events {from} to {to} are missing (deleted)")]
    Missing { from: u64, to: u64 },
    #[error("event {sequence} is out of place (inserted or reordered: expected event {expected})")]
    OutOfPlace { sequence: u64, expected: u64 },
}

/// Checks `links` (in stored order) from `first_sequence`, whose predecessor's hash is
/// `previous` ([`GENESIS`] for a trail never pruned). Returns the last hash when intact.
pub fn verify_chain<'a>(
    first_sequence: u64,
    previous: [u8; 32],
    links: impl IntoIterator<Item = &'a ChainLink>,
) -> Result<[u8; 32], ChainBreak> {
    let mut previous = previous;
    for (expected, link) in (first_sequence..).zip(links) {
        if link.sequence > expected {
            return Err(ChainBreak::Missing {
                from: expected,
                to: link.sequence - 1,
            });
        }
        if link.sequence < expected {
            return Err(ChainBreak::OutOfPlace {
                sequence: link.sequence,
                expected,
            });
        }
        if link_hash(link.sequence, &previous, &link.body) != link.hash {
            return Err(ChainBreak::Modified {
                sequence: link.sequence,
            });
        }
        previous = link.hash;
    }
    Ok(previous)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trail(n: u64) -> Vec<ChainLink> {
        let mut previous = GENESIS;
        (1..=n)
            .map(|seq| {
                let link = ChainLink::new(seq, &previous, format!("{{\"n\":{seq}}}").into_bytes());
                previous = link.hash;
                link
            })
            .collect()
    }

    #[test]
    fn an_untouched_trail_verifies() {
        let t = trail(5);
        assert_eq!(verify_chain(1, GENESIS, &t), Ok(t[4].hash));
    }

    #[test]
    fn a_modified_event_is_named() {
        let mut t = trail(5);
        t[2].body = b"{\"n\":99}".to_vec();
        assert_eq!(
            verify_chain(1, GENESIS, &t),
            Err(ChainBreak::Modified { sequence: 3 })
        );
    }

    #[test]
    fn a_modified_event_with_a_recomputed_hash_breaks_the_next_link() {
        let mut t = trail(5);
        let forged = ChainLink::new(3, &t[1].hash, b"{\"n\":99}".to_vec());
        t[2] = forged;
        assert_eq!(
            verify_chain(1, GENESIS, &t),
            Err(ChainBreak::Modified { sequence: 4 })
        );
    }

    #[test]
    fn a_deleted_event_is_named() {
        let mut t = trail(5);
        t.remove(1);
        assert_eq!(
            verify_chain(1, GENESIS, &t),
            Err(ChainBreak::Missing { from: 2, to: 2 })
        );
    }

    #[test]
    fn swapped_events_are_named() {
        let mut t = trail(5);
        t.swap(1, 2);
        assert_eq!(
            verify_chain(1, GENESIS, &t),
            Err(ChainBreak::Missing { from: 2, to: 2 })
        );
    }

    #[test]
    fn an_inserted_event_is_named() {
        let mut t = trail(5);
        let extra = ChainLink::new(2, &t[0].hash, b"{\"n\":\"extra\"}".to_vec());
        t.insert(2, extra);
        assert_eq!(
            verify_chain(1, GENESIS, &t),
            Err(ChainBreak::OutOfPlace {
                sequence: 2,
                expected: 3
            })
        );
    }

    #[test]
    fn a_pruned_trail_verifies_from_its_first_kept_event() {
        let t = trail(5);
        assert_eq!(verify_chain(3, t[1].hash, &t[2..]), Ok(t[4].hash));
        assert_eq!(
            verify_chain(3, GENESIS, &t[2..]),
            Err(ChainBreak::Modified { sequence: 3 })
        );
    }
}
