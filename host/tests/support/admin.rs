//! The admin API from tests: the token, authorized requests, and component
//! versions (content hashes) to deploy and to recognise in responses.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{Reply, Server, components_dir, send_request};

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

/// `wasm` with a custom section named after `tag` appended: the same
/// component, with another version (content hash).
pub fn variant(wasm: &[u8], tag: &str) -> Vec<u8> {
    let name = format!("summer-test-{tag}");
    let mut payload = leb128(name.len());
    payload.extend_from_slice(name.as_bytes());
    let mut out = wasm.to_vec();
    out.push(0); // custom section
    out.extend(leb128(payload.len()));
    out.extend(payload);
    out
}

fn leb128(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// The version Summer gives `wasm`: its SHA-256 in hex.
pub fn version_of(wasm: &[u8]) -> String {
    Sha256::digest(wasm)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
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

/// Points component `name` of the manifest at `path` at `source`.
pub fn set_source(manifest: &Path, name: &str, source: &Path) {
    let mut table: toml::Table = std::fs::read_to_string(manifest).unwrap().parse().unwrap();
    let component = table["component"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .map(|c| c.as_table_mut().unwrap())
        .find(|c| c["name"].as_str() == Some(name))
        .unwrap();
    component.insert("source".into(), source.display().to_string().into());
    std::fs::write(manifest, toml::to_string(&table).unwrap()).unwrap();
}
