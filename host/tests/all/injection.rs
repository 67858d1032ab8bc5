//! Injection attempts through every string field of the API, on both
//! databases: SQL, CQL and Cypher fragments, quotes, comment markers and
//! control characters are stored and returned verbatim as data (or refused
//! with a 400), never executed and never a 500; the stores are intact
//! afterwards.

use crate::support;

use serde_json::{Value, json};
use support::{Server, get, post_json};

/// Strings that would change a query if they were spliced into it.
const PAYLOADS: &[&str] = &[
    "Robert'); DROP TABLE users; --",
    "' OR '1'='1",
    "\" OR \"\"=\"",
    "x'); TRUNCATE summer_trip_messages; --",
    "'}) MATCH (n) DETACH DELETE n //",
    "\\' UNION SELECT * FROM users --",
    "$1 $2 ? :name {param}",
    "/* comment */ -- line\n; BEGIN; COMMIT;",
    "nul \u{0} inside",
    "tab\tnewline\r\nbell\u{7}",
];

/// Whether `reply` stored the payload (201) or refused it as bad input
/// (400); anything else fails the test.
fn stored(what: &str, payload: &str, reply: &support::Reply) -> bool {
    match reply.status {
        201 => true,
        400 => false,
        status => panic!("{what} with {payload:?} answered {status}: {}", reply.raw),
    }
}

fn injection_is_stored_verbatim_or_refused(server: &Server) {
    let keeper = new_user(server, "Keeper", "keeper");
    let mut users = vec![keeper.clone()];
    for (i, payload) in PAYLOADS.iter().enumerate() {
        let email = format!("inject{i}+{}@example.org", uuid::Uuid::new_v4().simple());
        let reply = post_json(
            &server.url("/users"),
            &json!({ "name": payload, "email": email }),
        );
        if stored("a user name", payload, &reply) {
            let id = reply.body["id"].as_str().unwrap().to_owned();
            let read = get(&server.url(&format!("/users/{id}")));
            assert_eq!(read.body["name"], *payload, "{}", read.raw);
            users.push(id);
        }

        let body = json!({ "name": format!("{payload} {i}"), "description": payload });
        let reply = post_json(&server.url("/groups"), &body);
        if stored("a group", payload, &reply) {
            let id = reply.body["id"].as_str().unwrap();
            let read = get(&server.url(&format!("/groups/{id}")));
            assert_eq!(read.body["description"], *payload, "{}", read.raw);
        }

        let conversation = uuid::Uuid::now_v7().to_string();
        let body =
            json!({ "conversation_id": conversation, "user_id": keeper, "content": payload });
        let reply = post_json(&server.url("/messages"), &body);
        if stored("a message", payload, &reply) {
            let read = get(&server.url(&format!("/messages/{conversation}")));
            assert_eq!(first_item(&read.body)["content"], *payload, "{}", read.raw);
        }

        let body = json!({ "user_id": keeper, "type": "note", "content": payload });
        let reply = post_json(&server.url("/notifications"), &body);
        if stored("a notification", payload, &reply) {
            let read = get(&server.url(&format!("/notifications/{keeper}")));
            assert_eq!(first_item(&read.body)["content"], *payload, "{}", read.raw);
        }
    }
    // Nothing was dropped, truncated or detached: every user is there, and
    // the graph still links them.
    for user in &users[1..] {
        let reply = post_json(
            &server.url(&format!("/users/{keeper}/friends")),
            &json!({ "friend_id": user }),
        );
        assert!(reply.status == 201 || reply.status == 200, "{}", reply.raw);
        assert_eq!(get(&server.url(&format!("/users/{user}"))).status, 200);
    }
    let friends = get(&server.url(&format!("/users/{keeper}/friends?limit=100")));
    assert_eq!(
        items(&friends.body).len(),
        users.len() - 1,
        "{}",
        friends.raw
    );
    assert!(
        users.len() > PAYLOADS.len() / 2,
        "most payloads should be storable"
    );
}

fn new_user(server: &Server, name: &str, tag: &str) -> String {
    let email = format!("{tag}+{}@example.org", uuid::Uuid::new_v4().simple());
    let reply = post_json(
        &server.url("/users"),
        &json!({ "name": name, "email": email }),
    );
    assert_eq!(reply.status, 201, "{}", reply.raw);
    reply.body["id"].as_str().unwrap().to_owned()
}

fn items(body: &Value) -> &Vec<Value> {
    body["items"].as_array().expect("a page of items")
}

fn first_item(body: &Value) -> &Value {
    &items(body)[0]
}

on_both_databases!(injection_is_stored_verbatim_or_refused);
