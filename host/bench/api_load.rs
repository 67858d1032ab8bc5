//! A small load run over every Summer-Trip endpoint: for each, `N` requests
//! from `T` threads against a running `summer serve`, then the median and
//! p99 latency and the rate. What a request needs (users, friendships,
//! files...) is created first and not timed. `tooling/bench-api` runs it.
//!
//!   cargo run --release -p summer --example api_load -- BASE_URL [N] [T]

use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// One request, ready to send.
struct Req {
    method: &'static str,
    path: String,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Req {
    fn get(path: String) -> Self {
        Self {
            method: "GET",
            path,
            content_type: None,
            body: Vec::new(),
        }
    }

    fn delete(path: String) -> Self {
        Self {
            method: "DELETE",
            ..Self::get(path)
        }
    }

    fn json(method: &'static str, path: String, body: Value) -> Self {
        Self {
            method,
            path,
            content_type: Some("application/json".into()),
            body: body.to_string().into_bytes(),
        }
    }
}

struct Client {
    base: String,
    agent: ureq::Agent,
}

impl Client {
    fn new(base: &str) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .new_agent();
        Self {
            base: base.trim_end_matches('/').to_owned(),
            agent,
        }
    }

    /// Sends `req`; the status and the body as JSON (Null when not JSON).
    fn send(&self, req: &Req) -> (u16, Value) {
        let mut builder = ureq::http::Request::builder()
            .method(req.method)
            .uri(format!("{}{}", self.base, req.path));
        if let Some(content_type) = &req.content_type {
            builder = builder.header("content-type", content_type);
        }
        let mut response = self
            .agent
            .run(builder.body(req.body.clone()).unwrap())
            .expect("the request failed");
        let status = response.status().as_u16();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .unwrap_or_default();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Sends `req`, which must succeed; its JSON body.
    fn ok(&self, req: Req) -> Value {
        let (status, body) = self.send(&req);
        assert!(
            (200..300).contains(&status),
            "{} {}: {status} {body}",
            req.method,
            req.path
        );
        body
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

fn new_user(client: &Client) -> String {
    let email = format!("{}@example.org", unique("load"));
    let user = client.ok(Req::json(
        "POST",
        "/users".into(),
        json!({ "name": "Load User", "email": email }),
    ));
    user["id"].as_str().unwrap().to_owned()
}

fn new_group(client: &Client) -> String {
    let group = client.ok(Req::json(
        "POST",
        "/groups".into(),
        json!({ "name": unique("Load") }),
    ));
    group["id"].as_str().unwrap().to_owned()
}

fn befriend(client: &Client, a: &str, b: &str) {
    client.ok(Req::json(
        "POST",
        format!("/users/{a}/friends"),
        json!({ "friend_id": b }),
    ));
}

fn notify(client: &Client, user: &str) -> String {
    let body = json!({ "user_id": user, "type": "message", "content": "load" });
    let n = client.ok(Req::json("POST", "/notifications".into(), body));
    n["id"].as_str().unwrap().to_owned()
}

fn multipart(filename: &str, content: &[u8]) -> Req {
    let boundary = "summer-load-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Req {
        method: "POST",
        path: "/storage/upload".into(),
        content_type: Some(format!("multipart/form-data; boundary={boundary}")),
        body,
    }
}

/// The shared fixtures: a small social graph, a busy conversation, a file.
struct World {
    users: Vec<String>,
    group: String,
    file: String,
}

fn world(client: &Client) -> World {
    let users: Vec<String> = (0..40).map(|_| new_user(client)).collect();
    for (i, user) in users.iter().enumerate() {
        for step in [1, 3, 7] {
            befriend(client, user, &users[(i + step) % users.len()]);
        }
    }
    let group = new_group(client);
    for user in &users[..20] {
        client.ok(Req::json(
            "POST",
            format!("/groups/{group}/members"),
            json!({ "user_id": user }),
        ));
    }
    for i in 0..100 {
        let body = json!({ "conversation_id": group, "user_id": users[i % 40], "content": format!("message {i}") });
        client.ok(Req::json("POST", "/messages".into(), body));
    }
    for _ in 0..50 {
        notify(client, &users[0]);
    }
    let file = format!("{}.bin", unique("load"));
    client.ok(multipart(&file, &vec![7u8; 64 << 10]));
    World { users, group, file }
}

/// One endpoint's case: its name and the `n` requests to time.
type Case = (&'static str, Vec<Req>);

fn cases(client: &Client, w: &World, n: usize) -> Vec<Case> {
    let u0 = &w.users[0];
    let g = &w.group;
    let fresh = |k: usize| -> Vec<String> { (0..k).map(|_| new_user(client)).collect() };
    let groups = |k: usize| -> Vec<String> { (0..k).map(|_| new_group(client)).collect() };
    let each = |make: &dyn Fn(usize) -> Req| -> Vec<Req> { (0..n).map(make).collect() };

    let misses = fresh(n);
    let to_patch = fresh(n);
    let to_delete = fresh(n);
    let new_friends = fresh(n);
    let unfriended = fresh(n);
    for f in &unfriended {
        befriend(client, u0, f);
    }
    let joiners = fresh(n);
    let leavers = fresh(n);
    for user in &leavers {
        client.ok(Req::json(
            "POST",
            format!("/groups/{g}/members"),
            json!({ "user_id": user }),
        ));
    }
    let group_patch = groups(n);
    let group_delete = groups(n);
    let notes: Vec<String> = (0..n).map(|_| notify(client, u0)).collect();
    let readers = fresh(n);
    for r in &readers {
        notify(client, r);
        notify(client, r);
    }
    let doomed: Vec<String> = (0..n)
        .map(|i| {
            let name = format!("{}-{i}.txt", unique("doomed"));
            client.ok(multipart(&name, b"bye"));
            name
        })
        .collect();
    let small = vec![42u8; 4096];
    let megabyte = vec![1u8; 1 << 20];

    vec![
        ("GET /users", each(&|_| Req::get("/users?limit=20".into()))),
        (
            "POST /users",
            each(&|_| {
                Req::json(
                    "POST",
                    "/users".into(),
                    json!({ "name": "N", "email": format!("{}@example.org", unique("p")) }),
                )
            }),
        ),
        (
            "GET /users/{id} (hit)",
            each(&|_| Req::get(format!("/users/{u0}"))),
        ),
        (
            "GET /users/{id} (miss)",
            each(&|i| Req::get(format!("/users/{}", misses[i]))),
        ),
        (
            "PATCH /users/{id}",
            each(&|i| {
                Req::json(
                    "PATCH",
                    format!("/users/{}", to_patch[i]),
                    json!({ "name": "Renamed" }),
                )
            }),
        ),
        (
            "DELETE /users/{id}",
            each(&|i| Req::delete(format!("/users/{}", to_delete[i]))),
        ),
        (
            "GET /groups",
            each(&|_| Req::get("/groups?limit=20".into())),
        ),
        (
            "POST /groups",
            each(&|_| Req::json("POST", "/groups".into(), json!({ "name": unique("G") }))),
        ),
        (
            "GET /groups/{id}",
            each(&|_| Req::get(format!("/groups/{g}"))),
        ),
        (
            "PATCH /groups/{id}",
            each(&|i| {
                Req::json(
                    "PATCH",
                    format!("/groups/{}", group_patch[i]),
                    json!({ "description": "x" }),
                )
            }),
        ),
        (
            "DELETE /groups/{id}",
            each(&|i| Req::delete(format!("/groups/{}", group_delete[i]))),
        ),
        (
            "POST /users/{id}/friends",
            each(&|i| {
                Req::json(
                    "POST",
                    format!("/users/{}/friends", new_friends[i]),
                    json!({ "friend_id": w.users[i % 40] }),
                )
            }),
        ),
        (
            "GET /users/{id}/friends",
            each(&|i| Req::get(format!("/users/{}/friends", w.users[i % 40]))),
        ),
        (
            "GET /users/{id}/friends/suggestions",
            each(&|i| Req::get(format!("/users/{}/friends/suggestions", w.users[i % 40]))),
        ),
        (
            "DELETE /users/{id}/friends/{fid}",
            each(&|i| Req::delete(format!("/users/{u0}/friends/{}", unfriended[i]))),
        ),
        (
            "POST /groups/{id}/members",
            each(&|i| {
                Req::json(
                    "POST",
                    format!("/groups/{g}/members"),
                    json!({ "user_id": joiners[i] }),
                )
            }),
        ),
        (
            "GET /groups/{id}/members",
            each(&|_| Req::get(format!("/groups/{g}/members"))),
        ),
        (
            "GET /users/{id}/groups",
            each(&|i| Req::get(format!("/users/{}/groups", w.users[i % 20]))),
        ),
        (
            "DELETE /groups/{id}/members/{uid}",
            each(&|i| Req::delete(format!("/groups/{g}/members/{}", leavers[i]))),
        ),
        (
            "POST /messages",
            each(&|i| {
                Req::json(
                    "POST",
                    "/messages".into(),
                    json!({ "conversation_id": g, "user_id": w.users[i % 40], "content": "load" }),
                )
            }),
        ),
        (
            "GET /messages/{cid}",
            each(&|_| Req::get(format!("/messages/{g}?limit=20"))),
        ),
        (
            "POST /notifications",
            each(&|i| {
                Req::json(
                    "POST",
                    "/notifications".into(),
                    json!({ "user_id": w.users[i % 40], "type": "message", "content": "load" }),
                )
            }),
        ),
        (
            "GET /notifications/{uid}",
            each(&|_| Req::get(format!("/notifications/{u0}?limit=20"))),
        ),
        (
            "GET /notifications/{uid}?unread",
            each(&|_| Req::get(format!("/notifications/{u0}?unread=true&limit=20"))),
        ),
        (
            "POST /notifications/{uid}/{id}/read",
            each(&|i| {
                Req::json(
                    "POST",
                    format!("/notifications/{u0}/{}/read", notes[i]),
                    json!({}),
                )
            }),
        ),
        (
            "POST /notifications/{uid}/read",
            each(&|i| {
                Req::json(
                    "POST",
                    format!("/notifications/{}/read", readers[i]),
                    json!({}),
                )
            }),
        ),
        (
            "POST /storage/upload (4 KiB)",
            each(&|i| multipart(&format!("small-{i}.bin"), &small)),
        ),
        (
            "POST /storage/upload (1 MiB)",
            each(&|i| multipart(&format!("large-{i}.bin"), &megabyte)),
        ),
        (
            "GET /storage/download/{f} (64 KiB)",
            each(&|_| Req::get(format!("/storage/download/{}", w.file))),
        ),
        (
            "GET /storage/files",
            each(&|_| Req::get("/storage/files?limit=20".into())),
        ),
        (
            "DELETE /storage/{f}",
            each(&|i| Req::delete(format!("/storage/{}", doomed[i]))),
        ),
    ]
}

/// Sends `requests` from `threads` threads; each request's latency, and
/// how many did not succeed.
fn run(client: &Client, requests: &[Req], threads: usize) -> (Vec<Duration>, usize, Duration) {
    let started = Instant::now();
    let results: Vec<(Duration, bool)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    requests
                        .iter()
                        .skip(t)
                        .step_by(threads)
                        .map(|req| {
                            let sent = Instant::now();
                            let (status, _) = client.send(req);
                            (sent.elapsed(), (200..300).contains(&status))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let elapsed = started.elapsed();
    let failed = results.iter().filter(|(_, ok)| !ok).count();
    let mut latencies: Vec<Duration> = results.into_iter().map(|(d, _)| d).collect();
    latencies.sort();
    (latencies, failed, elapsed)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1e3
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let base = args.get(1).expect("usage: api_load BASE_URL [N] [THREADS]");
    let n: usize = args
        .get(2)
        .map_or(200, |a| a.parse().expect("N is a number"));
    let threads: usize = args
        .get(3)
        .map_or(4, |a| a.parse().expect("THREADS is a number"));
    let client = Client::new(base);
    eprintln!("preparing fixtures...");
    let world = world(&client);
    let cases = cases(&client, &world, n);
    println!("{n} requests per endpoint from {threads} threads; latency in ms");
    println!(
        "{:<40} {:>8} {:>8} {:>9} {:>7}",
        "endpoint", "median", "p99", "req/s", "failed"
    );
    let mut all_failed = 0;
    for (name, requests) in &cases {
        let (latencies, failed, elapsed) = run(&client, requests, threads);
        all_failed += failed;
        println!(
            "{name:<40} {:>8.2} {:>8.2} {:>9.0} {failed:>7}",
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            requests.len() as f64 / elapsed.as_secs_f64()
        );
    }
    println!(
        "{} endpoints, {} requests timed, {all_failed} failed",
        cases.len(),
        cases.len() * n
    );
    if all_failed > 0 {
        std::process::exit(1);
    }
}
