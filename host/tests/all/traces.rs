//! Trace export against the real OTLP receiver of `tooling/services`
//! (`otlp`): the spans of a request, of its component's own span, of the
//! capability and outgoing HTTP calls made inside it, with their
//! parent/child links and attributes; `traceparent` taken from the request
//! and passed on; and a collector that is down or never answers costs
//! requests nothing.

use crate::support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Server, get, post_json, write_manifest};

/// The trace and parent span of the requests these tests send.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";
const TRACESTATE: &str = "caller=t61rcWkgMzE";

/// The receiver's base URL; fails when it is not running.
fn receiver() -> String {
    let port = support::real_services_env()
        .into_iter()
        .find(|(name, _)| name == "OTLP_PORT")
        .map(|(_, port)| port)
        .expect("tooling/services.env names OTLP_PORT");
    let base = format!("http://127.0.0.1:{port}");
    if ureq::get(&format!("{base}/healthz")).call().is_err() {
        panic!("no OTLP receiver on {base}: start it with `tooling/services up otlp`");
    }
    base
}

/// A service name no other run shares, so the receiver's spans of this
/// test are told apart.
fn unique_service(test: &str) -> String {
    format!("summer-{test}-{}", uuid::Uuid::new_v4().simple())
}

/// The spans the receiver got from `service`, once at least `count` have
/// arrived (waits up to 15 s).
fn spans_of(base: &str, service: &str, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let spans: Vec<Value> = ureq::get(&format!("{base}/spans?service={service}"))
            .call()
            .unwrap()
            .body_mut()
            .read_json()
            .unwrap();
        if spans.len() >= count || Instant::now() > deadline {
            return spans;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

fn named<'a>(spans: &'a [Value], name: &str) -> &'a Value {
    spans
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no span named {name:?} in {spans:#?}"))
}

/// An HTTP server that answers `pong` and keeps the head of every request.
struct Upstream {
    port: u16,
    heads: Arc<Mutex<Vec<String>>>,
}

impl Upstream {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let kept = heads.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut head = [0u8; 8192];
                let read = stream.read(&mut head).unwrap_or(0);
                kept.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&head[..read]).into_owned());
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\npong",
                );
            }
        });
        Self { port, heads }
    }

    /// The value of `name` in the one request received.
    fn header(&self, name: &str) -> Option<String> {
        let heads = self.heads.lock().unwrap();
        assert_eq!(heads.len(), 1, "{heads:?}");
        heads[0].lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    }
}

/// A host with the repository's manifest (hello among it) and the probe
/// (allowed to call `upstream`), exporting traces with `env`.
fn serve(upstream: Option<&Upstream>, env: &[(&str, String)]) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(dir.path(), |_| {});
    let allowed = upstream.map_or(String::new(), |u| {
        format!("allowed_outbound_hosts = [\"http://127.0.0.1:{}\"]", u.port)
    });
    support::add_probe_with(&manifest, "probe", &allowed);
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let server = Server::try_start_with_env(&dir.path().join("data"), &manifest, &env)
        .unwrap_or_else(|f| panic!("summer exited with {}:\n{}", f.status, f.log));
    (dir, server)
}

fn exporting_to(endpoint: &str, service: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.to_owned()),
        ("OTEL_SERVICE_NAME", service.to_owned()),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment=test".into(),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".into()),
    ]
}

