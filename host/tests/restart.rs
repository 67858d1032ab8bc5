//! Stopping and starting `summer serve` keeps the data and reuses the
//! compiled components.

mod support;

use serde_json::json;
use support::{FreshDatabase, TestServer, get, post_json};

#[test]
fn data_and_compiled_components_survive_a_restart_on_embedded_databases() {
    survive_a_restart(None);
}

#[test]
fn data_and_compiled_components_survive_a_restart_on_real_databases() {
    survive_a_restart(Some(FreshDatabase::create()));
}

fn survive_a_restart(database: Option<FreshDatabase>) {
    let dir = tempfile::tempdir().unwrap();
    let first = TestServer::server_in(&dir, database.as_ref());
    let created = post_json(
        &first.url("/users"),
        &json!({ "name": "Grace Hopper", "email": "grace@example.org" }),
    );
    assert_eq!(created.status, 201, "{}", created.raw);
    let first_log = first.log();
    assert!(
        first.stop().success(),
        "summer did not exit cleanly on SIGTERM"
    );
    assert!(first_log.contains("loaded (compiled)"), "{first_log}");

    let second = TestServer::server_in(&dir, database.as_ref());
    let id = created.body["id"].as_str().unwrap();
    let fetched = get(&second.url(&format!("/users/{id}")));
    assert_eq!(fetched.status, 200, "{}", fetched.raw);
    assert_eq!(fetched.body, created.body);
    let log = second.log();
    assert!(
        log.contains("loaded (from cache)"),
        "second start recompiled:\n{log}"
    );
    assert!(
        !log.contains("applied 1 sql migration"),
        "migration ran twice:\n{log}"
    );

    let duplicate = post_json(
        &second.url("/users"),
        &json!({ "name": "Grace", "email": "grace@example.org" }),
    );
    duplicate.assert_error(409, "conflict");
}
