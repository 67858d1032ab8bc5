//! The Summer-Trip API contract: every endpoint's success path and its
//! documented errors, pagination, unicode and concurrency, driven over HTTP
//! against the real `summer` binary and the real components, once on the
//! embedded defaults and once on the real databases.

use crate::support;

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Value, json};
use support::{
    Reply, Server, all_pages, delete, get, get_bytes, patch_json, post, post_json, send, upload,
};

/// Gives the storage component a namespace of its own, so that its listing
/// starts empty even on a blob store other tests (and runs) share.
fn own_storage_namespace(manifest: &Path) {
    let mut table: toml::Table = std::fs::read_to_string(manifest).unwrap().parse().unwrap();
    let namespace = format!("storage-t{}", uuid::Uuid::new_v4().simple());
    for component in table["component"].as_array_mut().unwrap() {
        let component = component.as_table_mut().unwrap();
        if component["name"].as_str() == Some("storage") {
            component.insert("namespace".into(), namespace.clone().into());
        }
    }
    std::fs::write(manifest, toml::to_string(&table).unwrap()).unwrap();
}

fn created(reply: Reply) -> Value {
    assert_eq!(reply.status, 201, "{}", reply.raw);
    reply.body
}

fn ok(reply: Reply) -> Value {
    assert_eq!(reply.status, 200, "{}", reply.raw);
    reply.body
}

fn id_of(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

fn new_user(server: &Server, name: &str) -> String {
    let email = format!("{}@example.org", uuid::Uuid::new_v4().simple());
    id_of(&created(post_json(
        &server.url("/users"),
        &json!({ "name": name, "email": email }),
    )))
}

fn new_group(server: &Server, name: &str) -> String {
    id_of(&created(post_json(
        &server.url("/groups"),
        &json!({ "name": name, "description": "a trip" }),
    )))
}

fn unknown_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(id_of).collect()
}

fn user_ids_of(items: &[Value]) -> BTreeSet<String> {
    items.iter().map(id_of).collect()
}

// ---------------------------------------------------------------- users

fn users_patch_delete_and_cache(server: &Server) {
    let id = new_user(server, "Ada");
    let url = server.url(&format!("/users/{id}"));
    assert_eq!(get(&url).header("x-cache"), Some("miss"));
    let hit = get(&url);
    assert_eq!(hit.header("x-cache"), Some("hit"));
    assert_eq!(hit.body["name"], "Ada");

    let patched = ok(patch_json(&url, &json!({ "name": "Ada Lovelace 🚀" })));
    assert_eq!(patched["name"], "Ada Lovelace 🚀");
    let after = get(&url);
    assert_eq!(
        after.header("x-cache"),
        Some("miss"),
        "update did not invalidate"
    );
    assert_eq!(after.body, patched);
    let patched = ok(patch_json(&url, &json!({ "email": "ADA@Example.org" })));
    assert_eq!(patched["email"], "ada@example.org");
    assert_eq!(patched["name"], "Ada Lovelace 🚀");

    let other = new_user(server, "Other");
    let taken = patch_json(
        &server.url(&format!("/users/{other}")),
        &json!({ "email": "ada@example.org" }),
    );
    taken.assert_error(409, "conflict");

    assert_eq!(delete(&url).status, 204);
    get(&url).assert_error(404, "not_found");
    delete(&url).assert_error(404, "not_found");
    patch_json(&url, &json!({ "name": "x" })).assert_error(404, "not_found");
}

fn users_bad_input(server: &Server) {
    let id = new_user(server, "Bea");
    let url = server.url(&format!("/users/{id}"));
    for body in [
        json!({}),
        json!({ "name": 7 }),
        json!({ "name": "" }),
        json!({ "name": "x".repeat(101) }),
        json!({ "email": "not-an-email" }),
        json!({ "nickname": "b" }),
        json!({ "name": null }),
        json!({ "email": null, "name": "x" }),
        json!({ "name": "x", "email": null }),
    ] {
        let message = patch_json(&url, &body)
            .assert_error(400, "invalid")
            .to_owned();
        if body.as_object().unwrap().values().any(Value::is_null) {
            assert!(message.contains("null"), "{body}: {message}");
        }
    }
    send("PATCH", &url, Some("application/json"), b"{\"name\":").assert_error(400, "invalid");
    send("PATCH", &url, Some("text/plain"), b"{}").assert_error(415, "unsupported_media_type");
    patch_json(&server.url("/users/not-a-uuid"), &json!({ "name": "x" }))
        .assert_error(400, "invalid");
    delete(&server.url("/users/42")).assert_error(400, "invalid");
    assert_eq!(
        ok(get(&url))["name"],
        "Bea",
        "a refused update changed the user"
    );
}

// --------------------------------------------------------------- groups

