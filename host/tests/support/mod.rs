//! Starts the real `summer` binary on a free port with the real built
//! components, and talks HTTP to it.

pub mod admin;
pub mod wasm;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

/// How long a server may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A free loopback port, for a listener a test starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// Where `tooling/build-components` put the components: beside the binary's
/// profile directory, in `<target>/components`.
pub fn components_dir() -> PathBuf {
    let binary = Path::new(env!("CARGO_BIN_EXE_summer"));
    let dir = binary
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("components");
    assert!(
        dir.join("users.wasm").exists(),
        "no built components in {}: run tooling/build-components first",
        dir.display()
    );
    dir
}

/// The repository's `summer.toml`, with its paths made absolute so the test
/// can run it from a temporary directory. `edit` may change each component.
pub fn write_manifest(dir: &Path, edit: impl Fn(&mut toml::Table)) -> PathBuf {
    let text = std::fs::read_to_string(repo_root().join("summer.toml")).unwrap();
    let mut manifest: toml::Table = text.parse().unwrap();
    if let Some(openapi) = manifest.get("openapi").and_then(|o| o.as_str()) {
        let openapi = repo_root().join(openapi).display().to_string();
        manifest.insert("openapi".into(), openapi.into());
    }
    let components = manifest["component"].as_array_mut().unwrap();
    for component in components {
        let component = component.as_table_mut().unwrap();
        absolute_paths(component);
        edit(component);
    }
    if let Some(seed) = manifest.get_mut("seed").and_then(|s| s.as_table_mut()) {
        absolute_paths(seed);
    }
    let path = dir.join("summer.toml");
    std::fs::write(&path, toml::to_string(&manifest).unwrap()).unwrap();
    path
}

/// Points a component entry's `.wasm` at the built components, and makes
/// its migrations and tables paths absolute.
fn absolute_paths(component: &mut toml::Table) {
    let absolute = |path: &toml::Value| -> toml::Value {
        repo_root()
            .join(path.as_str().unwrap())
            .display()
            .to_string()
            .into()
    };
    let file = Path::new(component["source"].as_str().unwrap())
        .file_name()
        .unwrap();
    let source = components_dir().join(file).display().to_string();
    component.insert("source".into(), source.into());
    if let Some(sql) = component.get_mut("sql").and_then(|s| s.as_table_mut()) {
        let migrations = absolute(&sql["migrations"]);
        sql.insert("migrations".into(), migrations);
    }
    if let Some(wide) = component.get_mut("wide").and_then(|s| s.as_table_mut()) {
        let tables = match &wide["tables"] {
            toml::Value::Array(paths) => toml::Value::Array(paths.iter().map(absolute).collect()),
            path => absolute(path),
        };
        wide.insert("tables".into(), tables);
    }
}

/// Appends a component entry to the manifest at `path`; the `.wasm` is
/// taken from the built components.
pub fn add_component(path: &Path, name: &str, wasm: &str, routes: &[&str], extra: toml::Table) {
    let mut manifest: toml::Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
    let mut component = toml::Table::new();
    component.insert("name".into(), name.into());
    let source = components_dir().join(wasm);
    component.insert("source".into(), source.display().to_string().into());
    let routes = routes.iter().map(|r| toml::Value::from(*r)).collect();
    component.insert("routes".into(), toml::Value::Array(routes));
    component.extend(extra);
    manifest["component"]
        .as_array_mut()
        .unwrap()
        .push(component.into());
    std::fs::write(path, toml::to_string(&manifest).unwrap()).unwrap();
}

/// Adds the `probe` test component as `name`, under `/{name}/...`, with
/// every capability granted and its wide tables declared.
pub fn add_probe(path: &Path, name: &str) {
    add_probe_with(path, name, "");
}

/// [`add_probe`], its entry completed by `extra` (TOML).
pub fn add_probe_with(path: &Path, name: &str, extra: &str) {
    let tables = repo_root().join("components/probe/wide.toml");
    let grants: toml::Table = toml::from_str(&format!(
        "grants = [\"sql\", \"wide\", \"graph\", \"cache\", \"blob\"]\nwide = {{ tables = {:?} }}\n{extra}",
        tables.display().to_string()
    ))
    .unwrap();
    let route = format!("/{name}/...");
    add_component(path, name, "probe.wasm", &[&route], grants);
}

