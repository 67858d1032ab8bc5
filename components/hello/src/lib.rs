//! The smallest Summer component: every request gets `Hello, world!`. It
//! imports nothing but `wasi:http`, so any wasi:http host (`wasmtime serve`
//! too) can run it; `tooling/bench` serves it from Summer and from
//! `wasmtime serve` to compare the two.

use summer_sdk::http::{Request, Response};

summer_sdk::http_component!(handle);

/// The greeting every request gets.
pub const GREETING: &str = "Hello, world!\n";

fn handle(_: &Request) -> Response {
    Response::new(200)
        .with_header("content-type", "text/plain; charset=utf-8")
        .with_body(GREETING)
}
