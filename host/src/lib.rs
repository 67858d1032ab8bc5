//! Summer: a serverless-style WebAssembly component host.
//!
//! - [`http`]: the HTTP front (listener, routing, host endpoints, errors)
//! - [`runtime`]: engine, compile cache, component registry, invocation
//! - [`capabilities`]: what components import, one module per capability
//! - [`seed`]: `summer seed`, running a seed component over the backends
//! - [`manifest`] and [`config`]: what to run and how

pub mod app;
pub mod capabilities;
pub mod config;
pub mod http;
pub mod manifest;
pub mod runtime;
pub mod seed;