/// Adds the `faults` test component with tight limits, so its misbehaviour
/// is caught quickly.
pub fn add_faults_component(path: &Path, memory_mib: u32, timeout_ms: u64) {
    let extra: toml::Table = toml::from_str(&format!(
        "limits = {{ memory_mib = {memory_mib}, timeout_ms = {timeout_ms} }}"
    ))
    .unwrap();
    add_component(path, "faults", "faults.wasm", &["/faults/{kind}"], extra);
}

/// The connection settings of the real databases `tooling/services up`
/// starts: each variable from the environment when set, from
/// `tooling/services.env` otherwise.
pub fn real_services_env() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo_root().join("tooling/services.env")).unwrap();
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            (
                k.to_owned(),
                std::env::var(k).unwrap_or_else(|_| v.to_owned()),
            )
        })
        .collect()
}

/// A PostgreSQL database of its own on the real server of `tooling/services
/// up`, for one test; dropped afterwards. Tests that count rows can then run
/// against the real server as they do against a fresh embedded one.
pub struct FreshDatabase {
    name: String,
    env: Vec<(String, String)>,
}

impl FreshDatabase {
    pub fn create() -> Self {
        let name = format!(
            "summer_test_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..16]
        );
        let mut env = real_services_env();
        let database = env.iter_mut().find(|(k, _)| k == "DATABASE_NAME").unwrap();
        database.1 = name.clone();
        let fresh = Self { name, env };
        fresh.psql(&format!("CREATE DATABASE \"{}\"", fresh.name));
        fresh
    }

    /// The real services' settings, with this database.
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    fn psql(&self, statement: &str) {
        let setting = |key: &str| {
            self.env
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        let output = Command::new("psql")
            .args([
                "-h",
                &setting("DATABASE_HOST"),
                "-p",
                &setting("DATABASE_PORT"),
            ])
            .args([
                "-U",
                &setting("DATABASE_USER"),
                "-d",
                "postgres",
                "-qc",
                statement,
            ])
            .env("PGPASSWORD", setting("DATABASE_PASSWORD"))
            .output()
            .expect("psql is installed by tooling/services up");
        assert!(
            output.status.success(),
            "PostgreSQL is not reachable ({}); start it with `tooling/services up postgres`",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        self.psql(&format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        ));
    }
}

/// Which databases a test server uses.
#[derive(Clone, Copy, Debug)]
pub enum Databases {
    /// The embedded defaults under the server's data directory.
    Embedded,
    /// The real servers of `tooling/services up`, with a fresh SQL database.
    Real,
}

/// A server on the repository's manifest, on the given databases, with its
/// data directory; the fresh database (if any) lives as long as it does.
pub struct TestServer {
    pub server: Server,
    pub dir: tempfile::TempDir,
    _database: Option<FreshDatabase>,
}

impl TestServer {
    pub fn start(databases: Databases) -> Self {
        Self::start_with(databases, |_| {})
    }

    /// Starts with the repository's manifest changed by `edit` first.
    pub fn start_with(databases: Databases, edit: impl Fn(&Path)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let database = matches!(databases, Databases::Real).then(FreshDatabase::create);
        let server = Self::server_with(&dir, database.as_ref(), &edit, None);
        Self {
            server,
            dir,
            _database: database,
        }
    }

    /// Starts a server on the data directory in `dir` and on `database`
    /// (the embedded defaults when `None`), with its compiled components
    /// cached in that data directory as `summer serve` does by default.
    pub fn server_in(dir: &tempfile::TempDir, database: Option<&FreshDatabase>) -> Server {
        let cache = dir.path().join("data/cache/components");
        let own_cache = (
            "SUMMER_COMPILE_CACHE".to_owned(),
            cache.display().to_string(),
        );
        Self::server_with(dir, database, &|_| {}, Some(own_cache))
    }

