//! The HTTP front: the listener and connection handling, the route table,
//! host endpoints (health, readiness, metrics), request ids, and the JSON
//! error shape.

pub(crate) mod admin;
pub(crate) mod error;
mod health;
mod server;

pub use server::serve;

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use tracing::Instrument;

use crate::app::App;
use crate::observe::metrics::{Served, metrics};
use crate::observe::request_id;
use crate::observe::traces::{self, RequestSpan};
use crate::runtime::ResponseBody;
use admin::AdminToken;
use error::{HttpError, json_bytes_response};

/// What the HTTP front serves: the running host, and the admin API with
/// its token (the API is off without one).
pub struct Front {
    app: Arc<App>,
    admin: Option<AdminToken>,
}

impl Front {
    pub fn new(app: Arc<App>, admin_token: Option<&str>) -> Self {
        Self {
            app,
            admin: admin_token.map(AdminToken::new),
        }
    }
}

/// The response header naming the component version that answered.
pub(crate) const VERSION_HEADER: &str = "x-summer-component";

/// Which requests a listener answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Surface {
    /// Everything: the API, the host's endpoints and the admin API (the
    /// one listener of a host without `--admin-listen`).
    All,
    /// The public port beside an operations listener: component routes,
    /// `/healthz` and `/openapi.json`.
    Api,
    /// The operations listener (`--admin-listen`): `/healthz`, `/readyz`,
    /// `/metrics` and `/_admin`.
    Operations,
}

impl Surface {
    /// Whether this listener serves the host endpoint or admin path `path`.
    fn serves_operations(self, path: &str) -> bool {
        match self {
            Surface::All | Surface::Operations => true,
            Surface::Api => matches!(path, "/healthz" | "/openapi.json"),
        }
    }
}

/// The paths of the host's own endpoints, answered before any route.
const HOST_ENDPOINTS: [&str; 4] = ["/healthz", "/readyz", "/metrics", "/openapi.json"];
/// The methods the host's endpoints take (HEAD answers as GET, without a body).
const HOST_METHODS: &str = "GET, HEAD";

/// The host's own endpoints: health, readiness, metrics, the API document.
/// They take `GET` and `HEAD`; other methods are a 405 naming those.
async fn host_endpoint(app: &App, method: &Method, path: &str) -> Option<Response<ResponseBody>> {
    if !HOST_ENDPOINTS.contains(&path) {
        return None;
    }
    if method != Method::GET && method != Method::HEAD {
        return Some(method_not_allowed(method, path, HOST_METHODS));
    }
    Some(match path {
        "/healthz" => health::liveness(),
        "/readyz" => health::readiness(app.backends(), &app.granted()).await,
        "/metrics" => health::metrics_text(),
        "/openapi.json" => match app.routing().openapi() {
            Some(document) => json_bytes_response(StatusCode::OK, document.clone()),
            None => HttpError::not_found("this manifest names no OpenAPI document").into_response(),
        },
        _ => return None,
    })
}

/// 405 for `method` on `path`, with the `Allow` header naming `allowed`.
fn method_not_allowed(
    method: &Method,
    path: &str,
    allowed: &'static str,
) -> Response<ResponseBody> {
    let message = format!("{method} is not allowed on {path}; allowed: {allowed}");
    let mut response = HttpError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        message,
    )
    .into_response();
    response
        .headers_mut()
        .insert(http::header::ALLOW, HeaderValue::from_static(allowed));
    response
}

/// Answers one request in its own span, which carries the request id into
/// the logs of everything the request does; the response echoes the id.
pub(crate) async fn dispatch(
    front: &Front,
    surface: Surface,
    request: Request<Incoming>,
) -> Response<ResponseBody> {
    let id = request_id::of(request.headers());
    let span = tracing::info_span!(
        "request",
        id = %id,
        method = %request.method(),
        path = ?request.uri().path(),
    );
    let trace = traces::request_span(request.method(), request.uri(), request.headers(), &id);
    let scope = trace.as_ref().map(RequestSpan::scope);
    let answered = answer(front, surface, request, trace.as_ref()).instrument(span);
    let mut response = traces::in_scope(scope, answered).await;
    if let Some(trace) = trace {
        trace.end(response.status().as_u16());
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(request_id::HEADER, value);
    }
    response
}

/// A host endpoint, the admin API, or the component the route names, as
/// far as `surface` serves them.
async fn answer(
    front: &Front,
    surface: Surface,
    request: Request<Incoming>,
    trace: Option<&RequestSpan>,
) -> Response<ResponseBody> {
    let app = &front.app;
    let path = request.uri().path();
    let operations = surface.serves_operations(path);
    if operations && let Some(response) = host_endpoint(app, request.method(), path).await {
        return response;
    }
    if operations && path.starts_with("/_admin/") {
        return admin::handle(app, front.admin.as_ref(), request).await;
    }
    let routed = match surface {
        Surface::Operations => None,
        Surface::All | Surface::Api => app.routing().resolve(path),
    };
    let Some((route, component)) = routed else {
        return HttpError::not_found(format!("no route for {} {path}", request.method()))
            .into_response();
    };
    if let Some(trace) = trace {
        trace.routed(request.method(), &route, &component.name, &component.short);
    }
    let started = Instant::now();
    let served = Served {
        route,
        component: component.name.clone(),
        version: component.short.clone(),
    };
    let mut response = match crate::runtime::invoke(&component, app.backends(), request).await {
        Ok(response) => response,
        Err(failure) => error::invoke_failure(&failure),
    };
    response
        .headers_mut()
        .insert(VERSION_HEADER, component.served_by.clone());
    metrics().request(&served, response.status().as_u16(), started.elapsed());
    response
}
