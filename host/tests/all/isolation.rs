//! A component that traps, loops or exhausts its memory fails its own
//! request with a JSON error; the host and every other route keep serving.
//! A huge response streams through without the host holding it.

use crate::support;

use std::time::{Duration, Instant};

use support::{Databases, Server, TestServer, add_faults_component, get};

const TIMEOUT_MS: u64 = 500;

/// Mounts the faults component with tight limits.
fn with_faults(manifest: &std::path::Path) {
    add_faults_component(manifest, 16, TIMEOUT_MS);
}

fn assert_host_still_serves(server: &Server) {
    assert_eq!(get(&server.url("/faults/ok")).status, 200);
    assert_eq!(get(&server.url("/users")).status, 200);
}

fn a_trap_is_a_500_for_that_request_only(server: &Server) {
    let message = get(&server.url("/faults/trap"))
        .assert_error(500, "internal")
        .to_owned();
    assert!(message.contains("faults"), "{message}");
    assert_host_still_serves(server);
    assert!(
        server.log().contains("component trapped"),
        "{}",
        server.log()
    );
}

fn an_endless_loop_is_a_504_within_the_deadline(server: &Server) {
    let started = Instant::now();
    get(&server.url("/faults/loop")).assert_error(504, "timeout");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(TIMEOUT_MS) && took < Duration::from_millis(TIMEOUT_MS * 6),
        "answered after {took:?}"
    );
    assert_host_still_serves(server);
}

fn exhausting_memory_is_a_500_and_the_host_stays_up(server: &Server) {
    get(&server.url("/faults/alloc")).assert_error(500, "internal");
    assert_host_still_serves(server);
}

fn faults_in_a_row_do_not_leak_instances(server: &Server) {
    for _ in 0..20 {
        get(&server.url("/faults/trap")).assert_error(500, "internal");
        get(&server.url("/faults/alloc")).assert_error(500, "internal");
    }
    assert_host_still_serves(server);
}

#[test]
fn stopping_during_an_endless_loop_still_exits() {
    let TestServer {
        server, dir: _dir, ..
    } = TestServer::start_with(Databases::Embedded, with_faults);
    let url = server.url("/faults/loop");
    let client = std::thread::spawn(move || get(&url));
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let status = server.stop();
    assert!(status.success(), "summer exited with {status}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    client.join().unwrap().assert_error(504, "timeout");
}

on_both_databases!(
    with with_faults;
    a_trap_is_a_500_for_that_request_only,
    an_endless_loop_is_a_504_within_the_deadline,
    exhausting_memory_is_a_500_and_the_host_stays_up,
    faults_in_a_row_do_not_leak_instances,
);

/// The peak resident memory of process `pid`, in MiB.
fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib / 1024
}

#[test]
fn a_huge_response_streams_through_in_bounded_memory() {
    const MIB: u64 = 1024;
    let dir = tempfile::tempdir().unwrap();
    let manifest = support::write_manifest(dir.path(), |_| {});
    add_faults_component(&manifest, 16, 120_000);
    let server = Server::try_start(&dir.path().join("data"), &manifest)
        .unwrap_or_else(|f| panic!("summer exited with {}:\n{}", f.status, f.log));
    let before = peak_rss_mib(server.pid());

    let started = Instant::now();
    let mut response = ureq::get(&server.url(&format!("/faults/huge?mib={MIB}")))
        .call()
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
    let mut buffer = vec![0u8; 1 << 20];
    let (mut total, mut all_x) = (0u64, true);
    loop {
        let n = std::io::Read::read(&mut reader, &mut buffer).unwrap();
        if n == 0 {
            break;
        }
        all_x &= buffer[..n].iter().all(|b| *b == b'x');
        total += n as u64;
    }
    let took = started.elapsed();
    assert_eq!(total, MIB << 20, "the body was cut short");
    assert!(all_x, "the body changed on the way");
    let after = peak_rss_mib(server.pid());
    println!(
        "{MIB} MiB streamed in {:.2} s ({:.0} MiB/s); host peak RSS {before} MiB before, {after} MiB after",
        took.as_secs_f64(),
        MIB as f64 / took.as_secs_f64()
    );
    assert!(
        after < before + 64,
        "the host's peak memory grew from {before} to {after} MiB"
    );
    assert_host_still_serves(&server);
}
