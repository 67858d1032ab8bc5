//! The walkthroughs of the README, the capability guides and the
//! operations guide (tracing), run as written: their commands, in a scratch copy of the repository, against a
//! running host, with every curl's output checked against the comment
//! beside it.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Server, components_dir, repo_root};

/// The line before a walkthrough's `sh` block.
const MARKER: &str = "<!-- walkthrough: host/tests/all/walkthroughs.rs runs these commands -->";

/// How a walkthrough starts the host: `tooling/serve &` on `summer.toml`,
/// or the binary on another manifest, either after `NAME=value` settings.
/// The test starts the binary on a free port in its place, with those
/// settings; answers the manifest and the settings.
fn host_started_by(command: &str) -> (&str, Vec<(String, String)>) {
    let mut settings = Vec::new();
    let mut rest = command;
    while let Some((word, after)) = rest.split_once(' ')
        && let Some((name, value)) = word.split_once('=')
    {
        settings.push((name.to_owned(), value.to_owned()));
        rest = after;
    }
    if rest == "tooling/serve &" {
        return ("summer.toml", settings);
    }
    let manifest = rest
        .strip_prefix("target/release/summer serve --manifest ")
        .and_then(|rest| rest.strip_suffix(" &"))
        .unwrap_or_else(|| panic!("a walkthrough starts the host first, not with `{command}`"));
    (manifest, settings)
}

/// How long a curl may take to show what the comment says, while a build
/// is being picked up by the running host.
const SWAP_TIMEOUT: Duration = Duration::from_secs(60);

/// One command of the walkthrough, and the output its comment promises.
#[derive(Debug)]
struct Step {
    command: String,
    expected: Option<String>,
}

/// The walkthrough in the document at `path` (from the repository root).
fn walkthrough(path: &str) -> Vec<Step> {
    let text = std::fs::read_to_string(repo_root().join(path)).unwrap();
    let after = text
        .split_once(MARKER)
        .unwrap_or_else(|| panic!("{path} has the walkthrough marker"))
        .1;
    let block = after
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .expect("a sh block follows the walkthrough marker")
        .0;
    block.replace("\\\n", " ").lines().map(step).collect()
}

fn step(line: &str) -> Step {
    let (command, comment) = line.split_once("  # ").unwrap_or((line, ""));
    let command = command.trim().to_owned();
    let expected = command.starts_with("curl ").then(|| {
        assert!(
            !comment.trim().is_empty(),
            "the walkthrough's `{command}` needs its expected output as a comment"
        );
        comment.trim().to_owned()
    });
    Step { command, expected }
}

/// A scratch copy of the repository: the sources linked, the manifest and
/// lock file copied (the walkthrough changes them), the built binary and
/// components linked from the real target directory.
fn scratch_clone(dir: &Path) -> PathBuf {
    let root = repo_root();
    let clone = dir.join("summer");
    std::fs::create_dir(&clone).unwrap();
    for linked in ["Cargo.toml", "wit", "tooling", "host", "api", "interop"] {
        symlink(&root.join(linked), &clone.join(linked));
    }
    for copied in ["Cargo.lock", "summer.toml"] {
        std::fs::copy(root.join(copied), clone.join(copied)).unwrap();
    }
    // Folders whose entries are linked one by one, so that new crates and
    // builds land in the clone, and manifests' relative paths stay in it.
    link_entries(&root.join("components"), &clone.join("components"));
    link_entries(&root.join("examples"), &clone.join("examples"));
    let examples_manifest = clone.join("examples/summer.toml");
    std::fs::remove_file(&examples_manifest).unwrap();
    std::fs::copy(root.join("examples/summer.toml"), &examples_manifest).unwrap();
    link_entries(&components_dir(), &clone.join("target/components"));
    std::fs::create_dir_all(clone.join("target/release")).unwrap();
    symlink(
        Path::new(env!("CARGO_BIN_EXE_summer")),
        &clone.join("target/release/summer"),
    );
    clone
}

/// Makes `to` a folder of links to each entry of `from`.
fn link_entries(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap().path();
        symlink(&entry, &to.join(entry.file_name().unwrap()));
    }
}

