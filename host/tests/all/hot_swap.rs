//! Hot swap: components replaced while the host serves, through the admin
//! API, the command line and the watched files; refused versions leave the
//! old one serving; rollbacks; deployments outliving a restart; manifest
//! reloads.

use crate::support;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::admin::{Host, admin, built, deploy, served_by};
use support::wasm::{variant, version_of};
use support::{Reply, components_dir, get};

/// Writes `bytes` to `path` the way a build tool does: beside it, then
/// renamed over it.
fn replace_file(path: &Path, bytes: &[u8]) {
    let temporary = path.with_extension("partial");
    std::fs::write(&temporary, bytes).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

/// Polls until `done` or `patience` runs out; how long it took.
fn wait_for(patience: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < patience {
        if done() {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

/// A swap as the swapping thread saw it: when it was asked for, when its
/// answer arrived, and the version it put in service.
struct SwapWindow {
    asked: Instant,
    answered: Instant,
    serving: String,
}

/// A response as a client saw it: when the request was sent, when the
/// answer was in, and which version answered.
struct Served {
    sent: Instant,
    received: Instant,
    by: String,
}

#[test]
fn swaps_under_load_fail_no_request_and_switch_every_new_one() {
    const CLIENTS: usize = 300;
    const SWAPS: usize = 60;
    let host = Host::start();
    let server = host.server();
    let original = built("faults.wasm");
    let other = variant(&original, "load");
    let url = server.url("/faults/slow?ms=20");

    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(Mutex::new(Vec::<Served>::new()));
    let bad = Arc::new(Mutex::new(Vec::<String>::new()));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (stop, served, bad, url) = (stop.clone(), served.clone(), bad.clone(), url.clone());
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let sent = Instant::now();
                    let reply = get(&url);
                    match check_slow_reply(&reply) {
                        Ok(by) => seen.push(Served {
                            sent,
                            received: Instant::now(),
                            by,
                        }),
                        Err(problem) => bad.lock().unwrap().push(problem),
                    }
                }
                served.lock().unwrap().extend(seen);
            })
        })
        .collect();

    std::thread::sleep(Duration::from_millis(500));
    let mut windows = Vec::new();
    for i in 0..SWAPS {
        let asked = Instant::now();
        // Back and forth: a deploy of the other version, then a rollback.
        let (reply, expected) = if i % 2 == 0 {
            (deploy(server, "faults", &other), &other)
        } else {
            let path = "/_admin/components/faults/rollback";
            (admin(server, "POST", path, b""), &original)
        };
        let answered = Instant::now();
        assert_eq!(reply.status, 200, "swap {i}: {}", reply.raw);
        assert_eq!(reply.body["version"], version_of(expected).as_str());
        windows.push(SwapWindow {
            asked,
            answered,
            serving: served_by("faults", expected),
        });
        std::thread::sleep(Duration::from_millis(150));
    }
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().unwrap();
    }

    let bad = bad.lock().unwrap();
    let served = served.lock().unwrap();
    assert!(
        bad.is_empty(),
        "{} failed or malformed of {}: {:?}",
        bad.len(),
        served.len() + bad.len(),
        &bad[..bad.len().min(5)]
    );
    let swaps_logged: Vec<String> = server
        .log()
        .lines()
        .filter(|l| l.contains("swapped"))
        .map(str::to_owned)
        .collect();
    let checked = std::panic::catch_unwind(|| assert_new_requests_see_each_swap(&served, &windows))
        .unwrap_or_else(|panic| {
            eprintln!("the host's swaps:\n{}", swaps_logged.join("\n"));
            std::panic::resume_unwind(panic)
        });
    println!(
        "{} requests served during {SWAPS} swaps with {CLIENTS} clients; \
         {checked} of them sent and answered between a swap's answer and the next swap",
        served.len()
    );
    assert!(
        checked > SWAPS * 10,
        "too few requests between swaps: {checked}"
    );
}

