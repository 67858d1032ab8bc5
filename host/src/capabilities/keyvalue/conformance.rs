//! The key-value conformance suite: one set of checks, run against every
//! backend. Each check works in keyspaces of its own, so backends can be
//! shared between checks.

use std::collections::BTreeSet;

use futures::future::join_all;

use super::*;
use crate::capabilities::ErrorKind;
use crate::capabilities::cancellation::cancel_at_every_await;

/// A keyspace no other check (or run) uses.
fn space(bucket: &str) -> Keyspace {
    Keyspace {
        namespace: format!("conformance-{}", uuid::Uuid::new_v4().simple()).into(),
        bucket: bucket.to_string(),
    }
}

fn bytes(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

pub(crate) async fn missing_keys_are_none_and_values_round_trip(store: &dyn KeyValueBackend) {
    let s = space("default");
    assert_eq!(store.get(&s, "k").await.unwrap(), None);
    assert!(!store.exists(&s, "k").await.unwrap());
    let value = vec![0, 255, 10, 13, b'x'];
    store.set(&s, "k", value.clone()).await.unwrap();
    assert_eq!(store.get(&s, "k").await.unwrap(), Some(value));
    assert!(store.exists(&s, "k").await.unwrap());
    store.set(&s, "k", Vec::new()).await.unwrap();
    assert_eq!(store.get(&s, "k").await.unwrap(), Some(Vec::new()));
    assert!(
        store.exists(&s, "k").await.unwrap(),
        "an empty value is a value"
    );
}

pub(crate) async fn keyspaces_never_share_keys(store: &dyn KeyValueBackend) {
    let a = space("one");
    let other_bucket = Keyspace {
        bucket: "two".into(),
        ..a.clone()
    };
    let other_namespace = Keyspace {
        namespace: format!("{}-x", a.namespace).into(),
        ..a.clone()
    };
    store.set(&a, "k", bytes("a")).await.unwrap();
    for other in [&other_bucket, &other_namespace] {
        assert_eq!(store.get(other, "k").await.unwrap(), None, "{other}");
        assert!(store.list_keys(other, None).await.unwrap().keys.is_empty());
        store.set(other, "k", bytes("other")).await.unwrap();
    }
    assert_eq!(store.get(&a, "k").await.unwrap(), Some(bytes("a")));
    assert_eq!(store.list_keys(&a, None).await.unwrap().keys, ["k"]);
}

pub(crate) async fn deletes_skip_missing_keys(store: &dyn KeyValueBackend) {
    let s = space("default");
    store.set(&s, "a", bytes("1")).await.unwrap();
    store.set(&s, "b", bytes("2")).await.unwrap();
    let keys = ["a".to_string(), "missing".to_string()];
    store.delete_many(&s, &keys).await.unwrap();
    assert_eq!(store.get(&s, "a").await.unwrap(), None);
    assert_eq!(store.get(&s, "b").await.unwrap(), Some(bytes("2")));
    store.delete_many(&s, &keys).await.unwrap();
    store.delete_many(&s, &[]).await.unwrap();
}

pub(crate) async fn batches_keep_order_and_skip_missing(store: &dyn KeyValueBackend) {
    let s = space("default");
    store
        .set_many(&s, vec![("a".into(), bytes("1")), ("c".into(), bytes("3"))])
        .await
        .unwrap();
    let keys = ["c", "b", "a"].map(String::from);
    assert_eq!(
        store.get_many(&s, &keys).await.unwrap(),
        [Some(bytes("3")), None, Some(bytes("1"))]
    );
    assert!(store.get_many(&s, &[]).await.unwrap().is_empty());
    store.set_many(&s, Vec::new()).await.unwrap();
}

pub(crate) async fn list_keys_pages_through_every_key(store: &dyn KeyValueBackend) {
    let s = space("default");
    let empty = store.list_keys(&s, None).await.unwrap();
    assert_eq!(empty, KeyPage::default());

    let written: BTreeSet<String> = (0..PAGE_SIZE * 2 + 17)
        .map(|i| format!("key-{i}"))
        .collect();
    let entries: Vec<_> = written.iter().map(|k| (k.clone(), bytes("v"))).collect();
    for chunk in entries.chunks(400) {
        store.set_many(&s, chunk.to_vec()).await.unwrap();
    }
    let mut listed = BTreeSet::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = store.list_keys(&s, cursor).await.unwrap();
        // Redis's HSCAN takes its COUNT as a hint: a page may hold a few more.
        assert!(page.keys.len() <= PAGE_SIZE * 2, "{} keys", page.keys.len());
        listed.extend(page.keys);
        pages += 1;
        assert!(pages < 1000, "the cursors never end");
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(listed, written);
    assert!(pages >= 2, "{} keys came in one page", written.len());
}

pub(crate) async fn increment_counts_from_zero_and_refuses_non_integers(
    store: &dyn KeyValueBackend,
) {
    let s = space("default");
    assert_eq!(store.increment(&s, "n", 1).await.unwrap(), 1);
    assert_eq!(store.increment(&s, "n", 41).await.unwrap(), 42);
    assert_eq!(store.increment(&s, "n", -50).await.unwrap(), -8);
    assert_eq!(store.get(&s, "n").await.unwrap(), Some(bytes("-8")));

    store.set(&s, "text", bytes("hello")).await.unwrap();
    let refused = store.increment(&s, "text", 1).await.unwrap_err();
    assert_eq!(refused.kind, ErrorKind::Invalid);
    assert_eq!(store.get(&s, "text").await.unwrap(), Some(bytes("hello")));

    let max = i64::MAX.to_string();
    store.set(&s, "max", bytes(&max)).await.unwrap();
    let overflow = store.increment(&s, "max", 1).await.unwrap_err();
    assert_eq!(overflow.kind, ErrorKind::Invalid);
    assert_eq!(store.get(&s, "max").await.unwrap(), Some(bytes(&max)));
}

/// Clients racing on one counter.
const RACERS: usize = 16;
const ROUNDS: usize = 25;

pub(crate) async fn increments_are_atomic_under_concurrency(store: &dyn KeyValueBackend) {
    let s = space("default");
    let racer = |_| async {
        for _ in 0..ROUNDS {
            store.increment(&s, "hits", 1).await.unwrap();
        }
    };
    join_all((0..RACERS).map(racer)).await;
    let total = (RACERS * ROUNDS).to_string();
    assert_eq!(store.get(&s, "hits").await.unwrap(), Some(bytes(&total)));
}

pub(crate) async fn compare_and_swap_writes_only_over_what_it_read(store: &dyn KeyValueBackend) {
    let s = space("default");
    assert!(
        store
            .compare_and_swap(&s, "k", None, bytes("first"))
            .await
            .unwrap(),
        "an absent key swaps from none"
    );
    assert!(
        !store
            .compare_and_swap(&s, "k", None, bytes("second"))
            .await
            .unwrap(),
        "the key is no longer absent"
    );
    assert!(
        !store
            .compare_and_swap(&s, "k", Some(b"stale"), bytes("third"))
            .await
            .unwrap()
    );
    assert_eq!(store.get(&s, "k").await.unwrap(), Some(bytes("first")));
    assert!(
        store
            .compare_and_swap(&s, "k", Some(b"first"), bytes("fourth"))
            .await
            .unwrap()
    );
    assert_eq!(store.get(&s, "k").await.unwrap(), Some(bytes("fourth")));
}

/// Increments, swaps and batch writes cancelled at any await point leave
/// the store usable, and each took effect whole or not at all.
pub(crate) async fn cancelled_writes_leave_the_store_usable(store: &dyn KeyValueBackend) {
    let s = &space("default");
    let points = cancel_at_every_await(
        |run| async move {
            store.increment(s, "hits", 1).await.unwrap();
            let previous = store.get(s, "swapped").await.unwrap();
            let next = bytes(&run.to_string());
            store
                .compare_and_swap(s, "swapped", previous.as_deref(), next)
                .await
                .unwrap();
            let pair = vec![("a".to_owned(), bytes("1")), ("b".to_owned(), bytes("1"))];
            store.set_many(s, pair).await.unwrap();
        },
        async |run| {
            store.set(s, "other", bytes("written")).await.unwrap();
            let hits = store.get(s, "hits").await.unwrap().unwrap_or(bytes("0"));
            let hits: usize = String::from_utf8(hits).unwrap().parse().unwrap();
            assert!(hits <= run + 1, "{hits} increments after {} calls", run + 1);
        },
    )
    .await;
    assert!(points >= 3, "{points} await points");
}

/// Every racer adds one by reading the counter and swapping in the next
/// value, retrying when someone else swapped first: no addition is lost.
pub(crate) async fn compare_and_swap_is_atomic_under_concurrency(store: &dyn KeyValueBackend) {
    let s = space("default");
    let racer = |_| async {
        for _ in 0..ROUNDS {
            loop {
                let current = store.get(&s, "n").await.unwrap();
                let n: u64 = current
                    .as_deref()
                    .map(|v| std::str::from_utf8(v).unwrap().parse().unwrap())
                    .unwrap_or(0);
                let next = bytes(&(n + 1).to_string());
                if store
                    .compare_and_swap(&s, "n", current.as_deref(), next)
                    .await
                    .unwrap()
                {
                    break;
                }
            }
        }
    };
    join_all((0..RACERS).map(racer)).await;
    let total = (RACERS * ROUNDS).to_string();
    assert_eq!(store.get(&s, "n").await.unwrap(), Some(bytes(&total)));
}

/// Every check of this suite, for the backend `$open` returns.
macro_rules! keyvalue_conformance {
    ($suite:ident, $open:expr) => {
        conformance_tests!(
            $suite,
            $open,
            [
                missing_keys_are_none_and_values_round_trip,
                keyspaces_never_share_keys,
                deletes_skip_missing_keys,
                batches_keep_order_and_skip_missing,
                list_keys_pages_through_every_key,
                increment_counts_from_zero_and_refuses_non_integers,
                increments_are_atomic_under_concurrency,
                compare_and_swap_writes_only_over_what_it_read,
                compare_and_swap_is_atomic_under_concurrency,
                cancelled_writes_leave_the_store_usable,
            ]
        );
    };
}

async fn open_embedded() -> Box<dyn KeyValueBackend> {
    let dir = tempfile::tempdir().unwrap().keep();
    Box::new(
        EmbeddedBackend::open(&dir.join("keyvalue.db"))
            .await
            .unwrap(),
    )
}

/// The real Redis of `tooling/services up`, over TLS when `tls`;
/// unreachable is a failure.
async fn open_redis_with(tls: bool) -> Box<dyn KeyValueBackend> {
    let mut settings = crate::config::real_services().redis;
    if tls {
        let port = crate::config::services_variable("REDIS_TLS_PORT");
        settings.port = Some(port.parse().expect("a port"));
        settings.tls = true;
        settings.tls_ca_file = Some(crate::config::services_tls_file("ca.pem"));
    }
    let server = settings
        .server()
        .unwrap()
        .expect("REDIS_HOST in tooling/services.env");
    match RedisBackend::connect(&settings, &server).await {
        Ok(backend) => Box::new(backend),
        Err(e) => {
            panic!("Redis is not reachable ({e:#}); start it with `tooling/services up redis`")
        }
    }
}

keyvalue_conformance!(embedded, open_embedded());
keyvalue_conformance!(redis, open_redis_with(false));
keyvalue_conformance!(redis_tls, open_redis_with(true));