fn groups_crud_and_pages(server: &Server) {
    let group = created(post_json(
        &server.url("/groups"),
        &json!({ "name": "Lisboa 2027 ☀️", "description": "Tram 28\nand pastéis" }),
    ));
    let id = id_of(&group);
    let url = server.url(&format!("/groups/{id}"));
    assert_eq!(ok(get(&url)), group);
    let patched = ok(patch_json(&url, &json!({ "description": "" })));
    assert_eq!(patched["description"], "");
    assert_eq!(patched["name"], "Lisboa 2027 ☀️");

    let mut expected = vec![id];
    for i in 0..6 {
        expected.push(new_group(server, &format!("group {i}")));
    }
    assert_eq!(ids(&all_pages(server, "/groups", 3)), expected);

    post_json(&server.url("/groups"), &json!({ "name": "group 1" })).assert_error(409, "conflict");
    patch_json(&url, &json!({ "name": "group 2" })).assert_error(409, "conflict");
    assert_eq!(delete(&url).status, 204);
    get(&url).assert_error(404, "not_found");
    delete(&url).assert_error(404, "not_found");
}

fn groups_bad_input(server: &Server) {
    let groups = server.url("/groups");
    for body in [
        json!({}),
        json!({ "description": "no name" }),
        json!({ "name": ["a"] }),
        json!({ "name": "  " }),
        json!({ "name": "x".repeat(101) }),
        json!({ "name": "ok", "description": "x".repeat(1001) }),
        json!({ "name": "ok", "owner": "me" }),
    ] {
        post_json(&groups, &body).assert_error(400, "invalid");
    }
    post(&groups, "application/json", "{").assert_error(400, "invalid");
    post(&groups, "text/plain", "{}").assert_error(415, "unsupported_media_type");
    get(&server.url("/groups/nope")).assert_error(400, "invalid");
    get(&server.url(&format!("/groups/{}", unknown_id()))).assert_error(404, "not_found");
    patch_json(
        &server.url(&format!("/groups/{}", unknown_id())),
        &json!({ "name": "x" }),
    )
    .assert_error(404, "not_found");
    get(&server.url("/groups?limit=0")).assert_error(400, "invalid");
    get(&server.url("/groups?cursor=%21%21")).assert_error(400, "invalid");
    assert_eq!(
        ok(get(&groups))["items"],
        json!([]),
        "a refused write stored a group"
    );
    let group = new_group(server, "Nulls");
    let url = server.url(&format!("/groups/{group}"));
    for body in [
        json!({ "name": null }),
        json!({ "description": null }),
        json!({ "name": "Renamed", "description": null }),
    ] {
        let message = patch_json(&url, &body)
            .assert_error(400, "invalid")
            .to_owned();
        assert!(message.contains("null"), "{body}: {message}");
    }
    assert_eq!(
        ok(get(&url))["name"],
        "Nulls",
        "a refused update changed the group"
    );
}

/// `?cursor=` (empty) is the first page on every list.
fn an_empty_cursor_is_the_first_page(server: &Server) {
    let user = new_user(server, "Cursor");
    let group = new_group(server, "Cursor");
    for path in [
        "/users".to_owned(),
        "/groups".to_owned(),
        format!("/users/{user}/friends"),
        format!("/users/{user}/friends/suggestions"),
        format!("/users/{user}/groups"),
        format!("/groups/{group}/members"),
        format!("/messages/{group}"),
        format!("/notifications/{user}"),
        "/storage/files".to_owned(),
    ] {
        let first = ok(get(&server.url(&format!("{path}?limit=5"))));
        let empty = ok(get(&server.url(&format!("{path}?limit=5&cursor="))));
        assert_eq!(empty, first, "{path}?cursor= is not the first page");
    }
}

// -------------------------------------------------------------- friends

fn friends_url(server: &Server, user: &str) -> String {
    server.url(&format!("/users/{user}/friends"))
}

fn befriend(server: &Server, user: &str, friend: &str) -> Reply {
    post_json(&friends_url(server, user), &json!({ "friend_id": friend }))
}

fn friends_of(server: &Server, user: &str) -> BTreeSet<String> {
    user_ids_of(&all_pages(server, &format!("/users/{user}/friends"), 100))
}

fn friendships_are_symmetric_and_idempotent(server: &Server) {
    let ada = new_user(server, "Ada");
    let bob = new_user(server, "Bob");
    let added = ok(befriend(server, &ada, &bob));
    assert_eq!(added, json!({ "user_id": ada, "friend_id": bob }));
    ok(befriend(server, &ada, &bob));
    ok(befriend(server, &bob, &ada));
    let listed = ok(get(&friends_url(server, &ada)));
    assert_eq!(listed["items"], json!([{ "id": bob, "name": "Bob" }]));
    assert_eq!(friends_of(server, &bob), BTreeSet::from([ada.clone()]));

    let removed = delete(&server.url(&format!("/users/{bob}/friends/{ada}")));
    assert_eq!(removed.status, 204, "{}", removed.raw);
    assert!(friends_of(server, &ada).is_empty());
    delete(&server.url(&format!("/users/{ada}/friends/{bob}"))).assert_error(404, "not_found");
}

