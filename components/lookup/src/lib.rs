//! One key read through the standard `wasi:keyvalue` (draft2) and through
//! Summer's own `summer:platform/cache`, from the same component, for
//! `tooling/bench keyvalue`:
//!
//! - `PUT /lookup/{key}` stores the body under `key` in both (the bucket
//!   `default`, and the cache);
//! - `GET /lookup/{interface}/{key}?n=N` (`keyvalue` or `cache`) reads it
//!   N times and answers `{"reads": N, "nanos": T}`, T measured in the
//!   guest around the reads alone.

wit_bindgen::generate!({
    path: "../../wit/deps/keyvalue-0.2.0-draft2",
    world: "imports",
    generate_all,
});

use summer_sdk::http::{Request, Response};
use summer_sdk::{ApiError, Params, Router, cache};
use wasi::keyvalue::store;
use wasip2::clocks::monotonic_clock;

summer_sdk::http_component!(handle);

/// The bucket both routes use.
const BUCKET: &str = "default";
/// The most reads one request may ask for.
const MAX_READS: u32 = 100_000;

fn handle(request: &Request) -> Response {
    Router::new()
        .put("/lookup/{key}", store_both)
        .get("/lookup/{interface}/{key}", read_many)
        .handle(request)
}

fn bucket() -> Result<store::Bucket, ApiError> {
    store::open(BUCKET).map_err(|e| ApiError::internal(format!("opening the bucket: {e:?}")))
}

fn store_both(request: &Request, params: &Params) -> Result<Response, ApiError> {
    let key = params.get("key").unwrap_or_default();
    let value = request.body()?;
    bucket()?
        .set(key, value)
        .map_err(|e| ApiError::internal(format!("keyvalue set: {e:?}")))?;
    cache::set(key, value, None)?;
    Ok(Response::new(204))
}

fn read_many(request: &Request, params: &Params) -> Result<Response, ApiError> {
    let key = params.get("key").unwrap_or_default();
    let reads = match request.query_param("n")? {
        Some(n) => n
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_READS).contains(n))
            .ok_or_else(|| ApiError::invalid(format!("n is 1 to {MAX_READS}")))?,
        None => 1,
    };
    let nanos = match params.get("interface") {
        Some("keyvalue") => {
            let bucket = bucket()?;
            timed(reads, || {
                bucket
                    .get(key)
                    .map_err(|e| ApiError::internal(format!("keyvalue get: {e:?}")))
            })?
        }
        Some("cache") => timed(reads, || cache::get(key))?,
        _ => return Err(ApiError::not_found("the interface is keyvalue or cache")),
    };
    Response::json(200, &serde_json::json!({ "reads": reads, "nanos": nanos }))
}

/// Nanoseconds `reads` calls of `get` took; every read must find the key.
fn timed(
    reads: u32,
    mut get: impl FnMut() -> Result<Option<Vec<u8>>, ApiError>,
) -> Result<u64, ApiError> {
    let started = monotonic_clock::now();
    for _ in 0..reads {
        if get()?.is_none() {
            return Err(ApiError::not_found("store the key first"));
        }
    }
    Ok(monotonic_clock::now() - started)
}