    fn server_with(
        dir: &tempfile::TempDir,
        database: Option<&FreshDatabase>,
        edit: &dyn Fn(&Path),
        extra_env: Option<(String, String)>,
    ) -> Server {
        let manifest = write_manifest(dir.path(), |_| {});
        edit(&manifest);
        let mut env = database
            .map(FreshDatabase::env)
            .unwrap_or_default()
            .to_vec();
        env.extend(extra_env);
        let server = Server::try_start_with_env(&dir.path().join("data"), &manifest, &env)
            .unwrap_or_else(|f| panic!("summer exited with {}:\n{}", f.status, f.log));
        assert_backends(&server, database.is_some());
        server
    }
}

/// Checks from the start-up log that every capability got the backend the
/// test asked for: the real servers, or the embedded defaults.
fn assert_backends(server: &Server, real: bool) {
    let expected = if real {
        [
            "sql: postgres (",
            "wide: cassandra at",
            "graph: neo4j at",
            "cache: redis (",
            "blob: s3 (",
            "keyvalue: redis (",
        ]
    } else {
        [
            "sql: embedded sqlite",
            "wide: embedded ordered store",
            "graph: embedded graph store",
            "cache: embedded",
            "blob: embedded",
            "keyvalue: embedded sqlite store",
        ]
    };
    let log = server.log();
    for backend in expected {
        assert!(log.contains(backend), "expected {backend} in:\n{log}");
    }
}

impl TestServer {
    /// Runs `summer SUBCOMMAND ARGS` on this server's data directory,
    /// manifest and databases; its output.
    pub fn run(&self, subcommand: &str, args: &[&str]) -> std::process::Output {
        self.command(subcommand)
            .args(args)
            .output()
            .expect("running summer")
    }

    /// Whether this server runs on the real databases.
    pub fn is_real(&self) -> bool {
        self._database.is_some()
    }

    /// `summer SUBCOMMAND` on this server's data directory, manifest and databases.
    pub fn command(&self, subcommand: &str) -> Command {
        let env = self
            ._database
            .as_ref()
            .map(|d| d.env().to_vec())
            .unwrap_or_default();
        let manifest = self.dir.path().join("summer.toml");
        summer(subcommand, &self.dir.path().join("data"), &manifest, &env)
    }
}

impl std::ops::Deref for TestServer {
    type Target = Server;

    fn deref(&self) -> &Server {
        &self.server
    }
}

/// Declares each listed check once per database set: `mod embedded` and
/// `mod real`, one `#[test]` per check, each on a server of its own. With
/// `with edit;`, the function `edit(&Path)` changes the manifest first.
#[macro_export]
macro_rules! on_both_databases {
    (with $edit:ident; $($check:ident),* $(,)?) => {
        mod embedded {
            $(#[test] fn $check() {
                let databases = super::support::Databases::Embedded;
                let server = super::support::TestServer::start_with(databases, super::$edit);
                super::$check(&server);
            })*
        }
        mod real {
            $(#[test] fn $check() {
                let databases = super::support::Databases::Real;
                let server = super::support::TestServer::start_with(databases, super::$edit);
                super::$check(&server);
            })*
        }
    };
    ($($check:ident),* $(,)?) => {
        fn unchanged_manifest(_: &std::path::Path) {}
        on_both_databases!(with unchanged_manifest; $($check),*);
    };
}

/// A running `summer serve`.
pub struct Server {
    child: Child,
    pub base: String,
    log: PathBuf,
}

/// What a `summer` process that failed to start said.
pub struct Failed {
    pub status: ExitStatus,
    pub log: String,
}

/// The prefixes of every backend, trace export and registry credential
/// setting: the test's own environment's are removed, so a server runs on
/// the embedded defaults, exports no traces and has no registry
/// credentials unless a test sets them.
const BACKEND_SETTINGS: &[&str] = &[
    "DATABASE_",
    "REDIS_",
    "STORAGE_",
    "CASSANDRA_",
    "NEO4J_",
    "OTEL_",
    "SUMMER_REGISTRY_",
    "DOCKER_CONFIG",
];