fn friends_page_across_several_pages(server: &Server) {
    let hub = new_user(server, "Hub");
    let mut expected = BTreeSet::new();
    for i in 0..7 {
        let friend = new_user(server, &format!("Friend {i}"));
        ok(befriend(server, &hub, &friend));
        expected.insert(friend);
    }
    let pages = all_pages(server, &format!("/users/{hub}/friends"), 3);
    assert_eq!(pages.len(), 7, "a friend listed twice or missed");
    assert_eq!(user_ids_of(&pages), expected);
}

fn friends_bad_input(server: &Server) {
    let ada = new_user(server, "Ada");
    befriend(server, &ada, &unknown_id()).assert_error(404, "not_found");
    befriend(server, &unknown_id(), &ada).assert_error(404, "not_found");
    befriend(server, &ada, &ada).assert_error(400, "invalid");
    befriend(server, &ada, "not-a-uuid").assert_error(400, "invalid");
    post_json(&friends_url(server, &ada), &json!({ "friend": ada })).assert_error(400, "invalid");
    post_json(&friends_url(server, &ada), &json!({ "friend_id": 12 })).assert_error(400, "invalid");
    post(&friends_url(server, &ada), "text/plain", "x").assert_error(415, "unsupported_media_type");
    get(&friends_url(server, &unknown_id())).assert_error(404, "not_found");
    get(&friends_url(server, "x")).assert_error(400, "invalid");
    get(&server.url(&format!("/users/{}/friends/suggestions", unknown_id())))
        .assert_error(404, "not_found");
    assert!(friends_of(server, &ada).is_empty());
}

fn suggestions_rank_friends_of_friends_by_mutual_friends(server: &Server) {
    let [ada, bob, cy, dee, eve, fay] =
        ["Ada", "Bob", "Cy", "Dee", "Eve", "Fay"].map(|n| new_user(server, n));
    for (a, b) in [
        (&ada, &bob),
        (&ada, &cy),
        (&bob, &dee),
        (&cy, &dee),
        (&bob, &eve),
    ] {
        ok(befriend(server, a, b));
    }
    let _ = fay; // a stranger: never suggested
    let url = server.url(&format!("/users/{ada}/friends/suggestions"));
    let page = ok(get(&url));
    assert_eq!(
        page["items"],
        json!([
            { "user": { "id": dee, "name": "Dee" }, "mutual_friends": 2 },
            { "user": { "id": eve, "name": "Eve" }, "mutual_friends": 1 },
        ])
    );
    let paged = all_pages(server, &format!("/users/{ada}/friends/suggestions"), 1);
    assert_eq!(paged.len(), 2);
    assert_eq!(paged[0]["user"]["id"], json!(dee));
    assert_eq!(paged[1]["user"]["id"], json!(eve));
}

// ----------------------------------------------------------- membership

fn members_url(server: &Server, group: &str) -> String {
    server.url(&format!("/groups/{group}/members"))
}

fn join(server: &Server, group: &str, user: &str) -> Reply {
    post_json(&members_url(server, group), &json!({ "user_id": user }))
}

fn membership_both_ways_with_pages(server: &Server) {
    let group = new_group(server, "Porto");
    let other = new_group(server, "Faro");
    let mut members = BTreeSet::new();
    for i in 0..5 {
        let user = new_user(server, &format!("Member {i}"));
        assert_eq!(
            ok(join(server, &group, &user)),
            json!({ "group_id": group, "user_id": user })
        );
        ok(join(server, &group, &user));
        members.insert(user);
    }
    let listed = all_pages(server, &format!("/groups/{group}/members"), 2);
    assert_eq!(listed.len(), 5);
    assert_eq!(user_ids_of(&listed), members);

    let first = members.iter().next().unwrap().clone();
    ok(join(server, &other, &first));
    let groups = all_pages(server, &format!("/users/{first}/groups"), 1);
    let names: BTreeSet<&str> = groups.iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(names, BTreeSet::from(["Porto", "Faro"]));

    let leave = delete(&server.url(&format!("/groups/{group}/members/{first}")));
    assert_eq!(leave.status, 204, "{}", leave.raw);
    delete(&server.url(&format!("/groups/{group}/members/{first}"))).assert_error(404, "not_found");
    assert_eq!(
        all_pages(server, &format!("/groups/{group}/members"), 10).len(),
        4
    );
}

fn membership_bad_input(server: &Server) {
    let group = new_group(server, "Braga");
    let user = new_user(server, "Uma");
    join(server, &group, &unknown_id()).assert_error(404, "not_found");
    join(server, &unknown_id(), &user).assert_error(404, "not_found");
    join(server, &group, "nope").assert_error(400, "invalid");
    post_json(&members_url(server, &group), &json!({})).assert_error(400, "invalid");
    post(&members_url(server, &group), "text/plain", "{}")
        .assert_error(415, "unsupported_media_type");
    get(&members_url(server, &unknown_id())).assert_error(404, "not_found");
    get(&server.url(&format!("/users/{}/groups", unknown_id()))).assert_error(404, "not_found");
    assert!(all_pages(server, &format!("/groups/{group}/members"), 10).is_empty());
}

// ---------------------------------------------------------- consistency

