//! A component that misbehaves on request, so tests can show that a fault
//! takes down only its own request: `GET /faults/{kind}` with kind `ok`,
//! `trap` (panics), `loop` (never returns) or `alloc` (grows memory until
//! the limit refuses).

use summer_sdk::http::{Request, Response};
use summer_sdk::{ApiError, Params, Router};

summer_sdk::http_component!(handle);

fn handle(request: &Request) -> Response {
    Router::new().get("/faults/{kind}", fault).handle(request)
}

fn fault(_: &Request, params: &Params) -> Result<Response, ApiError> {
    match params.get("kind").unwrap_or_default() {
        "ok" => Response::json(200, &serde_json::json!({ "ok": true })),
        "trap" => panic!("asked to trap"),
        "loop" => spin_forever(),
        "alloc" => exhaust_memory(),
        other => Err(ApiError::not_found(format!("no fault named {other}"))),
    }
}

fn spin_forever() -> ! {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

fn exhaust_memory() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![1u8; 1 << 20]);
        std::hint::black_box(&hoard);
    }
}