/// The version that answered, if the reply is what `/faults/slow` sends.
fn check_slow_reply(reply: &Reply) -> Result<String, String> {
    let expected = serde_json::json!({ "ok": true, "slept_ms": 20 });
    match reply.header("x-summer-component") {
        Some(by) if reply.status == 200 && reply.body == expected => Ok(by.to_owned()),
        by => Err(format!("{} {by:?} {}", reply.status, reply.raw)),
    }
}

/// Every request sent after a swap answered, and answered itself before
/// the next swap was asked for, was served by the version that swap put in
/// service. Returns how many requests that covered.
fn assert_new_requests_see_each_swap(served: &[Served], windows: &[SwapWindow]) -> usize {
    let mut checked = 0;
    for (i, window) in windows.iter().enumerate() {
        let next_asked = windows.get(i + 1).map(|w| w.asked);
        for request in served {
            let after = request.sent > window.answered;
            let before_next = next_asked.is_none_or(|next| request.received < next);
            if after && before_next {
                assert_eq!(
                    request.by,
                    window.serving,
                    "a request sent {:?} after swap {i} answered was served by the old version",
                    request.sent - window.answered
                );
                checked += 1;
            }
        }
    }
    checked
}

#[test]
fn refused_versions_leave_the_old_one_serving() {
    let host = Host::start();
    let server = host.server();
    let original = served_by("faults", &built("faults.wasm"));
    let refusals: [(&str, Vec<u8>, u16, &str, &str); 4] = [
        (
            "garbage",
            b"definitely not wasm".to_vec(),
            422,
            "invalid_component",
            "not a valid WebAssembly component",
        ),
        (
            "a core module",
            b"\0asm\x01\0\0\0".to_vec(),
            422,
            "invalid_component",
            "not a valid WebAssembly component",
        ),
        (
            "ungranted imports",
            built("probe.wasm"),
            422,
            "invalid_component",
            "but the manifest does not grant it",
        ),
        (
            "an empty body",
            Vec::new(),
            400,
            "bad_request",
            "send the component's .wasm",
        ),
    ];
    for (what, wasm, status, code, says) in refusals {
        let reply = deploy(server, "faults", &wasm);
        let message = reply.assert_error(status, code);
        assert!(message.contains(says), "{what}: {message}");
        assert_eq!(host.serving(), original, "after {what}");
    }
    let reply = deploy(server, "nope", &built("faults.wasm"));
    assert!(reply.assert_error(404, "not_found").contains("nope"));
    let reply = admin(server, "POST", "/_admin/components/faults/rollback", b"");
    reply.assert_error(409, "no_earlier_version");
    let reply = admin(server, "GET", "/_admin/components/faults", b"");
    assert_eq!(reply.status, 200, "{}", reply.raw);
    assert_eq!(reply.body["version"], version_of(&built("faults.wasm")));
    assert_eq!(reply.body["earlier"], serde_json::json!([]));
    assert_eq!(host.serving(), original);
    assert!(server.log().contains("refused a swap"), "{}", server.log());
}

