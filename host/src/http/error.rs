//! The JSON error shape of every host-generated error response:
//! `{"error":{"code":"...","message":"..."}}`.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};

use crate::runtime::{InvokeError, ResponseBody};

/// How long a client told a component is busy should wait, in seconds.
const RETRY_AFTER_SECONDS: u32 = 1;

/// A host-generated HTTP error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl HttpError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub(crate) fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// The JSON body of this error.
    pub(crate) fn body(&self) -> serde_json::Value {
        serde_json::json!({ "error": { "code": self.code, "message": self.message } })
    }

    pub(crate) fn into_response(self) -> Response<ResponseBody> {
        json_response(self.status, &self.body())
    }
}

/// The status and code of each way a component may fail to answer.
fn invoke_status(failure: &InvokeError) -> (StatusCode, &'static str) {
    match failure {
        InvokeError::Busy { .. } => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
        InvokeError::PoolExhausted => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        InvokeError::BodyTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
        InvokeError::BodyStalled { .. } => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
        InvokeError::Timeout { .. } => (StatusCode::GATEWAY_TIMEOUT, "timeout"),
        InvokeError::Trapped { .. }
        | InvokeError::NoResponse { .. }
        | InvokeError::ErrorCode { .. }
        | InvokeError::Handoff => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

/// The error response of a request a component did not answer; a busy
/// component's says when to retry.
pub(crate) fn invoke_failure(failure: &InvokeError) -> Response<ResponseBody> {
    let (status, code) = invoke_status(failure);
    let mut response = HttpError::new(status, code, failure.to_string()).into_response();
    if matches!(failure, InvokeError::Busy { .. }) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    }
    response
}

/// A response with a JSON body.
pub(crate) fn json_response(
    status: StatusCode,
    value: &serde_json::Value,
) -> Response<ResponseBody> {
    json_bytes_response(status, Bytes::from(value.to_string()))
}

/// A response whose body is JSON text already.
pub(crate) fn json_bytes_response(status: StatusCode, bytes: Bytes) -> Response<ResponseBody> {
    bytes_response(status, "application/json", bytes)
}

/// A response with a body of `content_type`.
pub(crate) fn bytes_response(
    status: StatusCode,
    content_type: &'static str,
    bytes: Bytes,
) -> Response<ResponseBody> {
    let mut response = Response::new(
        Full::new(bytes)
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn each_invoke_failure_has_its_status_and_code() {
        let component = || "users".to_owned();
        let cases = [
            (
                InvokeError::Busy {
                    component: component(),
                    limit: 2,
                },
                503,
                "busy",
            ),
            (InvokeError::PoolExhausted, 503, "unavailable"),
            (
                InvokeError::BodyTooLarge {
                    component: component(),
                    limit: 9,
                },
                413,
                "too_large",
            ),
            (
                InvokeError::BodyStalled {
                    idle: Duration::from_secs(10),
                },
                408,
                "request_timeout",
            ),
            (
                InvokeError::Timeout {
                    component: component(),
                    limit: Duration::from_secs(3),
                },
                504,
                "timeout",
            ),
            (
                InvokeError::Trapped {
                    component: component(),
                },
                500,
                "internal",
            ),
            (
                InvokeError::NoResponse {
                    component: component(),
                },
                500,
                "internal",
            ),
            (
                InvokeError::ErrorCode {
                    component: component(),
                },
                500,
                "internal",
            ),
            (InvokeError::Handoff, 500, "internal"),
        ];
        for (failure, status, code) in cases {
            assert_eq!(
                invoke_status(&failure),
                (StatusCode::from_u16(status).unwrap(), code)
            );
        }
    }

    #[tokio::test]
    async fn a_busy_component_says_when_to_retry() {
        let busy = InvokeError::Busy {
            component: "users".into(),
            limit: 2,
        };
        let response = invoke_failure(&busy);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["error"]["message"], busy.to_string());
        let timeout = invoke_failure(&InvokeError::Timeout {
            component: "users".into(),
            limit: Duration::from_millis(1500),
        });
        assert!(timeout.headers().get(header::RETRY_AFTER).is_none());
    }

    #[tokio::test]
    async fn renders_the_documented_shape() {
        let response = HttpError::not_found("no route for /nope").into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": {"code": "not_found", "message": "no route for /nope"}})
        );
    }
}
