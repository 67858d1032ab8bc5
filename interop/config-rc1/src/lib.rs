//! A wasi:http handler that reads its configuration through
//! `wasi:config/store`, written as any third party would: `wit-bindgen`
//! against the standard package, `wasip2` for the handler. The `rc1`
//! feature builds it against `wasi:config@0.2.0-rc.1` (wasmtime's),
//! `draft` against `@0.2.0-draft-2024-09-27` (Spin's).
//!
//! `GET /config/{key}` answers the value (404 when there is none);
//! `GET /config` answers every value as a JSON object.

#[cfg(feature = "rc1")]
wit_bindgen::generate!({
    path: "../../wit/deps/config-0.2.0-rc.1",
    world: "imports",
    generate_all,
});

#[cfg(feature = "draft")]
wit_bindgen::generate!({
    path: "../../wit/deps/config-0.2.0-draft-2024-09-27",
    world: "imports",
    generate_all,
});

use wasi::config::store;
use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct Handler;

impl wasip2::exports::http::incoming_handler::Guest for Handler {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let key = path
            .trim_start_matches('/')
            .split('/')
            .skip_while(|segment| *segment != "config")
            .nth(1);
        let (status, body) = match key {
            Some(key) => match store::get(key) {
                Ok(Some(value)) => (200, value),
                Ok(None) => (404, "none".to_string()),
                Err(error) => (500, format!("{error:?}")),
            },
            None => match store::get_all() {
                Ok(all) => {
                    let object: serde_json::Map<String, serde_json::Value> =
                        all.into_iter().map(|(k, v)| (k, v.into())).collect();
                    (200, serde_json::Value::from(object).to_string())
                }
                Err(error) => (500, format!("{error:?}")),
            },
        };
        respond(response_out, status, body.as_bytes());
    }
}

fn respond(response_out: ResponseOutparam, status: u16, body: &[u8]) {
    let response = OutgoingResponse::new(Fields::new());
    response.set_status_code(status).expect("a valid status");
    let outgoing = response.body().expect("the body of a new response");
    ResponseOutparam::set(response_out, Ok(response));
    let stream = outgoing.write().expect("the body's stream");
    stream
        .blocking_write_and_flush(body)
        .expect("writing the body");
    drop(stream);
    OutgoingBody::finish(outgoing, None).expect("finishing the body");
}

wasip2::http::proxy::export!(Handler);
