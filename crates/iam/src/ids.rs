//! Identifiers as AWS makes them: unique ids (`AIDA…`, `AROA…`, …), access key ids
//! (`AKIA…`, `ASIA…`), secret access keys, request ids.

use rand::Rng;

const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The prefixes of unique ids ("IAM identifiers").
#[derive(Debug, Clone, Copy)]
pub enum IdKind {
    User,
    Role,
    Group,
    Policy,
    InstanceProfile,
    AccessKey,
    TemporaryAccessKey,
    ServerCertificate,
    PublicKey,
}

impl IdKind {
    fn prefix(self) -> &'static str {
        match self {
            IdKind::User => "AIDA",
            IdKind::Role => "AROA",
            IdKind::Group => "AGPA",
            IdKind::Policy => "ANPA",
            IdKind::InstanceProfile => "AIPA",
            IdKind::AccessKey => "AKIA",
            IdKind::TemporaryAccessKey => "ASIA",
            IdKind::ServerCertificate => "ASCA",
            IdKind::PublicKey => "APKA",
        }
    }
}

/// A new unique id: the kind's prefix and 17 (16 for access keys) random characters.
pub fn new_id(kind: IdKind) -> String {
    let len = match kind {
        IdKind::AccessKey | IdKind::TemporaryAccessKey => 16,
        _ => 17,
    };
    let mut rng = rand::rng();
    let mut id = String::with_capacity(4 + len);
    id.push_str(kind.prefix());
    for _ in 0..len {
        id.push(char::from(
            ID_ALPHABET[rng.random_range(0..ID_ALPHABET.len())],
        ));
    }
    id
}

/// A new secret access key: 40 characters, as AWS's.
pub fn new_secret_key() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut rng = rand::rng();
    (0..40)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// A new random 12-digit account id (not starting with 0).
pub fn new_account_id() -> String {
    let mut rng = rand::rng();
    let first = rng.random_range(1..10u8);
    let mut id = first.to_string();
    for _ in 0..11 {
        id.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    id
}

/// A request id in AWS's shape (a UUID).
pub fn new_request_id() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let u = new_id(IdKind::User);
        assert!(u.starts_with("AIDA") && u.len() == 21);
        let k = new_id(IdKind::AccessKey);
        assert!(k.starts_with("AKIA") && k.len() == 20);
        assert_eq!(new_secret_key().len(), 40);
        let a = new_account_id();
        assert_eq!(a.len(), 12);
        assert!(a.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(new_request_id().len(), 36);
    }
}
