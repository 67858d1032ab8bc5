//! Every capability driven from a component through WIT (the `probe`
//! component), on the embedded defaults and on the real databases of
//! `tooling/services up`.

use crate::support;

use serde_json::{Value, json};
use support::{Reply, Server, add_probe, get, post, post_json, put};

/// The probe mounted twice, under two names, to show namespaces apart.
fn with_two_probes(manifest: &std::path::Path) {
    add_probe(manifest, "probe-a");
    add_probe(manifest, "probe-b");
}

fn unique(name: &str) -> String {
    format!("{name}_{}", uuid::Uuid::new_v4().simple())
}

fn sql(server: &Server, verb: &str, statement: &str, params: Value) -> Reply {
    let mut body = json!({ "statement": statement });
    body["params"] = params;
    post_json(&server.url(&format!("/probe-a/sql/{verb}")), &body)
}

/// A UUID cell reads as `{"uuid": ..}` on PostgreSQL and as text on SQLite.
fn uuid_text(cell: &Value) -> &str {
    cell.get("uuid").unwrap_or(cell).as_str().unwrap()
}

fn sql_round_trips_typed_values(server: &Server) {
    let table = unique("probe");
    let created = sql(
        server,
        "execute",
        &format!(
            "CREATE TABLE {table} (id UUID PRIMARY KEY, n BIGINT, x DOUBLE PRECISION, \
             ok BOOLEAN, at TIMESTAMP, note TEXT, raw BYTEA)"
        ),
        json!([]),
    );
    assert_eq!(created.status, 200, "{}", created.raw);
    let id = uuid::Uuid::now_v7().to_string();
    let insert = format!(
        "INSERT INTO {table} (id, n, x, ok, at, note, raw) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    );
    let params = json!([{"uuid": id}, 7, 1.5, true, {"timestamp": 1_700_000_000_000_001_i64}, null, {"bytes": [0, 1, 255]}]);
    let inserted = sql(server, "execute", &insert, params);
    assert_eq!(inserted.body, json!({ "changed": 1 }), "{}", inserted.raw);

    let rows = sql(
        server,
        "query",
        &format!("SELECT id, n, x, ok, at, note, raw FROM {table} WHERE id = $1"),
        json!([{"uuid": id}]),
    );
    assert_eq!(rows.status, 200, "{}", rows.raw);
    assert_eq!(
        rows.body["columns"],
        json!(["id", "n", "x", "ok", "at", "note", "raw"])
    );
    let row = &rows.body["rows"][0];
    assert_eq!(uuid_text(&row[0]), id);
    assert_eq!(
        row.as_array().unwrap()[1..],
        [
            json!(7),
            json!(1.5),
            json!(true),
            json!({"timestamp": 1_700_000_000_000_001_i64}),
            Value::Null,
            json!({"bytes": [0, 1, 255]})
        ]
    );
}

fn sql_errors_reach_the_component(server: &Server) {
    let table = unique("uniq");
    sql(
        server,
        "execute",
        &format!("CREATE TABLE {table} (k TEXT UNIQUE)"),
        json!([]),
    );
    let insert = format!("INSERT INTO {table} (k) VALUES ($1)");
    assert_eq!(sql(server, "execute", &insert, json!(["a"])).status, 200);
    sql(server, "execute", &insert, json!(["a"])).assert_error(409, "conflict");
    sql(server, "query", "SELEKT 1", json!([])).assert_error(500, "internal");
}

fn cache_round_trips_and_counts(server: &Server) {
    let url = |path: &str| server.url(&format!("/probe-a/cache/{path}"));
    let key = unique("k");
    assert_eq!(get(&url(&key)).status, 404);
    assert_eq!(put(&url(&key), b"hello").status, 204);
    assert_eq!(get(&url(&key)).raw, "hello");
    assert_eq!(
        get(&url(&format!("{key}/exists"))).body,
        json!({ "exists": true })
    );

    let counter = unique("c");
    assert_eq!(
        post(&url(&format!("{counter}/incr?delta=5")), "text/plain", "").body,
        json!({ "value": 5 })
    );
    assert_eq!(
        post(&url(&format!("{counter}/incr?delta=-2")), "text/plain", "").body,
        json!({ "value": 3 })
    );
    post(&url(&format!("{key}/incr")), "text/plain", "").assert_error(500, "internal");

    let many = get(&server.url(&format!(
        "/probe-a/cache?keys={key},{},{counter}",
        unique("none")
    )));
    assert_eq!(many.body, json!({ "values": ["hello", null, "3"] }));

    assert_eq!(support::delete(&url(&key)).body, json!({ "existed": true }));
    assert_eq!(
        support::delete(&url(&key)).body,
        json!({ "existed": false })
    );
}

fn cache_keys_expire(server: &Server) {
    let url = |path: &str| server.url(&format!("/probe-a/cache/{path}"));
    let (short, later) = (unique("short"), unique("later"));
    assert_eq!(put(&url(&format!("{short}?ttl_ms=100")), b"v").status, 204);
    assert_eq!(put(&url(&later), b"v").status, 204);
    assert_eq!(
        post(
            &url(&format!("{later}/expire?ttl_ms=100")),
            "text/plain",
            ""
        )
        .body,
        json!({ "existed": true })
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(get(&url(&short)).status, 404);
    assert_eq!(get(&url(&later)).status, 404);
    let message = put(&url(&format!("{short}?ttl_ms=0")), b"v")
        .assert_error(500, "internal")
        .to_owned();
    assert!(message.contains("at least 1 ms"), "{message}");
}

fn cache_keys_are_confined_to_their_component(server: &Server) {
    let key = unique("mine");
    assert_eq!(
        put(&server.url(&format!("/probe-a/cache/{key}")), b"a").status,
        204
    );
    assert_eq!(
        get(&server.url(&format!("/probe-b/cache/{key}"))).status,
        404
    );
    assert_eq!(
        put(&server.url(&format!("/probe-b/cache/{key}")), b"b").status,
        204
    );
    assert_eq!(get(&server.url(&format!("/probe-a/cache/{key}"))).raw, "a");
}

fn blob_round_trips_with_content_type(server: &Server) {
    let key = unique("photo");
    let url = server.url(&format!("/probe-a/blob/{key}"));
    assert_eq!(get(&url).status, 404);
    let body: Vec<u8> = (0..900_000u32).map(|i| (i % 251) as u8).collect();
    let stored = support::put_typed(&url, "image/png", &body);
    assert_eq!(stored.status, 201, "{}", stored.raw);
    assert_eq!(stored.body["size"], 900_000);
    assert_eq!(stored.body["key"], key.as_str());
    let fetched = support::get_bytes(&url);
    assert_eq!(fetched.0, 200);
    assert_eq!(fetched.1.as_deref(), Some("image/png"));
    assert!(fetched.2 == body, "the body changed on the way");
    let info = get(&format!("{url}/info"));
    assert_eq!(info.body["content_type"], "image/png");
    assert_eq!(support::delete(&url).body, json!({ "existed": true }));
    assert_eq!(get(&url).status, 404);
    assert_eq!(support::delete(&url).body, json!({ "existed": false }));
}

fn blob_lists_a_prefix_in_pages(server: &Server) {
    let folder = unique("folder");
    for name in ["c", "a", "b"] {
        let url = server.url(&format!("/probe-a/blob/{folder}%2F{name}"));
        assert_eq!(
            support::put_typed(&url, "text/plain", name.as_bytes()).status,
            201
        );
    }
    let first = get(&server.url(&format!("/probe-a/blob?prefix={folder}/&limit=2")));
    let keys: Vec<&str> = first.body["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, [format!("{folder}/a"), format!("{folder}/b")]);
    let cursor = first.body["cursor"].as_str().unwrap();
    let rest = get(&server.url(&format!(
        "/probe-a/blob?prefix={folder}/&limit=2&cursor={cursor}"
    )));
    assert_eq!(rest.body["objects"][0]["key"], format!("{folder}/c"));
    assert_eq!(rest.body["cursor"], Value::Null);
}

fn blob_keys_are_confined_to_their_component(server: &Server) {
    let key = unique("private");
    let mine = server.url(&format!("/probe-a/blob/{key}"));
    assert_eq!(
        support::put_typed(&mine, "text/plain", b"secret").status,
        201
    );
    assert_eq!(
        get(&server.url(&format!("/probe-b/blob/{key}"))).status,
        404
    );
    let listing = get(&server.url("/probe-b/blob?prefix=&limit=1000"));
    assert!(!listing.raw.contains(&key), "{}", listing.raw);
    let too_long = "k".repeat(1025);
    support::put_typed(
        &server.url(&format!("/probe-a/blob/{too_long}")),
        "text/plain",
        b"x",
    )
    .assert_error(500, "internal");
}

fn wide(server: &Server, probe: &str, verb: &str, body: Value) -> Reply {
    let path = match verb {
        "put" => format!("/{probe}/wide/events"),
        verb => format!("/{probe}/wide/events/{verb}"),
    };
    post_json(&server.url(&path), &body)
}

fn event(stream: &str, at: i64, body: &str) -> Value {
    json!({ "stream": stream, "at": { "timestamp": at }, "seq": 0, "body": body })
}

fn scan_bodies(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, 200, "{}", reply.raw);
    let rows = reply.body["rows"].as_array().unwrap();
    rows.iter()
        .map(|r| r["body"].as_str().unwrap().to_owned())
        .collect()
}

fn wide_pages_a_partition_newest_first(server: &Server) {
    let stream = unique("stream");
    let rows: Vec<Value> = (1..=5)
        .map(|i| event(&stream, i * 1000, &format!("m{i}")))
        .collect();
    assert_eq!(
        wide(server, "probe-a", "put", json!({ "rows": rows })).status,
        204
    );

    let scan = |cursor: Value| {
        let body =
            json!({ "partition": [stream], "order": "descending", "limit": 2, "cursor": cursor });
        wide(server, "probe-a", "scan", body)
    };
    let first = scan(Value::Null);
    assert_eq!(scan_bodies(&first), ["m5", "m4"]);
    let second = scan(first.body["next"].clone());
    assert_eq!(scan_bodies(&second), ["m3", "m2"]);
    let last = scan(second.body["next"].clone());
    assert_eq!(scan_bodies(&last), ["m1"]);
    assert_eq!(last.body["next"], Value::Null);

    let key = json!({ "key": [stream, { "timestamp": 3000 }, 0] });
    let row = wide(server, "probe-a", "get", key.clone());
    assert_eq!(row.status, 200, "{}", row.raw);
    assert_eq!(row.body, event(&stream, 3000, "m3"));
    assert_eq!(wide(server, "probe-a", "delete", key.clone()).status, 204);
    wide(server, "probe-a", "get", key).assert_error(404, "not_found");
}

fn wide_rejects_rows_that_break_the_declaration(server: &Server) {
    let stream = unique("stream");
    let missing_key = json!({ "rows": [{ "stream": stream, "body": "no time" }] });
    let message = wide(server, "probe-a", "put", missing_key)
        .assert_error(500, "internal")
        .to_owned();
    assert!(message.contains("needs a value"), "{message}");
    let wrong_type = json!({ "rows": [{ "stream": stream, "at": "noon", "seq": 0 }] });
    let message = wide(server, "probe-a", "put", wrong_type)
        .assert_error(500, "internal")
        .to_owned();
    assert!(message.contains("timestamp"), "{message}");
    let undeclared = post_json(
        &server.url("/probe-a/wide/nope/get"),
        &json!({ "key": [1] }),
    );
    assert!(
        undeclared
            .assert_error(500, "internal")
            .contains("no wide table")
    );
}

fn wide_tables_are_confined_to_their_component(server: &Server) {
    let stream = unique("stream");
    let rows = json!({ "rows": [event(&stream, 1, "private")] });
    assert_eq!(wide(server, "probe-a", "put", rows).status, 204);
    let body = json!({ "partition": [stream], "order": "ascending", "limit": 10 });
    assert_eq!(
        scan_bodies(&wide(server, "probe-a", "scan", body.clone())),
        ["private"]
    );
    assert!(scan_bodies(&wide(server, "probe-b", "scan", body)).is_empty());
}

/// Graph paths of the probe mounted as `probe`, for keys unique to one test.
struct People<'a> {
    server: &'a Server,
    probe: &'a str,
    run: String,
}

impl People<'_> {
    fn url(&self, path: &str) -> String {
        self.server.url(&format!("/{}/graph/{path}", self.probe))
    }

    fn key(&self, name: &str) -> String {
        format!("{}-{name}", self.run)
    }

    fn add(&self, name: &str) -> Reply {
        let body = json!({ "name": name }).to_string();
        let url = self.url(&format!("User/{}", self.key(name)));
        support::put_typed(&url, "application/json", body.as_bytes())
    }

    fn link(&self, a: &str, b: &str) -> Reply {
        put(
            &self.url(&format!("User/{}/FRIEND/User/{}", self.key(a), self.key(b))),
            b"",
        )
    }

    fn names(&self, keys: &[Value]) -> Vec<String> {
        let prefix = format!("{}-", self.run);
        keys.iter()
            .map(|k| k.as_str().unwrap().trim_start_matches(&prefix).to_owned())
            .collect()
    }
}

