//! The cache conformance suite: one set of checks, run against every
//! backend. Each check uses keys of its own, so backends can be shared.

use std::time::Duration;

use super::*;
use crate::capabilities::ErrorKind;

fn key(name: &str) -> String {
    format!("conformance:{}:{name}", uuid::Uuid::new_v4().simple())
}

const SHORT: Duration = Duration::from_millis(60);
/// Long enough past `SHORT` for any backend's expiry to have happened.
const PAST_SHORT: Duration = Duration::from_millis(200);

pub(crate) async fn set_then_get_round_trips_bytes(cache: &dyn CacheBackend) {
    let k = key("bytes");
    assert_eq!(cache.get(&k).await.unwrap(), None);
    let value = vec![0, 255, 10, 13, b'x'];
    cache.set(&k, value.clone(), None).await.unwrap();
    assert_eq!(cache.get(&k).await.unwrap(), Some(value));
    cache.set(&k, b"replaced".to_vec(), None).await.unwrap();
    assert_eq!(cache.get(&k).await.unwrap(), Some(b"replaced".to_vec()));
}

pub(crate) async fn keys_expire_after_their_ttl(cache: &dyn CacheBackend) {
    let k = key("ttl");
    cache.set(&k, b"v".to_vec(), Some(SHORT)).await.unwrap();
    assert!(cache.exists(&k).await.unwrap());
    tokio::time::sleep(PAST_SHORT).await;
    assert_eq!(cache.get(&k).await.unwrap(), None);
    assert!(!cache.exists(&k).await.unwrap());
}

pub(crate) async fn set_without_ttl_clears_an_expiry(cache: &dyn CacheBackend) {
    let k = key("persist");
    cache.set(&k, b"v1".to_vec(), Some(SHORT)).await.unwrap();
    cache.set(&k, b"v2".to_vec(), None).await.unwrap();
    tokio::time::sleep(PAST_SHORT).await;
    assert_eq!(cache.get(&k).await.unwrap(), Some(b"v2".to_vec()));
}

pub(crate) async fn delete_reports_whether_the_key_existed(cache: &dyn CacheBackend) {
    let k = key("delete");
    assert!(!cache.delete(&k).await.unwrap());
    cache.set(&k, b"v".to_vec(), None).await.unwrap();
    assert!(cache.delete(&k).await.unwrap());
    assert!(!cache.exists(&k).await.unwrap());
    assert!(!cache.delete(&k).await.unwrap());
}

pub(crate) async fn incr_counts_from_zero_and_rejects_non_integers(cache: &dyn CacheBackend) {
    let k = key("counter");
    assert_eq!(cache.incr(&k, 1).await.unwrap(), 1);
    assert_eq!(cache.incr(&k, 41).await.unwrap(), 42);
    assert_eq!(cache.incr(&k, -50).await.unwrap(), -8);
    assert_eq!(cache.get(&k).await.unwrap(), Some(b"-8".to_vec()));

    let text = key("text");
    cache.set(&text, b"hello".to_vec(), None).await.unwrap();
    assert_eq!(
        cache.incr(&text, 1).await.unwrap_err().kind,
        ErrorKind::Invalid
    );
    assert_eq!(cache.get(&text).await.unwrap(), Some(b"hello".to_vec()));

    let max = key("max");
    cache
        .set(&max, i64::MAX.to_string().into_bytes(), None)
        .await
        .unwrap();
    assert_eq!(
        cache.incr(&max, 1).await.unwrap_err().kind,
        ErrorKind::Invalid
    );
    assert_eq!(
        cache.get(&max).await.unwrap(),
        Some(i64::MAX.to_string().into_bytes())
    );
}

pub(crate) async fn incr_keeps_the_expiry(cache: &dyn CacheBackend) {
    let k = key("counter-ttl");
    cache.set(&k, b"1".to_vec(), Some(SHORT)).await.unwrap();
    assert_eq!(cache.incr(&k, 1).await.unwrap(), 2);
    tokio::time::sleep(PAST_SHORT).await;
    assert!(!cache.exists(&k).await.unwrap());
}

pub(crate) async fn expire_sets_an_expiry_on_existing_keys_only(cache: &dyn CacheBackend) {
    let k = key("expire");
    assert!(!cache.expire(&k, SHORT).await.unwrap());
    cache.set(&k, b"v".to_vec(), None).await.unwrap();
    assert!(cache.expire(&k, SHORT).await.unwrap());
    assert!(cache.exists(&k).await.unwrap());
    tokio::time::sleep(PAST_SHORT).await;
    assert!(!cache.exists(&k).await.unwrap());
}

