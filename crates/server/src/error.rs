//! API errors as AWS returns them: a code, a message, an HTTP status, in an `<ErrorResponse>`.

use portcullis_iam::IamError;

use crate::xml::escape;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: &'static str,
    pub message: String,
    pub status: u16,
    pub fault: &'static str,
}

impl ApiError {
    pub fn new(code: &'static str, status: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            status,
            fault: if status >= 500 { "Receiver" } else { "Sender" },
        }
    }

    pub fn validation(message: impl Into<String>) -> ApiError {
        ApiError::new("ValidationError", 400, message)
    }

    pub fn access_denied(message: impl Into<String>) -> ApiError {
        ApiError::new("AccessDenied", 403, message)
    }

    /// The `<ErrorResponse>` document, in the namespace of the API that failed.
    pub fn to_xml(&self, namespace: &str, request_id: &str) -> String {
        format!(
            "<ErrorResponse xmlns=\"{namespace}\"><Error><Type>{}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
            self.fault,
            self.code,
            escape(&self.message)
        )
    }
}

impl From<IamError> for ApiError {
    fn from(e: IamError) -> ApiError {
        ApiError {
            code: e.code(),
            status: e.status(),
            fault: e.fault(),
            message: e.to_string(),
        }
    }
}