fn people<'a>(server: &'a Server, probe: &'a str) -> People<'a> {
    People {
        server,
        probe,
        run: unique("u"),
    }
}

fn graph_suggests_friends_of_friends(server: &Server) {
    let p = people(server, "probe-a");
    for name in ["ann", "bob", "cat", "dan", "eve"] {
        assert_eq!(p.add(name).status, 204);
    }
    for (a, b) in [
        ("ann", "bob"),
        ("ann", "cat"),
        ("bob", "dan"),
        ("cat", "dan"),
        ("dan", "eve"),
    ] {
        assert_eq!(p.link(a, b).status, 204);
    }
    let ann = p.key("ann");
    let friends = get(&p.url(&format!("User/{ann}/FRIEND")));
    assert_eq!(friends.status, 200, "{}", friends.raw);
    let nodes = friends.body["nodes"].as_array().unwrap();
    let keys: Vec<Value> = nodes.iter().map(|n| n["key"].clone()).collect();
    assert_eq!(p.names(&keys), ["bob", "cat"]);
    assert_eq!(nodes[0]["properties"], json!({ "name": "bob" }));

    let suggested = get(&p.url(&format!("User/{ann}/FRIEND/suggestions?hops=3")));
    let rows = suggested.body["suggestions"].as_array().unwrap();
    let keys: Vec<Value> = rows.iter().map(|s| s["key"].clone()).collect();
    assert_eq!(p.names(&keys), ["dan", "eve"]);
    assert_eq!(rows[0]["mutual"], 2);

    let to_eve = p.url(&format!("User/{ann}/FRIEND/path/User/{}", p.key("eve")));
    let path = get(&to_eve);
    assert_eq!(
        path.body["path"].as_array().unwrap().len(),
        4,
        "{}",
        path.raw
    );
    let dan_eve = format!("User/{}/FRIEND/User/{}", p.key("dan"), p.key("eve"));
    assert_eq!(
        support::delete(&p.url(&dan_eve)).body,
        json!({ "deleted": true })
    );
    assert_eq!(get(&to_eve).body["path"], Value::Null);
}

