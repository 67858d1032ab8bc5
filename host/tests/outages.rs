//! A database that goes away fails the requests that need it with a 503,
//! the host keeps serving everything else, and requests succeed again once
//! the database is back, without restarting the host.

mod support;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{Server, add_probe, get, put, write_manifest};

/// A private Redis server on its own port, so stopping it touches no other test.
struct Redis {
    port: u16,
    child: Child,
}

impl Redis {
    fn start(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed by tooling/services up");
        let redis = Self { port, child };
        wait_for(|| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        redis
    }

    fn stop(mut self) -> u16 {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.port
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for(mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready() {
        assert!(Instant::now() < deadline, "not ready after 20 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_lost_cache_server_is_a_503_until_it_comes_back() {
    let redis = Redis::start(free_port());
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(dir.path(), |_| {});
    add_probe(&manifest, "probe");
    let env = [
        ("REDIS_HOST".to_owned(), "127.0.0.1".to_owned()),
        ("REDIS_PORT".to_owned(), redis.port.to_string()),
    ];
    let server = Server::try_start_with_env(&dir.path().join("data"), &manifest, &env)
        .unwrap_or_else(|f| panic!("summer exited with {}:\n{}", f.status, f.log));
    let key = server.url("/probe/cache/greeting");
    assert_eq!(put(&key, b"hello").status, 204);

    let port = redis.stop();
    let started = Instant::now();
    let message = get(&key).assert_error(503, "unavailable").to_owned();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(!message.is_empty());
    assert_eq!(
        get(&server.url("/users")).status,
        200,
        "other routes keep serving"
    );

    let _redis = Redis::start(port);
    wait_for(|| get(&key).status == 404);
    assert_eq!(put(&key, b"again").status, 204);
    assert_eq!(get(&key).raw, "again");
}
