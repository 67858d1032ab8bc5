//! The WebAssembly runtime: engine, compile cache, component loading, the
//! registry requests are routed by, hot swap and fleet deploys, per-request
//! store state and invocation.

pub mod admission;
pub mod compile_cache;
pub mod deploy;
pub mod engine;
pub mod fleet;
mod invoke;
pub mod loader;
pub mod outbound;
pub mod registry;
pub mod reuse;
pub mod state;

pub use invoke::{VERSION_HEADER, invoke};
