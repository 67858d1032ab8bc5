//! A seeded fuzz of the host's request path, end to end over raw TCP:
//! requests built from the API's routes with mutated methods, paths,
//! queries, headers and JSON bodies go to the real binary with every
//! Summer-Trip component. Each gets an HTTP answer below 500, and
//! afterwards the host still serves and the stored data is intact.

#[path = "../support/seeded.rs"]
mod seeded;
use crate::support;

use seeded::{Rng, mutate};
use serde_json::json;
use support::{Databases, TestServer, get, post_json};

/// How many requests are sent (set SUMMER_FUZZ_CASES for a longer run).
const DEFAULT_CASES: usize = 10_000;

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
    let method = *rng.pick(METHODS);
    let path = path(rng);
    let body = body(rng);
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n");
    if !body.is_empty() || rng.chance(20) {
        head.push_str(&format!("Content-Type: {}\r\n", *rng.pick(CONTENT_TYPES)));
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
    let template = *rng.pick(TEMPLATES);
    let mut path = String::new();
    for (i, part) in template.split("{}").enumerate() {
        if i > 0 {
            path.push_str(rng.pick::<&str>(SEGMENTS));
        }
        path.push_str(part);
    }
    if rng.chance(10) {
        path.push_str(&"/x".repeat(rng.below(200)));
    }
    path.push_str(rng.pick::<&str>(QUERIES));
    // Spaces would end the request target; what hyper refuses is fine too.
    path.replace(' ', "%20")
}

fn body(rng: &mut Rng) -> Vec<u8> {
    let valid = *rng.pick(BODIES);
    mutate(rng, valid.as_bytes())
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
        let status = support::raw_status(&server, &bytes);
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
