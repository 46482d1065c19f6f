//! XML Encryption of an assertion (`saml:EncryptedAssertion`), as identity providers encrypt
//! to a service provider's RSA key: the content key transported by RSA-OAEP
//! (`xmlenc#rsa-oaep-mgf1p`, or `xmlenc11#rsa-oaep` with matching digest and MGF1 hash), the
//! assertion encrypted by AES-GCM (`xmlenc11#aes128-gcm`, `aes256-gcm`) or AES-CBC
//! (`xmlenc#aes128-cbc`, `aes256-cbc`). RSA PKCS #1 v1.5 key transport is refused (it is open
//! to padding oracles). Every failure reads the same to the caller.

use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::cipher::{AES_128, AES_256, DecryptingKey, DecryptionContext, UnboundCipherKey};
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OAEP_SHA384_MGF1SHA384, OAEP_SHA512_MGF1SHA512,
    OaepAlgorithm, OaepPrivateDecryptingKey, PrivateDecryptingKey,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::dsig::DS;
use crate::error::SamlError;
use crate::xml::{Document, NodeId};

/// The XML Encryption 1.0 and 1.1 namespaces.
pub const XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
pub const XENC11: &str = "http://www.w3.org/2009/xmlenc11#";

/// A service provider's RSA key that assertions are encrypted to.
pub struct DecryptionKey(OaepPrivateDecryptingKey);

impl DecryptionKey {
    /// From a PKCS #8 DER RSA private key; `None` if it is not one.
    pub fn from_pkcs8(der: &[u8]) -> Option<Self> {
        let key = PrivateDecryptingKey::from_pkcs8(der).ok()?;
        OaepPrivateDecryptingKey::new(key).ok().map(Self)
    }
}

impl std::fmt::Debug for DecryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DecryptionKey(..)")
    }
}

fn failed(message: &str) -> SamlError {
    SamlError::Decryption(message.to_owned())
}

#[derive(Clone, Copy)]
enum Content {
    Gcm128,
    Gcm256,
    Cbc128,
    Cbc256,
}

impl Content {
    fn from_uri(uri: &str) -> Option<Self> {
        Some(match uri {
            "http://www.w3.org/2009/xmlenc11#aes128-gcm" => Content::Gcm128,
            "http://www.w3.org/2009/xmlenc11#aes256-gcm" => Content::Gcm256,
            "http://www.w3.org/2001/04/xmlenc#aes128-cbc" => Content::Cbc128,
            "http://www.w3.org/2001/04/xmlenc#aes256-cbc" => Content::Cbc256,
            _ => return None,
        })
    }

    fn key_len(self) -> usize {
        match self {
            Content::Gcm128 | Content::Cbc128 => 16,
            Content::Gcm256 | Content::Cbc256 => 32,
        }
    }

    fn decrypt(self, key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
        match self {
            Content::Gcm128 | Content::Gcm256 => {
                let algorithm = if matches!(self, Content::Gcm128) {
                    &AES_128_GCM
                } else {
                    &AES_256_GCM
                };
                if data.len() < 12 + 16 {
                    return None;
                }
                let (iv, sealed) = data.split_at(12);
                let key = LessSafeKey::new(UnboundKey::new(algorithm, key).ok()?);
                let nonce = Nonce::try_assume_unique_for_key(iv).ok()?;
                let mut in_out = sealed.to_vec();
                let plain = key.open_in_place(nonce, Aad::empty(), &mut in_out).ok()?;
                Some(plain.to_vec())
            }
            Content::Cbc128 | Content::Cbc256 => {
                let algorithm = if matches!(self, Content::Cbc128) {
                    &AES_128
                } else {
                    &AES_256
                };
                if data.len() < 32 || data.len() % 16 != 0 {
                    return None;
                }
                let (iv, cipher) = data.split_at(16);
                let iv: [u8; 16] = iv.try_into().ok()?;
                let key = DecryptingKey::cbc(UnboundCipherKey::new(algorithm, key).ok()?).ok()?;
                let mut in_out = cipher.to_vec();
                let context = DecryptionContext::Iv128(FixedLength::from(iv));
                let plain = key.decrypt(&mut in_out, context).ok()?;
                // XML Encryption's padding: the last octet counts the padding octets (ISO
                // 10126: the others are arbitrary).
                let pad = usize::from(*plain.last()?);
                if pad == 0 || pad > 16 || pad > plain.len() {
                    return None;
                }
                let len = plain.len() - pad;
                Some(plain[..len].to_vec())
            }
        }
    }
}

fn base64_text(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(compact).ok()
}

