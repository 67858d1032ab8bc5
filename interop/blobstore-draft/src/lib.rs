//! A REST surface over `wasi:blobstore@0.2.0-draft`, written as any third
//! party would: `wit-bindgen` against the published package (and the
//! `wasi:io@0.2.1` it was published against), `wasip2` for the handler.
//! Request and response bodies stream through the blobstore's values in
//! chunks; neither is held whole.

wit_bindgen::generate!({
    path: ["../../wit/deps/io-0.2.1", "../../wit/deps/blobstore-0.2.0-draft"],
    world: "wasi:blobstore/imports@0.2.0-draft",
    generate_all,
});

use wasi::blobstore::blobstore as store;
use wasi::blobstore::container::Container;
use wasi::blobstore::types::{IncomingValue, ObjectId, OutgoingValue};
use wasip2::http::types::{
    Fields, IncomingBody, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

/// The most bytes read in one stream call.
const CHUNK: u64 = 64 * 1024;
/// The most bytes `blocking-write-and-flush` takes in one call.
const WRITE_CHUNK: usize = 4096;

/// What a route answers: a status and a body, whole or streamed from a value.
enum Reply {
    Bytes(u16, Vec<u8>),
    Value(IncomingValue),
}

impl Reply {
    fn text(status: u16, text: impl Into<String>) -> Self {
        Reply::Bytes(status, text.into().into_bytes())
    }

    fn json(value: serde_json::Value) -> Self {
        Reply::Bytes(200, value.to_string().into_bytes())
    }

    fn empty() -> Self {
        Reply::Bytes(204, Vec::new())
    }
}

/// The interface's errors are strings; this host's say "does not exist" and
/// "already exists", which a client wants as 404 and 409.
fn failed(error: String) -> Reply {
    let status = if error.contains("does not exist") {
        404
    } else if error.contains("already exists") {
        409
    } else {
        400
    };
    Reply::text(status, error)
}

type Answer = Result<Reply, Reply>;

struct Handler;

impl wasip2::exports::http::incoming_handler::Guest for Handler {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let reply = route(request).unwrap_or_else(|error| error);
        let (status, value, bytes) = match reply {
            Reply::Bytes(status, bytes) => (status, None, bytes),
            Reply::Value(value) => (200, Some(value), Vec::new()),
        };
        let response = OutgoingResponse::new(Fields::new());
        response.set_status_code(status).expect("a valid status");
        let outgoing = response.body().expect("the body of a new response");
        ResponseOutparam::set(response_out, Ok(response));
        let stream = outgoing.write().expect("the body's stream");
        match value {
            Some(value) => {
                let input =
                    IncomingValue::incoming_value_consume_async(value).expect("the value's stream");
                while let Ok(chunk) = input.blocking_read(CHUNK) {
                    for piece in chunk.chunks(WRITE_CHUNK) {
                        stream
                            .blocking_write_and_flush(piece)
                            .expect("writing the body");
                    }
                }
            }
            None => {
                for piece in bytes.chunks(WRITE_CHUNK) {
                    stream
                        .blocking_write_and_flush(piece)
                        .expect("writing the body");
                }
            }
        }
        drop(stream);
        OutgoingBody::finish(outgoing, None).expect("finishing the body");
    }
}

wasip2::http::proxy::export!(Handler);

fn route(request: IncomingRequest) -> Answer {
    let path_and_query = request.path_with_query().unwrap_or_default();
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((&path_and_query, ""));
    // Mounted anywhere: the routes start at the first `bs` segment.
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let start = segments.iter().position(|s| *s == "bs").unwrap_or(0);
    let segments = &segments[start..];
    match (request.method(), segments) {
        (Method::Post, ["bs", "_copy"]) => transfer(query, false),
        (Method::Post, ["bs", "_move"]) => transfer(query, true),
        (Method::Put, ["bs", container]) => create(container),
        (Method::Get, ["bs", container]) => info(container),
        (Method::Delete, ["bs", container]) => delete_container(container, query),
        (Method::Get, ["bs", container, "_list"]) => list(container, query),
        (Method::Post, ["bs", container, "_delete"]) => delete_many(container, request),
        (Method::Put, ["bs", container, object]) => write(container, object, query, request),
        (Method::Get, ["bs", container, object]) => read(container, object, query),
        (Method::Delete, ["bs", container, object]) => delete(container, object),
        (Method::Get, ["bs", container, object, "_info"]) => object_info(container, object),
        (Method::Get, ["bs", container, object, "_exists"]) => exists(container, object),
        _ => Err(Reply::text(404, "no such route")),
    }
}

fn param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query
        .split('&')
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn number(query: &str, name: &str, default: u64) -> Result<u64, Reply> {
    match param(query, name) {
        None => Ok(default),
        Some(text) => text
            .parse()
            .map_err(|_| Reply::text(400, format!("{name} is a number"))),
    }
}

fn open(container: &str) -> Result<Container, Reply> {
    store::get_container(container).map_err(failed)
}

fn create(container: &str) -> Answer {
    store::create_container(container).map_err(failed)?;
    Ok(Reply::text(201, "created"))
}

