//! A database that goes away fails the requests that need it with a 503,
//! the host keeps serving everything else, and requests succeed again once
//! the database is back, without restarting the host.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use support::{Server, add_probe, free_port, get, post_json, put, write_manifest};

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
    assert!(message.starts_with("cache is unavailable"), "{message}");
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

/// A private PostgreSQL cluster in a temporary directory, on its own port.
struct Postgres {
    dir: tempfile::TempDir,
    port: u16,
}

fn pg_bin(program: &str) -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed by tooling/services up")
        .map(|entry| entry.unwrap().path())
        .collect();
    versions.sort();
    versions.pop().unwrap().join("bin").join(program)
}

/// Runs a PostgreSQL program as the `postgres` user when running as root.
fn as_postgres(program: &str) -> Command {
    let is_root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    if is_root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(pg_bin(program));
        command
    } else {
        Command::new(pg_bin(program))
    }
}

fn succeed(command: &mut Command, what: &str) {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

impl Postgres {
    fn create() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let data = dir.path().join("data");
        succeed(
            as_postgres("initdb")
                .arg("-D")
                .arg(&data)
                .args(["-U", "summer", "--auth=trust"]),
            "initdb",
        );
        let postgres = Self {
            dir,
            port: free_port(),
        };
        postgres.start();
        postgres
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn start(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {}",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log");
        succeed(
            as_postgres("pg_ctl")
                .arg("-D")
                .arg(self.data())
                .arg("-l")
                .arg(&log)
                .args(["-w", "-o", &options, "start"]),
            "pg_ctl start",
        );
    }

    fn stop(&self) {
        succeed(
            as_postgres("pg_ctl").arg("-D").arg(self.data()).args([
                "-m",
                "immediate",
                "-w",
                "stop",
            ]),
            "pg_ctl stop",
        );
    }

    fn settings(&self) -> Vec<(String, String)> {
        [
            ("DATABASE_HOST", "127.0.0.1".to_owned()),
            ("DATABASE_PORT", self.port.to_string()),
            ("DATABASE_USER", "summer".to_owned()),
            ("DATABASE_NAME", "postgres".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = as_postgres("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

#[test]
fn a_lost_sql_server_is_a_503_until_it_comes_back_with_the_data() {
    let postgres = Postgres::create();
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(dir.path(), |_| {});
    let server =
        Server::try_start_with_env(&dir.path().join("data"), &manifest, &postgres.settings())
            .unwrap_or_else(|f| panic!("summer exited with {}:\n{}", f.status, f.log));
    let users = server.url("/users");
    let created = post_json(
        &users,
        &json!({ "name": "Ada", "email": "ada@example.com" }),
    );
    assert_eq!(created.status, 201, "{}", created.raw);

    postgres.stop();
    let started = Instant::now();
    let message = get(&users).assert_error(503, "unavailable").to_owned();
    assert!(message.starts_with("sql is unavailable"), "{message}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        get(&server.url("/healthz")).status,
        200,
        "the host keeps serving"
    );

    postgres.start();
    wait_for(|| get(&users).status == 200);
    assert_eq!(get(&users).body["items"][0]["email"], "ada@example.com");
}
