//! Requests and responses as plain values, JSON in and out, and the glue to
//! `wasi:http` that [`http_component!`](crate::http_component) exports.

use std::cell::{OnceCell, RefCell};
use std::fmt;
use std::io::{Read, Write};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ApiError;

/// The largest request body a handler reads, unless it asks for another limit.
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;

/// An HTTP method.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // the methods are their names
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
    /// Any other method, as sent.
    Other(String),
}

impl Method {
    /// The method as it appears on the wire (`GET`).
    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Other(other) => other,
        }
    }
}

/// An incoming request. Its body is read when a handler first asks for it:
/// whole with [`Request::body`] (up to [`DEFAULT_BODY_LIMIT`]), or as a
/// stream with [`Request::body_reader`].
pub struct Request {
    /// The request method.
    pub method: Method,
    /// The path, without the query string.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// Header names are lowercase.
    pub headers: Vec<(String, Vec<u8>)>,
    body: OnceCell<Vec<u8>>,
    unread: RefCell<Option<Box<dyn Read>>>,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .finish_non_exhaustive()
    }
}

impl Request {
    /// A request built in code (tests, internal calls).
    pub fn new(method: Method, path_and_query: &str, body: impl Into<Vec<u8>>) -> Self {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        Self {
            method,
            path: path.to_owned(),
            query: query.to_owned(),
            headers: Vec::new(),
            body: OnceCell::from(body.into()),
            unread: RefCell::new(None),
        }
    }

    /// A request whose body is still to be read from `body`.
    pub fn streaming(method: Method, path_and_query: &str, body: impl Read + 'static) -> Self {
        let request = Self::new(method, path_and_query, Vec::new());
        let request = Self {
            body: OnceCell::new(),
            ..request
        };
        *request.unread.borrow_mut() = Some(Box::new(body));
        request
    }

    /// The whole body, read on first use. A body larger than
    /// [`DEFAULT_BODY_LIMIT`] is a 413; use [`Request::body_reader`] for more.
    pub fn body(&self) -> Result<&[u8], ApiError> {
        if let Some(body) = self.body.get() {
            return Ok(body);
        }
        let mut reader = self.body_reader()?;
        let mut bytes = Vec::new();
        reader
            .by_ref()
            .take(DEFAULT_BODY_LIMIT as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| ApiError::invalid(format!("could not read the request body: {e}")))?;
        if bytes.len() > DEFAULT_BODY_LIMIT {
            return Err(ApiError::too_large(format!(
                "the request body is larger than {DEFAULT_BODY_LIMIT} bytes"
            )));
        }
        Ok(self.body.get_or_init(|| bytes))
    }

    /// The body as a stream, for bodies too large to hold whole. It can be
    /// taken once; a body already read whole is replayed from memory.
    pub fn body_reader(&self) -> Result<Box<dyn Read>, ApiError> {
        if let Some(reader) = self.unread.borrow_mut().take() {
            return Ok(reader);
        }
        match self.body.get() {
            Some(body) => Ok(Box::new(std::io::Cursor::new(body.clone()))),
            None => Err(ApiError::internal("the request body was already taken")),
        }
    }

    /// The media type of the body (`Content-Type` without parameters), lowercase.
    pub fn media_type(&self) -> String {
        let content_type = self.header("content-type").unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("");
        essence.trim().to_ascii_lowercase()
    }

