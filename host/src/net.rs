//! One HTTP/1.1 exchange with a whole body each way over the host's hyper
//! client (the one components' outgoing requests use), within time
//! limits: the trace exporter's sends and the registry client's.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};

/// How long a server gets to accept a connection, and to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// Why an exchange got no answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NetError {
    #[error("{0}")]
    Send(#[from] wasmtime_wasi_http::Error),
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error("reading the answer: {0}")]
    Read(String),
    #[error("invalid request: {0}")]
    Invalid(String),
}

/// Sends `request` (to an absolute `http` or `https` URL) and reads the
/// whole answer, of at most `limit` bytes.
pub(crate) async fn exchange(
    request: http::Request<Bytes>,
    limit: usize,
) -> Result<http::Response<Bytes>, NetError> {
    let mut request = request.map(|bytes| Full::new(bytes).map_err(|never| match never {}));
    let authority = request
        .uri()
        .authority()
        .ok_or_else(|| NetError::Invalid(format!("{} names no host", request.uri())))?;
    let host = http::HeaderValue::from_str(authority.as_str())
        .map_err(|e| NetError::Invalid(e.to_string()))?;
    request.headers_mut().insert(http::header::HOST, host);
    let options = wasmtime_wasi_http::RequestOptions {
        connect_timeout: Some(CONNECT_TIMEOUT),
        first_byte_timeout: Some(ANSWER_TIMEOUT),
        between_bytes_timeout: Some(ANSWER_TIMEOUT),
    };
    let (response, connection) =
        wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
    tokio::spawn(connection);
    let (parts, body) = response.into_parts();
    let body = Limited::new(body, limit).collect().await.map_err(|e| {
        if e.is::<http_body_util::LengthLimitError>() {
            NetError::TooLarge(limit)
        } else {
            NetError::Read(e.to_string())
        }
    })?;
    Ok(http::Response::from_parts(parts, body.to_bytes()))
}
