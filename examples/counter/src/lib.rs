//! Example of the `cache` capability (docs/cache.md): named counters that
//! expire an hour after their last increment.
//!
//! - `POST /counter/{name}` adds one and answers the new count;
//! - `GET /counter/{name}` answers the count (0 for a counter never hit or
//!   expired);
//! - `DELETE /counter/{name}` resets it (204).

use std::time::Duration;

use serde::Serialize;
use summer_sdk::http::{Request, Response};
use summer_sdk::{ApiError, Params, Router, cache};

summer_sdk::http_component!(handle);

/// How long a counter lives after its last increment.
const LIFETIME: Duration = Duration::from_secs(3600);

fn handle(request: &Request) -> Response {
    Router::new()
        .get("/counter/{name}", read)
        .post("/counter/{name}", hit)
        .delete("/counter/{name}", reset)
        .handle(request)
}

#[derive(Serialize)]
struct Count<'a> {
    name: &'a str,
    count: i64,
}

/// The cache key of a counter; keys are already confined to this component.
fn key(params: &Params) -> Result<String, ApiError> {
    let name = params.get("name").unwrap_or_default();
    if name.len() > 200 {
        return Err(ApiError::invalid("a counter name is at most 200 bytes"));
    }
    Ok(format!("counter:{name}"))
}

fn hit(_request: &Request, params: &Params) -> Result<Response, ApiError> {
    let key = key(params)?;
    let count = cache::incr(&key, 1)?;
    cache::expire(&key, LIFETIME)?;
    Response::json(
        200,
        &Count {
            name: params.get("name").unwrap_or_default(),
            count,
        },
    )
}

fn read(_request: &Request, params: &Params) -> Result<Response, ApiError> {
    let count = match cache::get(&key(params)?)? {
        Some(bytes) => String::from_utf8_lossy(&bytes)
            .parse()
            .map_err(|_| ApiError::internal("a counter holds a number"))?,
        None => 0,
    };
    Response::json(
        200,
        &Count {
            name: params.get("name").unwrap_or_default(),
            count,
        },
    )
}

fn reset(_request: &Request, params: &Params) -> Result<Response, ApiError> {
    cache::delete(&key(params)?)?;
    Ok(Response::no_content())
}
