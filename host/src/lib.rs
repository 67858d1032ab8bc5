//! Summer: a serverless-style WebAssembly component host.
//!
//! - [`http`]: the HTTP front (listener, host endpoints, the admin API,
//!   failures to statuses, the JSON error shape)
//! - [`app`]: the running host, composed of the parts below; its file watcher
//! - [`runtime`]: engine, compile cache, loading, the registry, hot swap
//!   and fleet deploys, admission and invocation
//! - [`manifest`]: what to run: components, routes, limits, grants
//! - [`capabilities`]: what components import, one module per capability
//! - `oci`: components in OCI registries: references, pulls verified by
//!   digest into a cache, pushes
//! - [`observe`]: metrics, request ids, logs, traces
//! - [`config`]: settings from flags, the environment and `.env`
//! - `net`: one HTTP exchange over the host's hyper client
//! - [`seed`]: `summer seed`, running a seed component over the backends
//! - [`client`]: `summer deploy`, `rollback` and `reload` against a host
//! - [`scaffold`]: `summer new`, a component crate from a template
//!
//! The modules form layers, and imports point one way, down:
//!
//! ```text
//! client, seed, scaffold  →  http  →  app  →  runtime  →  {manifest, capabilities, oci}  →  {observe, config}  →  net
//! ```
//!
//! A module never uses one of a layer above its own; modules of one layer
//! do not use each other both ways; net uses nothing else of the crate. The runtime reports failures as typed errors
//! and only http chooses statuses. `cargo test` checks the rule
//! (`layers.rs`).

pub mod app;
pub mod capabilities;
pub mod client;
pub mod config;
pub mod http;
pub mod manifest;
mod net;
pub mod observe;
pub(crate) mod oci;
pub mod runtime;
pub mod scaffold;
pub mod seed;

#[cfg(test)]
mod layers;
