//! Trace export: OpenTelemetry spans for requests, the capability calls and
//! outgoing HTTP calls they make, and the spans their components open,
//! sent over OTLP/HTTP (protobuf) when an endpoint is configured with the
//! standard `OTEL_*` variables; W3C trace context is taken from requests
//! and passed on to the calls they make. Without an endpoint nothing here
//! runs: every entry point returns at its first check.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http::HeaderMap;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{
    SpanBuilder, SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_http::{HeaderExtractor, HeaderInjector, HttpClient, HttpError};
use opentelemetry_otlp::{Protocol, WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

/// The tracer of this process, once export is on.
static TRACER: OnceLock<SdkTracer> = OnceLock::new();

/// The largest answer read from a collector.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Trace export while it runs; dropping it sends the spans still queued.
pub struct Exporting {
    provider: SdkTracerProvider,
}

impl Drop for Exporting {
    fn drop(&mut self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("trace export: the last spans were not sent: {e}");
        }
    }
}

/// Whether spans are exported (an endpoint is set and export not disabled).
pub(crate) fn enabled() -> bool {
    TRACER.get().is_some()
}

/// Starts trace export if the environment configures it: an endpoint in
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`,
/// and neither `OTEL_SDK_DISABLED=true` nor `OTEL_TRACES_EXPORTER=none`.
/// Exports are sent from `runtime`.
pub fn start(runtime: tokio::runtime::Handle) -> anyhow::Result<Option<Exporting>> {
    if !configured(&var) {
        return Ok(None);
    }
    check_protocol(&var)?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_http_client(Client { runtime })
        .build()
        .context("setting up the OTLP trace exporter")?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource())
        .build();
    if TRACER.set(provider.tracer("summer")).is_err() {
        bail!("trace export was already started");
    }
    Ok(Some(Exporting { provider }))
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Reads a variable of the environment; a blank value counts as unset.
type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

fn set(env: Env, name: &str) -> Option<String> {
    env(name).filter(|value| !value.trim().is_empty())
}

fn configured(env: Env) -> bool {
    let disabled = set(env, "OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let no_exporter =
        set(env, "OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none"));
    let endpoint = [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .iter()
    .any(|name| set(env, name).is_some());
    endpoint && !disabled && !no_exporter
}

/// Summer exports OTLP over HTTP with protobuf bodies; another protocol
/// asked for is an error rather than silence.
fn check_protocol(env: Env) -> anyhow::Result<()> {
    for name in [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ] {
        if let Some(protocol) = set(env, name) {
            if protocol != "http/protobuf" {
                bail!("{name}={protocol} is not served: Summer exports traces as http/protobuf");
            }
            return Ok(());
        }
    }
    Ok(())
}

/// The process's resource: `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`
/// as set, the service named `summer` when neither names it, and Summer's
/// version.
fn resource() -> Resource {
    let named = set(&var, "OTEL_SERVICE_NAME").is_some()
        || set(&var, "OTEL_RESOURCE_ATTRIBUTES").is_some_and(|a| a.contains("service.name="));
    let builder = Resource::builder()
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")));
    if named {
        builder.build()
    } else {
        builder.with_service_name("summer").build()
    }
}

/// Sends the exporter's requests with the host's own HTTP client, on the
/// host's runtime (the exporter runs them from a thread of its own).
#[derive(Debug)]
struct Client {
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for Client {
    async fn send_bytes(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, HttpError> {
        let sent = self
            .runtime
            .spawn(crate::net::exchange(request, MAX_ANSWER_BYTES));
        Ok(sent.await??)
    }
}

tokio::task_local! {
    static SCOPE: Scope;
}

/// The open spans of one request, innermost last: the request's own (id
/// 0), then those its component opened. Calls the request makes are
/// children of the innermost.
#[derive(Clone)]
pub(crate) struct Scope(Arc<Mutex<Spans>>);

#[derive(Default)]
struct Spans {
    open: Vec<Open>,
    /// The id the next span the component opens gets: ids are never
    /// reused, so a handle to a span already ended never names a newer one.
    next: u64,
}

struct Open {
    id: u64,
    cx: Context,
}

impl Scope {
    /// A scope with the request's span `cx` open.
    fn new(cx: Context) -> Self {
        let spans = Spans {
            open: vec![Open { id: 0, cx }],
            next: 1,
        };
        Self(Arc::new(Mutex::new(spans)))
    }

    fn spans(&self) -> std::sync::MutexGuard<'_, Spans> {
        self.0.lock().expect("trace scope lock")
    }

    fn innermost(&self) -> Context {
        self.spans().innermost()
    }

    /// Opens a span with `open` (given the innermost as its parent) inside
    /// the innermost; its id.
    fn push(&self, open: impl FnOnce(&Context) -> Context) -> u64 {
        let mut spans = self.spans();
        let cx = open(&spans.innermost());
        let id = spans.next;
        spans.next += 1;
        spans.open.push(Open { id, cx });
        id
    }

    /// Ends span `id`, and any opened inside it and left open; not the
    /// request's own.
    fn end(&self, id: u64) {
        let mut spans = self.spans();
        let Some(at) = spans.open.iter().position(|o| o.id == id && id != 0) else {
            return;
        };
        for inner in spans.open.drain(at..).rev() {
            inner.cx.span().end();
        }
    }

    fn with_open(&self, id: u64, act: impl FnOnce(&Context)) {
        if let Some(found) = self.spans().open.iter().find(|o| o.id == id) {
            act(&found.cx);
        }
    }
}

impl Spans {
    fn innermost(&self) -> Context {
        self.open.last().map(|o| o.cx.clone()).unwrap_or_default()
    }
}

/// Starts the span `builder` describes as a child of `parent`; the context
/// holding it.
fn open_child(tracer: &SdkTracer, parent: &Context, builder: SpanBuilder) -> Context {
    parent.with_span(builder.start_with_context(tracer, parent))
}

/// Writes the context of `cx`'s span into `headers` (`traceparent`, and
/// `tracestate` when the trace carries one).
fn inject(cx: &Context, headers: &mut HeaderMap) {
    TraceContextPropagator::new().inject_context(cx, &mut HeaderInjector(headers));
}

/// The trace scope `future` runs in, when there is one.
pub(crate) fn current_scope() -> Option<Scope> {
    SCOPE.try_with(Clone::clone).ok()
}

/// Runs `future` in `scope` (as it is, without one).
pub(crate) async fn in_scope<F: Future>(scope: Option<Scope>, future: F) -> F::Output {
    match scope {
        Some(scope) => SCOPE.scope(scope, future).await,
        None => future.await,
    }
}

/// The span of one request the host serves.
pub(crate) struct RequestSpan {
    cx: Context,
    scope: Scope,
}

/// Opens the span of a request with `headers`, the child of the trace
/// context they carry (`traceparent`, `tracestate`), if export is on.
pub(crate) fn request_span(
    method: &http::Method,
    uri: &http::Uri,
    headers: &HeaderMap,
    request_id: &str,
) -> Option<RequestSpan> {
    let tracer = TRACER.get()?;
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    let mut attributes = vec![
        KeyValue::new("http.request.method", method.as_str().to_owned()),
        KeyValue::new("url.path", uri.path().to_owned()),
        KeyValue::new("url.scheme", "http"),
        KeyValue::new("network.protocol.name", "http"),
        KeyValue::new("summer.request_id", request_id.to_owned()),
    ];
    if let Some(query) = uri.query() {
        attributes.push(KeyValue::new("url.query", query.to_owned()));
    }
    if let Some(agent) = headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    {
        attributes.push(KeyValue::new("user_agent.original", agent.to_owned()));
    }
    let builder = tracer
        .span_builder(method.as_str().to_owned())
        .with_kind(SpanKind::Server)
        .with_attributes(attributes);
    let cx = open_child(tracer, &parent, builder);
    let scope = Scope::new(cx.clone());
    Some(RequestSpan { cx, scope })
}

impl RequestSpan {
    /// The scope the request's work runs in.
    pub(crate) fn scope(&self) -> Scope {
        self.scope.clone()
    }

    /// Names the route `pattern` and the component version that serves it.
    pub(crate) fn routed(
        &self,
        method: &http::Method,
        pattern: &str,
        component: &str,
        version: &str,
    ) {
        let span = self.cx.span();
        span.update_name(format!("{method} {pattern}"));
        span.set_attributes([
            KeyValue::new("http.route", pattern.to_owned()),
            KeyValue::new("summer.component", component.to_owned()),
            KeyValue::new("summer.component.version", version.to_owned()),
        ]);
    }

    /// Ends the span with the response's `status`; a 5xx marks it failed.
    pub(crate) fn end(self, status: u16) {
        let span = self.cx.span();
        span.set_attribute(KeyValue::new(
            "http.response.status_code",
            i64::from(status),
        ));
        if status >= 500 {
            span.set_status(Status::error(format!("answered {status}")));
        }
        span.end();
    }
}

/// A span for one call a request makes (to a capability, or out over
/// HTTP), the child of the innermost open span of its request.
pub(crate) struct CallSpan {
    cx: Context,
}

/// Opens a call span named `name`, if export is on and the call is made
/// for a request.
pub(crate) fn call_span(
    name: impl Into<Cow<'static, str>>,
    kind: SpanKind,
    attributes: Vec<KeyValue>,
) -> Option<CallSpan> {
    let tracer = TRACER.get()?;
    let parent = current_scope()?.innermost();
    let builder = tracer
        .span_builder(name)
        .with_kind(kind)
        .with_attributes(attributes);
    Some(CallSpan {
        cx: open_child(tracer, &parent, builder),
    })
}

impl CallSpan {
    pub(crate) fn set(&self, attribute: KeyValue) {
        self.cx.span().set_attribute(attribute);
    }

    /// Writes this span's context into outgoing `headers` (`traceparent`,
    /// and `tracestate` when the trace carries one).
    pub(crate) fn inject(&self, headers: &mut HeaderMap) {
        inject(&self.cx, headers);
    }

    /// Ends the span; `failure` marks it failed, with that description.
    pub(crate) fn end(self, failure: Option<String>) {
        let span = self.cx.span();
        if let Some(description) = failure {
            span.set_status(Status::error(description));
        }
        span.end();
    }
}

/// Opens a span a component asked for, inside the innermost open span of
/// its request; its id names it to [`set_guest_attribute`] and
/// [`end_guest_span`]. `None` when export is off or outside a request.
pub(crate) fn start_guest_span(name: String) -> Option<u64> {
    let tracer = TRACER.get()?;
    let builder = tracer.span_builder(name).with_kind(SpanKind::Internal);
    Some(current_scope()?.push(|parent| open_child(tracer, parent, builder)))
}

/// Sets an attribute on the open span `id` of the current request (0: the
/// request's own span).
pub(crate) fn set_guest_attribute(id: u64, key: String, value: String) {
    if let Some(scope) = current_scope() {
        scope.with_open(id, |cx| cx.span().set_attribute(KeyValue::new(key, value)));
    }
}

/// Ends the component's span `id`, and any it opened inside it and left open.
pub(crate) fn end_guest_span(id: u64) {
    if let Some(scope) = current_scope() {
        scope.end(id);
    }
}

/// The W3C `traceparent` of the innermost open span of the current
/// request, for a component to pass on or to log.
pub(crate) fn traceparent() -> Option<String> {
    TRACER.get()?;
    let cx = current_scope()?.innermost();
    let mut headers = HeaderMap::new();
    inject(&cx, &mut headers);
    headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn export_needs_an_endpoint_and_is_not_disabled() {
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318");
        assert!(!configured(&env(&[])));
        assert!(!configured(&env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")])));
        assert!(configured(&env(&[endpoint])));
        assert!(configured(&env(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://127.0.0.1:4318/v1/traces"
        )])));
        assert!(!configured(&env(&[
            endpoint,
            ("OTEL_SDK_DISABLED", "TRUE")
        ])));
        assert!(!configured(&env(&[
            endpoint,
            ("OTEL_TRACES_EXPORTER", "none")
        ])));
    }

    #[test]
    fn a_guest_span_handle_never_names_a_later_span() {
        let scope = Scope::new(Context::new());
        let outer = scope.push(|_| Context::new());
        let inner = scope.push(|_| Context::new());
        // Ending the outer span ends the inner one the component left open.
        scope.end(outer);
        assert_eq!(scope.spans().open.len(), 1);
        let later = scope.push(|_| Context::new());
        let latest = scope.push(|_| Context::new());
        assert!(![outer, inner].contains(&later) && ![outer, inner].contains(&latest));
        // The component drops its handle to the inner span: nothing of
        // the later spans ends.
        scope.end(inner);
        let open: Vec<u64> = scope.spans().open.iter().map(|o| o.id).collect();
        assert_eq!(open, [0, later, latest]);
        // The request's own span is never ended by a component.
        scope.end(0);
        assert_eq!(scope.spans().open.len(), 3);
    }

    #[test]
    fn only_http_protobuf_is_spoken() {
        assert!(check_protocol(&env(&[])).is_ok());
        assert!(check_protocol(&env(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")])).is_ok());
        let refused = check_protocol(&env(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")])).unwrap_err();
        assert!(refused.to_string().contains("grpc"), "{refused}");
        let traces_first = env(&[
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ]);
        assert!(check_protocol(&traces_first).is_err());
    }
}
