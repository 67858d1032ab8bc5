//! Stopping and starting `summer serve` keeps the data and reuses the
//! compiled components; stopping drains in-flight requests and closes the
//! databases.

use crate::support;

use std::time::Duration;

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

/// On SIGTERM the host stops accepting connections, finishes the request in
/// flight, closes its database connections (SQLite's write-ahead log is
/// checkpointed away) and exits cleanly.
#[test]
fn sigterm_finishes_in_flight_requests_then_closes_the_databases() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = support::write_manifest(dir.path(), |_| {});
    support::add_faults_component(&manifest, 64, 5_000);
    let data = dir.path().join("data");
    let server = support::Server::try_start(&data, &manifest)
        .unwrap_or_else(|f| panic!("summer exited with {}:\n{}", f.status, f.log));
    let created = post_json(
        &server.url("/users"),
        &json!({ "name": "Ada", "email": "ada@example.org" }),
    );
    assert_eq!(created.status, 201, "{}", created.raw);
    assert!(
        data.join("summer.db-wal").exists(),
        "SQLite runs with a WAL"
    );

    let slow = server.url("/faults/slow?ms=1000");
    let in_flight = std::thread::spawn(move || get(&slow));
    std::thread::sleep(Duration::from_millis(300));
    server.signal_stop();
    std::thread::sleep(Duration::from_millis(200));
    let address = server.base.trim_start_matches("http://").to_owned();
    assert!(
        std::net::TcpStream::connect(&address).is_err(),
        "a new connection was accepted after SIGTERM"
    );

    let answered = in_flight.join().unwrap();
    assert_eq!(answered.status, 200, "{}", answered.raw);
    assert_eq!(answered.body["slept_ms"], 1000);
    let log_path = data.with_extension("log");
    assert!(server.wait().success(), "summer did not exit cleanly");
    let log = std::fs::read_to_string(log_path).unwrap();
    assert!(log.contains("database connections closed"), "{log}");
    assert!(
        !data.join("summer.db-wal").exists(),
        "the SQLite pool was not closed:\n{log}"
    );
}
