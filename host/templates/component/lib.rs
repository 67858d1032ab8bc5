//! The {{name}} component: `GET /{{name}}` and `GET /{{name}}/{name}` answer
//! a JSON greeting; other methods get a 405 and other paths a 404, with
//! Summer's JSON error body.
//!
//! Build it with `tooling/build-components` (or `cargo component build
//! --release`), and a running `summer serve` picks it up. Add routes to the
//! router below and to the manifest's `routes`; grant capabilities
//! (`grants = ["sql", "cache"]`) to use `summer_sdk::sql`, `summer_sdk::cache`...

use serde::Serialize;
use summer_sdk::http::{Request, Response};
use summer_sdk::{ApiError, Params, Router};

summer_sdk::http_component!(handle);

fn handle(request: &Request) -> Response {
    Router::new()
        .get("/{{name}}", greet)
        .get("/{{name}}/{name}", greet)
        .handle(request)
}

#[derive(Serialize)]
struct Greeting {
    message: String,
}

/// `GET /{{name}}/{name}`: 200 with a greeting; a name over 100 characters is a 400.
fn greet(_request: &Request, params: &Params) -> Result<Response, ApiError> {
    let name = params.get("name").unwrap_or("world");
    if name.chars().count() > 100 {
        return Err(ApiError::invalid("a name is at most 100 characters"));
    }
    Response::json(
        200,
        &Greeting {
            message: format!("Hello, {name}!"),
        },
    )
}
