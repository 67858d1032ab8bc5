//! Components that cannot be loaded stop `summer serve` with a message that
//! says what is wrong and what to do.

mod support;

use support::{Server, write_manifest};

#[test]
fn an_ungranted_import_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(dir.path(), |component| {
        component.insert("grants".into(), toml::Value::Array(vec![]));
        component.remove("sql");
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
        failed.log.contains("is not a valid WebAssembly component"),
        "{}",
        failed.log
    );
}
