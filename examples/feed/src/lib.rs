//! Example of the `wide` capability (docs/wide.md): a timeline per user,
//! read newest first a page at a time.
//!
//! - `POST /feed/{user}` with `{"text": "..."}` adds a post (201);
//! - `GET /feed/{user}?limit=N&cursor=C` answers the newest posts first,
//!   with `next_cursor` while more follow.
//!
//! Its table is declared in `wide.toml` (`wide = { tables = ... }` in the
//! manifest): partitioned by user, clustered by time, newest first.

use serde::{Deserialize, Serialize};
use summer_sdk::http::{Request, Response};
use summer_sdk::wide::{self, Order, WideRow};
use summer_sdk::{ApiError, Params, Router, Timestamp, Value};

summer_sdk::http_component!(handle);

fn handle(request: &Request) -> Response {
    Router::new()
        .get("/feed/{user}", timeline)
        .post("/feed/{user}", post)
        .handle(request)
}

#[derive(Deserialize)]
struct NewPost {
    text: String,
}

#[derive(Serialize)]
struct Post {
    id: String,
    text: String,
    posted_at: Timestamp,
}

impl Post {
    fn from_row(row: &WideRow) -> Result<Self, ApiError> {
        Ok(Self {
            id: row.get("id")?,
            text: row.get("text")?,
            posted_at: row.get("posted_at")?,
        })
    }
}

fn post(request: &Request, params: &Params) -> Result<Response, ApiError> {
    let user = params.get("user").unwrap_or_default();
    let NewPost { text } = request.json()?;
    if text.is_empty() || text.len() > 1000 {
        return Err(ApiError::invalid("text is 1 to 1000 bytes"));
    }
    let posted_at = Timestamp::now();
    let id = random_id();
    wide::put(
        "posts",
        [
            ("user_id", Value::from(user)),
            ("posted_at", Value::from(posted_at)),
            ("id", Value::from(id.as_str())),
            ("text", Value::from(text.as_str())),
        ],
    )?;
    Response::json(
        201,
        &Post {
            id,
            text,
            posted_at,
        },
    )
}

/// 64 random bits in hex (std draws them from the host's WASI randomness):
/// the id keeps two posts of the same microsecond apart.
fn random_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let bits = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!("{bits:016x}")
}

#[derive(Serialize)]
struct Timeline {
    posts: Vec<Post>,
    next_cursor: Option<String>,
}

fn timeline(request: &Request, params: &Params) -> Result<Response, ApiError> {
    let user = params.get("user").unwrap_or_default();
    let limit = match request.query_param("limit")? {
        Some(limit) => limit
            .parse()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| ApiError::invalid("limit is 1 to 100"))?,
        None => 20,
    };
    let cursor = request.query_param("cursor")?;
    let page = wide::scan(
        "posts",
        &[Value::from(user)],
        Order::Descending,
        limit,
        cursor.as_deref(),
    )?;
    let posts = page
        .rows
        .iter()
        .map(Post::from_row)
        .collect::<Result<_, _>>()?;
    Response::json(
        200,
        &Timeline {
            posts,
            next_cursor: page.next,
        },
    )
}
