//! Clients that speak HTTP badly, straight over TCP: a request line that is
//! not HTTP, headers past the host's limit, a path that is not UTF-8, JSON
//! that is not UTF-8, a body or a head that stops arriving. Each gets a 4xx
//! (or, for an unfinished head, a closed connection), never a 500, and the
//! host keeps serving.

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::{Databases, Server, TestServer, get};

fn assert_still_serves(server: &Server) {
    assert_eq!(get(&server.url("/users")).status, 200);
}

#[test]
fn malformed_requests_get_4xx_and_the_host_keeps_serving() {
    let server = TestServer::start(Databases::Embedded);
    let cases: [(&str, Vec<u8>, &[u16]); 5] = [
        ("not HTTP", b"HELLO THERE\r\n\r\n".to_vec(), &[400]),
        (
            "a header line without a colon",
            b"GET /users HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n".to_vec(),
            &[400],
        ),
        (
            "headers past the limit",
            format!(
                "GET /users HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
                "a".repeat(200 << 10)
            )
            .into_bytes(),
            &[431],
        ),
        (
            "a path that is not UTF-8",
            b"GET /users/%FF%FE HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
            &[400, 404],
        ),
        (
            "JSON that is not UTF-8",
            b"POST /users HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n{\"name\":\"\xff\xfe\",\"email\":\"a@b\"}"
                .to_vec(),
            &[400],
        ),
    ];
    for (what, request, expected) in cases {
        let status = support::raw_status(&server, &request);
        assert!(expected.contains(&status), "{what}: answered {status}");
        assert_still_serves(&server);
    }
}

/// A client that sends its headers and part of its body, then nothing: the
/// component's read ends after the idle time-out and the client gets 408;
/// a client that never finishes its headers is cut off by the header
/// time-out. Meanwhile every other client is served.
#[test]
fn slow_clients_are_timed_out_and_others_keep_being_served() {
    let server = TestServer::start(Databases::Embedded);
    let address = server.base.trim_start_matches("http://").to_owned();
    let stalled_body = std::thread::spawn({
        let address = address.clone();
        move || {
            let mut stream = TcpStream::connect(address).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(30)))
                .unwrap();
            let head = "POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\":";
            stream.write_all(head.as_bytes()).unwrap();
            let started = std::time::Instant::now();
            let mut answer = Vec::new();
            let _ = stream.read_to_end(&mut answer);
            (
                String::from_utf8_lossy(&answer).into_owned(),
                started.elapsed(),
            )
        }
    });
    let stalled_head = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream
            .write_all(b"GET /users HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        let started = std::time::Instant::now();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        started.elapsed()
    });
    std::thread::sleep(Duration::from_secs(1));
    for _ in 0..20 {
        assert_still_serves(&server);
    }

    let (answer, waited) = stalled_body.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"request_timeout\""), "{answer}");
    assert!(
        (Duration::from_secs(9)..Duration::from_secs(20)).contains(&waited),
        "answered after {waited:?}"
    );
    let waited = stalled_head.join().unwrap();
    assert!(
        waited < Duration::from_secs(20),
        "an unfinished head held its connection for {waited:?}"
    );
    let listed = get(&server.url("/users"));
    assert_eq!(
        listed.body["items"].as_array().unwrap().len(),
        0,
        "nothing was stored"
    );
}
