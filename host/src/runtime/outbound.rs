//! Outgoing HTTP from components: the `wasi:http` hook that sends only to
//! the hosts the manifest allows the component, each request in a trace
//! span of its own whose context it carries.

use std::sync::Arc;

use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use crate::manifest::OutboundHosts;
use crate::observe::traces;
use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;

/// The `wasi:http` hooks of one request: sends to allowed hosts, refuses
/// (and logs) the rest.
pub(crate) struct OutboundPolicy {
    pub(crate) component: Arc<str>,
    pub(crate) allowed: Arc<OutboundHosts>,
}

type SendResult = wasmtime_wasi_http::Result<(
    http::Response<WasiBody>,
    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
)>;

impl WasiHttpHooks for OutboundPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("https");
        let host = uri.host().unwrap_or_default();
        if !self.allowed.allows(scheme, host, uri.port_u16()) {
            tracing::warn!(
                component = %self.component,
                destination = %uri,
                "outgoing request refused: not in allowed_outbound_hosts"
            );
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        let mut request = request;
        let trace = outbound_span(&request);
        if let Some(trace) = &trace {
            trace.inject(request.headers_mut());
        }
        Box::new(async move {
            use http_body_util::BodyExt;
            let sent = wasmtime_wasi_http::default_send_request(request, options).await;
            if let Some(trace) = trace {
                match &sent {
                    Ok((response, _)) => {
                        let status = response.status().as_u16();
                        trace.set(KeyValue::new(
                            "http.response.status_code",
                            i64::from(status),
                        ));
                        trace.end((status >= 500).then(|| format!("answered {status}")));
                    }
                    Err(e) => trace.end(Some(e.to_string())),
                }
            }
            let (response, io) = sent?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

/// The trace span of an outgoing request: its method, and where it goes
/// (the URL without its query, which may carry secrets).
fn outbound_span<B>(request: &http::Request<B>) -> Option<traces::CallSpan> {
    if !traces::enabled() {
        return None;
    }
    let uri = request.uri();
    let host = uri.host().unwrap_or_default().to_owned();
    let scheme = uri.scheme_str().unwrap_or("https");
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "http" { 80 } else { 443 });
    let method = request.method().as_str().to_owned();
    traces::call_span(
        method.clone(),
        SpanKind::Client,
        vec![
            KeyValue::new("http.request.method", method),
            KeyValue::new("server.address", host.clone()),
            KeyValue::new("server.port", i64::from(port)),
            KeyValue::new(
                "url.full",
                format!("{scheme}://{host}:{port}{}", uri.path()),
            ),
        ],
    )
}
