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
    ServiceCredential,
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
            IdKind::ServiceCredential => "ACCA",
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

const KEY_ALPHABET: base32::Alphabet = base32::Alphabet::Rfc4648 { padding: false };

/// The bits of an access key id's first six bytes (after its 4-character prefix, base32
/// decoded) that hold the account id, shifted left by 7: AWS's layout since 2019 (the account
/// is not secret: anyone may ask `sts:GetAccessKeyInfo` for it).
const ACCOUNT_MASK: u64 = 0x7fff_ffff_ff80;

/// A new access key id, `AKIA…` (long-term) or `ASIA…` (temporary), of 20 characters that
/// encode `account_id` as AWS's do; the other 41 bits are random. An account id that is not
/// 12 digits gets a fully random key id.
pub fn new_access_key_id(temporary: bool, account_id: &str) -> String {
    let prefix = if temporary { "ASIA" } else { "AKIA" };
    let Some(account) = account_id
        .parse::<u64>()
        .ok()
        .filter(|a| account_id.len() == 12 && *a < (1 << 40))
    else {
        return new_id(if temporary {
            IdKind::TemporaryAccessKey
        } else {
            IdKind::AccessKey
        });
    };
    let mut bytes: [u8; 10] = rand::rng().random();
    let random_head = u64::from_be_bytes([
        0, 0, bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5],
    ]);
    let head = (random_head & !ACCOUNT_MASK & 0xffff_ffff_ffff) | (account << 7);
    bytes[..6].copy_from_slice(&head.to_be_bytes()[2..]);
    format!("{prefix}{}", base32::encode(KEY_ALPHABET, &bytes))
}

/// The account an access key id encodes in AWS's layout (`None` when it is not 20 characters
/// of a known prefix and base32).
pub fn account_of_access_key_id(key_id: &str) -> Option<String> {
    if key_id.len() != 20 || !matches!(&key_id[..4], "AKIA" | "ASIA") {
        return None;
    }
    let bytes = base32::decode(KEY_ALPHABET, &key_id[4..])?;
    let head: [u8; 6] = bytes.get(..6)?.try_into().ok()?;
    let head = u64::from_be_bytes([0, 0, head[0], head[1], head[2], head[3], head[4], head[5]]);
    Some(format!("{:012}", (head & ACCOUNT_MASK) >> 7))
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
    fn access_key_ids_encode_their_account_as_awss_do() {
        // AWS's documented example keys: AKIAIOSFODNN7EXAMPLE is of the old, random kind;
        // a key of the current layout decodes to its account.
        for account in [
            "111122223333",
            "000000000001",
            "999999999999",
            "123456789012",
        ] {
            for temporary in [false, true] {
                let id = new_access_key_id(temporary, account);
                assert_eq!(id.len(), 20, "{id}");
                assert!(id.starts_with(if temporary { "ASIA" } else { "AKIA" }));
                assert!(id[4..].bytes().all(|b| ID_ALPHABET.contains(&b)), "{id}");
                assert_eq!(account_of_access_key_id(&id).as_deref(), Some(account));
            }
        }
        // Published by AWS researchers: ASIAY34FZKBOKMUTVV7A belongs to 609629065308.
        assert_eq!(
            account_of_access_key_id("ASIAY34FZKBOKMUTVV7A").as_deref(),
            Some("609629065308")
        );
        assert_eq!(account_of_access_key_id("AKIAROOTEXAMPLE00001"), None);
        assert_eq!(account_of_access_key_id("AIDASHORT"), None);
    }

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