#[test]
fn the_command_line_deploys_and_rolls_back_and_deployments_survive_a_restart() {
    let mut host = Host::start();
    let original = built("faults.wasm");
    let next = variant(&original, "next");
    let next_file = host.dir.path().join("next.wasm");
    std::fs::write(&next_file, &next).unwrap();

    let output = host.cli("deploy", &["faults", next_file.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(&format!("now serving {}", &version_of(&next)[..12])),
        "{stdout}"
    );
    assert_eq!(host.serving(), served_by("faults", &next));
    let listed = admin(host.server(), "GET", "/_admin/components/faults", b"");
    assert_eq!(listed.body["earlier"][0]["version"], version_of(&original));

    let output = host.cli("rollback", &["faults"]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(host.serving(), served_by("faults", &original));
    let output = host.cli("rollback", &["faults"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no earlier version"));
    let output = host.cli("deploy", &["faults", "/nonexistent.wasm"]);
    assert!(!output.status.success());

    // A deployment outlives a restart...
    assert!(
        host.cli("deploy", &["faults", next_file.to_str().unwrap()])
            .status
            .success()
    );
    host.restart();
    assert_eq!(host.serving(), served_by("faults", &next));
    // ...until the manifest's file changes while the host is down.
    let rebuilt = variant(&original, "rebuilt");
    std::fs::write(&host.source, &rebuilt).unwrap();
    host.restart();
    assert_eq!(host.serving(), served_by("faults", &rebuilt));
}

#[test]
fn a_changed_file_is_swapped_in_and_a_broken_one_refused() {
    let host = Host::start();
    let original = built("faults.wasm");
    let next = variant(&original, "watched");
    replace_file(&host.source, &next);
    let took = wait_for(Duration::from_secs(20), || {
        host.serving() == served_by("faults", &next)
    })
    .expect("the new file was not swapped in");
    println!("file written to first response from the new version: {took:.0?}");

    replace_file(&host.source, b"half a component");
    let logged = wait_for(Duration::from_secs(20), || {
        host.server().log().contains("kept the serving version")
    });
    assert!(logged.is_some(), "{}", host.server().log());
    assert_eq!(host.serving(), served_by("faults", &next));

    // Written in place, not renamed over.
    std::fs::write(&host.source, &original).unwrap();
    wait_for(Duration::from_secs(20), || {
        host.serving() == served_by("faults", &original)
    })
    .expect("the rewritten file was not swapped in");
}

#[test]
fn manifest_reloads_add_move_and_remove_routes() {
    let host = Host::start();
    let probe = components_dir().join("probe.wasm");
    let grants = "grants = [\"sql\", \"wide\", \"graph\", \"cache\", \"blob\"]";
    let with_alpha = format!(
        "{}\n[[component]]\nname = \"alpha\"\nsource = {:?}\nroutes = [\"/alpha/...\", \"/shared/...\"]\n{grants}\n",
        std::fs::read_to_string(&host.manifest).unwrap(),
        probe.display().to_string()
    );
    replace_file(&host.manifest, with_alpha.as_bytes());
    let component_of = |path: &str| {
        let reply = get(&host.server().url(path));
        reply
            .header("x-summer-component")
            .map(|v| v.split('@').next().unwrap().to_owned())
    };
    wait_for(Duration::from_secs(20), || {
        component_of("/alpha/cache/k").is_some()
    })
    .expect("the added component did not start serving");
    assert_eq!(component_of("/shared/cache/k").as_deref(), Some("alpha"));

    // /shared moves to a new component, alpha goes away.
    let with_beta = format!(
        "{}\n[[component]]\nname = \"beta\"\nsource = {:?}\nroutes = [\"/beta/...\", \"/shared/...\"]\n{grants}\n",
        std::fs::read_to_string(host.dir.path().join("summer.toml"))
            .unwrap()
            .split("\n[[component]]\nname = \"alpha\"")
            .next()
            .unwrap(),
        probe.display().to_string()
    );
    std::fs::write(host.dir.path().join("edited.toml"), &with_beta).unwrap();
    // A manifest that does not parse changes nothing.
    replace_file(&host.manifest, b"[[component]\nname = ");
    wait_for(Duration::from_secs(20), || {
        host.server().log().contains("manifest was not reloaded")
    })
    .expect("the broken manifest was not reported");
    assert_eq!(component_of("/shared/cache/k").as_deref(), Some("alpha"));

    std::fs::write(&host.manifest, &with_beta).unwrap();
    wait_for(Duration::from_secs(20), || {
        component_of("/shared/cache/k").as_deref() == Some("beta")
    })
    .expect("the moved route did not reach its new component");
    let gone = get(&host.server().url("/alpha/cache/k"));
    gone.assert_error(404, "not_found");
    assert_eq!(component_of("/faults/ok").as_deref(), Some("faults"));

    // The admin API (and `summer reload`) reload on demand.
    let output = host.cli("reload", &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("manifest reloaded: 3 routes"), "{stdout}");
}
