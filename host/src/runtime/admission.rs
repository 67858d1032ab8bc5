//! What a request must pass before and while a component serves it: a
//! concurrency permit of the component (none free is `Busy`, never a
//! queue), its request-body limit, checked on `Content-Length` up front and
//! on the bytes as the component reads them, and the body read time-out of
//! a client that stops sending.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, header};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::InvokeError;

/// How long a request body may go without a byte while the component waits.
const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// The concurrency gate of one component, shared by its versions.
pub(crate) type Gate = Arc<Semaphore>;

/// A gate admitting `concurrency` requests at a time.
pub(crate) fn gate(concurrency: u32) -> Gate {
    Arc::new(Semaphore::new(concurrency as usize))
}

/// A permit of `gate` to run `component`, or `Busy` when all `concurrency`
/// of them are taken.
pub(crate) fn admit(
    gate: &Gate,
    component: &str,
    concurrency: u32,
) -> Result<OwnedSemaphorePermit, InvokeError> {
    gate.clone().try_acquire_owned().map_err(|_| {
        tracing::warn!(component, "busy: every instance slot is taken");
        InvokeError::Busy {
            component: component.to_owned(),
            limit: concurrency,
        }
    })
}

/// What became of a request body the component read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyVerdict {
    Fine = 0,
    /// More than the component's limit was sent.
    TooLarge = 1,
    /// The client stopped sending for [`BODY_IDLE_TIMEOUT`].
    Stalled = 2,
}

/// The verdict on a body, shared by the body and the request that waits.
pub(crate) struct BodyWatch {
    verdict: AtomicU8,
    component: Arc<str>,
    limit: u64,
}

impl BodyWatch {
    fn verdict(&self) -> BodyVerdict {
        match self.verdict.load(Ordering::SeqCst) {
            1 => BodyVerdict::TooLarge,
            2 => BodyVerdict::Stalled,
            _ => BodyVerdict::Fine,
        }
    }

    fn set(&self, verdict: BodyVerdict) {
        self.verdict.store(verdict as u8, Ordering::SeqCst);
    }

    /// The failure the verdict calls for, if any.
    pub(crate) fn error(&self) -> Option<InvokeError> {
        match self.verdict() {
            BodyVerdict::Fine => None,
            BodyVerdict::TooLarge => Some(too_large(&self.component, self.limit)),
            BodyVerdict::Stalled => Some(InvokeError::BodyStalled {
                idle: BODY_IDLE_TIMEOUT,
            }),
        }
    }
}

/// The request with its body capped at `limit` bytes and watched for a
/// client that stops sending; or `BodyTooLarge` when `Content-Length`
/// already says the body is too large.
pub(crate) fn cap_body<B>(
    component: &Arc<str>,
    limit: u64,
    request: Request<B>,
) -> Result<(Request<CappedBody<B>>, Arc<BodyWatch>), InvokeError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large(component, limit));
    }
    let watch = Arc::new(BodyWatch {
        verdict: AtomicU8::new(BodyVerdict::Fine as u8),
        component: component.clone(),
        limit,
    });
    let shared = watch.clone();
    let request = request.map(|inner| CappedBody {
        inner,
        remaining: limit,
        watch: shared,
        idle: None,
    });
    Ok((request, watch))
}

fn too_large(component: &str, limit: u64) -> InvokeError {
    InvokeError::BodyTooLarge {
        component: component.to_owned(),
        limit,
    }
}

/// A request body that fails once more than its limit has been read, or
/// once the client sends nothing for [`BODY_IDLE_TIMEOUT`].
pub(crate) struct CappedBody<B = Incoming> {
    inner: B,
    remaining: u64,
    watch: Arc<BodyWatch>,
    /// The wait for the next bytes, from when the component first found none.
    idle: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<B> Body for CappedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<wasmtime_wasi_http::Error>,
{
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
            let limit = self.watch.limit;
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

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::collections::VecDeque;

    /// A client's body: its chunks, then the end; `None` is a client that
    /// stops sending there.
    struct Client(VecDeque<Option<&'static str>>);

    impl Body for Client {
        type Data = Bytes;
        type Error = hyper::Error;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
            match self.0.pop_front() {
                Some(Some(chunk)) => Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk))))),
                Some(None) => {
                    self.0.push_front(None);
                    Poll::Pending
                }
                None => Poll::Ready(None),
            }
        }
    }

    fn request(chunks: &[Option<&'static str>], length: Option<u64>) -> Request<Client> {
        let mut builder = Request::builder();
        if let Some(length) = length {
            builder = builder.header(header::CONTENT_LENGTH, length);
        }
        builder
            .body(Client(chunks.iter().copied().collect()))
            .unwrap()
    }

    fn name() -> Arc<str> {
        Arc::from("users")
    }

    /// Reads the capped body to its end or first error.
    async fn read(
        request: Request<CappedBody<Client>>,
    ) -> Result<Bytes, wasmtime_wasi_http::Error> {
        request
            .into_body()
            .collect()
            .await
            .map(|body| body.to_bytes())
    }

    #[tokio::test]
    async fn a_body_within_the_limit_passes_whole() {
        let (request, watch) =
            cap_body(&name(), 10, request(&[Some("hello"), Some("!")], None)).unwrap();
        assert_eq!(read(request).await.unwrap(), "hello!");
        assert_eq!(watch.error(), None);
    }

    #[tokio::test]
    async fn a_declared_length_over_the_limit_is_refused_before_reading() {
        let refused = cap_body(&name(), 10, request(&[], Some(11))).err();
        let expected = InvokeError::BodyTooLarge {
            component: "users".into(),
            limit: 10,
        };
        assert_eq!(refused, Some(expected));
    }

    #[tokio::test]
    async fn bytes_past_the_limit_fail_the_read_and_the_request() {
        let chunks = [Some("hello"), Some("world"), Some("!")];
        let (request, watch) = cap_body(&name(), 10, request(&chunks, None)).unwrap();
        assert!(read(request).await.is_err());
        assert!(matches!(
            watch.error(),
            Some(InvokeError::BodyTooLarge { limit: 10, .. })
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_stops_sending_stalls_the_body() {
        let (request, watch) = cap_body(&name(), 100, request(&[Some("he"), None], None)).unwrap();
        let started = tokio::time::Instant::now();
        assert!(read(request).await.is_err());
        assert_eq!(started.elapsed(), BODY_IDLE_TIMEOUT);
        assert_eq!(
            watch.error(),
            Some(InvokeError::BodyStalled {
                idle: BODY_IDLE_TIMEOUT
            })
        );
    }

    #[test]
    fn the_gate_admits_its_concurrency_and_no_more() {
        let gate = gate(2);
        let first = admit(&gate, "users", 2).unwrap();
        let _second = admit(&gate, "users", 2).unwrap();
        let busy = InvokeError::Busy {
            component: "users".into(),
            limit: 2,
        };
        assert_eq!(admit(&gate, "users", 2).err(), Some(busy));
        drop(first);
        assert!(admit(&gate, "users", 2).is_ok());
    }
}