    /// Adds a header (builder style).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.as_bytes().to_vec()));
        self
    }

    /// The first value of header `name` (case-insensitive), if it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// The decoded value of query parameter `name`, if present.
    pub fn query_param(&self, name: &str) -> Result<Option<String>, ApiError> {
        for pair in self.query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if percent_decode(key)? == name {
                return percent_decode(value).map(Some);
            }
        }
        Ok(None)
    }

    /// The body parsed as JSON into `T`. Requires `Content-Type: application/json`
    /// (415 otherwise); malformed or mistyped JSON is a 400 naming the problem.
    ///
    /// ```
    /// use summer_sdk::http::{Method, Request};
    ///
    /// #[derive(Debug, serde::Deserialize)]
    /// struct NewUser { name: String }
    ///
    /// let request = Request::new(Method::Post, "/users", r#"{"name": "Ada"}"#)
    ///     .with_header("content-type", "application/json");
    /// assert_eq!(request.json::<NewUser>().unwrap().name, "Ada");
    ///
    /// let wrong = Request::new(Method::Post, "/users", r#"{"name": 7}"#)
    ///     .with_header("content-type", "application/json");
    /// assert_eq!(wrong.json::<NewUser>().unwrap_err().status, 400);
    /// ```
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        if self.media_type() != "application/json" {
            return Err(ApiError::unsupported_media_type(
                "the request body must be JSON (Content-Type: application/json)",
            ));
        }
        serde_json::from_slice(self.body()?)
            .map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))
    }
}

fn percent_decode(text: &str) -> Result<String, ApiError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| ApiError::invalid("malformed percent-encoding in the query"))?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| ApiError::invalid("the query is not valid UTF-8"))
}

/// An outgoing response: its body in memory, or streamed from a reader.
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// Headers to send, in order.
    pub headers: Vec<(String, String)>,
    /// The body, when it is held in memory (see [`Response::with_stream`]).
    pub body: Vec<u8>,
    stream: Option<StreamedBody>,
}

/// A body written from a reader, with its length known up front.
struct StreamedBody {
    length: u64,
    reader: Box<dyn Read>,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body_len", &self.body_len())
            .finish()
    }
}

impl Response {
    /// An empty response with `status`.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            stream: None,
        }
    }

    /// A JSON response.
    pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Result<Self, ApiError> {
        let body = serde_json::to_vec(value)
            .map_err(|e| ApiError::internal(format!("cannot encode the response: {e}")))?;
        Ok(Self::new(status)
            .with_header("content-type", "application/json")
            .with_body(body))
    }

    /// 204 No Content.
    pub fn no_content() -> Self {
        Self::new(204)
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body, held in memory.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self.stream = None;
        self
    }

    /// A body of `length` bytes copied from `reader` while the response is
    /// sent, so that it never sits whole in memory.
    pub fn with_stream(mut self, length: u64, reader: impl Read + 'static) -> Self {
        self.body.clear();
        self.stream = Some(StreamedBody {
            length,
            reader: Box::new(reader),
        });
        self
    }

    /// The length of the body, in memory or streamed.
    pub fn body_len(&self) -> u64 {
        self.stream
            .as_ref()
            .map_or(self.body.len() as u64, |s| s.length)
    }

    /// The value of header `name` (case-insensitive), if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl From<ApiError> for Response {
    fn from(error: ApiError) -> Self {
        Response::json(error.status, &error.body()).unwrap_or_else(|_| Response::new(error.status))
    }
}

/// Exports `$handler: fn(&Request) -> Response` as the component's
/// `wasi:http/incoming-handler`.
#[macro_export]
macro_rules! http_component {
    ($handler:path) => {
        struct __SummerHttpComponent;

        impl $crate::__wasip2::exports::http::incoming_handler::Guest for __SummerHttpComponent {
            fn handle(
                request: $crate::__wasip2::http::types::IncomingRequest,
                out: $crate::__wasip2::http::types::ResponseOutparam,
            ) {
                $crate::http::serve(request, out, $handler);
            }
        }

        // Only a wasm build exports the handler: a native build (unit tests)
        // has no component model, and its linker rejects the export names.
        #[cfg(target_arch = "wasm32")]
        $crate::__wasip2::http::proxy::export!(__SummerHttpComponent);
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn(&$crate::http::Request) -> $crate::http::Response = $handler;
    };
}

use wasip2::http::types::{
    Fields, IncomingBody, IncomingRequest, Method as WasiMethod, OutgoingBody, OutgoingResponse,
    ResponseOutparam,
};

/// Reads `request`, runs `handler`, writes its response to `out`.
#[doc(hidden)]
pub fn serve(request: IncomingRequest, out: ResponseOutparam, handler: fn(&Request) -> Response) {
    let response = handler(&read_request(request));
    write_response(out, response);
}

