//! A seeded fuzz of the request path inside a component: mutated JSON
//! bodies into typed decoding, random paths and queries into the router and
//! the query decoder. Every input ends in a response or a 4xx `ApiError`;
//! none panics (a panic in a component is a trap, a 500).

#[path = "../../../host/tests/support/seeded.rs"]
mod seeded;

use seeded::{Rng, mutate};
use serde::Deserialize;
use summer_sdk::http::{Method, Request, Response};
use summer_sdk::{ApiError, Params, Router};

/// How many inputs each property is tried with.
const CASES: usize = 20_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct NewUser {
    name: String,
    email: String,
    age: Option<u8>,
    tags: Option<Vec<String>>,
}

fn assert_client_error(error: &ApiError, input: &[u8]) {
    assert!(
        (400..500).contains(&error.status),
        "{error} for {:?}",
        String::from_utf8_lossy(input)
    );
}

#[test]
fn mutated_json_decodes_or_is_a_4xx() {
    let seeds: [&[u8]; 3] = [
        br#"{"name":"Ada","email":"ada@example.org"}"#,
        br#"{"name":"B\u00e9a","email":"b@x.io","age":41,"tags":["a","b"]}"#,
        br#"{"name":"","email":"","tags":[]}"#,
    ];
    let mut rng = Rng(0x5eed_0001);
    let (mut decoded, mut refused) = (0, 0);
    for _ in 0..CASES {
        let seed = *rng.pick(&seeds);
        let body = mutate(&mut rng, seed);
        let request = Request::new(Method::Post, "/users", body.clone())
            .with_header("content-type", "application/json");
        match request.json::<NewUser>() {
            Ok(_) => decoded += 1,
            Err(error) => {
                assert_client_error(&error, &body);
                refused += 1;
            }
        }
    }
    assert!(
        decoded > 0 && refused > 0,
        "{decoded} decoded, {refused} refused"
    );
}

fn echo(request: &Request, params: &Params) -> Result<Response, ApiError> {
    let id = params.get("id").unwrap_or_default().to_owned();
    let limit = request.query_param("limit")?;
    Response::json(200, &serde_json::json!({ "id": id, "limit": limit }))
}

#[test]
fn random_paths_and_queries_route_or_are_a_4xx() {
    let router = Router::new()
        .get("/users/{id}", echo)
        .get("/users/{id}/friends", echo)
        .post("/users", echo)
        .get("/files/...", echo);
    let seeds: [&[u8]; 4] = [
        b"/users/42?limit=10",
        b"/users/42/friends?limit=5&cursor=abc",
        b"/files/a/b/c.txt",
        b"/users",
    ];
    let methods = [Method::Get, Method::Post, Method::Delete, Method::Put];
    let mut rng = Rng(0x5eed_0002);
    let mut routed = 0;
    for _ in 0..CASES {
        let seed = *rng.pick(&seeds);
        let raw = mutate(&mut rng, seed);
        let Ok(path) = String::from_utf8(raw) else {
            continue; // the host hands components UTF-8 paths only
        };
        let method = rng.pick(&methods).clone();
        let response = router.handle(&Request::new(method, &path, Vec::new()));
        assert!(
            (200..500).contains(&response.status),
            "{} for {path:?}",
            response.status
        );
        routed += usize::from(response.status == 200);
    }
    assert!(routed > 0);
}
