//! Observability: the Prometheus metrics, request ids, the log set-up
//! (`RUST_LOG` filters, text or JSON lines), and OpenTelemetry traces.

pub mod logs;
pub(crate) mod metrics;
pub(crate) mod request_id;
pub mod traces;
