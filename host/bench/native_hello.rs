//! The physical limit for the hello benchmark: a native hyper server with
//! Summer's own connection settings (HTTP/1.1, keep-alive, no delay) that
//! answers every request with the hello component's bytes and headers, no
//! WebAssembly involved. `tooling/bench` runs it next to Summer and
//! `wasmtime serve`.
//!
//!   cargo run --release -p summer --example native_hello -- PORT

use std::convert::Infallible;

use bytes::Bytes;
use http::{HeaderValue, Response, header};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const GREETING: &str = "Hello, world!\n";

fn hello() -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(GREETING.as_bytes())));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: native_hello PORT"))?
        .parse()?;
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!(
        "native hello listening on http://{}",
        listener.local_addr()?
    );
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = service_fn(|_| async { Ok::<_, Infallible>(hello()) });
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