fn cipher_value(doc: &Document, id: NodeId) -> Option<Vec<u8>> {
    let data = doc.only_child(id, XENC, "CipherData")?;
    let value = doc.only_child(data, XENC, "CipherValue")?;
    base64_text(&doc.text(value))
}

/// The OAEP parameters of a key transport method, when aws-lc-rs has them (the digest and
/// the MGF1 hash must be the same).
fn oaep(doc: &Document, method: NodeId) -> Option<&'static OaepAlgorithm> {
    let digest = doc
        .only_child(method, DS, "DigestMethod")
        .and_then(|d| doc.attribute(d, "Algorithm"))
        .unwrap_or("http://www.w3.org/2000/09/xmldsig#sha1");
    let mgf = doc
        .only_child(method, XENC11, "MGF")
        .and_then(|m| doc.attribute(m, "Algorithm"));
    match doc.attribute(method, "Algorithm")? {
        "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p" => {
            (digest == "http://www.w3.org/2000/09/xmldsig#sha1").then_some(&OAEP_SHA1_MGF1SHA1)
        }
        "http://www.w3.org/2009/xmlenc11#rsa-oaep" => {
            match (
                digest,
                mgf.unwrap_or("http://www.w3.org/2009/xmlenc11#mgf1sha1"),
            ) {
                (
                    "http://www.w3.org/2000/09/xmldsig#sha1",
                    "http://www.w3.org/2009/xmlenc11#mgf1sha1",
                ) => Some(&OAEP_SHA1_MGF1SHA1),
                (
                    "http://www.w3.org/2001/04/xmlenc#sha256",
                    "http://www.w3.org/2009/xmlenc11#mgf1sha256",
                ) => Some(&OAEP_SHA256_MGF1SHA256),
                (
                    "http://www.w3.org/2001/04/xmldsig-more#sha384",
                    "http://www.w3.org/2009/xmlenc11#mgf1sha384",
                ) => Some(&OAEP_SHA384_MGF1SHA384),
                (
                    "http://www.w3.org/2001/04/xmlenc#sha512",
                    "http://www.w3.org/2009/xmlenc11#mgf1sha512",
                ) => Some(&OAEP_SHA512_MGF1SHA512),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The content key: the first `EncryptedKey` (inside the data's `KeyInfo`, or beside the data
/// in the `EncryptedAssertion`) that one of `keys` opens.
fn content_key(
    doc: &Document,
    encrypted: NodeId,
    data: NodeId,
    keys: &[DecryptionKey],
    len: usize,
) -> Option<Vec<u8>> {
    let inside = doc
        .only_child(data, DS, "KeyInfo")
        .into_iter()
        .flat_map(|info| doc.children_named(info, XENC, "EncryptedKey"));
    let beside = doc.children_named(encrypted, XENC, "EncryptedKey");
    for encrypted_key in inside.chain(beside) {
        let Some(method) = doc.only_child(encrypted_key, XENC, "EncryptionMethod") else {
            continue;
        };
        let Some(algorithm) = oaep(doc, method) else {
            continue;
        };
        let Some(wrapped) = cipher_value(doc, encrypted_key) else {
            continue;
        };
        for key in keys {
            let mut out = vec![0u8; key.0.min_output_size()];
            if let Ok(plain) = key.0.decrypt(algorithm, &wrapped, &mut out, None)
                && plain.len() == len
            {
                return Some(plain.to_vec());
            }
        }
    }
    None
}

/// The plaintext of the `saml:EncryptedAssertion` `encrypted`: the serialized assertion.
pub fn decrypt(
    doc: &Document,
    encrypted: NodeId,
    keys: &[DecryptionKey],
) -> Result<Vec<u8>, SamlError> {
    let data = doc
        .only_child(encrypted, XENC, "EncryptedData")
        .ok_or_else(|| failed("the encrypted assertion has no EncryptedData"))?;
    if doc
        .attribute(data, "Type")
        .is_some_and(|t| t != "http://www.w3.org/2001/04/xmlenc#Element")
    {
        return Err(failed("the encrypted data is not an element"));
    }
    let content = doc
        .only_child(data, XENC, "EncryptionMethod")
        .and_then(|m| doc.attribute(m, "Algorithm"))
        .and_then(Content::from_uri)
        .ok_or_else(|| failed("the assertion's encryption algorithm is not supported"))?;
    let key = content_key(doc, encrypted, data, keys, content.key_len())
        .ok_or_else(|| failed("no key of the provider decrypts the content key"))?;
    let sealed =
        cipher_value(doc, data).ok_or_else(|| failed("the encrypted data has no value"))?;
    content
        .decrypt(&key, &sealed)
        .ok_or_else(|| failed("the assertion does not decrypt"))
}
