//! The WebAssembly runtime: engine, compile cache, component loading, the
//! registry requests are routed by, hot swap and fleet deploys, per-request
//! store state and invocation.

pub(crate) mod admission;
mod body;
pub(crate) mod compile_cache;
pub(crate) mod configure;
mod databases;
pub(crate) mod deploy;
pub(crate) mod engine;
mod error;
pub(crate) mod fleet;
mod invoke;
pub(crate) mod loader;
pub(crate) mod outbound;
pub(crate) mod registry;
pub(crate) mod reuse;
pub(crate) mod state;

pub(crate) use body::ResponseBody;
pub use databases::prepare_databases;
pub(crate) use error::InvokeError;
pub(crate) use invoke::invoke;
