//! Metrics, readiness and request ids, end to end: the real binary serves
//! requests and `/metrics` moves with them, `/readyz` reports every backend,
//! and a request's id reaches the log lines of its capability calls.

use crate::support;

use serde_json::{Value, json};
use support::admin::{built, deploy, token_env};
use support::wasm::variant;
use support::{Server, TestServer, get, post_json, send_request, write_manifest};

/// The sum of the samples of metric `name` whose labels include every
/// fragment of `labels` (`route="/users"`, ...).
fn sample(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            let wanted = metric == name && labels.iter().all(|l| rest.contains(l));
            wanted.then(|| value.parse::<f64>().ok()).flatten()
        })
        .sum()
}

fn metrics(server: &Server) -> String {
    let reply = get(&server.url("/metrics"));
    assert_eq!(reply.status, 200, "{}", reply.raw);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/openmetrics-text")),
        "{:?}",
        reply.headers
    );
    reply.raw
}

fn sql_backend(server: &TestServer) -> &'static str {
    if server.is_real() {
        "postgres"
    } else {
        "embedded"
    }
}

fn metrics_move_when_requests_are_served(server: &TestServer) {
    let before = metrics(server);
    let created = post_json(
        &server.url("/users"),
        &json!({ "name": "Metric Mia", "email": format!("mia-{}@example.org", uuid::Uuid::new_v4()) }),
    );
    assert_eq!(created.status, 201, "{}", created.raw);
    let id = created.body["id"].as_str().unwrap();
    for _ in 0..3 {
        assert_eq!(get(&server.url(&format!("/users/{id}"))).status, 200);
    }
    assert_eq!(get(&server.url("/users/not-a-uuid")).status, 400);
    let after = metrics(server);

    let moved =
        |name: &str, labels: &[&str]| sample(&after, name, labels) - sample(&before, name, labels);
    let user = [r#"route="/users/{id}""#, r#"component="users""#];
    assert_eq!(
        moved(
            "summer_requests_total",
            &[&user[..], &[r#"status="200""#]].concat()
        ),
        3.0,
        "{after}"
    );
    assert_eq!(
        moved(
            "summer_requests_total",
            &[&user[..], &[r#"status="400""#]].concat()
        ),
        1.0
    );
    assert_eq!(
        moved(
            "summer_requests_total",
            &[r#"route="/users""#, r#"status="201""#]
        ),
        1.0
    );
    assert_eq!(moved("summer_request_duration_seconds_count", &user), 4.0);
    assert!(moved("summer_request_duration_seconds_sum", &user) > 0.0);
    let sql = format!(r#"backend="{}""#, sql_backend(server));
    assert!(
        moved(
            "summer_capability_calls_total",
            &[r#"capability="sql""#, &sql, r#"outcome="ok""#]
        ) >= 1.0,
        "{after}"
    );
    assert!(
        moved(
            "summer_capability_call_duration_seconds_count",
            &[r#"capability="sql""#]
        ) >= 1.0
    );
    // The first read fills the cache, the next ones hit it.
    assert!(
        moved("summer_cache_lookups_total", &[r#"result="hit""#]) >= 2.0,
        "{after}"
    );
    assert!(moved("summer_cache_lookups_total", &[r#"result="miss""#]) >= 1.0);
    assert!(sample(&after, "summer_cache_hit_ratio", &[]) > 0.0);
    assert_eq!(
        sample(&after, "summer_instances_active", &[r#"component="users""#]),
        0.0
    );
    assert_eq!(sample(&after, "summer_instance_slots", &[]), 1000.0);
}

fn readiness_reports_every_backend(server: &TestServer) {
    let reply = get(&server.url("/readyz"));
    assert_eq!(reply.status, 200, "{}", reply.raw);
    assert_eq!(reply.body["status"], "ready");
    let expected = if server.is_real() {
        [
            ("sql", "postgres"),
            ("cache", "redis"),
            ("blob", "s3"),
            ("wide", "cassandra"),
            ("graph", "neo4j"),
        ]
    } else {
        [
            ("sql", "embedded"),
            ("cache", "embedded"),
            ("blob", "embedded"),
            ("wide", "embedded"),
            ("graph", "embedded"),
        ]
    };
    for (capability, backend) in expected {
        let report = &reply.body["backends"][capability];
        assert_eq!(report["ready"], true, "{capability}: {report}");
        assert!(
            report["backend"].as_str().unwrap().starts_with(backend),
            "{capability}: {report}"
        );
        assert!(report["took_ms"].as_f64().unwrap() >= 0.0);
    }
}

on_both_databases!(
    metrics_move_when_requests_are_served,
    readiness_reports_every_backend
);

fn start_debug_server(dir: &tempfile::TempDir) -> Server {
    let manifest = write_manifest(dir.path(), |_| {});
    let env = [
        token_env(),
        ("RUST_LOG".to_owned(), "info,summer=debug".to_owned()),
    ];
    Server::try_start_with_env(&dir.path().join("data"), &manifest, &env)
        .unwrap_or_else(|f| panic!("summer exited with {}:\n{}", f.status, f.log))
}

#[test]
fn a_request_id_reaches_the_logs_of_its_capability_calls() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_debug_server(&dir);
    let request = ureq::http::Request::builder()
        .method("GET")
        .uri(server.url("/users?limit=1"))
        .header("x-request-id", "trip-7f3a")
        .body(Vec::new())
        .unwrap();
    let reply = send_request(request);
    assert_eq!(reply.status, 200, "{}", reply.raw);
    assert_eq!(reply.header("x-request-id"), Some("trip-7f3a"));

    let generated = get(&server.url("/users?limit=1"));
    let id = generated
        .header("x-request-id")
        .expect("an id is made when none is sent");
    assert_ne!(id, "trip-7f3a");

    let log = server.log();
    let call = log
        .lines()
        .find(|line| line.contains("id=trip-7f3a") && line.contains("capability{"))
        .unwrap_or_else(|| panic!("no capability log line carries the request id:\n{log}"));
    assert!(call.contains("capability=sql"), "{call}");
    assert!(
        log.lines()
            .any(|l| l.contains(&format!("id={id}")) && l.contains("capability{"))
    );
}

#[test]
fn swaps_are_counted_by_component_and_trigger() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_debug_server(&dir);
    let labels = [r#"component="users""#, r#"trigger="api""#];
    let before = sample(&metrics(&server), "summer_component_swaps_total", &labels);
    let wasm = variant(&built("users.wasm"), "observability");
    let reply = deploy(&server, "users", &wasm);
    assert_eq!(reply.status, 200, "{}", reply.raw);
    let text = metrics(&server);
    assert_eq!(
        sample(&text, "summer_component_swaps_total", &labels),
        before + 1.0,
        "{text}"
    );
    // Requests are labelled with the version that served them.
    let served: Value = get(&server.url("/users?limit=1")).body;
    assert!(served.is_object() || served.is_array());
    let version = &support::wasm::version_of(&wasm)[..12];
    let text = metrics(&server);
    assert_eq!(
        sample(
            &text,
            "summer_requests_total",
            &[r#"route="/users""#, &format!(r#"version="{version}""#)]
        ),
        1.0,
        "{text}"
    );
}
