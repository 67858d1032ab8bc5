//! The admin API: off without a token, refusing (and logging) requests
//! without the right one, and listing the loaded components with their
//! versions (the content hash of each `.wasm`) and load times.

mod support;

use sha2::{Digest, Sha256};
use support::{Server, components_dir, get, write_manifest};

const TOKEN: &str = "admin-test-token-81c2";

fn start(env: &[(String, String)]) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(dir.path(), |_| {});
    let server = Server::try_start_with_env(&dir.path().join("data"), &manifest, env)
        .unwrap_or_else(|f| panic!("summer exited with {}:\n{}", f.status, f.log));
    (dir, server)
}

fn get_with(url: &str, authorization: &str) -> support::Reply {
    let mut request = ureq::http::Request::builder().method("GET").uri(url);
    if !authorization.is_empty() {
        request = request.header("authorization", authorization);
    }
    support::send_request(request.body(Vec::new()).unwrap())
}

#[test]
fn without_a_token_the_admin_api_is_off() {
    let (_dir, server) = start(&[]);
    let reply = get(&server.url("/_admin/components"));
    let message = reply.assert_error(404, "not_found");
    assert!(message.contains("SUMMER_ADMIN_TOKEN"), "{message}");
}

#[test]
fn requests_without_the_right_token_are_refused_and_logged() {
    let (_dir, server) = start(&[("SUMMER_ADMIN_TOKEN".into(), TOKEN.into())]);
    let url = server.url("/_admin/components");
    for authorization in [
        "",
        "Bearer wrong",
        &format!("Basic {TOKEN}"),
        &format!("Bearer {TOKEN}x"),
    ] {
        let reply = get_with(&url, authorization);
        reply.assert_error(401, "unauthorized");
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    }
    assert_eq!(
        server.log().matches("refused an admin request").count(),
        4,
        "{}",
        server.log()
    );
}

#[test]
fn components_are_listed_with_their_versions() {
    let (_dir, server) = start(&[("SUMMER_ADMIN_TOKEN".into(), TOKEN.into())]);
    let reply = get_with(
        &server.url("/_admin/components"),
        &format!("Bearer {TOKEN}"),
    );
    assert_eq!(reply.status, 200, "{}", reply.raw);
    let components = reply.body["components"].as_array().unwrap();
    let names: Vec<&str> = components
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "groups",
            "messages",
            "notifications",
            "social",
            "storage",
            "users"
        ]
    );
    for component in components {
        let name = component["name"].as_str().unwrap();
        let wasm = std::fs::read(components_dir().join(format!("{name}.wasm"))).unwrap();
        let hash: String = Sha256::digest(&wasm)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(component["version"], hash.as_str(), "{name}");
        assert!(
            !component["routes"].as_array().unwrap().is_empty(),
            "{name}"
        );
        let loaded_at = component["loaded_at"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(loaded_at).is_ok(),
            "{loaded_at}"
        );
    }
    let users = components.iter().find(|c| c["name"] == "users").unwrap();
    let served = get(&server.url("/users"));
    let short = &users["version"].as_str().unwrap()[..12];
    assert_eq!(
        served.header("x-summer-component"),
        Some(format!("users@{short}").as_str())
    );
}
