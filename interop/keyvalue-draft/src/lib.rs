//! A REST surface over `wasi:keyvalue`, written as any third party would:
//! `wit-bindgen` against the standard package, `wasip2` for the handler.
//! The `draft` feature builds it against `wasi:keyvalue@0.2.0-draft`,
//! `draft2` against `@0.2.0-draft2` (which adds compare-and-swap).

#[cfg(feature = "draft")]
wit_bindgen::generate!({
    path: "../../wit/deps/keyvalue-0.2.0-draft",
    world: "imports",
    generate_all,
});

#[cfg(feature = "draft2")]
wit_bindgen::generate!({
    path: "../../wit/deps/keyvalue-0.2.0-draft2",
    world: "imports",
    generate_all,
});

use wasi::keyvalue::{atomics, batch, store};
use wasip2::http::types::{
    Fields, IncomingBody, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

/// What a route answers: a status and a body.
struct Reply(u16, Vec<u8>);

impl Reply {
    fn text(status: u16, text: impl Into<String>) -> Self {
        Reply(status, text.into().into_bytes())
    }

    fn json(value: serde_json::Value) -> Self {
        Reply(200, value.to_string().into_bytes())
    }

    fn empty() -> Self {
        Reply(204, Vec::new())
    }
}

/// A store error as a status: the caller may not open the bucket (403),
/// the host does not know it (404), or anything else (500).
impl From<store::Error> for Reply {
    fn from(error: store::Error) -> Self {
        match error {
            store::Error::AccessDenied => Reply::text(403, "access-denied"),
            store::Error::NoSuchStore => Reply::text(404, "no-such-store"),
            store::Error::Other(message) => Reply::text(500, format!("other: {message}")),
        }
    }
}

type Answer = Result<Reply, Reply>;

struct Handler;

impl wasip2::exports::http::incoming_handler::Guest for Handler {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let Reply(status, body) = route(request).unwrap_or_else(|error| error);
        let response = OutgoingResponse::new(Fields::new());
        response.set_status_code(status).expect("a valid status");
        let outgoing = response.body().expect("the body of a new response");
        ResponseOutparam::set(response_out, Ok(response));
        let stream = outgoing.write().expect("the body's stream");
        for chunk in body.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .expect("writing the body");
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
    // Mounted anywhere: the routes start at the first `kv` segment.
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let start = segments.iter().position(|s| *s == "kv").unwrap_or(0);
    let segments = &segments[start..];
    let method = request.method();
    let body = read_body(request);
    match (method, segments) {
        (Method::Get, ["kv", bucket]) => list(bucket, param(query, "cursor")),
        (Method::Post, ["kv", bucket, "_batch", operation]) => batch(bucket, operation, &body),
        (Method::Get, ["kv", bucket, key]) => get(bucket, key),
        (Method::Put, ["kv", bucket, key]) => set(bucket, key, body),
        (Method::Delete, ["kv", bucket, key]) => delete(bucket, key),
        (Method::Get, ["kv", bucket, key, "exists"]) => exists(bucket, key),
        (Method::Post, ["kv", bucket, key, "increment"]) => {
            increment(bucket, key, param(query, "by").unwrap_or("1"))
        }
        #[cfg(feature = "draft2")]
        (Method::Post, ["kv", bucket, key, "append"]) => append(bucket, key, &body),
        _ => Err(Reply::text(404, "no such route")),
    }
}

fn read_body(request: IncomingRequest) -> Vec<u8> {
    let Ok(incoming) = request.consume() else {
        return Vec::new();
    };
    let mut body = Vec::new();
    {
        let stream = incoming.stream().expect("the request body's stream");
        while let Ok(chunk) = stream.blocking_read(64 * 1024) {
            body.extend_from_slice(&chunk);
        }
    }
    IncomingBody::finish(incoming);
    body
}

fn param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn open(bucket: &str) -> Result<store::Bucket, Reply> {
    Ok(store::open(bucket)?)
}

fn get(bucket: &str, key: &str) -> Answer {
    match open(bucket)?.get(key)? {
        Some(value) => Ok(Reply(200, value)),
        None => Err(Reply::text(404, "none")),
    }
}

fn set(bucket: &str, key: &str, value: Vec<u8>) -> Answer {
    open(bucket)?.set(key, &value)?;
    Ok(Reply::empty())
}

fn delete(bucket: &str, key: &str) -> Answer {
    open(bucket)?.delete(key)?;
    Ok(Reply::empty())
}

fn exists(bucket: &str, key: &str) -> Answer {
    Ok(Reply::text(200, open(bucket)?.exists(key)?.to_string()))
}

/// One page of keys, and the cursor of the next page (null on the last).
fn list(bucket: &str, cursor: Option<&str>) -> Answer {
    let bucket = open(bucket)?;
    #[cfg(feature = "draft")]
    let cursor = match cursor.map(str::parse::<u64>).transpose() {
        Ok(cursor) => cursor,
        Err(_) => return Err(Reply::text(400, "the cursor is a number")),
    };
    let page = bucket.list_keys(cursor)?;
    Ok(Reply::json(serde_json::json!({
        "keys": page.keys,
        "cursor": page.cursor.map(|c| c.to_string()),
    })))
}

fn increment(bucket: &str, key: &str, by: &str) -> Answer {
    let bucket = open(bucket)?;
    let Ok(delta) = by.parse() else {
        return Err(Reply::text(400, "by is a number"));
    };
    Ok(Reply::text(
        200,
        atomics::increment(&bucket, key, delta)?.to_string(),
    ))
}

/// `get`: a JSON list of keys in, a list of `[key, value]` or null out.
/// `set`: a JSON object in. `delete`: a JSON list of keys in.
fn batch(bucket: &str, operation: &str, body: &[u8]) -> Answer {
    let bucket = open(bucket)?;
    let bad_json = |_| Reply::text(400, "the body is not the JSON this operation takes");
    match operation {
        "get" => {
            let keys: Vec<String> = serde_json::from_slice(body).map_err(bad_json)?;
            let found = batch::get_many(&bucket, &keys)?;
            let found: Vec<_> = found
                .into_iter()
                .map(|pair| {
                    pair.map(|(key, value)| (key, String::from_utf8_lossy(&value).into_owned()))
                })
                .collect();
            Ok(Reply::json(serde_json::json!(found)))
        }
        "set" => {
            let entries: std::collections::BTreeMap<String, String> =
                serde_json::from_slice(body).map_err(bad_json)?;
            let entries: Vec<(String, Vec<u8>)> = entries
                .into_iter()
                .map(|(key, value)| (key, value.into_bytes()))
                .collect();
            batch::set_many(&bucket, &entries)?;
            Ok(Reply::empty())
        }
        "delete" => {
            let keys: Vec<String> = serde_json::from_slice(body).map_err(bad_json)?;
            batch::delete_many(&bucket, &keys)?;
            Ok(Reply::empty())
        }
        _ => Err(Reply::text(404, "no such batch operation")),
    }
}

/// Appends the body to the value with compare-and-swap, retrying when
/// another writer swapped first; answers how many attempts it took.
#[cfg(feature = "draft2")]
fn append(bucket: &str, key: &str, suffix: &[u8]) -> Answer {
    let bucket = open(bucket)?;
    let mut cas = atomics::Cas::new(&bucket, key)?;
    for attempt in 1.. {
        let mut value = cas.current()?.unwrap_or_default();
        value.extend_from_slice(suffix);
        match atomics::swap(cas, &value) {
            Ok(()) => return Ok(Reply::text(200, attempt.to_string())),
            Err(atomics::CasError::CasFailed(latest)) => cas = latest,
            Err(atomics::CasError::StoreError(error)) => return Err(error.into()),
        }
    }
    unreachable!("the attempts never end")
}
