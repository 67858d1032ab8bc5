//! `summer new`: a scaffolded component builds with the project's build
//! script and a running host serves it as soon as it is built, without a
//! restart.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use support::{Server, components_dir, get, post_json, repo_root};

fn summer_new(dir: &Path, manifest: &Path, out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_summer"))
        .args(["new", "greeter", "--path"])
        .arg(dir.join("greeter"))
        .arg("--sdk")
        .arg(repo_root().join("components/sdk"))
        .arg("--manifest")
        .arg(manifest)
        .arg("--source")
        .arg(out.join("greeter.wasm"))
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

#[test]
fn a_new_component_is_served_by_a_running_host_once_built() {
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
    let server = Server::try_start(&dir.path().join("data"), &manifest)
        .unwrap_or_else(|f| panic!("summer exited with {}:\n{}", f.status, f.log));

    let made = summer_new(dir.path(), &manifest, &out);
    assert!(made.status.success(), "{}", text(&made));
    assert!(
        text(&made).contains("tooling/build-components"),
        "{}",
        text(&made)
    );
    // Not built yet: the host keeps serving what it had.
    assert_eq!(get(&server.url("/greeter")).status, 404);
    assert_eq!(get(&server.url("/hello")).status, 200);

    let built = build(&dir.path().join("greeter"), &out);
    assert!(built.status.success(), "{}", text(&built));
    let started = Instant::now();
    let mut greeting = get(&server.url("/greeter"));
    while greeting.status != 200 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
        greeting = get(&server.url("/greeter"));
    }
    assert_eq!(greeting.status, 200, "{}", server.log());
    assert_eq!(greeting.body["message"], "Hello, world!");
    assert_eq!(
        get(&server.url("/greeter/Ada")).body["message"],
        "Hello, Ada!"
    );
    let refused = post_json(&server.url("/greeter"), &serde_json::json!({}));
    assert_eq!(refused.status, 405);
    assert!(refused.body["error"]["message"].is_string());
    assert_eq!(get(&server.url("/hello")).status, 200);

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
