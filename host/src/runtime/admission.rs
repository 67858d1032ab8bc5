//! What a request must pass before and while a component serves it: a
//! concurrency permit of the component (none free is a 503 with
//! `Retry-After`, never a queue), its request-body limit (413), checked on
//! `Content-Length` up front and on the bytes as the component reads them,
//! and the body read time-out of a client that stops sending (408).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::loader::LoadedComponent;
use crate::http::ResponseBody;
use crate::http::error::HttpError;

/// How long a client told the component is busy should wait, in seconds.
const RETRY_AFTER_SECONDS: u32 = 1;

/// How long a request body may go without a byte while the component waits.
const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

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

/// What became of a request body the component read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyVerdict {
    Fine = 0,
    /// More than the component's limit was sent (413).
    TooLarge = 1,
    /// The client stopped sending for [`BODY_IDLE_TIMEOUT`] (408).
    Stalled = 2,
}

/// The verdict on a body, shared by the body and the request that waits.
#[derive(Default)]
pub struct BodyWatch(AtomicU8);

impl BodyWatch {
    fn verdict(&self) -> BodyVerdict {
        match self.0.load(Ordering::SeqCst) {
            1 => BodyVerdict::TooLarge,
            2 => BodyVerdict::Stalled,
            _ => BodyVerdict::Fine,
        }
    }

    fn set(&self, verdict: BodyVerdict) {
        self.0.store(verdict as u8, Ordering::SeqCst);
    }

    /// The error response the verdict calls for, if any.
    pub fn error(&self, component: &LoadedComponent) -> Option<HttpError> {
        match self.verdict() {
            BodyVerdict::Fine => None,
            BodyVerdict::TooLarge => Some(body_too_large(component)),
            BodyVerdict::Stalled => Some(body_stalled()),
        }
    }
}

/// The request with its body capped at the component's limit and watched
/// for a client that stops sending; or a 413 when `Content-Length` already
/// says the body is too large.
pub fn cap_body(
    component: &LoadedComponent,
    request: Request<Incoming>,
) -> Result<(Request<CappedBody>, Arc<BodyWatch>), HttpError> {
    let limit = component.limits.max_body_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(body_too_large(component));
    }
    let watch = Arc::new(BodyWatch::default());
    let shared = watch.clone();
    let request = request.map(|inner| CappedBody {
        inner,
        remaining: limit,
        limit,
        watch: shared,
        idle: None,
    });
    Ok((request, watch))
}

/// The 408 of a client that stopped sending its body.
fn body_stalled() -> HttpError {
    HttpError::new(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        format!(
            "the request body stopped arriving for {} s",
            BODY_IDLE_TIMEOUT.as_secs()
        ),
    )
}

/// The 413 of a request body over the component's limit.
fn body_too_large(component: &LoadedComponent) -> HttpError {
    HttpError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!(
            "the request body is over the {} bytes component {} accepts",
            component.limits.max_body_bytes, component.name
        ),
    )
}

/// A request body that fails once more than its limit has been read, or
/// once the client sends nothing for [`BODY_IDLE_TIMEOUT`].
pub struct CappedBody {
    inner: Incoming,
    remaining: u64,
    limit: u64,
    watch: Arc<BodyWatch>,
    /// The wait for the next bytes, from when the component first found none.
    idle: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Body for CappedBody {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if polled.is_pending() {
            let idle = self
                .idle
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(BODY_IDLE_TIMEOUT)));
            ready!(idle.as_mut().poll(cx));
            self.watch.set(BodyVerdict::Stalled);
            return Poll::Ready(Some(Err(wasmtime_wasi_http::Error::ConnectionReadTimeout)));
        }
        self.idle = None;
        let frame = match ready!(polled) {
            Some(Ok(frame)) => frame,
            Some(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
            None => return Poll::Ready(None),
        };
        let length = frame.data_ref().map_or(0, |data| data.len() as u64);
        if length > self.remaining {
            self.watch.set(BodyVerdict::TooLarge);
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
