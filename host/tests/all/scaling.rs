//! Hosts behind a real load balancer (HAProxy from Debian, started here,
//! health-checking `/readyz`) on the real databases: under load through
//! the balancer, a deploy through one host is served by every host, a
//! killed host costs only the requests it had in flight, and a host that
//! joins serves the fleet's version from its first request.

use crate::support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use support::wasm::{variant, version_of};
use support::{FreshDatabase, Server, components_dir, write_manifest};

const TOKEN: &str = "scaling-test-token";
const CLIENTS: usize = 6;

/// HAProxy in front of `hosts`, reloaded with a new list when one joins.
struct Balancer {
    dir: PathBuf,
    port: u16,
    child: Child,
}

impl Balancer {
    fn start(dir: &Path, hosts: &[u16]) -> Self {
        let port = support::free_port();
        let child = Self::spawn(dir, port, hosts, None);
        let balancer = Self {
            dir: dir.to_owned(),
            port,
            child,
        };
        balancer.wait_until_serving();
        balancer
    }

    fn spawn(dir: &Path, port: u16, hosts: &[u16], replacing: Option<u32>) -> Child {
        let which = Command::new("haproxy").arg("-v").output();
        assert!(
            which.is_ok_and(|o| o.status.success()),
            "haproxy is not installed (tooling/test installs it from Debian)"
        );
        let servers: String = hosts
            .iter()
            .enumerate()
            .map(|(i, port)| format!("  server host{i} 127.0.0.1:{port} check\n"))
            .collect();
        let config = dir.join("haproxy.cfg");
        std::fs::write(
            &config,
            format!(
                "global\n  maxconn 2048\n\
                 defaults\n  mode http\n  timeout connect 2s\n  timeout client 30s\n  \
                 timeout server 30s\n  retries 2\n  option redispatch\n  \
                 retry-on conn-failure empty-response\n\
                 frontend web\n  bind 127.0.0.1:{port}\n  default_backend hosts\n\
                 backend hosts\n  balance roundrobin\n  option httpchk GET /readyz\n  \
                 http-check expect status 200\n  default-server inter 200ms fall 2 rise 1\n{servers}"
            ),
        )
        .unwrap();
        let mut command = Command::new("haproxy");
        command.arg("-f").arg(&config).arg("-db");
        if let Some(old) = replacing {
            command.arg("-sf").arg(old.to_string());
        }
        command
            .stdout(std::fs::File::create(dir.join("haproxy.out")).unwrap())
            .stderr(std::fs::File::create(dir.join("haproxy.log")).unwrap())
            .spawn()
            .expect("starting haproxy")
    }

    /// Replaces the host list: a new process takes the port over, the old
    /// one finishes its requests.
    fn reload(&mut self, hosts: &[u16]) {
        let old_pid = self.child.id();
        let new = Self::spawn(&self.dir, self.port, hosts, Some(old_pid));
        let mut old = std::mem::replace(&mut self.child, new);
        // The new process asks the old one to stop once it listens; the
        // old one finishes the requests it has.
        let _ = old.wait();
        self.wait_until_serving();
    }

