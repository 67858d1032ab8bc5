//! A component that misbehaves on request, so tests can show that a fault
//! takes down only its own request: `GET /faults/{kind}` with kind `ok`,
//! `trap` (panics), `loop` (never returns), `alloc` (grows memory until
//! the limit refuses) or `slow` (sleeps `?ms=`, at most 1000, before
//! answering, so requests stay in flight); `huge?mib=` streams a response
//! of that many MiB (at most 4096); `fetch?url=` makes an outgoing
//! request and answers with its status and body, to test the outbound
//! allow-list; `count` answers how many requests this instance has served
//! (1 unless the manifest lets instances be reused).

use summer_sdk::http::{Request, Response};
use summer_sdk::{ApiError, Params, Router};

summer_sdk::http_component!(handle);

fn handle(request: &Request) -> Response {
    Router::new().get("/faults/{kind}", fault).handle(request)
}

fn fault(request: &Request, params: &Params) -> Result<Response, ApiError> {
    match params.get("kind").unwrap_or_default() {
        "ok" => Response::json(200, &serde_json::json!({ "ok": true })),
        "slow" => answer_slowly(request),
        "trap" => panic!("asked to trap"),
        "loop" => spin_forever(),
        "alloc" => exhaust_memory(),
        "fetch" => fetch(request),
        "huge" => huge_response(request),
        "count" => count(),
        other => Err(ApiError::not_found(format!("no fault named {other}"))),
    }
}

/// Requests this instance has served, this one included.
static SERVED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn count() -> Result<Response, ApiError> {
    let served = SERVED.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
    Response::json(200, &serde_json::json!({ "served": served }))
}

fn answer_slowly(request: &Request) -> Result<Response, ApiError> {
    let ms: u64 = match request.query_param("ms")? {
        Some(ms) => ms
            .parse()
            .ok()
            .filter(|ms| *ms <= 1000)
            .ok_or_else(|| ApiError::invalid("ms must be a whole number up to 1000"))?,
        None => 20,
    };
    std::thread::sleep(std::time::Duration::from_millis(ms));
    Response::json(200, &serde_json::json!({ "ok": true, "slept_ms": ms }))
}

fn huge_response(request: &Request) -> Result<Response, ApiError> {
    let mib: u64 = request
        .query_param("mib")?
        .and_then(|mib| mib.parse().ok())
        .filter(|mib| *mib <= 4096)
        .ok_or_else(|| ApiError::invalid("mib must be a whole number up to 4096"))?;
    let length = mib << 20;
    let body = std::io::Read::take(std::io::repeat(b'x'), length);
    Ok(Response::new(200)
        .with_header("content-type", "application/octet-stream")
        .with_stream(length, body))
}

/// Fetches `url` (after sleeping `after_ms`, when given: a request whose
/// client has gone by then shows whether it still runs to its end).
fn fetch(request: &Request) -> Result<Response, ApiError> {
    let url = request
        .query_param("url")?
        .ok_or_else(|| ApiError::invalid("url is required"))?;
    if let Some(ms) = request.query_param("after_ms")? {
        let ms: u64 = ms
            .parse()
            .ok()
            .filter(|ms| *ms <= 5000)
            .ok_or_else(|| ApiError::invalid("after_ms must be a whole number up to 5000"))?;
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    let answer = summer_sdk::outbound::get(&url)?;
    Response::json(
        200,
        &serde_json::json!({
            "status": answer.status,
            "body": String::from_utf8_lossy(&answer.body),
        }),
    )
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
