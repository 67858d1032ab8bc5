//! Observability: the Prometheus metrics, request ids, and the log set-up
//! (`RUST_LOG` filters, text or JSON lines).

pub mod logs;
pub(crate) mod metrics;
pub(crate) mod request_id;
