//! The admin API: off without a token, refusing (and logging) requests
//! without the right one, and listing the loaded components with their
//! versions (the content hash of each `.wasm`) and load times.

use crate::support;

use support::admin::{TOKEN, admin_as, token_env};
use support::wasm::version_of;
use support::{Server, components_dir, free_port, get, write_manifest};

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

#[test]
fn an_admin_address_takes_the_operational_endpoints_off_the_public_port() {
    let operations = format!("127.0.0.1:{}", free_port());
    let (_dir, server) = start(&[
        token_env(),
        ("SUMMER_ADMIN_LISTEN".into(), operations.clone()),
    ]);
    let public = |path: &str| get(&server.url(path));
    let private = |path: &str| get(&format!("http://{operations}{path}"));

    // The public port: the API, liveness and the API document only.
    assert_eq!(public("/users").status, 200);
    assert_eq!(public("/healthz").status, 200);
    assert_eq!(public("/openapi.json").status, 200);
    for path in ["/readyz", "/metrics", "/_admin/components"] {
        public(path).assert_error(404, "not_found");
    }
    let reply = admin_as(
        &server,
        "GET",
        "/_admin/components",
        b"",
        &format!("Bearer {TOKEN}"),
    );
    reply.assert_error(404, "not_found");

    // The admin address: the operational endpoints, and no component.
    assert_eq!(private("/healthz").status, 200);
    assert_eq!(private("/readyz").status, 200);
    let metrics = private("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.raw.contains("summer_requests_total"),
        "{}",
        metrics.raw
    );
    private("/users").assert_error(404, "not_found");
    let listing = support::send_request(
        ureq::http::Request::builder()
            .uri(format!("http://{operations}/_admin/components"))
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Vec::new())
            .unwrap(),
    );
    assert_eq!(listing.status, 200, "{}", listing.raw);
    let unauthorized = private("/_admin/components");
    unauthorized.assert_error(401, "unauthorized");
}
