//! The social component: friendships between users and users' membership
//! of groups, kept in the graph. Users and groups themselves live in SQL:
//! every id given here must name one that exists (404 otherwise), and
//! lists show only those that still do.

use serde::{Deserialize, Serialize};
use summer_sdk::graph::{self, Direction, LinkLimit, LinkOutcome, Node, NodeRef};
use summer_sdk::http::{Request, Response};
use summer_sdk::{ApiError, Params, Router, cursor};
use summer_trip::people::{self, FRIEND, MEMBER_OF, UserRef};
use summer_trip::{Page, paging, parse_id};
use uuid::Uuid;

summer_sdk::http_component!(handle);

/// The most friends a user, members a group, or groups a user may have.
const MAX_LINKS: u32 = 1000;
/// The most suggestions a user can page through.
const MAX_SUGGESTIONS: u32 = 100;

fn handle(request: &Request) -> Response {
    Router::new()
        .get("/users/{id}/friends", list_friends)
        .post("/users/{id}/friends", add_friend)
        .get("/users/{id}/friends/suggestions", suggest_friends)
        .delete("/users/{id}/friends/{friend_id}", remove_friend)
        .get("/users/{id}/groups", list_groups_of_user)
        .get("/groups/{id}/members", list_members)
        .post("/groups/{id}/members", add_member)
        .delete("/groups/{id}/members/{user_id}", remove_member)
        .handle(request)
}

fn path_id(params: &Params, name: &str, what: &str) -> Result<Uuid, ApiError> {
    parse_id(what, params.get(name).unwrap_or_default())
}

/// The friendship of two users, stored once: from the smaller id to the larger.
fn friendship(a: Uuid, b: Uuid) -> (NodeRef, NodeRef) {
    let (low, high) = if a < b { (a, b) } else { (b, a) };
    (people::user_node(low), people::user_node(high))
}