fn deleting_a_user_or_group_removes_its_links(server: &Server) {
    let [ada, bob, cy] = ["Ada", "Bob", "Cy"].map(|n| new_user(server, n));
    let group = new_group(server, "Coimbra");
    ok(befriend(server, &ada, &bob));
    ok(befriend(server, &cy, &ada));
    ok(befriend(server, &bob, &cy));
    ok(join(server, &group, &ada));
    ok(join(server, &group, &bob));

    assert_eq!(delete(&server.url(&format!("/users/{ada}"))).status, 204);
    assert_eq!(friends_of(server, &bob), BTreeSet::from([cy.clone()]));
    assert_eq!(friends_of(server, &cy), BTreeSet::from([bob.clone()]));
    let members = all_pages(server, &format!("/groups/{group}/members"), 10);
    assert_eq!(user_ids_of(&members), BTreeSet::from([bob.clone()]));
    // Bob and Cy are friends already: Ada is no longer a suggestion to anyone.
    let suggestions = ok(get(
        &server.url(&format!("/users/{bob}/friends/suggestions"))
    ));
    assert_eq!(suggestions["items"], json!([]));
    befriend(server, &bob, &ada).assert_error(404, "not_found");
    join(server, &group, &ada).assert_error(404, "not_found");

    assert_eq!(delete(&server.url(&format!("/groups/{group}"))).status, 204);
    assert!(all_pages(server, &format!("/users/{bob}/groups"), 10).is_empty());
    join(server, &group, &bob).assert_error(404, "not_found");
}

// ------------------------------------------------------------- messages

fn send_message(server: &Server, conversation: &str, user: &str, content: &str) -> Reply {
    post_json(
        &server.url("/messages"),
        &json!({ "conversation_id": conversation, "user_id": user, "content": content }),
    )
}

fn messages_newest_first_with_a_stable_cursor(server: &Server) {
    let ada = new_user(server, "Ada");
    let conversation = unknown_id();
    let mut sent = Vec::new();
    for i in 0..7 {
        let message = created(send_message(
            server,
            &conversation,
            &ada,
            &format!("message {i}"),
        ));
        assert_eq!(message["conversation_id"], json!(conversation));
        assert_eq!(message["user_id"], json!(ada));
        sent.push(id_of(&message));
    }
    let unicode = "Olá 👋 — 你好\nnew line";
    let last = created(send_message(server, &conversation, &ada, unicode));
    assert_eq!(last["content"], unicode);
    sent.push(id_of(&last));
    sent.reverse();

    let listed = all_pages(server, &format!("/messages/{conversation}"), 3);
    assert_eq!(ids(&listed), sent, "not newest first, or not every message");
    assert_eq!(listed[0]["content"], unicode);

    // A cursor marks the last message seen: newer messages do not shift it.
    let first = ok(get(
        &server.url(&format!("/messages/{conversation}?limit=3"))
    ));
    let cursor = first["next_cursor"].as_str().unwrap();
    created(send_message(
        server,
        &conversation,
        &ada,
        "arrives meanwhile",
    ));
    let second = ok(get(
        &server.url(&format!("/messages/{conversation}?limit=3&cursor={cursor}"))
    ));
    assert_eq!(ids(second["items"].as_array().unwrap()), sent[3..6]);

    let empty = ok(get(&server.url(&format!("/messages/{}", unknown_id()))));
    assert_eq!(empty, json!({ "items": [], "next_cursor": null }));
}

fn messages_bad_input(server: &Server) {
    let ada = new_user(server, "Ada");
    let conversation = unknown_id();
    send_message(server, &conversation, &unknown_id(), "hi").assert_error(404, "not_found");
    send_message(server, "c-1", &ada, "hi").assert_error(400, "invalid");
    send_message(server, &conversation, "u-1", "hi").assert_error(400, "invalid");
    send_message(server, &conversation, &ada, " ").assert_error(400, "invalid");
    send_message(server, &conversation, &ada, &"é".repeat(4001)).assert_error(400, "invalid");
    let messages = server.url("/messages");
    post_json(
        &messages,
        &json!({ "conversation_id": conversation, "user_id": ada }),
    )
    .assert_error(400, "invalid");
    post_json(
        &messages,
        &json!({ "conversation_id": conversation, "user_id": ada, "content": 5 }),
    )
    .assert_error(400, "invalid");
    post(&messages, "application/json", "[1,").assert_error(400, "invalid");
    post(&messages, "application/xml", "<m/>").assert_error(415, "unsupported_media_type");
    let list = format!("/messages/{conversation}");
    get(&server.url(&format!("{list}?cursor=AAAA"))).assert_error(400, "invalid");
    get(&server.url(&format!("{list}?limit=101"))).assert_error(400, "invalid");
    get(&server.url("/messages/not-a-uuid")).assert_error(400, "invalid");
    assert_eq!(
        ok(get(&server.url(&list)))["items"],
        json!([]),
        "a refused message was stored"
    );
}

// -------------------------------------------------------- notifications

fn notify(server: &Server, user: &str, kind: &str, content: &str) -> Reply {
    post_json(
        &server.url("/notifications"),
        &json!({ "user_id": user, "type": kind, "content": content }),
    )
}

