//! The admin API: off without a token, refusing (and logging) requests
//! without the right one, and listing the loaded components with their
//! versions (the content hash of each `.wasm`) and load times.

mod support;

use support::admin::{TOKEN, admin_as, token_env};
use support::wasm::version_of;
use support::{Server, components_dir, get, write_manifest};

fn start(env: &[(String, String)]) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(dir.path(), |_| {});
    let server = Server::try_start_with_env(&dir.path().join("data"), &manifest, env)
        .unwrap_or_else(|f| panic!("summer exited with {}:\n{}", f.status, f.log));
    (dir, server)
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
    let (_dir, server) = start(&[token_env()]);
    for authorization in [
        "",
        "Bearer wrong",
        &format!("Basic {TOKEN}"),
        &format!("Bearer {TOKEN}x"),
    ] {
        let reply = admin_as(&server, "GET", "/_admin/components", b"", authorization);
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
    let (_dir, server) = start(&[token_env()]);
    let reply = support::admin::admin(&server, "GET", "/_admin/components", b"");
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
            "hello",
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
        assert_eq!(component["version"], version_of(&wasm).as_str(), "{name}");
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
