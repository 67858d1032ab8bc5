//! Components written for other hosts (interop/): plain wit-bindgen against
//! the standard WIT packages, no summer-sdk. They load, are refused without
//! their grant, and behave as the WIT documents say, on the embedded store
//! and on Redis.

use crate::support;

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Value, json};
use support::{
    Databases, Server, TestServer, add_component, components_dir, delete, get, post, put,
    write_manifest,
};

/// The keyvalue components, each mounted under its own prefix: both drafts
/// in their own namespaces, a draft component in draft2's namespace, and a
/// draft2 component limited to the `default` bucket.
fn add_keyvalue_components(manifest: &Path) {
    let grant = |extra: &str| -> toml::Table {
        toml::from_str(&format!("grants = [\"keyvalue\"]\n{extra}")).unwrap()
    };
    add_component(
        manifest,
        "kv-draft",
        "keyvalue-draft.wasm",
        &["/draft/kv/..."],
        grant(""),
    );
    add_component(
        manifest,
        "kv-draft2",
        "keyvalue-draft2.wasm",
        &["/draft2/kv/..."],
        grant(""),
    );
    add_component(
        manifest,
        "kv-shared",
        "keyvalue-draft.wasm",
        &["/shared/kv/..."],
        grant("namespace = \"kv-draft2\""),
    );
    add_component(
        manifest,
        "kv-locked",
        "keyvalue-draft2.wasm",
        &["/locked/kv/..."],
        grant("keyvalue = { buckets = [\"default\"] }"),
    );
}

fn keyvalue_server(databases: Databases) -> TestServer {
    TestServer::start_with(databases, add_keyvalue_components)
}

/// A bucket no earlier run used: Redis keeps what earlier runs wrote.
fn fresh_bucket() -> String {
    format!("run-{}", uuid::Uuid::new_v4().simple())
}

fn batch(
    server: &Server,
    prefix: &str,
    bucket: &str,
    operation: &str,
    body: Value,
) -> support::Reply {
    let url = server.url(&format!("/{prefix}/kv/{bucket}/_batch/{operation}"));
    post(&url, "application/json", &body.to_string())
}

