//! `summer new`: a scaffolded component builds with the project's build
//! script and with `cargo component build`, a running host serves it as
//! soon as it is built, without a restart, and takes the other build as a
//! deploy.

use crate::support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use support::{Server, components_dir, get, post_json, repo_root};

/// The scaffolded component's name (not the README's `greeter`, whose test
/// builds into the same target directory at the same time).
const NAME: &str = "postcard";

/// The admin token of the test's host, for `summer deploy`.
const ADMIN_TOKEN: &str = "scaffold-test-token";

fn summer_new(dir: &Path, manifest: &Path, out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_summer"))
        .args(["new", NAME, "--path"])
        .arg(dir.join(NAME))
        .arg("--sdk")
        .arg(repo_root().join("components/sdk"))
        .arg("--manifest")
        .arg(manifest)
        .arg("--source")
        .arg(out.join(format!("{NAME}.wasm")))
        .output()
        .unwrap()
}

fn build(crate_dir: &Path, out: &Path) -> Output {
    Command::new(repo_root().join("tooling/build-components"))
        .arg(crate_dir)
        .env("SUMMER_COMPONENTS_OUT", out)
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `cargo component build --release` in the crate, through the script that
/// installs cargo-component (cached) and the wasm32-wasip1 target. Its
/// target directory sits in the build's, so later runs reuse what it built.
fn cargo_component_build(crate_dir: &Path) -> Output {
    Command::new(repo_root().join("tooling/cargo-component"))
        .args(["build", "--release"])
        .current_dir(crate_dir)
        .env("CARGO_TARGET_DIR", cargo_component_target())
        .output()
        .unwrap()
}

fn cargo_component_target() -> std::path::PathBuf {
    components_dir().parent().unwrap().join("cargo-component")
}

fn deploy(server: &Server, wasm: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_summer"))
        .args(["deploy", NAME])
        .arg(wasm)
        .args(["--url", &server.url("")])
        .env("SUMMER_ADMIN_TOKEN", ADMIN_TOKEN)
        .output()
        .unwrap()
}

/// Polls `path` until it answers 200 (a build being picked up).
fn wait_for_ok(server: &Server, path: &str) -> support::Reply {
    let started = Instant::now();
    let mut reply = get(&server.url(path));
    while reply.status != 200 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
        reply = get(&server.url(path));
    }
    assert_eq!(reply.status, 200, "{}", server.log());
    reply
}

fn is_component(wasm: &[u8]) -> bool {
    wasm.starts_with(&[0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00])
}

#[test]
fn a_new_component_builds_both_ways_and_is_served_by_a_running_host() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let manifest = dir.path().join("summer.toml");
    let hello = components_dir().join("hello.wasm");
    std::fs::write(
        &manifest,
        format!(
            "[[component]]\nname = \"hello\"\nsource = \"{}\"\nroutes = [\"/hello\"]\n",
            hello.display()
        ),
    )
    .unwrap();
    let token = [("SUMMER_ADMIN_TOKEN".to_owned(), ADMIN_TOKEN.to_owned())];
    let server = Server::try_start_with_env(&dir.path().join("data"), &manifest, &token)
        .unwrap_or_else(|f| panic!("summer exited with {}:\n{}", f.status, f.log));
    let route = format!("/{NAME}");

    let made = summer_new(dir.path(), &manifest, &out);
    assert!(made.status.success(), "{}", text(&made));
    assert!(
        text(&made).contains("tooling/build-components"),
        "{}",
        text(&made)
    );
    // Not built yet: the host keeps serving what it had.
    assert_eq!(get(&server.url(&route)).status, 404);
    assert_eq!(get(&server.url("/hello")).status, 200);

    let crate_dir = dir.path().join(NAME);
    let built = build(&crate_dir, &out);
    assert!(built.status.success(), "{}", text(&built));
    let greeting = wait_for_ok(&server, &route);
    assert_eq!(greeting.body["message"], "Hello, world!");
    assert_eq!(
        get(&server.url(&format!("{route}/Ada"))).body["message"],
        "Hello, Ada!"
    );
    let refused = post_json(&server.url(&route), &serde_json::json!({}));
    assert_eq!(refused.status, 405);
    assert!(refused.body["error"]["message"].is_string());
    assert_eq!(get(&server.url("/hello")).status, 200);

    // The same crate built by cargo-component is a component the host
    // takes as a new version.
    let componentized = cargo_component_build(&crate_dir);
    assert!(componentized.status.success(), "{}", text(&componentized));
    let wasm = cargo_component_target().join(format!("wasm32-wasip1/release/{NAME}.wasm"));
    assert!(
        is_component(&std::fs::read(&wasm).unwrap()),
        "{}",
        text(&componentized)
    );
    let deployed = deploy(&server, &wasm);
    assert!(deployed.status.success(), "{}", text(&deployed));
    let after = wait_for_ok(&server, &format!("{route}/Ada"));
    assert_eq!(after.body["message"], "Hello, Ada!");
    assert_ne!(
        after.header("x-summer-component"),
        greeting.header("x-summer-component"),
        "the cargo-component build serves: {}",
        text(&deployed)
    );

    // The same name again is refused, and nothing is overwritten.
    let again = summer_new(dir.path(), &manifest, &out);
    assert!(!again.status.success());
    assert!(text(&again).contains("already exists"), "{}", text(&again));
}

#[test]
fn bad_names_and_a_missing_sdk_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_summer"))
            .current_dir(dir.path())
            .arg("new")
            .args(args)
            .output()
            .unwrap()
    };
    let bad = run(&["Trip_Photos"]);
    assert!(!bad.status.success());
    assert!(text(&bad).contains("lowercase letters"), "{}", text(&bad));
    let no_sdk = run(&["photos"]);
    assert!(!no_sdk.status.success());
    assert!(text(&no_sdk).contains("--sdk"), "{}", text(&no_sdk));
    assert!(!dir.path().join("components/photos").exists());
    assert!(!dir.path().join("summer.toml").exists());
}

#[test]
fn a_folder_that_is_not_a_component_crate_is_refused_by_the_build_script() {
    let dir = tempfile::tempdir().unwrap();
    let refused = build(dir.path(), &dir.path().join("out"));
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("has no Cargo.toml"),
        "{}",
        text(&refused)
    );
}
