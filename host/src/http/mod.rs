//! The HTTP front: the listener and connection handling, the route table,
//! host endpoints (health, readiness, metrics), request ids, and the JSON
//! error shape.

pub mod admin;
pub mod error;
mod health;
pub mod router;
mod server;

pub use server::serve;

use std::time::Instant;

use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use tracing::Instrument;

use crate::app::App;
use crate::observe::metrics::{Served, metrics};
use crate::observe::request_id;
use error::{HttpError, json_bytes_response};

/// The body type of every response the host sends.
pub type ResponseBody = wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// The host's own `GET` endpoints: health, readiness, metrics, the API
/// document.
async fn host_endpoint(app: &App, path: &str) -> Option<Response<ResponseBody>> {
    Some(match path {
        "/healthz" => health::liveness(),
        "/readyz" => health::readiness(app.backends()).await,
        "/metrics" => health::metrics_text(),
        "/openapi.json" => match app.routing().openapi() {
            Some(document) => json_bytes_response(StatusCode::OK, document.clone()),
            None => HttpError::not_found("this manifest names no OpenAPI document").into_response(),
        },
        _ => return None,
    })
}

/// Answers one request in its own span, which carries the request id into
/// the logs of everything the request does; the response echoes the id.
pub async fn dispatch(app: &App, request: Request<Incoming>) -> Response<ResponseBody> {
    let id = request_id::of(request.headers());
    let span = tracing::info_span!(
        "request",
        id = %id,
        method = %request.method(),
        path = ?request.uri().path(),
    );
    let mut response = answer(app, request).instrument(span).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(request_id::HEADER, value);
    }
    response
}

/// A host endpoint, the admin API, or the component the route names.
async fn answer(app: &App, request: Request<Incoming>) -> Response<ResponseBody> {
    let path = request.uri().path();
    if request.method() == Method::GET
        && let Some(response) = host_endpoint(app, path).await
    {
        return response;
    }
    if path.starts_with("/_admin/") {
        return admin::handle(app, request).await;
    }
    let Some((route, component)) = app.routing().resolve(path) else {
        return HttpError::not_found(format!("no route for {} {path}", request.method()))
            .into_response();
    };
    let started = Instant::now();
    let served = Served {
        route,
        component: component.name.clone(),
        version: component.short.clone(),
    };
    let response = crate::runtime::invoke(component, app.backends(), request).await;
    metrics().request(&served, response.status().as_u16(), started.elapsed());
    response
}
