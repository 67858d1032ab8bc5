//! Example of the `graph` capability (docs/graph.md): who follows whom, and
//! whom to follow next.
//!
//! - `PUT /follows/{user}/{other}`: `user` follows `other` (204; both
//!   become nodes if they were not);
//! - `DELETE /follows/{user}/{other}`: unfollows (204, 404 if not followed);
//! - `GET /follows/{user}`: whom `user` follows;
//! - `GET /follows/{user}/suggestions`: people two hops away that `user`
//!   does not follow yet, most shared links first.

use serde::Serialize;
use summer_sdk::graph::{self, Direction, Node, NodeRef};
use summer_sdk::http::{Request, Response};
use summer_sdk::{ApiError, Params, Router};

summer_sdk::http_component!(handle);

/// The relationship kind: `(a)-[:FOLLOWS]->(b)`.
const FOLLOWS: &str = "FOLLOWS";

fn handle(request: &Request) -> Response {
    Router::new()
        .get("/follows/{user}", following)
        .get("/follows/{user}/suggestions", suggestions)
        .put("/follows/{user}/{other}", follow)
        .delete("/follows/{user}/{other}", unfollow)
        .handle(request)
}

fn person(params: &Params, name: &str) -> NodeRef {
    NodeRef::new("Person", params.get(name).unwrap_or_default())
}

fn follow(_request: &Request, params: &Params) -> Result<Response, ApiError> {
    let (user, other) = (person(params, "user"), person(params, "other"));
    if user == other {
        return Err(ApiError::invalid("one cannot follow oneself"));
    }
    // Nodes and the relationship, all or nothing.
    graph::merge_batch(&[user.clone(), other.clone()], &[(user, FOLLOWS, other)])?;
    Ok(Response::no_content())
}

fn unfollow(_request: &Request, params: &Params) -> Result<Response, ApiError> {
    match graph::delete_relationship(&person(params, "user"), FOLLOWS, &person(params, "other"))? {
        true => Ok(Response::no_content()),
        false => Err(ApiError::not_found("not followed")),
    }
}

fn keys(nodes: &[Node]) -> Vec<&str> {
    nodes.iter().map(|node| node.id.key.as_str()).collect()
}

fn following(_request: &Request, params: &Params) -> Result<Response, ApiError> {
    let mut followed =
        graph::neighbours(&person(params, "user"), FOLLOWS, Direction::Outgoing, 100)?;
    followed.sort_by(|a, b| a.id.key.cmp(&b.id.key));
    Response::json(200, &serde_json::json!({ "following": keys(&followed) }))
}

#[derive(Serialize)]
struct Suggestion<'a> {
    name: &'a str,
    shared: u32,
}

fn suggestions(_request: &Request, params: &Params) -> Result<Response, ApiError> {
    let found = graph::suggest(&person(params, "user"), FOLLOWS, 2, 10)?;
    let suggestions: Vec<_> = found
        .iter()
        .map(|(node, shared)| Suggestion {
            name: &node.id.key,
            shared: *shared,
        })
        .collect();
    Response::json(200, &serde_json::json!({ "suggestions": suggestions }))
}