fn notifications_unread_filter_and_marking_read(server: &Server) {
    let ada = new_user(server, "Ada");
    let mut ids_sent = Vec::new();
    for i in 0..5 {
        let n = created(notify(
            server,
            &ada,
            "friend_request",
            &format!("from {i} 🎉"),
        ));
        assert_eq!(n["read"], false);
        assert_eq!(n["type"], "friend_request");
        ids_sent.push(id_of(&n));
    }
    ids_sent.reverse();
    let all = all_pages(server, &format!("/notifications/{ada}"), 2);
    assert_eq!(ids(&all), ids_sent);
    assert_eq!(all[4]["content"], "from 0 🎉");

    let marked = ok(post(
        &server.url(&format!("/notifications/{ada}/{}/read", ids_sent[1])),
        "application/json",
        "",
    ));
    assert_eq!(marked["read"], true);
    let unread = all_pages(server, &format!("/notifications/{ada}?unread=true"), 2);
    let expected: Vec<String> = ids_sent
        .iter()
        .filter(|id| **id != ids_sent[1])
        .cloned()
        .collect();
    assert_eq!(ids(&unread), expected);

    let all_read = ok(post(
        &server.url(&format!("/notifications/{ada}/read")),
        "application/json",
        "",
    ));
    assert_eq!(all_read["marked"], 4, "{all_read}");
    assert!(
        ids_sent
            .iter()
            .all(|id| id.as_str() < all_read["through"].as_str().unwrap())
    );
    assert!(all_pages(server, &format!("/notifications/{ada}?unread=true"), 10).is_empty());
    let all = all_pages(server, &format!("/notifications/{ada}?unread=false"), 10);
    assert_eq!(ids(&all), ids_sent);
    assert!(all.iter().all(|n| n["read"] == true));
}

/// `count` unread notifications for `user`, made by 16 clients at once.
fn many_notifications(server: &Server, user: &str, count: usize) -> BTreeSet<String> {
    in_parallel_by(count, 16, |i| {
        notify(server, user, "bulk", &format!("n{i}"))
    })
    .into_iter()
    .map(|reply| id_of(&created(reply)))
    .collect()
}

fn unread_of(server: &Server, user: &str) -> BTreeSet<String> {
    user_ids_of(&all_pages(
        server,
        &format!("/notifications/{user}?unread=true"),
        100,
    ))
}

fn mark_all(server: &Server, user: &str) -> u64 {
    let reply = post(
        &server.url(&format!("/notifications/{user}/read")),
        "application/json",
        "",
    );
    ok(reply)["marked"].as_u64().expect("a count")
}

fn overlapping_mark_all_calls_count_each_notification_once(server: &Server) {
    let ada = new_user(server, "Ada");
    many_notifications(server, &ada, 100);
    let counts: Vec<u64> = in_parallel_by(4, 4, |_| {
        post(
            &server.url(&format!("/notifications/{ada}/read")),
            "application/json",
            "",
        )
    })
    .into_iter()
    .map(|reply| ok(reply)["marked"].as_u64().unwrap())
    .collect();
    assert_eq!(
        counts.iter().sum::<u64>(),
        100,
        "marked by each call: {counts:?}"
    );
    assert!(unread_of(server, &ada).is_empty());
    let all = all_pages(server, &format!("/notifications/{ada}"), 100);
    assert_eq!(all.len(), 100);
    assert!(
        all.iter().all(|n| n["read"] == true),
        "a marked notification reads unread"
    );
    assert_eq!(mark_all(server, &ada), 0, "nothing is left to mark");
}

/// Clears its flag when dropped, even while a panic unwinds.
struct StopOnDrop<'a>(&'a std::sync::atomic::AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

/// While one call marks thousands read, other clients keep notifying:
/// what existed when the call started (ids up to the `through` it answers)
/// is read and counted exactly, what came after stays unread. Tried until
/// some notification arrives while the call runs, at most five times.
fn mark_all_marks_only_what_existed_when_it_started(server: &Server) {
    for attempt in 1..=5 {
        if mark_all_while_notifying(server) {
            return;
        }
        eprintln!("attempt {attempt}: no notification arrived while marking ran");
    }
    panic!("in five attempts no notification arrived while marking ran: the race was not tested");
}

