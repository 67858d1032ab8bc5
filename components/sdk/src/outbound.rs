//! Outgoing HTTP requests through `wasi:http/outgoing-handler`. The host
//! sends them only to the hosts the manifest lists in the component's
//! `allowed_outbound_hosts`; any other is refused before a connection is made.
//!
//! ```no_run
//! # fn example() -> Result<(), summer_sdk::ApiError> {
//! let answer = summer_sdk::outbound::get("http://127.0.0.1:8080/status")?;
//! assert_eq!(answer.status, 200);
//! # Ok(()) }
//! ```

use std::io::{Read, Write};

use wasip2::http::outgoing_handler;
use wasip2::http::types::{ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, Scheme};

use crate::ApiError;
use crate::http::IncomingBodyReader;

/// The largest response body read into memory.
pub const MAX_RESPONSE_BYTES: usize = 16 << 20;

/// The answer to an outgoing request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The headers, names lowercase.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The whole body.
    pub body: Vec<u8>,
}

/// Why an outgoing request got no answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutboundError {
    /// The URL is not an absolute `http://` or `https://` URL.
    InvalidUrl(String),
    /// The host refused: the destination is not in `allowed_outbound_hosts`.
    Denied(String),
    /// The destination could not be reached or answered badly.
    Failed(String),
}

impl std::fmt::Display for OutboundError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutboundError::InvalidUrl(url) => write!(f, "not an http(s) URL: {url:?}"),
            OutboundError::Denied(url) => write!(
                f,
                "outbound HTTP to {url} is not allowed for this component (allowed_outbound_hosts)"
            ),
            OutboundError::Failed(why) => write!(f, "outbound HTTP failed: {why}"),
        }
    }
}

impl std::error::Error for OutboundError {}

/// A request the component may not make is its own fault (500); a
/// destination that failed is a bad gateway (502).
impl From<OutboundError> for ApiError {
    fn from(error: OutboundError) -> Self {
        match error {
            OutboundError::Failed(_) => ApiError::new(502, "bad_gateway", error.to_string()),
            _ => ApiError::internal(error.to_string()),
        }
    }
}

/// `GET url`.
pub fn get(url: &str) -> Result<Answer, OutboundError> {
    send("GET", url, &[], &[])
}

/// Sends `method url` with `headers` and `body`; waits for the whole answer.
pub fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Answer, OutboundError> {
    let target = Target::parse(url)?;
    let request = target.request(method, headers)?;
    let outgoing_body = request.body().map_err(|()| failed("no request body"))?;
    let pending = outgoing_handler::handle(request, None).map_err(|e| refused(url, e))?;
    // A refused request closes its body: the reason comes with the answer.
    let sent = write_body(outgoing_body, body);
    pending.subscribe().block();
    let response = pending
        .get()
        .ok_or_else(|| failed("no answer"))?
        .map_err(|()| failed("the answer was taken twice"))?
        .map_err(|e| refused(url, e))?;
    sent?;
    let status = response.status();
    let headers = response.headers().entries();
    let incoming = response
        .consume()
        .map_err(|()| failed("no response body"))?;
    let reader =
        IncomingBodyReader::open(incoming).map_err(|()| failed("no response body stream"))?;
    let mut body = Vec::new();
    reader
        .take(MAX_RESPONSE_BYTES as u64 + 1)
        .read_to_end(&mut body)
        .map_err(failed)?;
    if body.len() > MAX_RESPONSE_BYTES {
        return Err(failed(format!(
            "the response body is over {MAX_RESPONSE_BYTES} bytes"
        )));
    }
    Ok(Answer {
        status,
        headers,
        body,
    })
}

fn write_body(outgoing: OutgoingBody, body: &[u8]) -> Result<(), OutboundError> {
    if !body.is_empty() {
        let mut stream = outgoing
            .write()
            .map_err(|()| failed("no request body stream"))?;
        stream.write_all(body).map_err(failed)?;
        stream.flush().map_err(failed)?;
    }
    OutgoingBody::finish(outgoing, None).map_err(|e| failed(format!("{e:?}")))
}

fn failed(why: impl std::fmt::Display) -> OutboundError {
    OutboundError::Failed(why.to_string())
}

fn refused(url: &str, error: ErrorCode) -> OutboundError {
    match error {
        ErrorCode::HttpRequestDenied => OutboundError::Denied(url.to_owned()),
        other => failed(format!("{other:?}")),
    }
}

/// The parts of an absolute http(s) URL.
#[derive(Debug, PartialEq, Eq)]
struct Target<'a> {
    https: bool,
    authority: &'a str,
    path_and_query: &'a str,
}

impl<'a> Target<'a> {
    fn parse(url: &'a str) -> Result<Self, OutboundError> {
        let invalid = || OutboundError::InvalidUrl(url.to_owned());
        let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(invalid());
        };
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_and_query) = rest.split_at(split);
        if authority.is_empty() || authority.contains('@') {
            return Err(invalid());
        }
        Ok(Self {
            https,
            authority,
            path_and_query,
        })
    }

    fn request(
        &self,
        method: &str,
        headers: &[(&str, &str)],
    ) -> Result<OutgoingRequest, OutboundError> {
        let entries: Vec<(String, Vec<u8>)> = headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.as_bytes().to_vec()))
            .collect();
        let fields = Fields::from_list(&entries).map_err(|e| failed(format!("header: {e:?}")))?;
        let request = OutgoingRequest::new(fields);
        let path = match self.path_and_query {
            "" => "/".to_owned(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_owned(),
        };
        let scheme = if self.https {
            Scheme::Https
        } else {
            Scheme::Http
        };
        let set = request
            .set_method(&method_of(method))
            .and_then(|()| request.set_scheme(Some(&scheme)))
            .and_then(|()| request.set_authority(Some(self.authority)))
            .and_then(|()| request.set_path_with_query(Some(&path)));
        set.map_err(|()| failed(format!("cannot send {method} to {}", self.authority)))?;
        Ok(request)
    }
}

fn method_of(method: &str) -> Method {
    match method.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        "DELETE" => Method::Delete,
        "OPTIONS" => Method::Options,
        other => Method::Other(other.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_scheme_authority_and_path() {
        let target = Target::parse("https://api.example.com:8443/v1/x?q=1").unwrap();
        assert_eq!(
            target,
            Target {
                https: true,
                authority: "api.example.com:8443",
                path_and_query: "/v1/x?q=1"
            }
        );
        let bare = Target::parse("http://127.0.0.1:9000").unwrap();
        assert_eq!(
            (bare.https, bare.authority, bare.path_and_query),
            (false, "127.0.0.1:9000", "")
        );
    }

    #[test]
    fn other_urls_are_refused() {
        for url in ["ftp://x/", "http://", "//x/y", "x", "http://user@host/"] {
            assert!(
                matches!(Target::parse(url), Err(OutboundError::InvalidUrl(_))),
                "{url}"
            );
        }
    }
}
