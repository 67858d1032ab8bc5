//! Components that cannot be loaded stop `summer serve` with a message that
//! says what is wrong and what to do.

use crate::support;

use support::{Server, components_dir, write_manifest};

#[test]
fn an_ungranted_import_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(dir.path(), |component| {
        component.insert("grants".into(), toml::Value::Array(vec![]));
        component.remove("sql");
        component.remove("wide");
    });
    let failed = Server::try_start(&dir.path().join("data"), &manifest)
        .err()
        .expect("a component importing an ungranted capability must not load");
    assert!(!failed.status.success());
    assert!(
        failed.log.contains("imports summer:platform/sql@0.1.0")
            && failed.log.contains("does not grant it"),
        "{}",
        failed.log
    );
}

#[test]
fn a_missing_component_says_how_to_build_it() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(dir.path(), |component| {
        component.insert("source".into(), "/nonexistent/users.wasm".into());
    });
    let failed = Server::try_start(&dir.path().join("data"), &manifest)
        .err()
        .expect("a missing .wasm must not load");
    assert!(
        failed.log.contains("/nonexistent/users.wasm"),
        "{}",
        failed.log
    );
    assert!(
        failed.log.contains("tooling/build-components"),
        "{}",
        failed.log
    );
}

#[test]
fn a_file_that_is_not_a_component_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("bogus.wasm");
    std::fs::write(&bogus, b"\0asm\x01\0\0\0").unwrap();
    let manifest = write_manifest(dir.path(), |component| {
        component.insert("source".into(), bogus.display().to_string().into());
    });
    let failed = Server::try_start(&dir.path().join("data"), &manifest)
        .err()
        .expect("a core module is not a component");
    assert!(
        failed.log.contains("is not a valid WebAssembly component")
            && failed.log.contains("core WebAssembly module")
            && failed.log.contains("cargo component build"),
        "{}",
        failed.log
    );
}

#[test]
fn a_component_of_another_world_says_which_to_build_for() {
    let dir = tempfile::tempdir().unwrap();
    let seed = components_dir().join("seed.wasm");
    let manifest = write_manifest(dir.path(), |component| {
        if component["name"].as_str() == Some("users") {
            component.insert("source".into(), seed.display().to_string().into());
            let all = ["sql", "cache", "graph", "wide", "blob"].map(toml::Value::from);
            component.insert("grants".into(), toml::Value::Array(all.to_vec()));
        }
    });
    let failed = Server::try_start(&dir.path().join("data"), &manifest)
        .err()
        .expect("a seeder is not an HTTP handler");
    assert!(
        failed
            .log
            .contains("does not export wasi:http/incoming-handler")
            && failed.log.contains("summer:platform/handler")
            && failed.log.contains("http_component!"),
        "{}",
        failed.log
    );
}

/// A configured database that cannot be reached stops start-up with a
/// message naming the database and the variable that selected it.
#[test]
fn an_unreachable_database_is_named_at_start() {
    let cases = [
        ("DATABASE_HOST", "DATABASE_PORT", "PostgreSQL"),
        ("REDIS_HOST", "REDIS_PORT", "Redis"),
        ("STORAGE_ENDPOINT", "STORAGE_PORT", "S3"),
        ("CASSANDRA_HOST", "CASSANDRA_PORT", "Cassandra"),
        ("NEO4J_HOST", "NEO4J_PORT", "Neo4j"),
    ];
    for (host, port, name) in cases {
        let dir = tempfile::tempdir().unwrap();
        let manifest = write_manifest(dir.path(), |_| {});
        // Port 1 on loopback: nothing listens there.
        let env = [
            (host.to_owned(), "127.0.0.1".to_owned()),
            (port.to_owned(), "1".to_owned()),
        ];
        let failed = Server::try_start_with_env(&dir.path().join("data"), &manifest, &env)
            .err()
            .unwrap_or_else(|| panic!("summer started without a reachable {name}"));
        assert!(!failed.status.success());
        assert!(
            failed.log.contains(name)
                && failed.log.contains(host)
                && failed.log.contains("127.0.0.1:1"),
            "{}",
            failed.log
        );
    }
}
