//! Summer: a serverless-style WebAssembly component host.
//!
//! - [`http`]: the HTTP front (listener, routing, host endpoints, errors)
//! - [`runtime`]: engine, compile cache, loading, the registry, hot swap
//!   and fleet deploys, invocation
//! - [`app`]: the running host, its file watcher
//! - [`capabilities`]: what components import, one module per capability
//! - [`observe`]: metrics, request ids, logs
//! - [`seed`]: `summer seed`, running a seed component over the backends
//! - [`manifest`] and [`config`]: what to run and how
//! - [`client`]: `summer deploy`, `rollback` and `reload` against a host
//! - [`scaffold`]: `summer new`, a component crate from a template

pub mod app;
pub mod capabilities;
pub mod client;
pub mod config;
pub mod http;
pub mod manifest;
pub mod observe;
pub mod runtime;
pub mod scaffold;
pub mod seed;
