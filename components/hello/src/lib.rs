//! The smallest Summer component: `GET /hello` (and `GET /hello/{any}`)
//! answers `Hello, world!`; other methods get 405. It imports nothing but
//! `wasi:http`, so any wasi:http host (`wasmtime serve` too) can run it;
//! `tooling/bench` serves it from Summer and from `wasmtime serve` to
//! compare the two.

use summer_sdk::http::{Request, Response};
use summer_sdk::{ApiError, Params, Router};

summer_sdk::http_component!(handle);

/// The greeting every request gets.
pub const GREETING: &str = "Hello, world!\n";

fn handle(request: &Request) -> Response {
    Router::new()
        .get("/hello", greet)
        .get("/hello/{any}", greet)
        .handle(request)
}

fn greet(_: &Request, _: &Params) -> Result<Response, ApiError> {
    Ok(Response::new(200)
        .with_header("content-type", "text/plain; charset=utf-8")
        .with_body(GREETING))
}
