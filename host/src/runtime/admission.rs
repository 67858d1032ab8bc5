//! What a request must pass before and while a component serves it: a
//! concurrency permit of the component (none free is a 503 with
//! `Retry-After`, never a queue), and its request-body limit (413), checked
//! on `Content-Length` up front and on the bytes as the component reads them.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::loader::LoadedComponent;
use crate::http::ResponseBody;
use crate::http::error::HttpError;

/// How long a client told the component is busy should wait, in seconds.
const RETRY_AFTER_SECONDS: u32 = 1;

/// The concurrency gate of one component, shared by its versions.
pub type Gate = Arc<Semaphore>;

/// A gate admitting `concurrency` requests at a time.
pub fn gate(concurrency: u32) -> Gate {
    Arc::new(Semaphore::new(concurrency as usize))
}

/// A permit to run `component`, if one is free.
pub fn admit(component: &LoadedComponent) -> Option<OwnedSemaphorePermit> {
    component.gate.clone().try_acquire_owned().ok()
}

/// The 503 of a component with no free permit.
pub fn busy(component: &LoadedComponent) -> Response<ResponseBody> {
    tracing::warn!(component = %component.name, "busy: every instance slot is taken");
    let mut response = HttpError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        format!(
            "component {} is serving its limit of {} requests at once; retry shortly",
            component.name, component.limits.concurrency
        ),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    response
}

/// The request with its body capped at the component's limit, and the flag
/// that says the component read past it; or a 413 when `Content-Length`
/// already says so.
pub fn cap_body(
    component: &LoadedComponent,
    request: Request<Incoming>,
) -> Result<(Request<CappedBody>, Arc<AtomicBool>), HttpError> {
    let limit = component.limits.max_body_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(body_too_large(component));
    }
    let exceeded = Arc::new(AtomicBool::new(false));
    let flag = exceeded.clone();
    let request = request.map(|inner| CappedBody {
        inner,
        remaining: limit,
        limit,
        exceeded: flag,
    });
    Ok((request, exceeded))
}

/// The 413 of a request body over the component's limit.
pub fn body_too_large(component: &LoadedComponent) -> HttpError {
    HttpError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!(
            "the request body is over the {} bytes component {} accepts",
            component.limits.max_body_bytes, component.name
        ),
    )
}

/// A request body that fails once more than its limit has been read.
pub struct CappedBody {
    inner: Incoming,
    remaining: u64,
    limit: u64,
    exceeded: Arc<AtomicBool>,
}

impl Body for CappedBody {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let frame = match ready!(Pin::new(&mut self.inner).poll_frame(cx)) {
            Some(Ok(frame)) => frame,
            Some(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
            None => return Poll::Ready(None),
        };
        let length = frame.data_ref().map_or(0, |data| data.len() as u64);
        if length > self.remaining {
            self.exceeded.store(true, Ordering::SeqCst);
            let limit = self.limit;
            return Poll::Ready(Some(Err(wasmtime_wasi_http::Error::HttpRequestBodySize(
                Some(limit),
            ))));
        }
        self.remaining -= length;
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
