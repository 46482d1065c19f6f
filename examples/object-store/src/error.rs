//! S3's errors.

use axum::response::{IntoResponse, Response};
use portcullis_guard::{ErrorFormat, Rejection};

/// An S3 error: status, code, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Error {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl S3Error {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> S3Error {
        S3Error {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn no_such_bucket() -> S3Error {
        S3Error::new(404, "NoSuchBucket", "The specified bucket does not exist")
    }

    pub fn no_such_key() -> S3Error {
        S3Error::new(404, "NoSuchKey", "The specified key does not exist.")
    }

    pub fn invalid_argument(message: impl Into<String>) -> S3Error {
        S3Error::new(400, "InvalidArgument", message)
    }

    pub fn method_not_allowed() -> S3Error {
        S3Error::new(
            405,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
        )
    }

    pub fn internal() -> S3Error {
        S3Error::new(
            500,
            "InternalError",
            "We encountered an internal error. Please try again.",
        )
    }

    /// The same error as the guard's rejection (one shape for every error the client sees).
    pub fn rejection(self) -> Rejection {
        Rejection::new(self.status, self.code, self.message)
    }
}

impl From<std::io::Error> for S3Error {
    fn from(e: std::io::Error) -> S3Error {
        tracing::error!(error = %e, "object store: disk error");
        S3Error::internal()
    }
}

impl IntoResponse for S3Error {
    fn into_response(self) -> Response {
        self.rejection().into_response(ErrorFormat::Xml)
    }
}
