//! Clients that speak HTTP badly, straight over TCP: a request line that is
//! not HTTP, headers past the host's limit, a path that is not UTF-8, JSON
//! that is not UTF-8. Each gets a 4xx, never a 500, and the host keeps
//! serving.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::{Databases, Server, TestServer, get};

/// Sends `request` as raw bytes and returns the status of the answer (0 if
/// the host closed the connection without one).
fn raw_status(server: &Server, request: &[u8]) -> u16 {
    let address = server.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    text.strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

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
        let status = raw_status(&server, &request);
        assert!(expected.contains(&status), "{what}: answered {status}");
        assert_still_serves(&server);
    }
}