/// `summer SUBCOMMAND` on `data_dir` and `manifest`, on the embedded
/// defaults unless `env` configures real databases.
pub fn summer(
    subcommand: &str,
    data_dir: &Path,
    manifest: &Path,
    env: &[(String, String)],
) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_summer"));
    for (variable, _) in std::env::vars_os() {
        let name = variable.to_string_lossy();
        if BACKEND_SETTINGS
            .iter()
            .any(|prefix| name.starts_with(prefix))
        {
            command.env_remove(&variable);
        }
    }
    // Runs share one compile cache (a test may set its own), so that each
    // does not compile every component again.
    let shared_cache = components_dir().with_file_name("test-compile-cache");
    command
        .env("SUMMER_COMPILE_CACHE", shared_cache)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(data_dir.parent().unwrap())
        .arg(subcommand)
        .env("SUMMER_DATA_DIR", data_dir)
        .env("SUMMER_MANIFEST", manifest)
        .env("SUMMER_LOG", "info")
        .env("NO_COLOR", "1");
    command
}

fn spawn(data_dir: &Path, manifest: &Path, log: &Path, env: &[(String, String)]) -> Child {
    summer("serve", data_dir, manifest, env)
        .env("PORT", "0")
        .env("SUMMER_HOST", "127.0.0.1")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("starting summer")
}

impl Server {
    /// Starts `summer serve`; `Err` with its log if it exits instead.
    pub fn try_start(data_dir: &Path, manifest: &Path) -> Result<Server, Failed> {
        Self::try_start_with_env(data_dir, manifest, &[])
    }

    /// Starts `summer serve` with extra environment variables.
    pub fn try_start_with_env(
        data_dir: &Path,
        manifest: &Path,
        env: &[(String, String)],
    ) -> Result<Server, Failed> {
        let log = data_dir.with_extension("log");
        let mut child = spawn(data_dir, manifest, &log, env);
        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(address) = line.strip_prefix("summer listening on ") {
                    let _ = sender.send(address.to_owned());
                }
            }
        });
        match receiver.recv_timeout(START_TIMEOUT) {
            Ok(base) => Ok(Server { child, base, log }),
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().unwrap();
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                Err(Failed { status, log })
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn stop(mut self) -> ExitStatus {
        terminate(&mut self.child, STOP_TIMEOUT)
            .unwrap_or_else(|| panic!("summer did not exit within {STOP_TIMEOUT:?} of SIGTERM"))
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM without waiting.
    pub fn signal_stop(&self) {
        send_sigterm(&self.child);
    }

    /// Waits for the exit of a server told to stop.
    pub fn wait(mut self) -> ExitStatus {
        wait_for_exit(&mut self.child, STOP_TIMEOUT)
            .unwrap_or_else(|| panic!("summer did not exit within {STOP_TIMEOUT:?}"))
    }
}

fn send_sigterm(child: &Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
}

/// How long a server may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(40);

/// Sends SIGTERM and waits up to `patience` for the exit; kills the process
/// and returns `None` if it is still running then.
fn terminate(child: &mut Child, patience: Duration) -> Option<ExitStatus> {
    send_sigterm(child);
    wait_for_exit(child, patience)
}

/// Waits up to `patience` for the exit; kills the process and returns
/// `None` if it is still running then.
fn wait_for_exit(child: &mut Child, patience: Duration) -> Option<ExitStatus> {
    let deadline = std::time::Instant::now() + patience;
    while std::time::Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            terminate(&mut self.child, STOP_TIMEOUT);
        }
    }
}

/// An HTTP answer: status, headers of interest, JSON body (or Null).
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
    pub raw: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Asserts the documented error shape with `code`, and returns the message.
    pub fn assert_error(&self, status: u16, code: &str) -> &str {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.raw);
        assert_eq!(self.header("content-type"), Some("application/json"));
        assert_eq!(self.body["error"]["code"], code, "body: {}", self.raw);
        self.body["error"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("no error message in {}", self.raw))
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent()
}

fn reply(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    read_reply(response.expect("HTTP request failed")).expect("reading the response failed")
}

fn read_reply(mut response: ureq::http::Response<ureq::Body>) -> Result<Reply, ureq::Error> {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let raw = response.body_mut().read_to_string()?;
    let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
    Ok(Reply {
        status,
        headers,
        body,
        raw,
    })
}

pub fn get(url: &str) -> Reply {
    reply(agent().get(url).call())
}

pub fn delete(url: &str) -> Reply {
    reply(agent().delete(url).call())
}

