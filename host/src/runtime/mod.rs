//! The WebAssembly runtime: engine, compile cache, component loading, the
//! registry requests are routed by, hot swap and fleet deploys, per-request
//! store state and invocation.

pub mod admission;
mod body;
pub mod compile_cache;
mod databases;
pub mod deploy;
pub mod engine;
mod error;
pub mod fleet;
mod invoke;
pub mod loader;
pub mod outbound;
pub mod registry;
pub mod reuse;
pub mod state;

pub use body::ResponseBody;
pub use databases::prepare_databases;
pub use error::InvokeError;
pub use invoke::invoke;