/// One attempt; whether a notification was created while marking ran.
fn mark_all_while_notifying(server: &Server) -> bool {
    use std::sync::atomic::{AtomicBool, Ordering};

    let ada = new_user(server, "Ada");
    let existing = many_notifications(server, &ada, 3000);
    let marking = AtomicBool::new(true);
    // (id, answered while the call still ran) of each later notification.
    let (answer, later) = std::thread::scope(|scope| {
        let notifiers: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let mut later = Vec::new();
                    while marking.load(Ordering::SeqCst) {
                        let reply = notify(server, &ada, "later", "while marking");
                        later.push((id_of(&created(reply)), marking.load(Ordering::SeqCst)));
                    }
                    later
                })
            })
            .collect();
        // Stops the notifiers however the call ends, a failed assertion included.
        let stop = StopOnDrop(&marking);
        let reply = post(
            &server.url(&format!("/notifications/{ada}/read")),
            "application/json",
            "",
        );
        drop(stop);
        let later: Vec<(String, bool)> = notifiers
            .into_iter()
            .flat_map(|n| n.join().unwrap())
            .collect();
        (ok(reply), later)
    });
    let through = answer["through"].as_str().expect("the id bound").to_owned();
    let unread = unread_of(server, &ada);
    assert!(
        unread.is_disjoint(&existing),
        "a notification that existed stayed unread"
    );
    let mut read_later = 0;
    for (id, _) in &later {
        // UUIDv7 ids in canonical text order as they do in time. One made
        // just before the start may land after the scan passed: it stays
        // unread, uncounted, which is no error.
        let read = !unread.contains(id);
        assert!(
            !read || id.as_str() <= through.as_str(),
            "{id}, created after the call started (through {through}), was marked read"
        );
        read_later += usize::from(read);
    }
    assert_eq!(
        answer["marked"].as_u64(),
        Some((existing.len() + read_later) as u64),
        "marked counts exactly what it marked"
    );
    later
        .iter()
        .any(|(id, during)| *during && id.as_str() > through.as_str())
}

fn notifications_bad_input(server: &Server) {
    let ada = new_user(server, "Ada");
    notify(server, &unknown_id(), "message", "hi").assert_error(404, "not_found");
    notify(server, "x", "message", "hi").assert_error(400, "invalid");
    notify(server, &ada, "Not A Type", "hi").assert_error(400, "invalid");
    notify(server, &ada, "message", "").assert_error(400, "invalid");
    notify(server, &ada, "message", &"x".repeat(1001)).assert_error(400, "invalid");
    post_json(
        &server.url("/notifications"),
        &json!({ "user_id": ada, "type": "message" }),
    )
    .assert_error(400, "invalid");
    post(&server.url("/notifications"), "text/plain", "hi")
        .assert_error(415, "unsupported_media_type");
    let list = format!("/notifications/{ada}");
    get(&server.url(&format!("{list}?unread=maybe"))).assert_error(400, "invalid");
    get(&server.url(&format!("/notifications/{}", unknown_id()))).assert_error(404, "not_found");
    let read_one = |id: &str| {
        post(
            &server.url(&format!("{list}/{id}/read")),
            "application/json",
            "",
        )
    };
    read_one(&unknown_id()).assert_error(404, "not_found");
    read_one("nope").assert_error(400, "invalid");
    post(
        &server.url(&format!("/notifications/{}/read", unknown_id())),
        "application/json",
        "",
    )
    .assert_error(404, "not_found");
    assert_eq!(
        ok(get(&server.url(&list)))["items"],
        json!([]),
        "a refused notification was stored"
    );
}

// -------------------------------------------------------------- storage

/// Uploads `content` in a part whose `Content-Disposition` is `disposition`.
fn upload_with_disposition(server: &Server, disposition: &str, content: &[u8]) -> Reply {
    let boundary = "summer-disposition-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: {disposition}\r\n\
         Content-Type: text/plain\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let content_type = format!("multipart/form-data; boundary=\"{boundary}\"");
    send(
        "POST",
        &server.url("/storage/upload"),
        Some(&content_type),
        &body,
    )
}