/// Every key of `bucket`, following the cursors; and how many pages.
fn list_all(server: &Server, prefix: &str, bucket: &str) -> (BTreeSet<String>, usize) {
    let mut keys = BTreeSet::new();
    let mut cursor: Option<String> = None;
    for pages in 1..1000 {
        let query = cursor.map(|c| format!("?cursor={c}")).unwrap_or_default();
        let reply = get(&server.url(&format!("/{prefix}/kv/{bucket}{query}")));
        assert_eq!(reply.status, 200, "{}", reply.raw);
        let page: Value = serde_json::from_str(&reply.raw).unwrap();
        keys.extend(
            page["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k.as_str().unwrap().to_string()),
        );
        match page["cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return (keys, pages),
        }
    }
    panic!("the cursors never end");
}

fn behaves_per_the_wit(databases: Databases) {
    let test = keyvalue_server(databases);
    let server = &test.server;
    let bucket = fresh_bucket();
    for prefix in ["draft", "draft2"] {
        let key = |k: &str| server.url(&format!("/{prefix}/kv/{bucket}/{k}"));
        let missing = get(&key("missing"));
        assert_eq!((missing.status, missing.raw.as_str()), (404, "none"));

        assert_eq!(put(&key("k"), b"\x00value\xff").status, 204);
        let (status, _, body) = support::get_bytes(&key("k"));
        assert_eq!(
            (status, body.as_slice()),
            (200, b"\x00value\xff".as_slice())
        );
        assert_eq!(get(&key("k/exists")).raw, "true");
        assert_eq!(delete(&key("k")).status, 204);
        assert_eq!(get(&key("k/exists")).raw, "false");
        assert_eq!(delete(&key("k")).status, 204, "deleting a missing key");

        let increment = |by: &str| post(&key(&format!("n/increment?by={by}")), "text/plain", "");
        assert_eq!(increment("5").raw, "5");
        assert_eq!(increment("3").raw, "8");

        let set = batch(server, prefix, &bucket, "set", json!({"a": "1", "b": "2"}));
        assert_eq!(set.status, 204, "{}", set.raw);
        let found = batch(server, prefix, &bucket, "get", json!(["a", "x", "b"]));
        assert_eq!(
            serde_json::from_str::<Value>(&found.raw).unwrap(),
            json!([["a", "1"], null, ["b", "2"]])
        );
        assert_eq!(
            batch(server, prefix, &bucket, "delete", json!(["a", "x"])).status,
            204
        );
        let found = batch(server, prefix, &bucket, "get", json!(["a", "b"]));
        assert_eq!(
            serde_json::from_str::<Value>(&found.raw).unwrap(),
            json!([null, ["b", "2"]])
        );

        let written: BTreeSet<String> = (0..1234).map(|i| format!("key-{i}")).collect();
        let entries: Vec<_> = written.iter().collect();
        for chunk in entries.chunks(500) {
            let body: serde_json::Map<String, Value> =
                chunk.iter().map(|k| (k.to_string(), json!("v"))).collect();
            let url = server.url(&format!("/{prefix}/kv/{bucket}-paged/_batch/set"));
            assert_eq!(
                post(&url, "application/json", &Value::from(body).to_string()).status,
                204
            );
        }
        let (listed, pages) = list_all(server, prefix, &format!("{bucket}-paged"));
        assert_eq!(listed, written, "{prefix}");
        assert!(pages >= 2, "{prefix}: 1234 keys in {pages} page");
    }
}

#[test]
fn keyvalue_behaves_per_the_wit_on_the_embedded_store() {
    behaves_per_the_wit(Databases::Embedded);
}

#[test]
fn keyvalue_behaves_per_the_wit_on_redis() {
    behaves_per_the_wit(Databases::Real);
}

fn buckets_stay_inside_their_namespace(databases: Databases) {
    let test = keyvalue_server(databases);
    let server = &test.server;
    assert_eq!(
        put(&server.url("/shared/kv/default/k"), b"shared").status,
        204
    );
    assert_eq!(get(&server.url("/draft2/kv/default/k")).raw, "shared");
    assert_eq!(get(&server.url("/draft/kv/default/k")).status, 404);
    assert_eq!(get(&server.url("/draft2/kv/other/k")).status, 404);

    let allowed = get(&server.url("/locked/kv/default/k"));
    assert_eq!((allowed.status, allowed.raw.as_str()), (404, "none"));
    let denied = get(&server.url("/locked/kv/other/k"));
    assert_eq!((denied.status, denied.raw.as_str()), (403, "access-denied"));
    let invalid = get(&server.url("/draft2/kv/no:colons/k"));
    assert_eq!(
        (invalid.status, invalid.raw.as_str()),
        (404, "no-such-store")
    );
}

#[test]
fn buckets_stay_inside_their_namespace_on_the_embedded_store() {
    buckets_stay_inside_their_namespace(Databases::Embedded);
}

#[test]
fn buckets_stay_inside_their_namespace_on_redis() {
    buckets_stay_inside_their_namespace(Databases::Real);
}

/// Parallel clients.
const CLIENTS: usize = 8;
const ROUNDS: usize = 20;

fn atomic_under_parallel_requests(databases: Databases) {
    let test = keyvalue_server(databases);
    let server = &test.server;
    let bucket = fresh_bucket();
    for prefix in ["draft", "draft2"] {
        let url = server.url(&format!("/{prefix}/kv/{bucket}/hits/increment?by=1"));
        std::thread::scope(|scope| {
            for _ in 0..CLIENTS {
                scope.spawn(|| {
                    for _ in 0..ROUNDS {
                        assert_eq!(post(&url, "text/plain", "").status, 200);
                    }
                });
            }
        });
        let total = get(&server.url(&format!("/{prefix}/kv/{bucket}/hits")));
        assert_eq!(total.raw, (CLIENTS * ROUNDS).to_string(), "{prefix}");
    }

    let append = server.url(&format!("/draft2/kv/{bucket}/log/append"));
    let retried: usize = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                scope.spawn(|| {
                    (0..ROUNDS)
                        .map(|_| {
                            let reply = post(&append, "text/plain", "x");
                            assert_eq!(reply.status, 200, "{}", reply.raw);
                            reply.raw.parse::<usize>().unwrap() - 1
                        })
                        .sum::<usize>()
                })
            })
            .collect();
        clients.into_iter().map(|c| c.join().unwrap()).sum()
    });
    let log = get(&server.url(&format!("/draft2/kv/{bucket}/log")));
    assert_eq!(log.raw, "x".repeat(CLIENTS * ROUNDS), "{retried} retries");
}

#[test]
fn increments_and_swaps_are_atomic_under_parallel_requests_on_the_embedded_store() {
    atomic_under_parallel_requests(Databases::Embedded);
}

#[test]
fn increments_and_swaps_are_atomic_under_parallel_requests_on_redis() {
    atomic_under_parallel_requests(Databases::Real);
}

