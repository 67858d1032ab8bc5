//! The HTTP front: the listener and connection handling, the route table,
//! host endpoints, and the JSON error shape.

pub mod admin;
pub mod error;
pub mod router;
mod server;

pub use server::serve;

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::app::App;
use error::{HttpError, json_bytes_response, json_response};

/// The body type of every response the host sends.
pub type ResponseBody = wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// The host's own `GET` endpoints: `/healthz` and `/openapi.json`.
fn host_endpoint(app: &App, path: &str) -> Option<Response<ResponseBody>> {
    match path {
        "/healthz" => Some(json_response(
            StatusCode::OK,
            &serde_json::json!({ "status": "ok" }),
        )),
        "/openapi.json" => Some(match app.routing().openapi() {
            Some(document) => json_bytes_response(StatusCode::OK, document.clone()),
            None => HttpError::not_found("this manifest names no OpenAPI document").into_response(),
        }),
        _ => None,
    }
}

/// Answers one request: a host endpoint, or the component its route names.
pub async fn dispatch(app: &App, request: Request<Incoming>) -> Response<ResponseBody> {
    let path = request.uri().path();
    if request.method() == Method::GET
        && let Some(response) = host_endpoint(app, path)
    {
        return response;
    }
    if path.starts_with("/_admin/") {
        return admin::handle(app, request).await;
    }
    tracing::debug!(method = %request.method(), path, "request");
    let Some(component) = app.routing().resolve(path) else {
        return HttpError::not_found(format!("no route for {} {path}", request.method()))
            .into_response();
    };
    crate::runtime::invoke(component, app.backends().clone(), request).await
}