fn upload_filenames_are_read_as_rfc_7578_and_6266_say(server: &Server) {
    for (disposition, stored) in [
        (r#"form-data; name="file"; filename="a;b.txt""#, "a;b.txt"),
        (
            r#"form-data; name="file"; filename="say \"hi\".txt""#,
            r#"say "hi".txt"#,
        ),
        (
            r#"form-data; name="file"; filename="plain.txt"; filename*=UTF-8''caf%C3%A9%3B%20menu.txt"#,
            "café; menu.txt",
        ),
        ("form-data; filename=token.txt; name=file", "token.txt"),
    ] {
        let file = created(upload_with_disposition(server, disposition, b"content"));
        assert_eq!(file["filename"], stored, "{disposition}");
        let listed = all_pages(server, "/storage/files", 100);
        assert!(
            listed.iter().any(|f| f["filename"] == stored),
            "{stored} is not listed"
        );
    }
    let (status, _, body) = get_bytes(&server.url("/storage/download/a%3Bb.txt"));
    assert_eq!((status, body.as_slice()), (200, &b"content"[..]));
    for malformed in [
        r#"form-data; name="file"; filename="unterminated.txt"#,
        "form-data; name=file; filename*=UTF-8''bad%ZZ.txt",
    ] {
        upload_with_disposition(server, malformed, b"x").assert_error(400, "invalid");
    }
    let empty = upload_with_disposition(server, r#"form-data; name="file"; filename="e.txt""#, b"");
    let message = empty.assert_error(400, "invalid");
    assert!(message.contains("empty"), "{message}");
}

fn storage_upload_download_list_delete(server: &Server) {
    let png: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let stored = created(upload(server, "photo.png", "image/png", &png));
    assert_eq!(stored["filename"], "photo.png");
    assert_eq!(stored["size"], png.len());
    assert_eq!(stored["content_type"], "image/png");

    let (status, content_type, body) = get_bytes(&server.url("/storage/download/photo.png"));
    assert_eq!((status, content_type.as_deref()), (200, Some("image/png")));
    assert!(body == png, "the download differs from the upload");

    let name = "résumé 2027.txt";
    created(upload(
        server,
        name,
        "text/plain; charset=utf-8",
        "Olá".as_bytes(),
    ));
    let encoded = "r%C3%A9sum%C3%A9%202027.txt";
    let (status, content_type, body) =
        get_bytes(&server.url(&format!("/storage/download/{encoded}")));
    assert_eq!(status, 200);
    assert_eq!(content_type.as_deref(), Some("text/plain; charset=utf-8"));
    assert_eq!(body, "Olá".as_bytes());

    // Uploading a name again replaces the file.
    created(upload(server, "photo.png", "image/png", b"smaller"));
    assert_eq!(
        get_bytes(&server.url("/storage/download/photo.png")).2,
        b"smaller"
    );

    for i in 0..5 {
        created(upload(server, &format!("note-{i}.txt"), "text/plain", b"n"));
    }
    let files = all_pages(server, "/storage/files", 2);
    let names: Vec<&str> = files
        .iter()
        .map(|f| f["filename"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "note-0.txt",
            "note-1.txt",
            "note-2.txt",
            "note-3.txt",
            "note-4.txt",
            "photo.png",
            name
        ]
    );

    assert_eq!(delete(&server.url("/storage/photo.png")).status, 204);
    assert_eq!(get_bytes(&server.url("/storage/download/photo.png")).0, 404);
    delete(&server.url("/storage/photo.png")).assert_error(404, "not_found");
}

fn storage_bad_input(server: &Server) {
    created(upload(server, "keep.txt", "text/plain", b"original"));
    upload(server, "empty.txt", "text/plain", b"").assert_error(400, "invalid");
    upload(server, "../escape.txt", "text/plain", b"x").assert_error(400, "invalid");
    upload(server, "a/b.txt", "text/plain", b"x").assert_error(400, "invalid");
    let (form, body) = support::multipart_file("attachment", "x.txt", "text/plain", b"x");
    send("POST", &server.url("/storage/upload"), Some(&form), &body).assert_error(400, "invalid");
    let truncated = &body[..body.len() - 10];
    send(
        "POST",
        &server.url("/storage/upload"),
        Some(&form),
        truncated,
    )
    .assert_error(400, "invalid");
    post(&server.url("/storage/upload"), "application/json", "{}")
        .assert_error(415, "unsupported_media_type");
    send(
        "POST",
        &server.url("/storage/upload"),
        Some("multipart/form-data"),
        b"x",
    )
    .assert_error(400, "invalid");

    // Over the 64 MiB limit: refused, and the stored file of that name stays.
    let huge = vec![b'z'; (64 << 20) + 1];
    upload(server, "keep.txt", "text/plain", &huge).assert_error(413, "too_large");
    assert_eq!(
        get_bytes(&server.url("/storage/download/keep.txt")).2,
        b"original"
    );

    get(&server.url("/storage/download/absent.txt")).assert_error(404, "not_found");
    get(&server.url("/storage/download/..")).assert_error(400, "invalid");
    get(&server.url("/storage/download/..%2Fsecret")).assert_error(400, "invalid");
    get(&server.url("/storage/files?cursor=***")).assert_error(400, "invalid");
    let files = all_pages(server, "/storage/files", 10);
    assert_eq!(files.len(), 1, "a refused upload stored a file: {files:?}");
}

// ---------------------------------------------------------- concurrency

/// Runs `work(i)` for `0..n` on `n` threads at once; the replies in order.
fn in_parallel(n: usize, work: impl Fn(usize) -> Reply + Sync) -> Vec<Reply> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                scope.spawn({
                    let work = &work;
                    move || work(i)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn parallel_writes_lose_nothing_and_duplicate_nothing(server: &Server) {
    let users = in_parallel(40, |i| {
        post_json(
            &server.url("/users"),
            &json!({ "name": format!("Parallel {i}"), "email": format!("p{i}@example.org") }),
        )
    });
    let user_ids: BTreeSet<String> = users.iter().map(|r| id_of(&created(r.clone()))).collect();
    assert_eq!(user_ids.len(), 40);
    let listed = all_pages(server, "/users", 100);
    assert_eq!(
        user_ids_of(&listed),
        user_ids,
        "a created user is missing from the list"
    );

    let same_email = in_parallel(12, |i| {
        post_json(
            &server.url("/users"),
            &json!({ "name": format!("Twin {i}"), "email": "twin@example.org" }),
        )
    });
    let statuses: Vec<u16> = same_email.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );

    let author = user_ids.iter().next().unwrap().clone();
    let conversation = unknown_id();
    let messages = in_parallel(40, |i| {
        send_message(server, &conversation, &author, &format!("m{i}"))
    });
    let sent: BTreeSet<String> = messages
        .iter()
        .map(|r| id_of(&created(r.clone())))
        .collect();
    let listed = all_pages(server, &format!("/messages/{conversation}"), 7);
    assert_eq!(listed.len(), 40);
    assert_eq!(user_ids_of(&listed), sent);

    let hub = author;
    let others: Vec<&String> = user_ids.iter().skip(1).take(20).collect();
    let friendships = in_parallel(20, |i| befriend(server, others[i], &hub));
    for reply in &friendships {
        assert_eq!(reply.status, 200, "{}", reply.raw);
    }
    assert_eq!(friends_of(server, &hub).len(), 20);
}

/// Runs `work(i)` for `0..n` on `width` threads, each taking the next `i`
/// as it finishes one; the replies in order of `i`.
fn in_parallel_by(n: usize, width: usize, work: impl Fn(usize) -> Reply + Sync) -> Vec<Reply> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let replies = std::sync::Mutex::new(vec![None; n]);
    std::thread::scope(|scope| {
        for _ in 0..width {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= n {
                        return;
                    }
                    let reply = work(i);
                    replies.lock().unwrap()[i] = Some(reply);
                }
            });
        }
    });
    replies
        .into_inner()
        .unwrap()
        .into_iter()
        .map(Option::unwrap)
        .collect()
}