pub(crate) async fn get_many_keeps_order_and_skips_missing(cache: &dyn CacheBackend) {
    let (a, b, gone, expired) = (key("a"), key("b"), key("gone"), key("expired"));
    cache.set(&a, b"A".to_vec(), None).await.unwrap();
    cache.set(&b, b"B".to_vec(), None).await.unwrap();
    cache
        .set(&expired, b"E".to_vec(), Some(SHORT))
        .await
        .unwrap();
    tokio::time::sleep(PAST_SHORT).await;
    let values = cache
        .get_many(&[b.clone(), gone, a.clone(), expired, b])
        .await
        .unwrap();
    assert_eq!(
        values,
        vec![
            Some(b"B".to_vec()),
            None,
            Some(b"A".to_vec()),
            None,
            Some(b"B".to_vec())
        ]
    );
    assert_eq!(
        cache.get_many(&[]).await.unwrap(),
        Vec::<Option<Vec<u8>>>::new()
    );
}

pub(crate) async fn set_many_stores_every_entry_with_its_expiry(cache: &dyn CacheBackend) {
    let keys: Vec<String> = (0..50).map(|i| key(&format!("many{i}"))).collect();
    let entries = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.clone(), i.to_string().into_bytes()))
        .collect();
    cache.set_many(entries, Some(SHORT)).await.unwrap();
    let values = cache.get_many(&keys).await.unwrap();
    for (i, value) in values.iter().enumerate() {
        assert_eq!(value.as_deref(), Some(i.to_string().as_bytes()));
    }
    tokio::time::sleep(PAST_SHORT).await;
    assert!(
        cache
            .get_many(&keys)
            .await
            .unwrap()
            .iter()
            .all(Option::is_none)
    );
    cache.set_many(Vec::new(), None).await.unwrap();
}

/// Every check of this suite, for the backend `$open` returns.
macro_rules! cache_conformance {
    ($suite:ident, $open:expr) => {
        conformance_tests!(
            $suite,
            $open,
            [
                set_then_get_round_trips_bytes,
                keys_expire_after_their_ttl,
                set_without_ttl_clears_an_expiry,
                delete_reports_whether_the_key_existed,
                incr_counts_from_zero_and_rejects_non_integers,
                incr_keeps_the_expiry,
                expire_sets_an_expiry_on_existing_keys_only,
                get_many_keeps_order_and_skips_missing,
                set_many_stores_every_entry_with_its_expiry,
            ]
        );
    };
}

async fn open_memory() -> Box<dyn CacheBackend> {
    Box::new(MemoryBackend::new())
}

/// The real Redis of `tooling/services up`, changed by `edit`.
async fn connect_redis(
    edit: impl FnOnce(&mut crate::config::RedisSettings),
) -> anyhow::Result<RedisBackend> {
    let mut settings = crate::config::real_services().redis;
    edit(&mut settings);
    let server = settings
        .server()?
        .expect("REDIS_HOST in tooling/services.env");
    RedisBackend::connect(&settings, &server).await
}

/// Unreachable is a failure.
fn opened(connected: anyhow::Result<RedisBackend>) -> Box<dyn CacheBackend> {
    match connected {
        Ok(backend) => Box::new(backend),
        Err(e) => {
            panic!("Redis is not reachable ({e:#}); start it with `tooling/services up redis`")
        }
    }
}

/// Over TLS on the services' TLS port, trusting `authorities`.
fn over_tls(authorities: std::path::PathBuf) -> impl FnOnce(&mut crate::config::RedisSettings) {
    move |settings| {
        let port = crate::config::services_variable("REDIS_TLS_PORT");
        settings.port = Some(port.parse().expect("a port"));
        settings.tls = true;
        settings.tls_ca_file = Some(authorities);
    }
}

async fn open_redis() -> Box<dyn CacheBackend> {
    opened(connect_redis(|_| {}).await)
}

async fn open_redis_tls() -> Box<dyn CacheBackend> {
    let authorities = crate::config::services_tls_file("ca.pem");
    opened(connect_redis(over_tls(authorities)).await)
}

cache_conformance!(memory, open_memory());
cache_conformance!(redis, open_redis());
cache_conformance!(redis_tls, open_redis_tls());

#[tokio::test]
async fn redis_refuses_a_certificate_it_cannot_verify() {
    let stranger = crate::config::services_tls_file("other-ca.pem");
    let refused = connect_redis(over_tls(stranger)).await;
    crate::capabilities::tls::assert_certificate_refused(refused, "Redis");
}
