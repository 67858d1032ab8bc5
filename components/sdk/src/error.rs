//! `ApiError`: an HTTP error with the JSON body shape every Summer API uses.

use std::fmt;

use crate::bindings::summer::platform::types::{Error as CapabilityError, ErrorKind};

/// An HTTP error response: status, machine-readable code, human message.
/// Handlers return it with `?`; capability errors convert into it
/// (`unavailable` is a 503, `timeout` a 504, `conflict` a 409).
///
/// ```
/// use summer_sdk::ApiError;
/// use summer_sdk::http::Response;
///
/// let error = ApiError::not_found("no user 42");
/// assert_eq!(error.status, 404);
/// assert_eq!(
///     error.body(),
///     serde_json::json!({ "error": { "code": "not_found", "message": "no user 42" } })
/// );
/// let response = Response::from(error);
/// assert_eq!(response.header("content-type"), Some("application/json"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status of the response.
    pub status: u16,
    /// A stable, machine-readable code (`invalid`, `not_found`, `conflict`...).
    pub code: &'static str,
    /// What went wrong, for a person.
    pub message: String,
}

impl ApiError {
    /// An error with any status and code.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400: the request is malformed or a field is invalid.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, "invalid", message)
    }

    /// 404: the thing asked for does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "not_found", message)
    }

    /// 405: the path exists but not with this method.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "method_not_allowed", message)
    }

    /// 409: the write conflicts with what is stored.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, "conflict", message)
    }

    /// 413: the request body is larger than the handler accepts.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(413, "too_large", message)
    }

    /// 415: the request body is not of a media type the handler accepts.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(415, "unsupported_media_type", message)
    }

    /// 500: the handler itself failed.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "internal", message)
    }

    /// The JSON body: `{"error":{"code":"...","message":"..."}}`.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({ "error": { "code": self.code, "message": self.message } })
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

/// A capability error becomes the HTTP error a client should see: the
/// backend's own condition (missing, conflict, down, slow) keeps its meaning;
/// a statement the component got wrong is the component's fault (500).
impl From<CapabilityError> for ApiError {
    fn from(error: CapabilityError) -> Self {
        let (status, code) = match error.kind {
            ErrorKind::NotFound => (404, "not_found"),
            ErrorKind::Conflict => (409, "conflict"),
            ErrorKind::Unavailable => (503, "unavailable"),
            ErrorKind::Timeout => (504, "timeout"),
            ErrorKind::Invalid | ErrorKind::Denied | ErrorKind::Internal => (500, "internal"),
        };
        ApiError::new(status, code, error.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_documented_shape() {
        let body = ApiError::conflict("email taken").body();
        assert_eq!(
            body,
            serde_json::json!({"error": {"code": "conflict", "message": "email taken"}})
        );
    }

    #[test]
    fn capability_errors_map_to_statuses() {
        let cases = [
            (ErrorKind::NotFound, 404),
            (ErrorKind::Conflict, 409),
            (ErrorKind::Unavailable, 503),
            (ErrorKind::Timeout, 504),
            (ErrorKind::Invalid, 500),
            (ErrorKind::Internal, 500),
        ];
        for (kind, status) in cases {
            let error = ApiError::from(CapabilityError {
                kind,
                message: "m".into(),
            });
            assert_eq!(error.status, status, "{kind:?}");
        }
    }
}