/// The most friends a user, or members a group, may have (docs/api.md).
const MAX_LINKS: usize = 1000;

/// `count` users made by 16 clients at once.
fn many_users(server: &Server, count: usize) -> Vec<String> {
    in_parallel_by(count, 16, |i| {
        post_json(
            &server.url("/users"),
            &json!({ "name": format!("Crowd {i}"), "email": format!("{}@example.org", uuid::Uuid::new_v4().simple()) }),
        )
    })
    .into_iter()
    .map(|reply| id_of(&created(reply)))
    .collect()
}

/// The ids of those `candidates` whose reply was 200; every other reply
/// must be the documented 409 of a full list.
fn acknowledged(candidates: &[String], replies: &[Reply]) -> BTreeSet<String> {
    let mut accepted = BTreeSet::new();
    for (id, reply) in candidates.iter().zip(replies) {
        match reply.status {
            200 => {
                accepted.insert(id.clone());
            }
            _ => {
                let message = reply.assert_error(409, "conflict");
                assert!(message.contains("the most allowed"), "{message}");
            }
        }
    }
    accepted
}

fn the_link_caps_hold_under_concurrent_requests(server: &Server) {
    let users = many_users(server, MAX_LINKS + 30);
    let (hub, crowd) = users.split_first().unwrap();

    // Friends: the hub is the smaller end of some friendships and the
    // larger of others, so both ends' counts are raced.
    let replies = in_parallel_by(crowd.len(), 16, |i| befriend(server, &crowd[i], hub));
    let friends = acknowledged(crowd, &replies);
    assert_eq!(friends.len(), MAX_LINKS, "acknowledged friendships");
    let listed = all_pages(server, &format!("/users/{hub}/friends"), 100);
    assert_eq!(
        user_ids_of(&listed),
        friends,
        "the hub lists every acknowledged friend"
    );
    let both_sides = in_parallel_by(friends.len(), 16, |i| {
        let friend = friends.iter().nth(i).unwrap();
        get(&format!("{}?limit=5", friends_url(server, friend)))
    });
    for reply in &both_sides {
        let items = ok(reply.clone())["items"].as_array().unwrap().clone();
        assert_eq!(
            ids(&items),
            std::slice::from_ref(hub),
            "a friend does not list the hub"
        );
    }

    // Members: one group, the whole crowd joining at once.
    let group = new_group(server, "Crowded");
    let replies = in_parallel_by(crowd.len(), 16, |i| join(server, &group, &crowd[i]));
    let members = acknowledged(crowd, &replies);
    assert_eq!(members.len(), MAX_LINKS, "acknowledged memberships");
    let listed = all_pages(server, &format!("/groups/{group}/members"), 100);
    assert_eq!(
        user_ids_of(&listed),
        members,
        "the group lists every acknowledged member"
    );
}

on_both_databases!(
    with own_storage_namespace;
    users_patch_delete_and_cache,
    users_bad_input,
    groups_crud_and_pages,
    groups_bad_input,
    an_empty_cursor_is_the_first_page,
    friendships_are_symmetric_and_idempotent,
    friends_page_across_several_pages,
    friends_bad_input,
    suggestions_rank_friends_of_friends_by_mutual_friends,
    membership_both_ways_with_pages,
    membership_bad_input,
    deleting_a_user_or_group_removes_its_links,
    messages_newest_first_with_a_stable_cursor,
    messages_bad_input,
    notifications_unread_filter_and_marking_read,
    notifications_bad_input,
    storage_upload_download_list_delete,
    storage_bad_input,
    upload_filenames_are_read_as_rfc_7578_and_6266_say,
    parallel_writes_lose_nothing_and_duplicate_nothing,
    the_link_caps_hold_under_concurrent_requests,
    overlapping_mark_all_calls_count_each_notification_once,
    mark_all_marks_only_what_existed_when_it_started,
);