fn info(container: &str) -> Answer {
    let container = open(container)?;
    let info = container.info().map_err(failed)?;
    Ok(Reply::json(serde_json::json!({
        "name": container.name().map_err(failed)?,
        "created_at": info.created_at,
        "exists": store::container_exists(&info.name).map_err(failed)?,
    })))
}

/// Deletes the container, or with `?clear` only its objects.
fn delete_container(container: &str, query: &str) -> Answer {
    match param(query, "clear") {
        Some(_) => open(container)?.clear().map_err(failed)?,
        None => store::delete_container(container).map_err(failed)?,
    }
    Ok(Reply::empty())
}

/// `?skip=N&len=M`: skips N names, then reads up to M.
fn list(container: &str, query: &str) -> Answer {
    let names = open(container)?.list_objects().map_err(failed)?;
    let (skipped, mut end) = match number(query, "skip", 0)? {
        0 => (0, false),
        skip => names.skip_stream_object_names(skip).map_err(failed)?,
    };
    let mut read = Vec::new();
    if !end {
        let (names, at_end) = names
            .read_stream_object_names(number(query, "len", 100)?)
            .map_err(failed)?;
        read = names;
        end = at_end;
    }
    Ok(Reply::json(serde_json::json!({
        "skipped": skipped,
        "names": read,
        "end": end,
    })))
}

/// Stores the request body as an object. `?order=data-first` names the
/// object before writing the body, which streams it to the store as it
/// comes; by default the body is written first, as most guests do.
fn write(container: &str, object: &str, query: &str, request: IncomingRequest) -> Answer {
    let container = open(container)?;
    let value = OutgoingValue::new_outgoing_value();
    let data_first = param(query, "order") == Some("data-first");
    if data_first {
        container.write_data(object, &value).map_err(failed)?;
    }
    {
        let output = value
            .outgoing_value_write_body()
            .map_err(|()| Reply::text(500, "no body stream"))?;
        let incoming = request
            .consume()
            .map_err(|()| Reply::text(400, "no body"))?;
        {
            let input = incoming.stream().expect("the request body's stream");
            while let Ok(chunk) = input.blocking_read(CHUNK) {
                for piece in chunk.chunks(WRITE_CHUNK) {
                    output
                        .blocking_write_and_flush(piece)
                        .map_err(|e| Reply::text(500, format!("writing the value: {e:?}")))?;
                }
            }
        }
        IncomingBody::finish(incoming);
    }
    if !data_first {
        container.write_data(object, &value).map_err(failed)?;
    }
    OutgoingValue::finish(value).map_err(failed)?;
    Ok(Reply::text(201, "stored"))
}

/// The object, or `?start=A&end=B` (inclusive) of it; `?sync` reads it in
/// one list instead of through a stream.
fn read(container: &str, object: &str, query: &str) -> Answer {
    let container = open(container)?;
    let start = number(query, "start", 0)?;
    let end = number(query, "end", u64::MAX)?;
    let value = container.get_data(object, start, end).map_err(failed)?;
    if param(query, "sync").is_some() {
        let bytes = IncomingValue::incoming_value_consume_sync(value).map_err(failed)?;
        return Ok(Reply::Bytes(200, bytes));
    }
    Ok(Reply::Value(value))
}

fn delete(container: &str, object: &str) -> Answer {
    open(container)?.delete_object(object).map_err(failed)?;
    Ok(Reply::empty())
}

/// A JSON list of names in.
fn delete_many(container: &str, request: IncomingRequest) -> Answer {
    let body = read_body(request);
    let names: Vec<String> =
        serde_json::from_slice(&body).map_err(|_| Reply::text(400, "a JSON list of names"))?;
    open(container)?.delete_objects(&names).map_err(failed)?;
    Ok(Reply::empty())
}

fn object_info(container: &str, object: &str) -> Answer {
    let info = open(container)?.object_info(object).map_err(failed)?;
    Ok(Reply::json(serde_json::json!({
        "name": info.name,
        "container": info.container,
        "created_at": info.created_at,
        "size": info.size,
    })))
}

fn exists(container: &str, object: &str) -> Answer {
    let found = open(container)?.has_object(object).map_err(failed)?;
    Ok(Reply::text(200, found.to_string()))
}

/// `?from=container/object&to=container/object`.
fn transfer(query: &str, moving: bool) -> Answer {
    let id = |name: &str| -> Result<ObjectId, Reply> {
        let (container, object) = param(query, name)
            .and_then(|v| v.split_once('/'))
            .ok_or_else(|| Reply::text(400, format!("{name} is container/object")))?;
        Ok(ObjectId {
            container: container.to_owned(),
            object: object.to_owned(),
        })
    };
    let (from, to) = (id("from")?, id("to")?);
    match moving {
        true => store::move_object(&from, &to),
        false => store::copy_object(&from, &to),
    }
    .map_err(failed)?;
    Ok(Reply::empty())
}

fn read_body(request: IncomingRequest) -> Vec<u8> {
    let Ok(incoming) = request.consume() else {
        return Vec::new();
    };
    let mut body = Vec::new();
    {
        let stream = incoming.stream().expect("the request body's stream");
        while let Ok(chunk) = stream.blocking_read(CHUNK) {
            body.extend_from_slice(&chunk);
        }
    }
    IncomingBody::finish(incoming);
    body
}