#[test]
fn a_keyvalue_component_without_the_grant_is_refused_with_what_to_add() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(dir.path(), |_| {});
    add_component(
        &manifest,
        "kv",
        "keyvalue-draft2.wasm",
        &["/kv/..."],
        toml::Table::new(),
    );
    let failed = Server::try_start(&dir.path().join("data"), &manifest)
        .err()
        .expect("an ungranted wasi:keyvalue import must not load");
    assert!(
        failed.log.contains("imports wasi:keyvalue/")
            && failed.log.contains("@0.2.0-draft2")
            && failed.log.contains("add \"keyvalue\" to its grants"),
        "{}",
        failed.log
    );
}

/// The wasi:http version a component exports its handler at.
fn exported_handler(wasm: &Path) -> String {
    let engine = wasmtime::Engine::default();
    let component = wasmtime::component::Component::from_file(&engine, wasm).unwrap();
    component
        .component_type()
        .exports(&engine)
        .map(|(name, _)| name.to_string())
        .find(|name| name.starts_with("wasi:http/incoming-handler@"))
        .expect("a wasi:http handler")
}

#[test]
fn handlers_pinned_to_older_wasi_http_versions_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(dir.path(), |_| {});
    let versions = [
        ("http-0-2-0", "0.2.0"),
        ("http-0-2-2", "0.2.2"),
        ("http-0-2-9", "0.2.9"),
    ];
    for (name, version) in versions {
        let wasm = components_dir().join(format!("{name}.wasm"));
        assert_eq!(
            exported_handler(&wasm),
            format!("wasi:http/incoming-handler@{version}")
        );
        let route = format!("/{name}");
        add_component(
            &manifest,
            name,
            &format!("{name}.wasm"),
            &[&route],
            toml::Table::new(),
        );
    }
    let server = Server::try_start(&dir.path().join("data"), &manifest)
        .unwrap_or_else(|f| panic!("summer exited with {}:\n{}", f.status, f.log));
    for (name, _) in versions {
        let reply = get(&server.url(&format!("/{name}")));
        assert_eq!(reply.status, 200, "{name}: {}", reply.raw);
        assert_eq!(reply.raw, format!("served by {name}"));
    }
}

/// `cargo component build --release` in `crate_dir`, through the script
/// that installs cargo-component; its target directory is the scaffold
/// test's, so std is built once for both.
fn cargo_component_build(crate_dir: &Path) -> std::process::Output {
    std::process::Command::new(support::repo_root().join("tooling/cargo-component"))
        .args(["build", "--release"])
        .current_dir(crate_dir)
        .env(
            "CARGO_TARGET_DIR",
            components_dir().parent().unwrap().join("cargo-component"),
        )
        .output()
        .unwrap()
}

