//! `summer seed` end to end: the seed component fills the embedded and the
//! real databases, and what it wrote is checked through the REST API —
//! counts, symmetric friendships, members that exist, messages newest
//! first, files that download. Also: a seed makes the same data every
//! time, is refused the second time, and an interrupted run leaves
//! consistent data.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::Stdio;

use serde_json::Value;
use support::{Server, TestServer, get, get_bytes};

const SIZES: [&str; 10] = [
    "--users",
    "60",
    "--groups",
    "5",
    "--messages",
    "300",
    "--friends-per-user",
    "4",
    "--files",
    "4",
];

/// Seeds `seed` with [`SIZES`]; the summary's counts by (stage, database).
fn seed(server: &TestServer, seed: u64) -> BTreeMap<(String, String), u64> {
    let seed = seed.to_string();
    let mut args = SIZES.to_vec();
    args.extend(["--seed", &seed]);
    let output = server.run("seed", &args);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "summer seed failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    summary(&stdout)
}

/// The summary table's rows: stage, database, count.
fn summary(stdout: &str) -> BTreeMap<(String, String), u64> {
    let table = stdout.split("stage ").nth(1).expect("a summary table");
    table
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(|line| {
            // The stage name may have a space ("graph nodes"): read from the right.
            let words: Vec<&str> = line.split_whitespace().collect();
            let n = words.len();
            let stage = words[..n - 4].join(" ");
            (
                (stage, words[n - 4].to_owned()),
                words[n - 3].parse().unwrap(),
            )
        })
        .collect()
}

fn all(server: &Server, path: &str) -> Vec<Value> {
    support::all_pages(server, path, 100)
}

fn ids(items: &[Value]) -> BTreeSet<String> {
    items
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

fn seeded_data_is_complete_and_consistent(server: &TestServer) {
    let seed_value = u64::from(uuid::Uuid::new_v4().as_fields().0);
    let counts = seed(server, seed_value);
    let count = |stage: &str, db: &str| counts[&(stage.to_owned(), db.to_owned())];
    assert_eq!(count("users", "sql"), 60);
    assert_eq!(count("groups", "sql"), 5);
    assert_eq!(count("messages", "wide"), 300);
    assert_eq!(count("files", "blob"), 4);

    let listed = all(server, "/users");
    let users = ids(&listed);
    assert_eq!(users.len(), 60);
    // The seed warms the user cache (Redis, on the real databases; the
    // embedded cache lives in the seed process and ends with it).
    let first = get(&server.url(&format!("/users/{}", listed[0]["id"].as_str().unwrap())));
    assert_eq!(
        first.body, listed[0],
        "the cached user differs from the stored one"
    );
    let expected = if server.is_real() { "hit" } else { "miss" };
    assert_eq!(first.header("x-cache"), Some(expected));
    assert_eq!(count("user cache", "cache"), 60);
    let mut friend_entries = 0;
    for user in &users {
        for friend in ids(&all(server, &format!("/users/{user}/friends"))) {
            assert!(users.contains(&friend), "a friend who is not a user");
            let back = ids(&all(server, &format!("/users/{friend}/friends")));
            assert!(back.contains(user), "{user} -> {friend} is not symmetric");
            friend_entries += 1;
        }
    }
    assert_eq!(friend_entries, 2 * count("friendships", "graph"));

    let groups = all(server, "/groups");
    assert_eq!(groups.len(), 5);
    let mut members = 0;
    let mut messages = 0;
    for group in ids(&groups) {
        let listed = ids(&all(server, &format!("/groups/{group}/members")));
        assert!(listed.is_subset(&users), "a member who is not a user");
        members += listed.len() as u64;
        let conversation = all(server, &format!("/messages/{group}"));
        let times: Vec<&str> = conversation
            .iter()
            .map(|m| m["sent_at"].as_str().unwrap())
            .collect();
        assert!(
            times.windows(2).all(|w| w[0] >= w[1]),
            "messages not newest first"
        );
        assert!(
            conversation
                .iter()
                .all(|m| users.contains(m["user_id"].as_str().unwrap()))
        );
        messages += conversation.len() as u64;
    }
    assert_eq!(members, count("memberships", "graph"));
    assert_eq!(messages, 300);

    // The files this seed wrote, as the seed generates them: looked up by
    // name, so files earlier runs left in the bucket do not matter.
    for file in seed::generate::files(seed_value, 4) {
        let (status, content_type, body) =
            get_bytes(&server.url(&format!("/storage/download/{}", file.name)));
        assert_eq!(status, 200, "{}", file.name);
        assert_eq!(content_type.as_deref(), Some(file.content_type));
        assert!(
            body == file.body,
            "{} differs from what the seed wrote",
            file.name
        );
        if file.name.ends_with(".png") {
            assert!(
                body.starts_with(b"\x89PNG\r\n\x1a\n"),
                "{} is not a PNG",
                file.name
            );
        }
    }
}

fn a_seed_is_used_once(server: &TestServer) {
    seed(server, 11);
    let again = server.run("seed", &["--users", "5", "--seed", "11"]);
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("seed 11 was used before"), "{stderr}");
    assert_eq!(all(server, "/users").len(), 60, "a refused run wrote users");
    seed(server, 12);
    assert_eq!(
        all(server, "/users").len(),
        120,
        "another seed adds a batch"
    );
}

