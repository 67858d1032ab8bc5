//! A component that traps, loops or exhausts its memory fails its own
//! request with a JSON error; the host and every other route keep serving.

mod support;

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
