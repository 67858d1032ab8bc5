//! The admin API from tests: the token, authorized requests, and component
//! versions (content hashes) to deploy and to recognise in responses.

use std::path::{Path, PathBuf};

use super::wasm::version_of;
use super::{Reply, Server, components_dir, get, send_request};

/// The admin token test servers run with.
pub const TOKEN: &str = "admin-test-token-81c2";

/// The environment that turns the admin API on.
pub fn token_env() -> (String, String) {
    ("SUMMER_ADMIN_TOKEN".into(), TOKEN.into())
}

/// Sends an admin request with the right token.
pub fn admin(server: &Server, method: &str, path: &str, body: &[u8]) -> Reply {
    admin_as(server, method, path, body, &format!("Bearer {TOKEN}"))
}

/// Sends an admin request with `authorization` (none when empty).
pub fn admin_as(
    server: &Server,
    method: &str,
    path: &str,
    body: &[u8],
    authorization: &str,
) -> Reply {
    let mut request = ureq::http::Request::builder()
        .method(method)
        .uri(server.url(path));
    if !authorization.is_empty() {
        request = request.header("authorization", authorization);
    }
    send_request(request.body(body.to_vec()).unwrap())
}

/// `PUT /_admin/components/{name}` with `wasm`.
pub fn deploy(server: &Server, name: &str, wasm: &[u8]) -> Reply {
    admin(server, "PUT", &format!("/_admin/components/{name}"), wasm)
}

/// A built component's `.wasm`.
pub fn built(file: &str) -> Vec<u8> {
    std::fs::read(components_dir().join(file)).unwrap()
}

/// The response header value naming `component` at the version of `wasm`.
pub fn served_by(component: &str, wasm: &[u8]) -> String {
    format!("{component}@{}", &version_of(wasm)[..12])
}

/// Copies the built `file` into `dir`, so a test may replace it.
pub fn copy_built(file: &str, dir: &Path) -> PathBuf {
    let path = dir.join(file);
    std::fs::write(&path, built(file)).unwrap();
    path
}

/// A host serving the `faults` component from a copy of its `.wasm` in a
/// temporary directory (so a test may replace the file).
pub struct Host {
    pub dir: tempfile::TempDir,
    server: Option<Server>,
    pub manifest: PathBuf,
    pub source: PathBuf,
    env: Vec<(String, String)>,
}

impl Host {
    pub fn start() -> Self {
        Self::start_with_env(&[])
    }

    /// Starts the host with `env` added to the admin token.
    pub fn start_with_env(env: &[(String, String)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let source = copy_built("faults.wasm", dir.path());
        let manifest = dir.path().join("summer.toml");
        std::fs::write(
            &manifest,
            format!(
                "[[component]]\nname = \"faults\"\nsource = {:?}\nroutes = [\"/faults/{{kind}}\"]\n",
                source.display().to_string()
            ),
        )
        .unwrap();
        let mut env = env.to_vec();
        env.push(token_env());
        let mut host = Self {
            dir,
            server: None,
            manifest,
            source,
            env,
        };
        host.restart();
        host
    }

    pub fn restart(&mut self) {
        if let Some(server) = self.server.take() {
            assert!(server.stop().success());
        }
        let data = self.dir.path().join("data");
        let server = Server::try_start_with_env(&data, &self.manifest, &self.env)
            .unwrap_or_else(|f| panic!("summer exited with {}:\n{}", f.status, f.log));
        self.server = Some(server);
    }

    pub fn server(&self) -> &Server {
        self.server.as_ref().unwrap()
    }

    /// The `x-summer-component` of a `GET /faults/ok`.
    pub fn serving(&self) -> String {
        let reply = get(&self.server().url("/faults/ok"));
        assert_eq!(reply.status, 200, "{}", reply.raw);
        reply.header("x-summer-component").unwrap().to_owned()
    }

    /// Runs `summer SUBCOMMAND ARGS` against this host.
    pub fn cli(&self, subcommand: &str, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_summer"))
            .arg(subcommand)
            .args(args)
            .env("SUMMER_URL", &self.server().base)
            .env("SUMMER_ADMIN_TOKEN", TOKEN)
            .output()
            .unwrap()
    }
}
