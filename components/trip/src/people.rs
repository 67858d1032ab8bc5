//! Users and groups as other components see them: the SQL rows that say a
//! user or group exists, and their nodes in the shared graph.

use serde::Serialize;
use summer_sdk::graph::NodeRef;
use summer_sdk::sql::{self, Row};
use summer_sdk::{ApiError, Value, params};
use uuid::Uuid;

/// The graph label of users.
pub const USER: &str = "User";
/// The graph label of groups.
pub const GROUP: &str = "Group";
/// User to user; stored once per pair, from the smaller id to the larger.
pub const FRIEND: &str = "FRIEND";
/// User to group.
pub const MEMBER_OF: &str = "MEMBER_OF";

/// How long a user's cached copy lives, whether the users component or
/// the seed wrote it.
pub const USER_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// The cache key of user `id`'s JSON.
pub fn user_cache_key(id: Uuid) -> String {
    format!("user:{id}")
}

pub fn user_node(id: Uuid) -> NodeRef {
    NodeRef::new(USER, &id.to_string())
}

pub fn group_node(id: Uuid) -> NodeRef {
    NodeRef::new(GROUP, &id.to_string())
}

/// A user as lists of friends and members show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UserRef {
    pub id: Uuid,
    pub name: String,
}

/// A group as a user's list of groups shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupRef {
    pub id: Uuid,
    pub name: String,
}

fn id_and_name(row: Row<'_>) -> Result<(Uuid, String), ApiError> {
    Ok((row.get("id")?, row.get("name")?))
}

/// The user `id`, or a 404.
pub fn require_user(id: Uuid) -> Result<UserRef, ApiError> {
    let (id, name) = find_one("users", id)?
        .ok_or_else(|| ApiError::not_found(format!("no user with id {id}")))?;
    Ok(UserRef { id, name })
}

/// The group `id`, or a 404.
pub fn require_group(id: Uuid) -> Result<GroupRef, ApiError> {
    let (id, name) = find_one("groups", id)?
        .ok_or_else(|| ApiError::not_found(format!("no group with id {id}")))?;
    Ok(GroupRef { id, name })
}

fn find_one(table: &str, id: Uuid) -> Result<Option<(Uuid, String)>, ApiError> {
    let rows = sql::query(
        &format!("SELECT id, name FROM {table} WHERE id = $1"),
        &params![id],
    )?;
    rows.first().map(id_and_name).transpose()
}

/// The users among `ids` that exist, in the order of `ids`.
pub fn users_by_id(ids: &[Uuid]) -> Result<Vec<UserRef>, ApiError> {
    Ok(find_many("users", ids)?
        .into_iter()
        .map(|(id, name)| UserRef { id, name })
        .collect())
}

/// The groups among `ids` that exist, in the order of `ids`.
pub fn groups_by_id(ids: &[Uuid]) -> Result<Vec<GroupRef>, ApiError> {
    Ok(find_many("groups", ids)?
        .into_iter()
        .map(|(id, name)| GroupRef { id, name })
        .collect())
}

fn find_many(table: &str, ids: &[Uuid]) -> Result<Vec<(Uuid, String)>, ApiError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let statement = format!(
        "SELECT id, name FROM {table} WHERE id IN ({})",
        placeholders.join(", ")
    );
    let values: Vec<Value> = ids.iter().map(|id| Value::from(*id)).collect();
    let found = sql::query(&statement, &values)?
        .iter()
        .map(id_and_name)
        .collect::<Result<std::collections::HashMap<_, _>, _>>()?;
    Ok(ids
        .iter()
        .filter_map(|id| found.get(id).map(|name| (*id, name.clone())))
        .collect())
}

/// The ids of graph nodes (their keys); a key that is not a UUID is skipped.
pub fn node_ids(nodes: &[summer_sdk::graph::Node]) -> Vec<Uuid> {
    nodes
        .iter()
        .filter_map(|n| Uuid::try_parse(&n.id.key).ok())
        .collect()
}