on_both_databases!(seeded_data_is_complete_and_consistent, a_seed_is_used_once);

/// What the API shows of a seeded data set, to compare two of them.
fn snapshot(server: &Server) -> Vec<Value> {
    let users = all(server, "/users");
    let first = users[0]["id"].as_str().unwrap().to_owned();
    let mut snapshot = users;
    snapshot.extend(all(server, "/groups"));
    snapshot.extend(all(server, &format!("/users/{first}/friends")));
    snapshot.extend(all(server, &format!("/notifications/{first}")));
    snapshot
}

#[test]
fn the_same_seed_makes_the_same_data() {
    let one = TestServer::start(support::Databases::Embedded);
    let two = TestServer::start(support::Databases::Embedded);
    assert_eq!(seed(&one, 5), seed(&two, 5));
    assert_eq!(snapshot(&one), snapshot(&two));
}

#[test]
fn an_interrupted_seed_stops_between_batches_and_leaves_consistent_data() {
    let server = TestServer::start(support::Databases::Embedded);
    let mut child = server
        .command("seed")
        .args([
            "--users",
            "4000",
            "--friends-per-user",
            "50",
            "--messages",
            "0",
            "--files",
            "0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.map_while(Result::ok) {
        let started_friendships = line.starts_with("friendships: ") && !line.ends_with("0/100000");
        seen.push(line);
        if started_friendships {
            let pid = child.id().to_string();
            assert!(
                std::process::Command::new("kill")
                    .args(["-INT", &pid])
                    .status()
                    .unwrap()
                    .success()
            );
            break;
        }
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "an interrupted run reported success"
    );
    assert!(stderr.contains("interrupted"), "{stderr}\n{seen:?}");

    // Every user was written before the interruption; friendships stopped
    // part way, each stored whole and both ways.
    let users = ids(&all(&server, "/users"));
    assert_eq!(users.len(), 4000);
    let sample: Vec<&String> = users.iter().step_by(100).collect();
    let mut friends_seen = 0;
    for user in sample {
        for friend in ids(&all(&server, &format!("/users/{user}/friends"))) {
            assert!(users.contains(&friend));
            let back = ids(&all(&server, &format!("/users/{friend}/friends")));
            assert!(back.contains(user), "{user} -> {friend} is not symmetric");
            friends_seen += 1;
        }
    }
    assert!(
        friends_seen > 0,
        "no friendship was written before the interruption"
    );
}
