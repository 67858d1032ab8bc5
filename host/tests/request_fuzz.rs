//! A seeded fuzz of the host's request path, end to end over raw TCP:
//! requests built from the API's routes with mutated methods, paths,
//! queries, headers and JSON bodies go to the real binary with every
//! Summer-Trip component. Each gets an HTTP answer below 500, and
//! afterwards the host still serves and the stored data is intact.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::json;
use support::{Databases, Server, TestServer, get, post_json};

/// How many requests are sent (set SUMMER_FUZZ_CASES for a longer run).
const DEFAULT_CASES: usize = 10_000;

/// A small deterministic generator (xorshift64*), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T: ?Sized>(&mut self, items: &'a [&'a T]) -> &'a T {
        items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "BREW", "get",
];

/// Paths of the API, with `{}` where an id or a name goes.
const TEMPLATES: &[&str] = &[
    "/users",
    "/users/{}",
    "/users/{}/friends",
    "/users/{}/friends/{}",
    "/users/{}/friends/suggestions",
    "/users/{}/groups",
    "/groups",
    "/groups/{}",
    "/groups/{}/members",
    "/groups/{}/members/{}",
    "/messages",
    "/messages/{}",
    "/notifications",
    "/notifications/{}",
    "/notifications/{}/read",
    "/notifications/{}/{}/read",
    "/storage/files",
    "/storage/download/{}",
    "/storage/{}",
    "/storage/upload",
    "/openapi.json",
    "/healthz",
    "/{}",
    "/",
];

/// Path segments and fragments that tend to break routers and decoders.
const SEGMENTS: &[&str] = &[
    "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
    "not-a-uuid",
    "..",
    "%2e%2e",
    "..%2f..%2fetc%2fpasswd",
    "%2F",
    "%00",
    "%ff%fe",
    "%",
    "%zz",
    "é",
    "%C3%A9",
    "a;b",
    "a b",
    "'; DROP TABLE users; --",
    "MATCH (n) DETACH DELETE n",
    "",
    "//",
    "\\",
    "*",
    "{id}",
];

const QUERIES: &[&str] = &[
    "",
    "?limit=1",
    "?limit=0",
    "?limit=-1",
    "?limit=99999999999999999999",
    "?limit=abc",
    "?cursor=garbage",
    "?cursor=%ff",
    "?unread=maybe",
    "?&&&=",
    "?limit=5&limit=6",
    "?%",
];

const BODIES: &[&str] = &[
    r#"{"name":"Fuzz","email":"fuzz@example.com"}"#,
    r#"{"name":"G","description":"d"}"#,
    r#"{"conversation_id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","user_id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","content":"hi"}"#,
    r#"{"user_id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","type":"t","content":"c"}"#,
    r#"{"friend_id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}"#,
    "[]",
    "null",
    "",
];

const NASTY: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"\\ud800",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b"\0",
    b"\xff",
    b"\xc3",
    b"1e999999",
    b"-",
    b"null",
    b"\r\n",
];

const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "multipart/form-data; boundary=x",
    "multipart/form-data",
    "application/x-www-form-urlencoded",
    "\u{1}",
];

/// One generated request, as bytes on the wire.
fn request(rng: &mut Rng) -> Vec<u8> {
    let method = rng.pick(METHODS);
    let path = path(rng);
    let body = body(rng);
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n");
    if !body.is_empty() || rng.chance(20) {
        head.push_str(&format!("Content-Type: {}\r\n", rng.pick(CONTENT_TYPES)));
    }
    match rng.below(10) {
        0 => head.push_str("Transfer-Encoding: chunked\r\n"),
        1 => head.push_str(&format!(
            "Content-Length: {}\r\n",
            body.len().saturating_sub(3)
        )),
        _ => head.push_str(&format!("Content-Length: {}\r\n", body.len())),
    }
    if rng.chance(10) {
        head.push_str(&format!("X-Fuzz: {}\r\n", "v".repeat(rng.below(8000))));
    }
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(&body);
    bytes
}

fn path(rng: &mut Rng) -> String {
    let template = rng.pick(TEMPLATES);
    let mut path = String::new();
    for (i, part) in template.split("{}").enumerate() {
        if i > 0 {
            path.push_str(rng.pick(SEGMENTS));
        }
        path.push_str(part);
    }
    if rng.chance(10) {
        path.push_str(&"/x".repeat(rng.below(200)));
    }
    path.push_str(rng.pick(QUERIES));
    // Spaces would end the request target; what hyper refuses is fine too.
    path.replace(' ', "%20")
}

fn body(rng: &mut Rng) -> Vec<u8> {
    let mut body = rng.pick(BODIES).as_bytes().to_vec();
    for _ in 0..rng.below(4) {
        if body.is_empty() {
            break;
        }
        let at = rng.below(body.len());
        match rng.below(3) {
            0 => {
                body.remove(at);
            }
            1 => {
                let nasty = NASTY[rng.below(NASTY.len())];
                body.splice(at..at, nasty.iter().copied());
            }
            _ => body.truncate(at),
        }
    }
    body
}

/// Sends raw bytes; the status of the answer, or 0 if the connection closed
/// without one.
fn send(server: &Server, bytes: &[u8]) -> u16 {
    let address = server.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let _ = stream.write_all(bytes);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    text.strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

#[test]
fn mutated_requests_never_fail_the_host() {
    let server = TestServer::start(Databases::Embedded);
    let witness = post_json(
        &server.url("/users"),
        &json!({ "name": "Witness", "email": "witness@example.com" }),
    );
    assert_eq!(witness.status, 201, "{}", witness.raw);

    let cases = std::env::var("SUMMER_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    let mut rng = Rng(0x5eed_cafe_f00d_d00d);
    let mut by_status = std::collections::BTreeMap::<u16, usize>::new();
    for case in 0..cases {
        let bytes = request(&mut rng);
        let status = send(&server, &bytes);
        *by_status.entry(status).or_default() += 1;
        assert!(
            (100..500).contains(&status),
            "case {case} answered {status}:\n{}\n{}",
            String::from_utf8_lossy(&bytes),
            server
                .log()
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    println!("{cases} fuzzed requests by status: {by_status:?}");

    let id = witness.body["id"].as_str().unwrap();
    let fetched = get(&server.url(&format!("/users/{id}")));
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body["email"], "witness@example.com");
    assert_eq!(get(&server.url("/healthz")).status, 200);
}
