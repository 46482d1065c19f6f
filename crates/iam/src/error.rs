//! Every IAM/STS error, and the one place that maps each to its AWS error code and HTTP status.

use thiserror::Error;

/// An error an IAM or STS operation returns to its caller.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum IamError {
    #[error("{0}")]
    NoSuchEntity(String),
    #[error("{0}")]
    EntityAlreadyExists(String),
    #[error("{0}")]
    DeleteConflict(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    MalformedPolicyDocument(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    ValidationError(String),
    #[error("{0}")]
    MissingParameter(String),
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    PasswordPolicyViolation(String),
    #[error("{0}")]
    EntityTemporarilyUnmodifiable(String),
    #[error("{0}")]
    UnmodifiableEntity(String),
    #[error("{0}")]
    InvalidAction(String),
    #[error("{0}")]
    ServiceFailure(String),
    #[error("{0}")]
    PackedPolicyTooLarge(String),
    #[error("{0}")]
    InvalidUserType(String),
    #[error("{0}")]
    InvalidPublicKey(String),
    #[error("{0}")]
    DuplicateSshPublicKey(String),
    #[error("{0}")]
    UnrecognizedPublicKeyEncoding(String),
    #[error("{0}")]
    MalformedCertificate(String),
    #[error("{0}")]
    InvalidCertificate(String),
    #[error("{0}")]
    DuplicateCertificate(String),
    /// A private key that does not belong to the certificate.
    #[error("{0}")]
    KeyPairMismatch(String),
    /// MFA codes that do not match the device (EnableMFADevice, ResyncMFADevice).
    #[error("{0}")]
    InvalidAuthenticationCode(String),
    /// Too many requests of one kind (AWS's `Throttling`, "Rate exceeded").
    #[error("{0}")]
    Throttling(String),
    /// A service that takes no service-specific credentials.
    #[error("{0}")]
    NotSupportedService(String),
    /// GetCredentialReport before any GenerateCredentialReport.
    #[error("{0}")]
    ReportNotPresent(String),
    /// GetCredentialReport of a report older than its four hours.
    #[error("{0}")]
    ReportExpired(String),
}

impl IamError {
    /// The AWS error code (`NoSuchEntity`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            IamError::NoSuchEntity(_) => "NoSuchEntity",
            IamError::EntityAlreadyExists(_) => "EntityAlreadyExists",
            IamError::DeleteConflict(_) => "DeleteConflict",
            IamError::LimitExceeded(_) => "LimitExceeded",
            IamError::MalformedPolicyDocument(_) => "MalformedPolicyDocument",
            IamError::InvalidInput(_) => "InvalidInput",
            IamError::ValidationError(_) => "ValidationError",
            IamError::MissingParameter(_) => "MissingParameter",
            IamError::AccessDenied(_) => "AccessDenied",
            IamError::PasswordPolicyViolation(_) => "PasswordPolicyViolation",
            IamError::EntityTemporarilyUnmodifiable(_) => "EntityTemporarilyUnmodifiable",
            IamError::UnmodifiableEntity(_) => "UnmodifiableEntity",
            IamError::InvalidAction(_) => "InvalidAction",
            IamError::ServiceFailure(_) => "ServiceFailure",
            IamError::PackedPolicyTooLarge(_) => "PackedPolicyTooLarge",
            IamError::InvalidUserType(_) => "InvalidUserType",
            IamError::InvalidPublicKey(_) => "InvalidPublicKey",
            IamError::DuplicateSshPublicKey(_) => "DuplicateSSHPublicKey",
            IamError::UnrecognizedPublicKeyEncoding(_) => "UnrecognizedPublicKeyEncoding",
            IamError::MalformedCertificate(_) => "MalformedCertificate",
            IamError::InvalidCertificate(_) => "InvalidCertificate",
            IamError::DuplicateCertificate(_) => "DuplicateCertificate",
            IamError::KeyPairMismatch(_) => "KeyPairMismatch",
            IamError::InvalidAuthenticationCode(_) => "InvalidAuthenticationCode",
            IamError::Throttling(_) => "Throttling",
            IamError::ReportNotPresent(_) => "ReportNotPresent",
            IamError::ReportExpired(_) => "ReportExpired",
            IamError::NotSupportedService(_) => "NotSupportedService",
        }
    }

    /// The HTTP status AWS answers with.
    pub fn status(&self) -> u16 {
        match self {
            IamError::NoSuchEntity(_) | IamError::NotSupportedService(_) => 404,
            IamError::EntityAlreadyExists(_)
            | IamError::DeleteConflict(_)
            | IamError::LimitExceeded(_)
            | IamError::EntityTemporarilyUnmodifiable(_)
            | IamError::DuplicateCertificate(_) => 409,
            IamError::AccessDenied(_) | IamError::InvalidAuthenticationCode(_) => 403,
            IamError::ServiceFailure(_) => 500,
            IamError::ReportNotPresent(_) | IamError::ReportExpired(_) => 410,
            _ => 400,
        }
    }

    /// `Sender` for the caller's mistakes, `Receiver` for ours.
    pub fn fault(&self) -> &'static str {
        match self {
            IamError::ServiceFailure(_) => "Receiver",
            _ => "Sender",
        }
    }
}

/// Shorthand for operation results.
pub type IamResult<T> = Result<T, IamError>;