fn graph_errors_reach_the_component(server: &Server) {
    let p = people(server, "probe-a");
    assert_eq!(p.add("solo").status, 204);
    p.link("solo", "ghost").assert_error(404, "not_found");
    let bad_label = get(&p.url("Bad__Label/x"))
        .assert_error(500, "internal")
        .to_owned();
    assert!(bad_label.contains("label"), "{bad_label}");
    let too_many = get(&p.url(&format!("User/{}/FRIEND?limit=5000", p.key("solo"))));
    assert!(too_many.assert_error(500, "internal").contains("limit"));
}

fn graph_nodes_are_confined_to_their_component(server: &Server) {
    let mine = people(server, "probe-a");
    assert_eq!(mine.add("private").status, 204);
    let path = format!("User/{}", mine.key("private"));
    assert_eq!(get(&mine.url(&path)).status, 200);
    let theirs = People {
        server,
        probe: "probe-b",
        run: mine.run,
    };
    assert_eq!(get(&theirs.url(&path)).status, 404);
}

on_both_databases!(
    with with_two_probes;
    sql_round_trips_typed_values,
    sql_errors_reach_the_component,
    cache_round_trips_and_counts,
    cache_keys_expire,
    cache_keys_are_confined_to_their_component,
    blob_round_trips_with_content_type,
    blob_lists_a_prefix_in_pages,
    blob_keys_are_confined_to_their_component,
    wide_pages_a_partition_newest_first,
    wide_rejects_rows_that_break_the_declaration,
    wide_tables_are_confined_to_their_component,
    graph_suggests_friends_of_friends,
    graph_errors_reach_the_component,
    graph_nodes_are_confined_to_their_component,
);
