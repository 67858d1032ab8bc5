//! The WebAssembly runtime: engine, compile cache, component loading and
//! registry, per-request store state and invocation.

pub mod compile_cache;
pub mod engine;
mod invoke;
pub mod registry;
pub mod state;

pub use invoke::{VERSION_HEADER, invoke};