/// Links `source` to `target` unless either already has [`MAX_LINKS`]
/// links of `kind` (counted in both directions when `undirected`); the
/// check and the write are one atomic step in the graph. `full` names the
/// list of the end that is full.
fn link_within_cap(
    source: &NodeRef,
    kind: &str,
    target: &NodeRef,
    undirected: bool,
    full: impl Fn(&NodeRef) -> String,
) -> Result<(), ApiError> {
    let limit = LinkLimit {
        max: MAX_LINKS,
        undirected,
    };
    let refused = match graph::merge_relationship_within(source, kind, target, [], limit)? {
        LinkOutcome::Created | LinkOutcome::Existed => return Ok(()),
        LinkOutcome::SourceFull => source,
        LinkOutcome::TargetFull => target,
    };
    Err(ApiError::conflict(format!(
        "{} already has the most allowed ({MAX_LINKS})",
        full(refused)
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewFriend {
    friend_id: String,
}

#[derive(Serialize)]
struct Friendship {
    user_id: Uuid,
    friend_id: Uuid,
}

/// `POST /users/{id}/friends {friend_id}`: 200 with the friendship, whether
/// or not it existed (the call is idempotent, and symmetric).
fn add_friend(request: &Request, params: &Params) -> Result<Response, ApiError> {
    let user = path_id(params, "id", "user id")?;
    let body: NewFriend = request.json()?;
    let friend = parse_id("friend_id", &body.friend_id)?;
    if user == friend {
        return Err(ApiError::invalid("a user cannot befriend themselves"));
    }
    people::require_user(user)?;
    people::require_user(friend)?;
    let (low, high) = friendship(user, friend);
    link_within_cap(&low, FRIEND, &high, true, |full| {
        format!("user {}'s friend list", full.key)
    })?;
    Response::json(
        200,
        &Friendship {
            user_id: user,
            friend_id: friend,
        },
    )
}

/// `DELETE /users/{id}/friends/{friend_id}`: 204, or 404 when they were not friends.
fn remove_friend(_: &Request, params: &Params) -> Result<Response, ApiError> {
    let user = path_id(params, "id", "user id")?;
    let friend = path_id(params, "friend_id", "friend id")?;
    let (low, high) = friendship(user, friend);
    if !graph::delete_relationship(&low, FRIEND, &high)? {
        return Err(ApiError::not_found(format!(
            "users {user} and {friend} are not friends"
        )));
    }
    Ok(Response::no_content())
}

/// `GET /users/{id}/friends`: the user's friends by id, paged.
fn list_friends(request: &Request, params: &Params) -> Result<Response, ApiError> {
    let user = path_id(params, "id", "user id")?;
    people::require_user(user)?;
    let friends = graph::neighbours(&people::user_node(user), FRIEND, Direction::Both, MAX_LINKS)?;
    Response::json(200, &page_of(request, &friends, people::users_by_id)?)
}

/// A page of the ids of `nodes` (in id order) after the request's cursor,
/// each looked up by `lookup`, which keeps only those that still exist.
fn page_of<T>(
    request: &Request,
    nodes: &[Node],
    lookup: fn(&[Uuid]) -> Result<Vec<T>, ApiError>,
) -> Result<Page<T>, ApiError> {
    let limit = paging::limit(request)?;
    let after = paging::after(request)?;
    let ids = Page::after_cursor(
        people::node_ids(nodes),
        after.as_deref(),
        limit,
        Uuid::to_string,
    );
    Ok(Page {
        items: lookup(&ids.items)?,
        next_cursor: ids.next_cursor,
    })
}

#[derive(Serialize)]
struct Suggestion {
    user: UserRef,
    mutual_friends: u32,
}

/// `GET /users/{id}/friends/suggestions`: friends of friends who are not
/// friends yet, most mutual friends first, paged (at most 100 in all).
fn suggest_friends(request: &Request, params: &Params) -> Result<Response, ApiError> {
    let user = path_id(params, "id", "user id")?;
    people::require_user(user)?;
    let limit = paging::limit(request)?;
    let offset = match paging::after(request)? {
        Some(position) => position
            .parse::<u32>()
            .ok()
            .filter(|n| *n < MAX_SUGGESTIONS)
            .ok_or_else(|| ApiError::invalid("invalid cursor"))?,
        None => 0,
    };
    let wanted = (offset + limit + 1).min(MAX_SUGGESTIONS);
    let ranked = graph::suggest(&people::user_node(user), FRIEND, 2, wanted)?;
    let window: Vec<(Node, u32)> = ranked.into_iter().skip(offset as usize).collect();
    let ids: Vec<Uuid> = window
        .iter()
        .filter_map(|(n, _)| Uuid::try_parse(&n.id.key).ok())
        .collect();
    let existing = people::users_by_id(&ids)?;
    let mut items: Vec<Suggestion> = window
        .iter()
        .filter_map(|(node, mutual)| {
            let user = existing.iter().find(|u| u.id.to_string() == node.id.key)?;
            Some(Suggestion {
                user: user.clone(),
                mutual_friends: *mutual,
            })
        })
        .collect();
    let more = items.len() > limit as usize && offset + limit < MAX_SUGGESTIONS;
    items.truncate(limit as usize);
    let next_cursor = more.then(|| cursor::encode(&(offset + limit).to_string()));
    Response::json(200, &Page { items, next_cursor })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewMember {
    user_id: String,
}

#[derive(Serialize)]
struct Membership {
    group_id: Uuid,
    user_id: Uuid,
}

/// `POST /groups/{id}/members {user_id}`: 200 with the membership, whether
/// or not it existed (the call is idempotent).
fn add_member(request: &Request, params: &Params) -> Result<Response, ApiError> {
    let group = path_id(params, "id", "group id")?;
    let body: NewMember = request.json()?;
    let user = parse_id("user_id", &body.user_id)?;
    people::require_group(group)?;
    people::require_user(user)?;
    let (user_node, group_node) = (people::user_node(user), people::group_node(group));
    link_within_cap(&user_node, MEMBER_OF, &group_node, false, |full| {
        if *full == user_node {
            format!("user {user}'s group list")
        } else {
            format!("group {group}")
        }
    })?;
    Response::json(
        200,
        &Membership {
            group_id: group,
            user_id: user,
        },
    )
}

/// `DELETE /groups/{id}/members/{user_id}`: 204, or 404 when not a member.
fn remove_member(_: &Request, params: &Params) -> Result<Response, ApiError> {
    let group = path_id(params, "id", "group id")?;
    let user = path_id(params, "user_id", "user id")?;
    let removed = graph::delete_relationship(
        &people::user_node(user),
        MEMBER_OF,
        &people::group_node(group),
    )?;
    if !removed {
        return Err(ApiError::not_found(format!(
            "user {user} is not a member of group {group}"
        )));
    }
    Ok(Response::no_content())
}

/// `GET /groups/{id}/members`: the group's members by id, paged.
fn list_members(request: &Request, params: &Params) -> Result<Response, ApiError> {
    let group = path_id(params, "id", "group id")?;
    people::require_group(group)?;
    let members = graph::neighbours(
        &people::group_node(group),
        MEMBER_OF,
        Direction::Incoming,
        MAX_LINKS,
    )?;
    Response::json(200, &page_of(request, &members, people::users_by_id)?)
}

/// `GET /users/{id}/groups`: the groups the user belongs to, by id, paged.
fn list_groups_of_user(request: &Request, params: &Params) -> Result<Response, ApiError> {
    let user = path_id(params, "id", "user id")?;
    people::require_user(user)?;
    let groups = graph::neighbours(
        &people::user_node(user),
        MEMBER_OF,
        Direction::Outgoing,
        MAX_LINKS,
    )?;
    Response::json(200, &page_of(request, &groups, people::groups_by_id)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_friendship_is_the_same_whichever_side_asks() {
        let (a, b) = (summer_trip::new_id(), summer_trip::new_id());
        assert_eq!(friendship(a, b), friendship(b, a));
        assert_eq!(friendship(a, b).0.key, a.min(b).to_string());
    }
}
