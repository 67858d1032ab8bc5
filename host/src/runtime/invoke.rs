//! Running one HTTP request through a component: a fresh instance from the
//! pre-instantiated component, with its deadline and memory limit, and the
//! mapping of traps and time-outs to JSON errors.

use std::sync::Arc;

use http::{HeaderValue, Request, Response};
use hyper::body::Incoming;
use wasmtime::{Store, Trap};
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;

use tokio::sync::OwnedSemaphorePermit;
use tracing::Instrument;

use super::admission;
use super::engine::ticks_for;
use super::loader::LoadedComponent;
use super::state::HostState;
use crate::capabilities::Backends;
use crate::http::ResponseBody;
use crate::http::error::HttpError;
use crate::observe::metrics::metrics;

/// The response header naming the component version that answered.
pub const VERSION_HEADER: &str = "x-summer-component";

/// Serves `request` with a fresh instance of `component`.
pub async fn invoke(
    component: Arc<LoadedComponent>,
    backends: Backends,
    request: Request<Incoming>,
) -> Response<ResponseBody> {
    let mut response = match admission::admit(&component) {
        Some(permit) => match run(&component, backends, request, permit).await {
            Ok(response) => response,
            Err(error) => error.into_response(),
        },
        None => admission::busy(&component),
    };
    let served_by = format!("{}@{}", component.name, component.short_version());
    if let Ok(value) = HeaderValue::from_str(&served_by) {
        response.headers_mut().insert(VERSION_HEADER, value);
    }
    response
}

async fn run(
    component: &Arc<LoadedComponent>,
    backends: Backends,
    request: Request<Incoming>,
    permit: OwnedSemaphorePermit,
) -> Result<Response<ResponseBody>, HttpError> {
    let (request, body_watch) = admission::cap_body(component, request)?;
    let limits = component.limits;
    let engine = component.pre.engine();
    let state = HostState::new(backends, component);
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.limits);
    store.set_epoch_deadline(ticks_for(limits.timeout));
    store.epoch_deadline_trap();

    let (sender, receiver) = tokio::sync::oneshot::channel();
    let handoff_failed = |e: wasmtime::Error| {
        tracing::error!(component = %component.name, "cannot pass the request in: {e:#}");
        HttpError::internal("the request could not be handed to the component")
    };
    let req = store
        .data_mut()
        .http()
        .new_incoming_request(Scheme::Http, request)
        .map_err(handoff_failed)?;
    let out = store
        .data_mut()
        .http()
        .new_response_outparam(sender)
        .map_err(handoff_failed)?;

    let pre = component.pre.clone();
    let name = component.name.clone();
    let task = tokio::spawn(
        async move {
            let _permit = permit;
            let _in_use = metrics().instance_in_use(&name);
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, req, out)
                .await
        }
        .in_current_span(),
    );

    let outcome = tokio::time::timeout(limits.timeout, receiver).await;
    if let Some(error) = body_watch.error(component) {
        task.abort();
        return Err(error);
    }
    match outcome {
        Ok(Ok(Ok(response))) => Ok(response),
        Ok(Ok(Err(code))) => {
            tracing::warn!(component = %component.name, "component answered with error code {code:?}");
            Err(HttpError::internal(format!(
                "component {} failed to produce a response",
                component.name
            )))
        }
        Ok(Err(_)) => Err(failure(component, task.await)),
        Err(_elapsed) => {
            task.abort();
            Err(deadline_exceeded(component))
        }
    }
}

/// The component ended without setting a response: a trap, an instantiation
/// failure, or a handler that returned without answering.
fn failure(
    component: &LoadedComponent,
    outcome: Result<wasmtime::Result<()>, tokio::task::JoinError>,
) -> HttpError {
    let error = match outcome {
        Ok(Ok(())) => {
            tracing::warn!(component = %component.name, "handler returned without a response");
            return HttpError::internal(format!(
                "component {} returned without a response",
                component.name
            ));
        }
        Ok(Err(error)) => error,
        Err(join) => {
            tracing::error!(component = %component.name, "handler task failed: {join}");
            return HttpError::internal(format!("component {} failed", component.name));
        }
    };
    if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return deadline_exceeded(component);
    }
    if error
        .downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
        .is_some()
    {
        tracing::warn!(component = %component.name, "instance pool exhausted: {error:#}");
        return HttpError::unavailable("the host is at its concurrent request limit");
    }
    tracing::error!(component = %component.name, "component trapped: {error:?}");
    HttpError::internal(format!("component {} trapped", component.name))
}

fn deadline_exceeded(component: &LoadedComponent) -> HttpError {
    tracing::warn!(component = %component.name, "deadline of {:?} exceeded", component.limits.timeout);
    HttpError::timeout(format!(
        "component {} did not answer within {} s",
        component.name,
        component.limits.timeout.as_secs_f64()
    ))
}