fn symlink(target: &Path, link: &Path) {
    std::os::unix::fs::symlink(target, link)
        .unwrap_or_else(|e| panic!("linking {}: {e}", link.display()));
}

/// Runs one command in the clone with bash; returns its standard output.
fn run(clone: &Path, command: &str) -> String {
    let target_dir = components_dir().parent().unwrap().to_owned();
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", command])
        .current_dir(clone)
        .env("CARGO_TARGET_DIR", target_dir)
        .env("SUMMER_COMPONENTS_OUT", clone.join("target/components"))
        .env_remove("SUMMER_MANIFEST")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the walkthrough's `{command}` failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Whether `output` is what the comment says: the same JSON value when the
/// comment is JSON, the same text otherwise.
fn matches(output: &str, expected: &str) -> bool {
    match serde_json::from_str::<serde_json::Value>(expected) {
        Ok(value) => serde_json::from_str::<serde_json::Value>(output).is_ok_and(|v| v == value),
        Err(_) => output.trim() == expected,
    }
}

/// Runs the walkthrough of `path`: the host it starts, then each command;
/// a curl right after another command (a build, an edit) is retried until
/// the host has picked the change up.
fn run_walkthrough(path: &str) {
    let steps = walkthrough(path);
    assert!(
        steps.iter().any(|s| s.expected.is_some()),
        "{path}: {steps:?}"
    );
    let (manifest, settings) = host_started_by(&steps[0].command);

    let dir = tempfile::tempdir().unwrap();
    let clone = scratch_clone(dir.path());
    let server = Server::try_start_with_env(&clone.join("data"), &clone.join(manifest), &settings)
        .unwrap_or_else(|f| panic!("summer exited with {}:\n{}", f.status, f.log));
    let address = server.url("").trim_start_matches("http://").to_owned();

    let mut after_change = false;
    for step in &steps[1..] {
        let command = step.command.replace("localhost:3000", &address);
        let Some(expected) = &step.expected else {
            run(&clone, &command);
            after_change = true;
            continue;
        };
        let started = Instant::now();
        let mut output = run(&clone, &command);
        while after_change && !matches(&output, expected) && started.elapsed() < SWAP_TIMEOUT {
            std::thread::sleep(Duration::from_millis(200));
            output = run(&clone, &command);
        }
        after_change = false;
        assert!(
            matches(&output, expected),
            "{path}: `{}` printed {output:?}, not {expected:?}\n{}",
            step.command,
            server.log()
        );
    }
}

#[test]
fn the_readme_walkthrough_works_as_written() {
    let steps = walkthrough("README.md");
    assert_eq!(steps[0].command, "tooling/serve &");
    run_walkthrough("README.md");
}

#[test]
fn the_sql_guide_example_works_as_written() {
    run_walkthrough("docs/sql.md");
}

#[test]
fn the_cache_guide_example_works_as_written() {
    run_walkthrough("docs/cache.md");
}

#[test]
fn the_blob_guide_example_works_as_written() {
    run_walkthrough("docs/blob.md");
}

#[test]
fn the_wide_guide_example_works_as_written() {
    run_walkthrough("docs/wide.md");
}

#[test]
fn the_graph_guide_example_works_as_written() {
    run_walkthrough("docs/graph.md");
}

/// Needs the OTLP receiver of `tooling/services up otlp`.
#[test]
fn the_tracing_walkthrough_works_as_written() {
    run_walkthrough("docs/operations.md");
}

/// Needs the registry of `tooling/services up registry`.
#[test]
fn the_registry_walkthrough_works_as_written() {
    run_walkthrough("docs/deploy.md");
}

#[test]
fn a_walkthrough_host_may_start_with_settings() {
    assert_eq!(host_started_by("tooling/serve &"), ("summer.toml", vec![]));
    let (manifest, settings) =
        host_started_by("A=1 B=two target/release/summer serve --manifest examples/summer.toml &");
    assert_eq!(manifest, "examples/summer.toml");
    assert_eq!(
        settings,
        [("A".into(), "1".into()), ("B".into(), "two".into())]
    );
}
