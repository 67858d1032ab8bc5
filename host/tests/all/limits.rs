//! Per-component limits from the manifest: a component serving its limit
//! of requests at once turns more away with 503 and `Retry-After` (no
//! queue), and a request body over its limit is a 413, whether
//! `Content-Length` says so up front or the bytes show it on the way in.

use crate::support;

use std::time::Duration;

use support::{Reply, Server, components_dir, get, send};

/// A host with `faults` limited to 2 requests at once and `probe` to 1 KiB
/// request bodies.
fn start() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("summer.toml");
    let wasm = |name: &str| components_dir().join(name).display().to_string();
    std::fs::write(
        &manifest,
        format!(
            "[[component]]\nname = \"faults\"\nsource = {:?}\nroutes = [\"/faults/{{kind}}\"]\n\
             limits = {{ concurrency = 2 }}\n\n\
             [[component]]\nname = \"probe\"\nsource = {:?}\nroutes = [\"/probe/...\"]\n\
             grants = [\"sql\", \"wide\", \"graph\", \"cache\", \"blob\"]\n\
             limits = {{ body_kib = 1 }}\n",
            wasm("faults.wasm"),
            wasm("probe.wasm"),
        ),
    )
    .unwrap();
    let server = Server::try_start(&dir.path().join("data"), &manifest)
        .unwrap_or_else(|f| panic!("summer exited with {}:\n{}", f.status, f.log));
    (dir, server)
}

#[test]
fn past_its_concurrency_a_component_answers_503_with_retry_after() {
    let (_dir, server) = start();
    let url = server.url("/faults/slow?ms=400");
    let replies: Vec<Reply> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..8).map(|_| scope.spawn(|| get(&url))).collect();
        clients.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let served = replies.iter().filter(|r| r.status == 200).count();
    let busy: Vec<&Reply> = replies.iter().filter(|r| r.status == 503).collect();
    assert_eq!(served + busy.len(), replies.len(), "{replies:?}");
    assert!((1..=2).contains(&served), "{served} served at once");
    for reply in busy {
        let message = reply.assert_error(503, "busy");
        assert!(
            message.contains("faults") && message.contains('2'),
            "{message}"
        );
        assert_eq!(reply.header("retry-after"), Some("1"));
    }
    // The slots come back, and other components were never limited.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(get(&server.url("/faults/ok")).status, 200);
    assert_eq!(get(&server.url("/probe/cache/k")).status, 404);
}

#[test]
fn a_body_over_the_limit_is_413_and_nothing_is_stored() {
    let (_dir, server) = start();
    let url = server.url("/probe/cache/big");
    let big = vec![b'x'; 4096];
    // Content-Length says so: refused before the component runs.
    send("PUT", &url, Some("text/plain"), &big).assert_error(413, "too_large");
    // Chunked: refused once the component has read past the limit.
    let reply = support::put_chunked(&url, &big);
    let message = reply.assert_error(413, "too_large");
    assert!(message.contains("1024"), "{message}");
    assert_eq!(get(&url).status, 404, "an over-limit body was stored");
    // At the limit is fine.
    let fits = vec![b'y'; 1024];
    assert_eq!(send("PUT", &url, Some("text/plain"), &fits).status, 204);
    assert_eq!(support::put_chunked(&url, &fits).status, 204);
}
