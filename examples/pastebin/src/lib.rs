//! Example of the `blob` capability (docs/blob.md): text pastes stored as
//! objects, streamed in and out in chunks.
//!
//! - `PUT /pastes/{name}` stores the request body (any content type, up to
//!   the component's body limit) and answers its size;
//! - `GET /pastes/{name}` answers it with its content type (404 when absent);
//! - `GET /pastes` lists the names, a page at a time (`?cursor=`);
//! - `DELETE /pastes/{name}` removes it (204).

use std::io::Read;

use serde::Serialize;
use summer_sdk::blob::{self, Reader, Writer};
use summer_sdk::http::{Request, Response};
use summer_sdk::{ApiError, Params, Router};

summer_sdk::http_component!(handle);

/// How much of a body is held at once while it is copied.
const CHUNK: usize = 64 * 1024;

fn handle(request: &Request) -> Response {
    Router::new()
        .get("/pastes", list)
        .get("/pastes/{name}", read)
        .put("/pastes/{name}", write)
        .delete("/pastes/{name}", remove)
        .handle(request)
}

fn key(params: &Params) -> String {
    format!("pastes/{}", params.get("name").unwrap_or_default())
}

#[derive(Serialize)]
struct Stored {
    name: String,
    size: u64,
    content_type: String,
}

fn write(request: &Request, params: &Params) -> Result<Response, ApiError> {
    let content_type = request.header("content-type").unwrap_or("text/plain");
    let writer = Writer::create(&key(params), content_type)?;
    let mut body = request.body_reader()?;
    let mut chunk = vec![0; CHUNK];
    loop {
        let read = body
            .read(&mut chunk)
            .map_err(|e| ApiError::invalid(format!("reading the body: {e}")))?;
        if read == 0 {
            break;
        }
        writer.write(&chunk[..read])?;
    }
    // Nothing is visible until `finish`; an error before it leaves any
    // earlier paste of that name as it was.
    let info = writer.finish()?;
    Response::json(
        200,
        &Stored {
            name: params.get("name").unwrap_or_default().to_owned(),
            size: info.size,
            content_type: info.content_type,
        },
    )
}

fn read(_request: &Request, params: &Params) -> Result<Response, ApiError> {
    let reader = Reader::open(&key(params))?.ok_or_else(|| ApiError::not_found("no such paste"))?;
    let info = reader.info();
    Ok(Response::new(200)
        .with_header("content-type", &info.content_type)
        .with_stream(info.size, reader))
}

#[derive(Serialize)]
struct Listing {
    names: Vec<String>,
    next_cursor: Option<String>,
}

fn list(request: &Request, _params: &Params) -> Result<Response, ApiError> {
    let cursor = request.query_param("cursor")?;
    let page = blob::list("pastes/", 100, cursor.as_deref())?;
    let names = page
        .objects
        .iter()
        .map(|object| object.key.trim_start_matches("pastes/").to_owned())
        .collect();
    Response::json(
        200,
        &Listing {
            names,
            next_cursor: page.cursor,
        },
    )
}

fn remove(_request: &Request, params: &Params) -> Result<Response, ApiError> {
    match blob::delete(&key(params))? {
        true => Ok(Response::no_content()),
        false => Err(ApiError::not_found("no such paste")),
    }
}
