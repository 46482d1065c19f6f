//! What can be wrong with a SAML response, precisely enough to locate the problem. The STS
//! layer turns each into AWS's error code and message.

/// Why a SAML response is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SamlError {
    /// Not base64, not well-formed XML, or not the SAML 2.0 shape (which element, and why).
    #[error("the SAML response is malformed: {0}")]
    Malformed(String),
    /// No signature covers the assertion, or a signature does not verify (and why).
    #[error("the response signature is invalid: {0}")]
    Signature(String),
    /// An encrypted assertion could not be decrypted (and why).
    #[error("the assertion could not be decrypted: {0}")]
    Decryption(String),
    /// The issuer is not the provider's metadata `entityID`.
    #[error("the issuer {0:?} is not the provider's")]
    Issuer(String),
    /// The response's status is not Success (the status code).
    #[error("the identity provider reported {0}")]
    Status(String),
    /// No audience restriction names an audience the service accepts.
    #[error("the response does not contain the required audience")]
    Audience,
    /// No bearer subject confirmation is addressed to the service and still valid.
    #[error("no bearer subject confirmation is addressed to this service: {0}")]
    Recipient(String),
    /// The assertion's conditions (or confirmation) say it is no longer valid.
    #[error("the response has expired")]
    Expired,
    /// The assertion's conditions say it is not valid yet.
    #[error("the response is not valid yet")]
    NotYetValid,
    /// Issued longer ago than a response may be redeemed.
    #[error("the response was issued too long ago")]
    TooOld,
}
