//! The host's operational endpoints: `/healthz` (the process serves),
//! `/readyz` (every backend answers) and `/metrics` (Prometheus).

use std::collections::BTreeSet;

use http::{Response, StatusCode};

use super::error::{bytes_response, json_response};
use crate::capabilities::{Backends, Capability, Readiness};
use crate::observe::metrics::{CONTENT_TYPE, metrics};
use crate::runtime::ResponseBody;

/// `GET /healthz`: 200 while the process serves requests.
pub(super) fn liveness() -> Response<ResponseBody> {
    json_response(StatusCode::OK, &serde_json::json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 when every backend a loaded component is granted
/// answered its probe, else 503; the body reports each backend either way.
/// The cache is the exception: without it reads go to the databases, so a
/// missing cache is 200 `degraded`, not a reason to take the host out of
/// service. A backend no component uses is reported but does not count.
pub(super) async fn readiness(
    backends: &Backends,
    in_use: &BTreeSet<Capability>,
) -> Response<ResponseBody> {
    let probes = backends.readiness().await;
    let down: Vec<Capability> = probes
        .iter()
        .filter(|p| p.outcome.is_err() && in_use.iter().any(|c| c.backend() == p.capability))
        .map(|p| p.capability)
        .collect();
    let (status, word) = if down.iter().any(|c| *c != Capability::Cache) {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    } else if !down.is_empty() {
        (StatusCode::OK, "degraded")
    } else {
        (StatusCode::OK, "ready")
    };
    let report: serde_json::Map<String, serde_json::Value> = probes
        .iter()
        .map(|probe| (probe.capability.to_string(), probe_report(probe)))
        .collect();
    json_response(
        status,
        &serde_json::json!({ "status": word, "backends": report }),
    )
}

fn probe_report(probe: &Readiness) -> serde_json::Value {
    match &probe.outcome {
        Ok(took) => serde_json::json!({
            "backend": probe.backend,
            "ready": true,
            "took_ms": took.as_secs_f64() * 1000.0,
        }),
        Err(e) => serde_json::json!({
            "backend": probe.backend,
            "ready": false,
            "error": e.to_string(),
        }),
    }
}

/// `GET /metrics`: every metric in the OpenMetrics text format.
pub(super) fn metrics_text() -> Response<ResponseBody> {
    bytes_response(StatusCode::OK, CONTENT_TYPE, metrics().render().into())
}
