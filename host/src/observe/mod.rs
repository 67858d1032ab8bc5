//! Observability: the Prometheus metrics, request ids, and the log set-up
//! (`RUST_LOG` filters, text or JSON lines).

pub mod logs;
pub mod metrics;
pub mod request_id;
