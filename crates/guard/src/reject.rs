//! Refusals, answered to the client in AWS's error shapes.

use axum_core::body::Body;
use http::{HeaderValue, Response, StatusCode, header};

/// How errors are written: S3 and the Query APIs use XML, the JSON protocols JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorFormat {
    /// `<Error><Code>…</Code><Message>…</Message><RequestId>…</RequestId></Error>` (S3).
    #[default]
    Xml,
    /// `{"__type": "…", "message": "…"}` (the JSON protocols).
    Json,
}

/// A refusal of the client's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

impl Rejection {
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Rejection {
        Rejection {
            status,
            code: code.into(),
            message: message.into(),
            request_id: None,
        }
    }

    /// `AccessDenied` (403).
    pub fn access_denied(message: impl Into<String>) -> Rejection {
        Rejection::new(403, "AccessDenied", message)
    }

    /// `InvalidRequest` (400).
    pub fn invalid_request(message: impl Into<String>) -> Rejection {
        Rejection::new(400, "InvalidRequest", message)
    }

    /// `InternalError` (500).
    pub fn internal(message: impl Into<String>) -> Rejection {
        Rejection::new(500, "InternalError", message)
    }

    /// `ServiceUnavailable` (503): Portcullis could not be asked.
    pub fn unavailable(message: impl Into<String>) -> Rejection {
        Rejection::new(503, "ServiceUnavailable", message)
    }

    pub fn with_request_id(mut self, id: impl Into<String>) -> Rejection {
        self.request_id = Some(id.into());
        self
    }

    /// The response the client gets.
    pub fn into_response(self, format: ErrorFormat) -> Response<Body> {
        let (body, content_type) = match format {
            ErrorFormat::Xml => {
                let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>");
                push_element(&mut xml, "Code", &self.code);
                push_element(&mut xml, "Message", &self.message);
                if let Some(id) = &self.request_id {
                    push_element(&mut xml, "RequestId", id);
                }
                xml.push_str("</Error>");
                (xml, "application/xml")
            }
            ErrorFormat::Json => (
                serde_json::json!({"__type": self.code, "message": self.message}).to_string(),
                "application/x-amz-json-1.1",
            ),
        };
        let mut response = Response::new(Body::from(body));
        *response.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Some(id) = self
            .request_id
            .as_deref()
            .and_then(|id| HeaderValue::from_str(id).ok())
        {
            headers.insert("x-amz-request-id", id.clone());
            headers.insert("x-amzn-RequestId", id);
        }
        response
    }
}

fn push_element(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}
