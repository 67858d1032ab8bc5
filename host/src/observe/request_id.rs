//! Request ids: the client's `x-request-id` when it is a sane token, else
//! one made here (a per-process prefix and a counter), echoed in the
//! response and carried by the request's span into every capability call.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use http::HeaderMap;

/// The request and response header carrying the id.
pub(crate) const HEADER: &str = "x-request-id";

/// The longest client-given id that is kept.
const MAX_LEN: usize = 128;

static PREFIX: LazyLock<String> =
    LazyLock::new(|| uuid::Uuid::new_v4().simple().to_string()[..8].to_owned());
static NEXT: AtomicU64 = AtomicU64::new(1);

/// The id of a request with `headers`.
pub(crate) fn of(headers: &HeaderMap) -> String {
    headers
        .get(HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| is_sane(id))
        .map_or_else(fresh, str::to_owned)
}

fn fresh() -> String {
    format!("{}-{:x}", *PREFIX, NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Ids go into logs and headers: printable token characters only.
fn is_sane(id: &str) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(id: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, id.parse().unwrap());
        headers
    }

    #[test]
    fn a_client_id_is_kept() {
        assert_eq!(of(&with("trip-42.a:b")), "trip-42.a:b");
    }

    #[test]
    fn odd_or_missing_ids_are_replaced_by_fresh_distinct_ones() {
        let a = of(&HeaderMap::new());
        let b = of(&with("has space"));
        let c = of(&with(&"x".repeat(MAX_LEN + 1)));
        assert_ne!(a, b);
        assert_ne!(b, c);
        for id in [&a, &b, &c] {
            assert!(id.starts_with(PREFIX.as_str()), "{id}");
        }
    }
}
