//! Outgoing HTTP from a component reaches only the hosts its manifest entry
//! allows: another destination is refused before any connection is made,
//! and the refusal is logged.

use crate::support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use support::{Server, add_component, get, write_manifest};

/// A tiny HTTP server answering `pong` to every request; counts connections.
struct Upstream {
    port: u16,
    connections: Arc<AtomicUsize>,
}

impl Upstream {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                counted.fetch_add(1, Ordering::SeqCst);
                let mut head = [0u8; 4096];
                let _ = stream.read(&mut head);
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\npong",
                );
            }
        });
        Self { port, connections }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/ping", self.port)
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

fn fetch(server: &Server, url: &str) -> support::Reply {
    get(&server.url(&format!("/faults/fetch?url={url}")))
}

/// A server with the faults component, allowed to call `upstream`, and the
/// directory holding its manifest and data (to outlive it).
fn serve_faults_allowed_to(upstream: &Upstream) -> (tempfile::TempDir, Server) {
    let entry = format!(
        "allowed_outbound_hosts = [\"http://127.0.0.1:{}\"]",
        upstream.port
    );
    serve_faults(&entry, &[])
}

/// A server with the faults component, its manifest entry completed by
/// `entry` (TOML), with `env`.
fn serve_faults(entry: &str, env: &[(String, String)]) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(dir.path(), |_| {});
    let entry: toml::Table = toml::from_str(entry).unwrap();
    add_component(
        &manifest,
        "faults",
        "faults.wasm",
        &["/faults/{kind}"],
        entry,
    );
    let server = Server::try_start_with_env(&dir.path().join("data"), &manifest, env)
        .unwrap_or_else(|f| panic!("summer exited with {}:\n{}", f.status, f.log));
    (dir, server)
}

#[test]
fn outgoing_requests_reach_only_allowed_hosts() {
    let allowed = Upstream::start();
    let other = Upstream::start();
    let (_dir, server) = serve_faults_allowed_to(&allowed);

    let answer = fetch(&server, &allowed.url());
    assert_eq!(answer.status, 200, "{}", answer.raw);
    assert_eq!(answer.body["status"], 200);
    assert_eq!(answer.body["body"], "pong");
    assert_eq!(allowed.connections(), 1);

    for refused in [
        other.url(),
        format!("https://127.0.0.1:{}/ping", allowed.port),
        format!("http://localhost:{}/ping", allowed.port),
        "http://169.254.169.254/latest/meta-data".to_owned(),
    ] {
        let message = fetch(&server, &refused)
            .assert_error(500, "internal")
            .to_owned();
        assert!(message.contains("not allowed"), "{refused}: {message}");
    }
    assert_eq!(other.connections(), 0, "a refused request connected");
    assert_eq!(allowed.connections(), 1, "a refused request connected");
    let log = server.log();
    assert!(
        log.contains("outgoing request refused") && log.contains(&other.url()),
        "{log}"
    );
}

#[test]
fn allowed_hosts_may_come_from_variables() {
    let allowed = Upstream::start();
    let other = Upstream::start();
    let env = [(
        "SUMMER_VAR_FAULTS_UPSTREAM".to_owned(),
        format!("127.0.0.1:{}", allowed.port),
    )];
    let (_dir, server) = serve_faults(
        "allowed_outbound_hosts = [\"http://{{ upstream }}\"]\n\
         variables = { upstream = { required = true } }",
        &env,
    );
    assert_eq!(fetch(&server, &allowed.url()).status, 200);
    fetch(&server, &other.url()).assert_error(500, "internal");
    assert_eq!((allowed.connections(), other.connections()), (1, 0));
}

#[test]
fn without_a_grant_nothing_goes_out() {
    let upstream = Upstream::start();
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(dir.path(), |_| {});
    support::add_faults_component(&manifest, 64, 5_000);
    let server = Server::try_start(&dir.path().join("data"), &manifest)
        .unwrap_or_else(|f| panic!("summer exited with {}:\n{}", f.status, f.log));
    fetch(&server, &upstream.url()).assert_error(500, "internal");
    assert_eq!(upstream.connections(), 0);
}

/// A request whose client goes away before the answer is not cut off: the
/// component runs to its end (here: its outgoing call still happens), and
/// the host says so in its log.
#[test]
fn a_request_whose_client_went_away_runs_to_its_end() {
    let upstream = Upstream::start();
    let (_dir, server) = serve_faults_allowed_to(&upstream);

    let address = server.url("").trim_start_matches("http://").to_owned();
    let mut client = std::net::TcpStream::connect(&address).unwrap();
    let path = format!("/faults/fetch?after_ms=1000&url={}", upstream.url());
    write!(client, "GET {path} HTTP/1.1\r\nhost: {address}\r\n\r\n").unwrap();
    thread::sleep(Duration::from_millis(300));
    drop(client);

    let started = Instant::now();
    while upstream.connections() == 0 && started.elapsed() < Duration::from_secs(10) {
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(upstream.connections(), 1, "{}", server.log());
    let log = server.log();
    assert!(
        log.contains("the client went away before its answer"),
        "{log}"
    );
}
