//! The body type of every response the host sends, components' and its own.

/// A response body: a component's streamed body, or bytes the host made.
pub(crate) type ResponseBody = wasmtime_wasi_http::p2::body::HyperOutgoingBody;