/// The request's method, target and headers; its body is opened when the
/// handler first reads it, so a handler that never does (every GET) makes
/// none of the host calls a body takes.
fn read_request(request: IncomingRequest) -> Request {
    let method = match request.method() {
        WasiMethod::Get => Method::Get,
        WasiMethod::Head => Method::Head,
        WasiMethod::Post => Method::Post,
        WasiMethod::Put => Method::Put,
        WasiMethod::Patch => Method::Patch,
        WasiMethod::Delete => Method::Delete,
        WasiMethod::Options => Method::Options,
        WasiMethod::Other(other) => Method::Other(other),
        other => Method::Other(format!("{other:?}").to_uppercase()),
    };
    let path_and_query = request.path_with_query().unwrap_or_else(|| "/".into());
    let headers = request.headers().entries();
    let mut parsed = Request::streaming(method, &path_and_query, UnopenedBody::new(request));
    parsed.headers = headers;
    parsed
}

/// The body of an incoming request, opened on its first read.
struct UnopenedBody {
    // Fields drop in order: the body (its stream, then itself) before the
    // request it came from.
    reader: Option<IncomingBodyReader>,
    request: IncomingRequest,
}

impl UnopenedBody {
    fn new(request: IncomingRequest) -> Self {
        Self {
            reader: None,
            request,
        }
    }
}

impl Read for UnopenedBody {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let reader = match &mut self.reader {
            Some(reader) => reader,
            None => {
                let opened = self
                    .request
                    .consume()
                    .and_then(IncomingBodyReader::open)
                    .map_err(|()| std::io::Error::other("the request body was already taken"))?;
                self.reader.insert(opened)
            }
        };
        reader.read(buf)
    }
}

/// Reads an incoming body (of a request, or of an outbound response);
/// finishes it when dropped.
pub(crate) struct IncomingBodyReader {
    stream: Option<wasip2::io::streams::InputStream>,
    body: Option<IncomingBody>,
}

impl IncomingBodyReader {
    /// A reader of `body`; `Err` if its stream was already taken.
    pub(crate) fn open(body: IncomingBody) -> Result<Self, ()> {
        let stream = body.stream()?;
        Ok(Self {
            stream: Some(stream),
            body: Some(body),
        })
    }
}

impl Read for IncomingBodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match &mut self.stream {
            Some(stream) => stream.read(buf),
            None => Ok(0),
        }
    }
}

impl Drop for IncomingBodyReader {
    fn drop(&mut self) {
        drop(self.stream.take());
        if let Some(body) = self.body.take() {
            IncomingBody::finish(body);
        }
    }
}

fn write_response(out: ResponseOutparam, mut response: Response) {
    let mut entries: Vec<(String, Vec<u8>)> = response
        .headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.as_bytes().to_vec()))
        .collect();
    entries.push((
        "content-length".into(),
        response.body_len().to_string().into_bytes(),
    ));
    let Ok(headers) = Fields::from_list(&entries) else {
        let fallback = Response::from(ApiError::internal("the handler set an invalid header"));
        return write_response(out, fallback);
    };
    let outgoing = OutgoingResponse::new(headers);
    let _ = outgoing.set_status_code(response.status);
    let body = outgoing.body().expect("a new response has a body");
    ResponseOutparam::set(out, Ok(outgoing));
    let written = response.body_len() == 0
        || match body.write() {
            Ok(mut stream) => write_body(&mut stream, &mut response),
            Err(()) => false,
        };
    // A body that could not be written whole is left unfinished, which
    // tells the client the response is incomplete rather than short.
    if written {
        let _ = OutgoingBody::finish(body, None);
    }
}

/// The most `blocking-write-and-flush` takes in one call (wasi:io's
/// guarantee): a body this small leaves in one host call instead of three.
const ONE_CALL_WRITE: usize = 4096;

