//! The Summer guest SDK: write a REST handler component in a few lines.
//!
//! - [`http`]: the request and response types, JSON in and out, and the
//!   [`http_component!`] macro that exports a handler as `wasi:http/incoming-handler`;
//! - [`Router`]: method + path-pattern routing with `{param}` segments;
//! - [`ApiError`]: the JSON error shape `{"error":{"code":"...","message":"..."}}`;
//! - [`sql`], [`wide`], [`graph`], [`cache`] and [`blob`]: typed access to
//!   Summer's capabilities;
//! - [`outbound`]: HTTP requests to the hosts the manifest allows;
//! - [`trace`]: spans of the component's own and attributes on its request's
//!   span, in the trace the host exports;
//! - [`multipart`]: streaming `multipart/form-data` for uploads, and
//!   [`http::Response::with_stream`] for bodies sent without holding them whole;
//! - [`seed`]: the entry point and progress reports of a seed component;
//! - [`Timestamp`] and [`cursor`]: RFC 3339 times and opaque paging cursors.
//!
//! A component is a crate of type `cdylib` whose handler is a plain
//! function from [`http::Request`] to [`http::Response`]; `summer new NAME`
//! writes one. Handlers are ordinary Rust, so they are unit-tested natively:
//!
//! ```
//! use summer_sdk::http::{Method, Request, Response};
//! use summer_sdk::{ApiError, Params, Router};
//!
//! summer_sdk::http_component!(handle);
//!
//! fn handle(request: &Request) -> Response {
//!     Router::new()
//!         .get("/hello/{name}", hello)
//!         .handle(request)
//! }
//!
//! fn hello(_request: &Request, params: &Params) -> Result<Response, ApiError> {
//!     let name = params.get("name").unwrap_or("world");
//!     if name.len() > 100 {
//!         return Err(ApiError::invalid("a name is at most 100 bytes"));
//!     }
//!     Response::json(200, &serde_json::json!({ "message": format!("Hello, {name}!") }))
//! }
//!
//! let response = handle(&Request::new(Method::Get, "/hello/Ada", ""));
//! assert_eq!(response.status, 200);
//! assert_eq!(response.body, br#"{"message":"Hello, Ada!"}"#);
//!
//! // Errors are JSON with the status they carry; unknown paths are 404 and
//! // other methods 405.
//! let long = format!("/hello/{}", "a".repeat(101));
//! assert_eq!(handle(&Request::new(Method::Get, &long, "")).status, 400);
//! assert_eq!(handle(&Request::new(Method::Get, "/nowhere", "")).status, 404);
//! assert_eq!(handle(&Request::new(Method::Post, "/hello/Ada", "")).status, 405);
//! ```
//!
//! The capability modules call the host, so they run only inside a host:
//! `summer serve` with the capability granted in the component's manifest
//! entry (`grants = ["sql"]`). Each has a guide with an example component
//! in the repository's `docs/` (`sql.md`, `cache.md`, `blob.md`, `wide.md`,
//! `graph.md`).

#![warn(missing_docs)]

pub mod blob;
pub mod cache;
pub mod config;
pub mod cursor;
mod error;
pub mod graph;
pub mod http;
pub mod multipart;
pub mod outbound;
mod router;
pub mod seed;
pub mod sql;
mod time;
pub mod trace;
mod value;
pub mod wide;

pub use error::ApiError;
pub use router::{Params, Router};
pub use time::Timestamp;
pub use value::{FromValue, Value};

/// Bindings of Summer's capability interfaces, generated from `wit/`.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "summer:platform/seeder",
        additional_derives: [PartialEq],
        pub_export_macro: true,
        default_bindings_module: "summer_sdk::bindings",
        with: { "wasi:config/store@0.2.0-rc.1": generate },
    });
}

#[doc(hidden)]
pub use wasip2 as __wasip2;
