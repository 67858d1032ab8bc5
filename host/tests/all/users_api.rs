//! The users endpoints, end to end: the real `summer` binary, the real
//! users component, on the embedded SQLite backend and on PostgreSQL.

use crate::support;

use serde_json::{Value, json};
use support::{Server, get, post, post_json};

fn create(server: &Server, name: &str, email: &str) -> Value {
    let reply = post_json(
        &server.url("/users"),
        &json!({ "name": name, "email": email }),
    );
    assert_eq!(reply.status, 201, "{}", reply.raw);
    reply.body
}

fn seconds_from_now(rfc3339: &str) -> i64 {
    let t = chrono::DateTime::parse_from_rfc3339(rfc3339).expect("created_at is RFC 3339");
    (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
        .num_seconds()
        .abs()
}

fn create_then_get_a_user(server: &Server) {
    let reply = post_json(
        &server.url("/users"),
        &json!({ "name": "  Ada Lovelace ", "email": "Ada@Example.org" }),
    );
    assert_eq!(reply.status, 201, "{}", reply.raw);
    let user = &reply.body;
    let id = user["id"].as_str().unwrap();
    let uuid = uuid::Uuid::parse_str(id).expect("id is a UUID");
    assert_eq!(uuid.get_version_num(), 7);
    assert_eq!(user["name"], "Ada Lovelace");
    assert_eq!(user["email"], "ada@example.org");
    assert!(seconds_from_now(user["created_at"].as_str().unwrap()) < 60);
    assert_eq!(
        reply.header("location"),
        Some(format!("/users/{id}").as_str())
    );
    assert!(
        reply
            .header("x-summer-component")
            .unwrap()
            .starts_with("users@")
    );

    let fetched = get(&server.url(&format!("/users/{id}")));
    assert_eq!(fetched.status, 200);
    assert_eq!(&fetched.body, user);
}

fn list_starts_empty(server: &Server) {
    let reply = get(&server.url("/users"));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, json!({ "items": [], "next_cursor": null }));
}

fn list_pages_in_creation_order_with_a_cursor(server: &Server) {
    let created: Vec<String> = (0..5)
        .map(|i| {
            create(server, &format!("user {i}"), &format!("u{i}@example.org"))["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();

    let mut seen = Vec::new();
    let mut url = server.url("/users?limit=2");
    let mut pages = 0;
    loop {
        let reply = get(&url);
        assert_eq!(reply.status, 200, "{}", reply.raw);
        let items = reply.body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|u| u["id"].as_str().unwrap().to_owned()));
        pages += 1;
        match reply.body["next_cursor"].as_str() {
            Some(cursor) => url = server.url(&format!("/users?limit=2&cursor={cursor}")),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, created);

    let all = get(&server.url("/users"));
    assert_eq!(all.body["items"].as_array().unwrap().len(), 5);
    assert_eq!(all.body["next_cursor"], Value::Null);
}

fn bad_list_parameters_are_400(server: &Server) {
    for query in [
        "limit=0",
        "limit=101",
        "limit=abc",
        "cursor=%%%",
        "cursor=bm90LWEtdXVpZA",
    ] {
        let reply = get(&server.url(&format!("/users?{query}")));
        reply.assert_error(400, "invalid");
    }
}

fn unknown_and_malformed_ids(server: &Server) {
    let missing = uuid::Uuid::now_v7();
    let message = get(&server.url(&format!("/users/{missing}")))
        .assert_error(404, "not_found")
        .to_owned();
    assert!(message.contains(&missing.to_string()), "{message}");
    get(&server.url("/users/not-a-uuid")).assert_error(400, "invalid");
}

fn duplicate_email_is_409_and_stores_nothing(server: &Server) {
    create(server, "Ada", "ada@example.org");
    let reply = post_json(
        &server.url("/users"),
        &json!({ "name": "Impostor", "email": "ADA@example.org" }),
    );
    let message = reply.assert_error(409, "conflict");
    assert!(message.contains("ada@example.org"), "{message}");
    let all = get(&server.url("/users"));
    let items = all.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["name"], "Ada");
}

fn invalid_bodies_are_400_and_store_nothing(server: &Server) {
    let url = server.url("/users");
    let cases = [
        "{\"name\": \"Ada\"",
        "not json",
        "[]",
        "{}",
        r#"{"name": "Ada"}"#,
        r#"{"email": "ada@example.org"}"#,
        r#"{"name": "", "email": "ada@example.org"}"#,
        r#"{"name": "   ", "email": "ada@example.org"}"#,
        r#"{"name": 42, "email": "ada@example.org"}"#,
        r#"{"name": "Ada", "email": "not-an-email"}"#,
        r#"{"name": "Ada", "email": "ada@example.org", "admin": true}"#,
    ];
    for body in cases {
        let reply = post(&url, "application/json", body);
        assert_eq!(reply.status, 400, "body {body} gave {}", reply.raw);
        reply.assert_error(400, "invalid");
    }
    let long_name = "x".repeat(101);
    post_json(&url, &json!({ "name": long_name, "email": "a@b.co" })).assert_error(400, "invalid");
    let all = get(&url);
    assert_eq!(all.body["items"], json!([]));
}

fn an_oversized_body_is_413(server: &Server) {
    let huge = format!(
        r#"{{"name": "{}", "email": "a@b.co"}}"#,
        "x".repeat(2 << 20)
    );
    let reply = post(&server.url("/users"), "application/json", &huge);
    reply.assert_error(413, "too_large");
    assert_eq!(get(&server.url("/users")).body["items"], json!([]));
}

fn wrong_media_type_is_415(server: &Server) {
    let reply = post(
        &server.url("/users"),
        "text/plain",
        r#"{"name": "Ada", "email": "ada@example.org"}"#,
    );
    reply.assert_error(415, "unsupported_media_type");
}

fn unknown_route_and_wrong_method(server: &Server) {
    let message = get(&server.url("/nope"))
        .assert_error(404, "not_found")
        .to_owned();
    assert!(message.contains("/nope"), "{message}");
    let reply = support::delete(&server.url("/users"));
    reply.assert_error(405, "method_not_allowed");
    assert_eq!(reply.header("allow"), Some("GET, POST"));
}

fn healthz_answers(server: &Server) {
    let reply = get(&server.url("/healthz"));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, json!({ "status": "ok" }));
    let head = support::send("HEAD", &server.url("/healthz"), None, b"");
    assert_eq!(head.status, 200, "{}", head.raw);
}

fn host_endpoints_refuse_other_methods_with_allow(server: &Server) {
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        for method in ["POST", "PUT", "DELETE", "PATCH"] {
            let reply = support::send(method, &server.url(path), Some("application/json"), b"{}");
            let message = reply.assert_error(405, "method_not_allowed");
            assert!(message.contains(path), "{method} {path}: {message}");
            assert_eq!(reply.header("allow"), Some("GET, HEAD"), "{method} {path}");
        }
    }
}

on_both_databases!(
    create_then_get_a_user,
    list_starts_empty,
    list_pages_in_creation_order_with_a_cursor,
    bad_list_parameters_are_400,
    unknown_and_malformed_ids,
    duplicate_email_is_409_and_stores_nothing,
    invalid_bodies_are_400_and_store_nothing,
    an_oversized_body_is_413,
    wrong_media_type_is_415,
    unknown_route_and_wrong_method,
    healthz_answers,
    host_endpoints_refuse_other_methods_with_allow,
);
