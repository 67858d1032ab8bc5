//! Running one HTTP request through a component: a fresh instance from the
//! pre-instantiated component (or a waiting one, where the manifest opts in
//! to reuse), with its deadline and memory limit; traps, time-outs and
//! refusals come back as an [`InvokeError`].

use std::sync::Arc;

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::body::{Body, Frame, SizeHint};
use wasmtime::{Store, Trap};
use wasmtime_wasi_http::Error as BodyError;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;

use tokio::sync::OwnedSemaphorePermit;
use tracing::Instrument;

use super::admission;
use super::body::ResponseBody;
use super::engine::ticks_for;
use super::error::InvokeError;
use super::loader::LoadedComponent;
use super::reuse::Instance;
use super::state::HostState;
use crate::capabilities::Backends;
use crate::observe::metrics::metrics;
use crate::observe::traces;

/// Serves `request` with a fresh (or waiting) instance of `component`, if
/// one of its permits is free.
pub(crate) async fn invoke(
    component: &Arc<LoadedComponent>,
    backends: &Backends,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, InvokeError> {
    let limits = &component.limits;
    let permit = admission::admit(&component.gate, &component.name, limits.concurrency)?;
    run(component, backends, request, permit).await
}

async fn run(
    component: &Arc<LoadedComponent>,
    backends: &Backends,
    request: Request<Incoming>,
    permit: OwnedSemaphorePermit,
) -> Result<Response<ResponseBody>, InvokeError> {
    let limit = component.limits.max_body_bytes;
    let (request, body_watch) = admission::cap_body(&component.name, limit, request)?;
    let limits = component.limits;
    let mut instance = match component.reuse.as_ref().and_then(|reuse| reuse.take()) {
        Some(warm) => warm,
        None => Instance::fresh(new_store(component, backends.clone())),
    };
    instance.store.set_epoch_deadline(ticks_for(limits.timeout));

    let (sender, receiver) = tokio::sync::oneshot::channel();
    let handoff_failed = |e: wasmtime::Error| {
        tracing::error!(component = %component.name, "cannot pass the request in: {e:#}");
        InvokeError::Handoff
    };
    let mut http = instance.store.data_mut().http();
    let req = http
        .new_incoming_request(Scheme::Http, request)
        .map_err(handoff_failed)?;
    let out = http.new_response_outparam(sender).map_err(handoff_failed)?;

    let pre = component.pre.clone();
    let reuse = component.reuse.clone();
    let name = component.name.clone();
    let job = async move {
        let _permit = permit;
        let _in_use = metrics().instance_in_use(&name);
        let proxy = match instance.proxy.take() {
            Some(proxy) => proxy,
            None => pre.instantiate_async(&mut instance.store).await?,
        };
        proxy
            .wasi_http_incoming_handler()
            .call_handle(&mut instance.store, req, out)
            .await?;
        // Only an instance that answered cleanly may serve again.
        if let Some(reuse) = reuse {
            instance.proxy = Some(proxy);
            reuse.give_back(instance);
        }
        wasmtime::Result::<()>::Ok(())
    };
    let job = traces::in_scope(traces::current_scope(), job);
    let mut job = Job::start(job.in_current_span());
    let answer: Result<Response<ResponseBody>, InvokeError> = async {
        let deadline = tokio::time::Instant::now() + limits.timeout;
        let head = tokio::time::timeout_at(deadline, job.alongside(receiver)).await;
        if let Some(error) = body_watch.error() {
            job.stop();
            return Err(error);
        }
        let response = match head {
            Ok(Ok(Ok(response))) => response,
            Ok(Ok(Err(code))) => {
                tracing::warn!(component = %component.name, "component answered with error code {code:?}");
                return Err(InvokeError::ErrorCode {
                    component: component.name.to_string(),
                });
            }
            Ok(Err(_)) => return Err(failure(component, job.finish().await)),
            Err(_elapsed) => {
                job.stop();
                return Err(deadline_exceeded(component));
            }
        };
        let first = tokio::time::timeout_at(deadline, job.alongside(with_first_frame(response)));
        match first.await {
            Ok(response) => Ok(response),
            Err(_elapsed) => {
                job.stop();
                Err(deadline_exceeded(component))
            }
        }
    }
    .await;
    // Not reached when the client went away first: dropping this future
    // drops the job unanswered.
    job.answered = true;
    answer
}

type Running = Pin<Box<dyn Future<Output = wasmtime::Result<()>> + Send>>;

/// An instance handling a request. It runs in the task that waits for its
/// response, so nothing is handed between tasks (and threads) on the way to
/// the response head and first body frame; whatever is left when the job is
/// dropped (the rest of a long body, or all of it when the client went
/// away) finishes in a task of its own, so a request is never cut off half
/// way through a capability call. Only `stop` ends it early.
struct Job {
    running: Option<Running>,
    outcome: Option<wasmtime::Result<()>>,
    /// Whether the request got its answer (a response or an error); a job
    /// dropped without one lost its client.
    answered: bool,
}

impl Job {
    fn start(future: impl Future<Output = wasmtime::Result<()>> + Send + 'static) -> Self {
        Self {
            running: Some(Box::pin(future)),
            outcome: None,
            answered: false,
        }
    }

    /// Waits for `wanted` while the instance keeps running.
    async fn alongside<F: Future>(&mut self, wanted: F) -> F::Output {
        let mut wanted = std::pin::pin!(wanted);
        loop {
            let Some(running) = self.running.as_mut() else {
                return wanted.await;
            };
            tokio::select! {
                biased;
                output = &mut wanted => return output,
                outcome = running => {
                    self.running = None;
                    self.outcome = Some(outcome);
                }
            }
        }
    }

    /// The instance's outcome, once it has ended.
    async fn finish(&mut self) -> wasmtime::Result<()> {
        match self.running.take() {
            Some(running) => running.await,
            None => self.outcome.take().unwrap_or(Ok(())),
        }
    }

    /// Stops the instance where it is (a deadline passed, or its request
    /// was refused).
    fn stop(&mut self) {
        self.running = None;
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        if let (Some(running), Ok(runtime)) =
            (self.running.take(), tokio::runtime::Handle::try_current())
        {
            if !self.answered {
                tracing::info!(
                    "the client went away before its answer; the request runs to its end"
                );
            }
            runtime.spawn(running);
        }
    }
}

/// Waits for the first frame of the component's response body, so that
/// the head and the first bytes leave in one write: a head sent on its own
/// costs a system call and a packet of its own on every response.
async fn with_first_frame(response: Response<ResponseBody>) -> Response<ResponseBody> {
    let (parts, mut body) = response.into_parts();
    if body.is_end_stream() {
        return Response::from_parts(parts, body);
    }
    let body = match body.frame().await {
        Some(first) => Prefetched {
            first: Some(first),
            rest: body,
        }
        .boxed_unsync(),
        None => http_body_util::Empty::new()
            .map_err(|never| match never {})
            .boxed_unsync(),
    };
    Response::from_parts(parts, body)
}

/// A response body whose first frame has already arrived.
struct Prefetched {
    first: Option<Result<Frame<Bytes>, BodyError>>,
    rest: ResponseBody,
}

impl Body for Prefetched {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.first.take() {
            Some(first) => Poll::Ready(Some(first)),
            None => Pin::new(&mut self.rest).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.first.is_none() && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let rest = self.rest.size_hint();
        let first = match &self.first {
            Some(Ok(frame)) => frame.data_ref().map_or(0, |d| d.len() as u64),
            _ => 0,
        };
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower() + first);
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper + first);
        }
        hint
    }
}