#[test]
fn a_request_its_span_and_its_calls_reach_the_collector_as_one_tree() {
    let base = receiver();
    let service = unique_service("tree");
    let upstream = Upstream::start();
    let (_dir, server) = serve(Some(&upstream), &exporting_to(&base, &service));

    let body = json!({
        "span": "score suggestions",
        "attribute": ["trip.candidates", "17"],
        "request_attribute": ["trip.user_id", "42"],
        "cache_key": "private-key-7f3a",
        "fetch": format!("http://127.0.0.1:{}/ping?token=private-token-9c1e", upstream.port),
    });
    let request = ureq::http::Request::post(server.url("/probe/trace"))
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN}-01"))
        .header("tracestate", TRACESTATE)
        .header("content-type", "application/json")
        .body(body.to_string().into_bytes())
        .unwrap();
    let answer = support::send_request(request);
    assert_eq!(answer.status, 200, "{}", answer.raw);

    let spans = spans_of(&base, &service, 4);
    assert_eq!(spans.len(), 4, "{spans:#?}");
    let request = named(&spans, "POST /probe/...");
    let own = named(&spans, "score suggestions");
    let cache = named(&spans, "cache get");
    let outgoing = named(&spans, "GET");

    for span in &spans {
        assert_eq!(span["trace_id"], TRACE_ID, "{span:#}");
        assert_eq!(span["resource"]["service.name"], service.as_str());
        assert_eq!(span["resource"]["deployment.environment"], "test");
        assert!(span["resource"]["service.version"].is_string(), "{span:#}");
        assert_eq!(span["trace_state"], TRACESTATE, "{span:#}");
    }
    // The tree: caller -> request -> the component's span -> both calls.
    assert_eq!(request["parent_span_id"], CALLER_SPAN);
    assert_eq!(own["parent_span_id"], request["span_id"]);
    assert_eq!(cache["parent_span_id"], own["span_id"]);
    assert_eq!(outgoing["parent_span_id"], own["span_id"]);
    assert_eq!(request["kind"], "SPAN_KIND_SERVER");
    assert_eq!(own["kind"], "SPAN_KIND_INTERNAL");
    assert_eq!(cache["kind"], "SPAN_KIND_CLIENT");
    assert_eq!(outgoing["kind"], "SPAN_KIND_CLIENT");

    let attributes = &request["attributes"];
    assert_eq!(attributes["http.request.method"], "POST");
    assert_eq!(attributes["url.path"], "/probe/trace");
    assert_eq!(attributes["http.route"], "/probe/...");
    assert_eq!(attributes["http.response.status_code"], 200);
    assert_eq!(attributes["summer.component"], "probe");
    let version = answer.header("x-summer-component").unwrap();
    assert_eq!(
        format!(
            "probe@{}",
            attributes["summer.component.version"].as_str().unwrap()
        ),
        version
    );
    assert_eq!(attributes["trip.user_id"], "42");
    assert_eq!(own["attributes"]["trip.candidates"], "17");
    assert_eq!(cache["attributes"]["summer.capability"], "cache");
    assert_eq!(cache["attributes"]["summer.operation"], "get");
    assert_eq!(cache["attributes"]["summer.outcome"], "ok");
    assert!(cache["attributes"]["summer.backend"].is_string());
    assert_eq!(outgoing["attributes"]["http.response.status_code"], 200);
    assert_eq!(outgoing["attributes"]["server.address"], "127.0.0.1");
    for span in &spans {
        assert!(
            span["end_ns"].as_u64() >= span["start_ns"].as_u64(),
            "{span:#}"
        );
        assert_eq!(span["status"]["code"], "STATUS_CODE_UNSET", "{span:#}");
        // No values: neither the cache key nor the query's token.
        let text = span.to_string();
        assert!(
            !text.contains("private-"),
            "a value reached a span: {span:#}"
        );
    }

    // The component saw the context of the span it ran in, and the
    // upstream got the outgoing call's.
    let traceparent =
        |span: &Value| format!("00-{TRACE_ID}-{}-01", span["span_id"].as_str().unwrap());
    assert_eq!(answer.body["outside"], traceparent(request));
    assert_eq!(answer.body["inside"], traceparent(own));
    assert_eq!(upstream.header("traceparent"), Some(traceparent(outgoing)));
    assert_eq!(upstream.header("tracestate").as_deref(), Some(TRACESTATE));
}

#[test]
fn a_request_without_context_starts_a_trace_and_failures_are_marked() {
    let base = receiver();
    let service = unique_service("root");
    let (_dir, server) = serve(None, &exporting_to(&base, &service));

    assert_eq!(get(&server.url("/hello")).status, 200);
    // A refused outgoing call: the component answers 500.
    let refused = post_json(
        &server.url("/probe/trace"),
        &json!({ "span": "refused", "fetch": "http://127.0.0.1:9/nowhere" }),
    );
    assert_eq!(refused.status, 500, "{}", refused.raw);

    let spans = spans_of(&base, &service, 3);
    let hello = named(&spans, "GET /hello");
    assert_eq!(hello["parent_span_id"], "", "{hello:#}");
    assert_eq!(hello["status"]["code"], "STATUS_CODE_UNSET");
    let failed = named(&spans, "POST /probe/...");
    assert_ne!(failed["trace_id"], hello["trace_id"]);
    assert_eq!(failed["attributes"]["http.response.status_code"], 500);
    assert_eq!(failed["status"]["code"], "STATUS_CODE_ERROR", "{failed:#}");
    // The refusal happens before any call: no outgoing span.
    assert_eq!(spans.len(), 3, "{spans:#?}");
    named(&spans, "refused");
}

/// Latencies of `count` sequential GET /hello, in µs, sorted.
fn latencies(server: &Server, count: usize) -> Vec<u128> {
    let url = server.url("/hello");
    let mut taken: Vec<u128> = (0..count)
        .map(|_| {
            let started = Instant::now();
            assert_eq!(get(&url).status, 200);
            started.elapsed().as_micros()
        })
        .collect();
    taken.sort_unstable();
    taken
}

fn resident_kib(server: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn a_collector_that_is_down_or_silent_costs_requests_nothing() {
    // Down: nothing listens. Silent: accepts connections, never answers.
    let down = TcpListener::bind("127.0.0.1:0").unwrap();
    let down_port = down.local_addr().unwrap().port();
    drop(down);
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming().flatten() {
            held.push(stream);
        }
    });

    let (_plain_dir, plain) = serve(None, &[]);
    let baseline = latencies(&plain, 400);
    for port in [down_port, silent_port] {
        let endpoint = format!("http://127.0.0.1:{port}");
        let mut env = exporting_to(&endpoint, "summer-unreachable");
        env.push(("OTEL_BSP_MAX_QUEUE_SIZE", "512".into()));
        let (_dir, server) = serve(None, &env);
        latencies(&server, 200);
        let before = resident_kib(&server);
        // Far more spans than the queue holds: the rest are dropped.
        let taken = latencies(&server, 3_000);
        let grown = resident_kib(&server).saturating_sub(before);
        let median = taken[taken.len() / 2];
        let base = baseline[baseline.len() / 2];
        assert!(
            median <= base * 2 + 1_000,
            "collector on {port}: median {median} µs against {base} µs without export"
        );
        assert!(
            grown < 64 * 1024,
            "collector on {port}: memory grew {grown} KiB"
        );
        assert!(
            !server.log().contains("panicked"),
            "collector on {port}: {}",
            server.log()
        );
    }
}