    fn wait_until_serving(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while get(self.port, "/healthz").map(|a| a.status) != Some(200) {
            assert!(
                Instant::now() < deadline,
                "haproxy did not serve: {}",
                std::fs::read_to_string(self.dir.join("haproxy.log")).unwrap_or_default()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One answer through the balancer.
struct Answer {
    status: u16,
    /// `X-Summer-Component`.
    version: String,
    /// The host that answered: the per-process prefix of `X-Request-Id`.
    host: String,
}

/// `GET path` on a fresh connection; `None` when no answer came.
fn get(port: u16, path: &str) -> Option<Answer> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nhost: scaling\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let header = |name: &str| {
        text.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
            .unwrap_or_default()
    };
    let host = header("x-request-id")
        .split('-')
        .next()
        .unwrap_or_default()
        .to_owned();
    Some(Answer {
        status,
        version: header("x-summer-component"),
        host,
    })
}

/// What the load saw: each answer (or `None`) with when it arrived.
type Seen = Arc<Mutex<Vec<(Instant, Option<Answer>)>>>;

fn load(port: u16, running: Arc<AtomicBool>, seen: Seen) -> Vec<thread::JoinHandle<()>> {
    (0..CLIENTS)
        .map(|_| {
            let (running, seen) = (running.clone(), seen.clone());
            thread::spawn(move || {
                while running.load(Ordering::Relaxed) {
                    let answer = get(port, "/hello");
                    seen.lock().unwrap().push((Instant::now(), answer));
                }
            })
        })
        .collect()
}

/// A host of the fleet on the shared databases.
fn host(env: &[(String, String)], dir: &Path) -> Server {
    let manifest = write_manifest(dir, |_| {});
    Server::try_start_with_env(&dir.join("data"), &manifest, env)
        .unwrap_or_else(|f| panic!("summer exited with {}:\n{}", f.status, f.log))
}

fn port_of(server: &Server) -> u16 {
    server.url("").rsplit(':').next().unwrap().parse().unwrap()
}

fn count_after(seen: &Seen, from: Instant, until: Instant) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for (at, answer) in seen.lock().unwrap().iter() {
        if *at < from || *at > until {
            continue;
        }
        let key = match answer {
            Some(a) => format!("{} {}", a.status, a.version),
            None => "no answer".to_owned(),
        };
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

#[test]
fn hosts_behind_a_balancer_share_deploys_survive_a_loss_and_take_a_newcomer() {
    let database = FreshDatabase::create();
    let mut env = database.env().to_vec();
    let fleet = format!(
        "scaling-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    env.push(("SUMMER_FLEET".into(), fleet));
    env.push(("SUMMER_ADMIN_TOKEN".into(), TOKEN.into()));
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let first = host(&env, dirs[0].path());
    let second = host(&env, dirs[1].path());
    let balancer_dir = tempfile::tempdir().unwrap();
    let mut balancer = Balancer::start(balancer_dir.path(), &[port_of(&first), port_of(&second)]);

    let running = Arc::new(AtomicBool::new(true));
    let seen: Seen = Arc::default();
    let clients = load(balancer.port, running.clone(), seen.clone());
    thread::sleep(Duration::from_secs(1));

    // A deploy through one host is served by every host once it returns.
    let next = variant(
        &std::fs::read(components_dir().join("hello.wasm")).unwrap(),
        "scaling",
    );
    let file = dirs[0].path().join("next.wasm");
    std::fs::write(&file, &next).unwrap();
    let new_version = format!("hello@{}", &version_of(&next)[..12]);
    let deploy_started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_summer"))
        .args(["deploy", "hello"])
        .arg(&file)
        .env("SUMMER_URL", first.url(""))
        .env("SUMMER_ADMIN_TOKEN", TOKEN)
        .output()
        .unwrap();
    let deployed = Instant::now();
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && said.contains("1 of 1 other hosts switched"),
        "{said}"
    );
    thread::sleep(Duration::from_secs(2));
    let after_deploy = count_after(&seen, deployed, Instant::now());
    assert_eq!(
        after_deploy.keys().collect::<Vec<_>>(),
        [&format!("200 {new_version}")],
        "answers after the deploy returned: {after_deploy:?}"
    );
    let hosts_seen: std::collections::BTreeSet<String> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(at, _)| *at > deployed)
        .filter_map(|(_, a)| a.as_ref().map(|a| a.host.clone()))
        .collect();
    assert_eq!(hosts_seen.len(), 2, "both hosts served: {hosts_seen:?}");

    // One host killed: only what it had in flight fails.
    let killed_at = Instant::now();
    let _ = Command::new("kill")
        .args(["-KILL", &second.pid().to_string()])
        .status();
    thread::sleep(Duration::from_secs(3));
    let after_kill = count_after(&seen, killed_at, Instant::now());
    let failed: usize = after_kill
        .iter()
        .filter(|(k, _)| !k.starts_with("200 "))
        .map(|(_, n)| n)
        .sum();
    assert!(failed <= CLIENTS, "failures after the kill: {after_kill:?}");

    // A host that joins serves the fleet's version from its first answer.
    let third = host(&env, dirs[2].path());
    let joined_at = Instant::now();
    balancer.reload(&[port_of(&first), port_of(&third)]);
    thread::sleep(Duration::from_secs(2));
    running.store(false, Ordering::Relaxed);
    for client in clients {
        client.join().unwrap();
    }
    let after_join = count_after(&seen, joined_at, Instant::now());
    let versions: Vec<&String> = after_join.keys().collect();
    assert!(
        versions.iter().all(|k| *k == &format!("200 {new_version}")),
        "answers after the join: {after_join:?}"
    );
    let third_prefix = {
        let log = third.log();
        assert!(log.contains("joined the fleet"), "{log}");
        get(port_of(&third), "/hello").unwrap().host
    };
    let from_third = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, a)| a.as_ref().is_some_and(|a| a.host == third_prefix))
        .count();
    assert!(from_third > 0, "the new host served nothing");

    let total = seen.lock().unwrap().len();
    eprintln!(
        "scaling: {total} requests; deploy reached every host in {:?}; after the deploy {after_deploy:?}; \
         after the kill {after_kill:?} ({failed} failed); after the join {after_join:?} ({from_third} from the new host)",
        deployed - deploy_started
    );
    drop(first);
}