/// A store for one request to `component`, with its memory limit.
fn new_store(component: &LoadedComponent, backends: Backends) -> Store<HostState> {
    let state = HostState::new(backends, component);
    let mut store = Store::new(component.pre.engine(), state);
    store.limiter(|state| &mut state.limits);
    store.epoch_deadline_trap();
    store
}

/// The component ended without setting a response: a trap, an instantiation
/// failure, or a handler that returned without answering.
fn failure(component: &LoadedComponent, outcome: wasmtime::Result<()>) -> InvokeError {
    let name = component.name.to_string();
    let Err(error) = outcome else {
        tracing::warn!(component = %name, "handler returned without a response");
        return InvokeError::NoResponse { component: name };
    };
    if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return deadline_exceeded(component);
    }
    if error
        .downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
        .is_some()
    {
        tracing::warn!(component = %name, "instance pool exhausted: {error:#}");
        return InvokeError::PoolExhausted;
    }
    tracing::error!(component = %name, "component trapped: {error:?}");
    InvokeError::Trapped { component: name }
}

fn deadline_exceeded(component: &LoadedComponent) -> InvokeError {
    let limit = component.limits.timeout;
    tracing::warn!(component = %component.name, "deadline of {limit:?} exceeded");
    InvokeError::Timeout {
        component: component.name.to_string(),
        limit,
    }
}
