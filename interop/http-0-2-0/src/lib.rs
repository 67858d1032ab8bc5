//! A wasi:http handler that answers every request with its crate's name,
//! built against whichever `wasi` crate (and so wasi:http patch version)
//! its Cargo.toml pins.

use wasi::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct Handler;

impl wasi::exports::http::incoming_handler::Guest for Handler {
    fn handle(_request: IncomingRequest, response_out: ResponseOutparam) {
        let response = OutgoingResponse::new(Fields::new());
        let body = response.body().expect("the body of a new response");
        ResponseOutparam::set(response_out, Ok(response));
        let stream = body.write().expect("the body's stream");
        let greeting = concat!("served by ", env!("CARGO_PKG_NAME"));
        stream
            .blocking_write_and_flush(greeting.as_bytes())
            .expect("writing the body");
        drop(stream);
        OutgoingBody::finish(body, None).expect("finishing the body");
    }
}

wasi::http::proxy::export!(Handler);
