//! The Summer guest SDK: write a REST handler component in a few lines.
//!
//! - [`http`]: the request and response types, JSON in and out, and the
//!   [`http_component!`] macro that exports a handler as `wasi:http/incoming-handler`;
//! - [`Router`]: method + path-pattern routing with `{param}` segments;
//! - [`ApiError`]: the JSON error shape `{"error":{"code":"...","message":"..."}}`;
//! - [`sql`], [`wide`], [`graph`], [`cache`] and [`blob`]: typed access to
//!   Summer's capabilities;
//! - [`outbound`]: HTTP requests to the hosts the manifest allows;
//! - [`multipart`]: streaming `multipart/form-data` for uploads, and
//!   [`http::Response::with_stream`] for bodies sent without holding them whole;
//! - [`seed`]: the entry point and progress reports of a seed component;
//! - [`Timestamp`] and [`cursor`]: RFC 3339 times and opaque paging cursors.
//!
//! ```ignore
//! use summer_sdk::{http::{Request, Response}, ApiError, Router};
//!
//! summer_sdk::http_component!(handle);
//!
//! fn handle(request: &Request) -> Response {
//!     Router::new().get("/hello/{name}", hello).handle(request)
//! }
//!
//! fn hello(_request: &Request, params: &summer_sdk::Params) -> Result<Response, ApiError> {
//!     Response::json(200, &serde_json::json!({ "hello": params.get("name") }))
//! }
//! ```

pub mod blob;
pub mod cache;
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
    });
}

#[doc(hidden)]
pub use wasip2 as __wasip2;