/// Builds the interop crate `name` with `cargo component build` and serves
/// that build (not the build script's) at `/{name}/...` with `grant`.
fn serve_cargo_component_build(name: &str, grant: &str) -> (tempfile::TempDir, Server) {
    let built = cargo_component_build(&support::repo_root().join("interop").join(name));
    assert!(
        built.status.success(),
        "cargo component build of {name} failed:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let wasm = components_dir()
        .parent()
        .unwrap()
        .join("cargo-component/wasm32-wasip1/release")
        .join(format!("{}.wasm", name.replace('-', "_")));
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(dir.path(), |_| {});
    let grant: toml::Table = toml::from_str(&format!("grants = [\"{grant}\"]")).unwrap();
    let route = format!("/{name}/...");
    add_component(&manifest, name, &format!("{name}.wasm"), &[&route], grant);
    let text = std::fs::read_to_string(&manifest).unwrap();
    let built_source = components_dir().join(format!("{name}.wasm"));
    let served = text.replace(
        &built_source.display().to_string(),
        &wasm.display().to_string(),
    );
    assert_ne!(
        served,
        text,
        "the manifest names {}",
        built_source.display()
    );
    std::fs::write(&manifest, served).unwrap();
    let server = Server::try_start(&dir.path().join("data"), &manifest)
        .unwrap_or_else(|f| panic!("summer exited with {}:\n{}", f.status, f.log));
    (dir, server)
}

#[test]
fn third_party_components_built_by_cargo_component_are_served() {
    let (_dir, server) = serve_cargo_component_build("keyvalue-draft2", "keyvalue");
    let url = |path: &str| server.url(&format!("/keyvalue-draft2/kv{path}"));
    assert_eq!(put(&url("/default/k"), b"v").status, 204);
    assert_eq!(get(&url("/default/k")).raw, "v");
    let appended = post(&url("/default/k/append"), "text/plain", "w");
    assert_eq!(appended.status, 200, "{}", appended.raw);
    assert_eq!(get(&url("/default/k")).raw, "vw");

    let (_dir, server) = serve_cargo_component_build("blobstore-draft", "blobstore");
    let url = |path: &str| server.url(&format!("/blobstore-draft/bs{path}"));
    assert_eq!(put(&url("/photos"), b"").status, 201);
    let body = patterned(100_000);
    assert_eq!(put(&url("/photos/cat.bin"), &body).status, 201);
    let (status, _, read) = support::get_bytes(&url("/photos/cat.bin?start=10&end=99"));
    assert_eq!((status, read.as_slice()), (200, &body[10..100]));
}

/// The blobstore component twice: in its own namespace, and in `other`'s.
fn blobstore_server(databases: Databases) -> TestServer {
    TestServer::start_with(databases, |manifest| {
        let grant: toml::Table = toml::from_str("grants = [\"blobstore\"]").unwrap();
        add_component(
            manifest,
            "bs",
            "blobstore-draft.wasm",
            &["/mine/bs/..."],
            grant.clone(),
        );
        add_component(
            manifest,
            "bs-other",
            "blobstore-draft.wasm",
            &["/other/bs/..."],
            grant,
        );
    })
}

/// Bytes that show where in an object a range came from.
fn patterned(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn json_of(reply: &support::Reply) -> Value {
    serde_json::from_str(&reply.raw).unwrap_or_else(|_| panic!("not JSON: {}", reply.raw))
}

fn blobstore_behaves_per_the_wit(databases: Databases) {
    let test = blobstore_server(databases);
    let server = &test.server;
    let container = fresh_bucket();
    let url = |path: &str| server.url(&format!("/mine/bs/{container}{path}"));

    assert_eq!(get(&url("")).status, 404, "before it is created");
    assert_eq!(put(&url(""), b"").status, 201);
    let again = put(&url(""), b"");
    assert_eq!(again.status, 409, "{}", again.raw);
    let info = json_of(&get(&url("")));
    assert_eq!(info["name"], json!(container));
    assert_eq!(info["exists"], json!(true));
    let now = chrono::Utc::now().timestamp();
    assert!(
        (info["created_at"].as_i64().unwrap() - now).abs() < 120,
        "{info}"
    );
    // Containers live inside the namespace.
    let theirs = get(&server.url(&format!("/other/bs/{container}")));
    assert_eq!(theirs.status, 404, "{}", theirs.raw);

    // 3 MiB in each write order: body first (as most guests write), and
    // write-data first (the body streams to the store as it comes).
    let body = patterned(3 << 20);
    for (object, order) in [
        ("body-first.bin", "body-first"),
        ("data-first.bin", "data-first"),
    ] {
        let stored = put(&url(&format!("/{object}?order={order}")), &body);
        assert_eq!(stored.status, 201, "{order}: {}", stored.raw);
        let (status, _, read) = support::get_bytes(&url(&format!("/{object}")));
        assert_eq!(status, 200);
        assert!(read == body, "{order}: {} bytes read back", read.len());
        let info = json_of(&get(&url(&format!("/{object}/_info"))));
        assert_eq!(info["size"], json!(3 << 20), "{order}");
        assert_eq!(info["container"], json!(container));
    }
    for (query, range) in [
        ("start=1000&end=1999", 1000..2000),
        ("start=3145720&end=99999999", 3_145_720..3 << 20),
        ("start=10&end=19&sync", 10..20),
    ] {
        let (status, _, read) = support::get_bytes(&url(&format!("/body-first.bin?{query}")));
        assert_eq!((status, read.as_slice()), (200, &body[range]), "{query}");
    }
    let missing = get(&url("/missing.bin"));
    assert_eq!(missing.status, 404, "{}", missing.raw);
    assert!(missing.raw.contains("missing.bin"), "{}", missing.raw);

    // Copy and move, within the namespace.
    let copy = server.url(&format!(
        "/mine/bs/_copy?from={container}/body-first.bin&to={container}/copy.bin"
    ));
    assert_eq!(post(&copy, "text/plain", "").status, 204);
    let moved = server.url(&format!(
        "/mine/bs/_move?from={container}/data-first.bin&to={container}/moved.bin"
    ));
    assert_eq!(post(&moved, "text/plain", "").status, 204);
    assert_eq!(get(&url("/data-first.bin/_exists")).raw, "false");
    assert_eq!(support::get_bytes(&url("/moved.bin")).2.len(), 3 << 20);
    assert_eq!(support::get_bytes(&url("/copy.bin")).2.len(), 3 << 20);
    let nowhere = server.url(&format!(
        "/mine/bs/_copy?from={container}/copy.bin&to={container}-none/x"
    ));
    assert_eq!(post(&nowhere, "text/plain", "").status, 404);

    // Listing pages through every name.
    for i in 0..120 {
        assert_eq!(put(&url(&format!("/n{i:03}")), b"x").status, 201);
    }
    let page = json_of(&get(&url("/_list?len=50")));
    assert_eq!(
        (page["names"].as_array().unwrap().len(), &page["end"]),
        (50, &json!(false))
    );
    let rest = json_of(&get(&url("/_list?skip=50&len=500")));
    assert_eq!(rest["skipped"], json!(50));
    assert_eq!(rest["end"], json!(true));
    let total = 50 + rest["names"].as_array().unwrap().len();
    assert_eq!(total, 123, "120 small objects, body-first, copy and moved");

    let delete_some = post(
        &url("/_delete"),
        "application/json",
        r#"["n000","n001","never"]"#,
    );
    assert_eq!(delete_some.status, 204, "{}", delete_some.raw);
    assert_eq!(get(&url("/n000/_exists")).raw, "false");
    assert_eq!(delete(&url("/n002")).status, 204);
    assert_eq!(
        delete(&url("/n002")).status,
        204,
        "deleting a missing object"
    );
    assert_eq!(delete(&url("?clear")).status, 204);
    assert_eq!(json_of(&get(&url("/_list?len=10")))["names"], json!([]));
    assert_eq!(delete(&url("")).status, 204);
    assert_eq!(get(&url("")).status, 404);
    assert_eq!(delete(&url("")).status, 404);
}

#[test]
fn blobstore_behaves_per_the_wit_on_local_files() {
    blobstore_behaves_per_the_wit(Databases::Embedded);
}

#[test]
fn blobstore_behaves_per_the_wit_on_s3() {
    blobstore_behaves_per_the_wit(Databases::Real);
}

/// Parallel clients write one object over and over: every read sees one
/// whole version, and one of several racing creates of a container wins.
fn blobstore_rules_hold_under_parallel_requests(databases: Databases) {
    let test = blobstore_server(databases);
    let server = &test.server;
    let container = fresh_bucket();
    let created: Vec<u16> = std::thread::scope(|scope| {
        let racers: Vec<_> = (0..CLIENTS)
            .map(|_| scope.spawn(|| put(&server.url(&format!("/mine/bs/{container}")), b"").status))
            .collect();
        racers.into_iter().map(|r| r.join().unwrap()).collect()
    });
    assert_eq!(
        created.iter().filter(|s| **s == 201).count(),
        1,
        "{created:?}"
    );
    assert!(
        created.iter().all(|s| [201, 409].contains(s)),
        "{created:?}"
    );

    let object = server.url(&format!("/mine/bs/{container}/shared"));
    let versions: Vec<Vec<u8>> = (0..CLIENTS)
        .map(|i| vec![b'a' + i as u8; 256 << 10])
        .collect();
    let (versions, object) = (&versions, &object);
    std::thread::scope(|scope| {
        for version in versions {
            scope.spawn(move || {
                for _ in 0..ROUNDS / 4 {
                    let stored = put(&format!("{object}?order=data-first"), version);
                    assert_eq!(stored.status, 201, "{}", stored.raw);
                    let (status, _, read) = support::get_bytes(object);
                    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&read));
                    assert!(
                        versions.contains(&read),
                        "a read mixed versions ({} bytes)",
                        read.len()
                    );
                }
            });
        }
    });
}

#[test]
fn blobstore_rules_hold_under_parallel_requests_on_local_files() {
    blobstore_rules_hold_under_parallel_requests(Databases::Embedded);
}

#[test]
fn blobstore_rules_hold_under_parallel_requests_on_s3() {
    blobstore_rules_hold_under_parallel_requests(Databases::Real);
}

#[test]
fn a_blobstore_component_without_the_grant_is_refused_with_what_to_add() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(dir.path(), |_| {});
    add_component(
        &manifest,
        "bs",
        "blobstore-draft.wasm",
        &["/bs/..."],
        toml::from_str("grants = [\"blob\"]").unwrap(),
    );
    let failed = Server::try_start(&dir.path().join("data"), &manifest)
        .err()
        .expect("an ungranted wasi:blobstore import must not load");
    assert!(
        failed.log.contains("imports wasi:blobstore/")
            && failed.log.contains("@0.2.0-draft")
            && failed.log.contains("add \"blobstore\" to its grants"),
        "{}",
        failed.log
    );
}
