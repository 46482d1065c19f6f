//! SAML 2.0 for AssumeRoleWithSAML: the identity provider's response, checked against its
//! metadata. Pure: no IO and no clock (the caller gives `now`), one concept per module:
//!
//! - [`xml`]: an owned tree that keeps what canonicalization needs (prefixes, declarations);
//! - [`c14n`]: exclusive canonicalization of a subtree;
//! - [`dsig`]: the enveloped signature the SAML signature profile allows, and nothing more;
//! - [`xmlenc`]: decryption of an encrypted assertion;
//! - [`response`]: the Web Browser SSO profile's checks on a response and its assertion.
//!
//! What STS does with a verified response (which role, which keys in the trust policy,
//! replay) is the server's.

pub mod c14n;
pub mod dsig;
pub mod error;
pub mod response;
pub mod xml;
pub mod xmlenc;

pub use dsig::TrustedKey;
pub use error::SamlError;
pub use response::{Expectations, Verified, verify};
pub use xmlenc::DecryptionKey;