/// PUTs raw bytes.
pub fn put(url: &str, body: &[u8]) -> Reply {
    reply(agent().put(url).send(body))
}

/// PUTs raw bytes with no `Content-Length` (chunked).
pub fn put_chunked(url: &str, body: &[u8]) -> Reply {
    let reader = std::io::Cursor::new(body.to_vec());
    reply(
        agent()
            .put(url)
            .send(ureq::SendBody::from_owned_reader(reader)),
    )
}

/// PUTs raw bytes with a content type.
pub fn put_typed(url: &str, content_type: &str, body: &[u8]) -> Reply {
    reply(
        agent()
            .put(url)
            .header("content-type", content_type)
            .send(body),
    )
}

/// GETs a binary body: status, content type, bytes.
pub fn get_bytes(url: &str) -> (u16, Option<String>, Vec<u8>) {
    let mut response = agent().get(url).call().expect("HTTP request failed");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .unwrap();
    (response.status().as_u16(), content_type, body)
}

/// POSTs `body` with the given content type.
pub fn post(url: &str, content_type: &str, body: &str) -> Reply {
    reply(
        agent()
            .post(url)
            .header("content-type", content_type)
            .send(body),
    )
}

/// POSTs a JSON value.
pub fn post_json(url: &str, body: &Value) -> Reply {
    post(url, "application/json", &body.to_string())
}

/// Sends a request built by the caller.
pub fn send_request(request: ureq::http::Request<Vec<u8>>) -> Reply {
    try_send_request(request).expect("HTTP request failed")
}

/// Sends a request built by the caller; a failure to connect or to read
/// the answer is an `Err` instead of a panic.
pub fn try_send_request(request: ureq::http::Request<Vec<u8>>) -> Result<Reply, ureq::Error> {
    read_reply(agent().run(request)?)
}

/// Every item of the list at `path`, page by page (`limit` per page).
pub fn all_pages(server: &Server, path: &str, limit: u32) -> Vec<Value> {
    let separator = if path.contains('?') { '&' } else { '?' };
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let mut url = server.url(&format!("{path}{separator}limit={limit}"));
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page = get(&url);
        assert_eq!(page.status, 200, "GET {url}: {}", page.raw);
        let page_items = page.body["items"].as_array().unwrap();
        assert!(page_items.len() <= limit as usize, "{}", page.raw);
        items.extend(page_items.iter().cloned());
        match page.body["next_cursor"].as_str() {
            Some(next) => {
                assert_eq!(
                    page_items.len(),
                    limit as usize,
                    "a short page with a cursor"
                );
                cursor = Some(next.to_owned());
            }
            None => return items,
        }
    }
    panic!("{path} never ended");
}

/// Sends `body` with `method` and, when given, a content type.
pub fn send(method: &str, url: &str, content_type: Option<&str>, body: &[u8]) -> Reply {
    let mut request = ureq::http::Request::builder().method(method).uri(url);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    reply(agent().run(request.body(body.to_vec()).unwrap()))
}

/// PATCHes a JSON value.
pub fn patch_json(url: &str, body: &Value) -> Reply {
    send(
        "PATCH",
        url,
        Some("application/json"),
        body.to_string().as_bytes(),
    )
}

/// A `multipart/form-data` body with one file field; returns the content
/// type (with its boundary) and the body.
pub fn multipart_file(
    field: &str,
    filename: &str,
    content_type: &str,
    content: &[u8],
) -> (String, Vec<u8>) {
    let boundary = "summer-test-boundary-7d1f0c";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nignored\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n\
         Content-Type: {content_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Uploads `content` as the form field `file` of `POST /storage/upload`.
pub fn upload(server: &Server, filename: &str, content_type: &str, content: &[u8]) -> Reply {
    let (form_type, body) = multipart_file("file", filename, content_type, content);
    send(
        "POST",
        &server.url("/storage/upload"),
        Some(&form_type),
        &body,
    )
}

/// Sends `request` as raw bytes over TCP and returns the status of the
/// answer (0 if the host closed the connection without one).
pub fn raw_status(server: &Server, request: &[u8]) -> u16 {
    use std::io::{Read, Write};
    let address = server.base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    text.strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}