/// Copies the response body to `stream`; false when it failed part way.
fn write_body(stream: &mut wasip2::io::streams::OutputStream, response: &mut Response) -> bool {
    let Some(streamed) = response.stream.as_mut() else {
        if response.body.len() <= ONE_CALL_WRITE {
            return stream.blocking_write_and_flush(&response.body).is_ok();
        }
        return stream
            .write_all(&response.body)
            .and_then(|()| stream.flush())
            .is_ok();
    };
    let mut limited = (&mut streamed.reader).take(streamed.length);
    match copy_in_chunks(&mut limited, stream) {
        Ok(copied) => copied == streamed.length && stream.flush().is_ok(),
        Err(_) => false,
    }
}

/// `std::io::copy` with the blob chunk size instead of its 8 KiB, so a
/// streamed body costs a host call per 64 KiB rather than per 8 KiB.
fn copy_in_chunks(reader: &mut impl Read, writer: &mut impl Write) -> std::io::Result<u64> {
    let mut buffer = vec![0; crate::blob::CHUNK];
    let mut copied = 0;
    loop {
        match reader.read(&mut buffer) {
            Ok(0) => return Ok(copied),
            Ok(n) => {
                writer.write_all(&buffer[..n])?;
                copied += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records the size of every write.
    struct Writes(Vec<usize>);

    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.push(buf.len());
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn streamed_bodies_are_copied_in_blob_chunks() {
        let body = vec![7u8; 3 * crate::blob::CHUNK + 10];
        let mut writes = Writes(Vec::new());
        let copied = copy_in_chunks(&mut body.as_slice(), &mut writes).unwrap();
        assert_eq!(copied, body.len() as u64);
        let chunk = crate::blob::CHUNK;
        assert_eq!(writes.0, [chunk, chunk, chunk, 10]);
    }

    #[test]
    fn query_params_are_percent_decoded() {
        let r = Request::new(Method::Get, "/x?name=J%C3%BCrgen+K&empty=&flag", vec![]);
        assert_eq!(r.query_param("name").unwrap().as_deref(), Some("Jürgen K"));
        assert_eq!(r.query_param("empty").unwrap().as_deref(), Some(""));
        assert_eq!(r.query_param("flag").unwrap().as_deref(), Some(""));
        assert_eq!(r.query_param("missing").unwrap(), None);
        assert_eq!(r.path, "/x");
    }

    #[test]
    fn malformed_percent_encoding_is_a_400() {
        let r = Request::new(Method::Get, "/x?a=%zz", vec![]);
        assert_eq!(r.query_param("a").unwrap_err().status, 400);
        let r = Request::new(Method::Get, "/x?a=%ff", vec![]);
        assert_eq!(r.query_param("a").unwrap_err().status, 400);
    }

    #[test]
    fn json_requires_the_json_media_type() {
        let plain =
            Request::new(Method::Post, "/x", "{}").with_header("Content-Type", "text/plain");
        assert_eq!(plain.json::<serde_json::Value>().unwrap_err().status, 415);
        let missing = Request::new(Method::Post, "/x", "{}");
        assert_eq!(missing.json::<serde_json::Value>().unwrap_err().status, 415);
        let json = Request::new(Method::Post, "/x", "{}")
            .with_header("content-type", "application/json; charset=utf-8");
        assert!(json.json::<serde_json::Value>().is_ok());
    }

    #[test]
    fn malformed_json_is_a_400_with_the_parser_message() {
        let r = Request::new(Method::Post, "/x", "{\"a\":")
            .with_header("content-type", "application/json");
        let err = r.json::<serde_json::Value>().unwrap_err();
        assert_eq!(err.status, 400);
        assert!(err.message.contains("invalid JSON"), "{err}");
    }

    #[test]
    fn api_errors_become_json_responses() {
        let response = Response::from(ApiError::not_found("no user 7"));
        assert_eq!(response.status, 404);
        assert_eq!(response.header("Content-Type"), Some("application/json"));
        let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(body["error"]["code"], "not_found");
        assert_eq!(body["error"]["message"], "no user 7");
    }
}
