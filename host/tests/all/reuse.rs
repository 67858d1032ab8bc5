//! Instance reuse, end to end: by default every request gets a fresh
//! instance; with `instance_reuse = N` an instance serves up to N requests
//! one after another, and one that trapped or ran out of time is dropped.

use crate::support;

use support::{Server, add_component, get, write_manifest};

/// A server with the faults component at `/faults/{kind}`, its instances
/// reused for up to `reuse` requests when given.
fn server_with_reuse(dir: &tempfile::TempDir, reuse: Option<u32>) -> Server {
    let manifest = write_manifest(dir.path(), |_| {});
    let mut extra: toml::Table =
        toml::from_str("limits = { memory_mib = 16, timeout_ms = 500 }").unwrap();
    if let Some(reuse) = reuse {
        extra.insert("instance_reuse".into(), i64::from(reuse).into());
    }
    add_component(
        &manifest,
        "faults",
        "faults.wasm",
        &["/faults/{kind}"],
        extra,
    );
    Server::try_start(&dir.path().join("data"), &manifest)
        .unwrap_or_else(|f| panic!("summer exited with {}:\n{}", f.status, f.log))
}

/// How many requests the instance that answered has served.
fn served(server: &Server) -> u64 {
    let reply = get(&server.url("/faults/count"));
    assert_eq!(reply.status, 200, "{}", reply.raw);
    reply.body["served"].as_u64().unwrap()
}

#[test]
fn instances_are_fresh_unless_the_manifest_opts_in() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_with_reuse(&dir, None);
    let fresh: Vec<u64> = (0..5).map(|_| served(&server)).collect();
    assert_eq!(fresh, [1, 1, 1, 1, 1]);
    let dir = tempfile::tempdir().unwrap();
    let server = server_with_reuse(&dir, Some(3));
    let reused: Vec<u64> = (0..7).map(|_| served(&server)).collect();
    assert_eq!(
        reused,
        [1, 2, 3, 1, 2, 3, 1],
        "an instance serves at most 3 requests"
    );
}

#[test]
fn an_instance_that_failed_is_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_with_reuse(&dir, Some(100));
    assert_eq!(served(&server), 1);
    assert_eq!(served(&server), 2);
    // The waiting instance takes the trap and is dropped with it.
    get(&server.url("/faults/trap")).assert_error(500, "internal");
    assert_eq!(served(&server), 1);
    assert_eq!(served(&server), 2);
    get(&server.url("/faults/loop")).assert_error(504, "timeout");
    assert_eq!(served(&server), 1);
}

#[test]
fn a_reuse_count_out_of_range_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(dir.path(), |_| {});
    let extra: toml::Table = toml::from_str("instance_reuse = 0").unwrap();
    add_component(
        &manifest,
        "reused",
        "faults.wasm",
        &["/reused/{kind}"],
        extra,
    );
    let failed = match Server::try_start(&dir.path().join("data"), &manifest) {
        Ok(_) => panic!("a reuse count of 0 was accepted"),
        Err(failed) => failed,
    };
    assert!(
        failed.log.contains("instance_reuse must be from 1 to"),
        "{}",
        failed.log
    );
}
