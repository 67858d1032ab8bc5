//! The groups component: `GET /groups`, `GET /groups/{id}`, `POST /groups`,
//! `PATCH /groups/{id}`, `DELETE /groups/{id}` (which also removes the
//! group's memberships from the graph).

use serde::{Deserialize, Serialize};
use summer_sdk::http::{Request, Response};
use summer_sdk::sql::{self, Row, Transaction};
use summer_sdk::{ApiError, Params, Router, Timestamp, graph, params};
use summer_trip::{Page, new_id, paging, parse_id, people, text};
use uuid::Uuid;

summer_sdk::http_component!(handle);

const MAX_NAME_CHARS: usize = 100;
const MAX_DESCRIPTION_CHARS: usize = 1000;
const COLUMNS: &str = "id, name, description, created_at";

fn handle(request: &Request) -> Response {
    Router::new()
        .get("/groups", list_groups)
        .post("/groups", create_group)
        .get("/groups/{id}", get_group)
        .patch("/groups/{id}", update_group)
        .delete("/groups/{id}", delete_group)
        .handle(request)
}

/// A group as the API shows it.
#[derive(Debug, Serialize)]
struct Group {
    id: Uuid,
    name: String,
    description: String,
    created_at: Timestamp,
}

impl Group {
    fn from_row(row: Row<'_>) -> Result<Self, ApiError> {
        Ok(Self {
            id: row.get("id")?,
            name: row.get("name")?,
            description: row.get("description")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// `GET /groups?limit=N&cursor=C`: groups in creation order (UUIDv7 ids).
fn list_groups(request: &Request, _: &Params) -> Result<Response, ApiError> {
    let limit = paging::limit(request)?;
    let after = match paging::after(request)? {
        Some(after) => {
            Some(parse_id("cursor", &after).map_err(|_| ApiError::invalid("invalid cursor"))?)
        }
        None => None,
    };
    let fetch = i64::from(limit) + 1;
    let rows = match after {
        Some(after) => sql::query(
            &format!("SELECT {COLUMNS} FROM groups WHERE id > $1 ORDER BY id LIMIT $2"),
            &params![after, fetch],
        )?,
        None => sql::query(
            &format!("SELECT {COLUMNS} FROM groups ORDER BY id LIMIT $1"),
            &params![fetch],
        )?,
    };
    let groups = rows
        .iter()
        .map(Group::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Response::json(
        200,
        &Page::from_overfetch(groups, limit, |g| g.id.to_string()),
    )
}

fn group_id(params: &Params) -> Result<Uuid, ApiError> {
    parse_id("group id", params.get("id").unwrap_or_default())
}

/// `GET /groups/{id}`.
fn get_group(_: &Request, params: &Params) -> Result<Response, ApiError> {
    Response::json(200, &find_group(group_id(params)?)?)
}

fn find_group(id: Uuid) -> Result<Group, ApiError> {
    let rows = sql::query(
        &format!("SELECT {COLUMNS} FROM groups WHERE id = $1"),
        &params![id],
    )?;
    let row = rows
        .first()
        .ok_or_else(|| ApiError::not_found(format!("no group with id {id}")))?;
    Group::from_row(row)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewGroup {
    name: String,
    #[serde(default)]
    description: String,
}

/// `POST /groups {name, description?}`: 201 with the group, 409 if the name
/// is taken.
fn create_group(request: &Request, _: &Params) -> Result<Response, ApiError> {
    let new: NewGroup = request.json()?;
    let group = Group {
        id: new_id(),
        name: text::checked("name", &new.name, MAX_NAME_CHARS, false)?,
        description: validate_description(&new.description)?,
        created_at: Timestamp::now(),
    };
    sql::execute(
        "INSERT INTO groups (id, name, description, created_at) VALUES ($1, $2, $3, $4)",
        &params![
            group.id,
            group.name.as_str(),
            group.description.as_str(),
            group.created_at
        ],
    )
    .map_err(|e| name_taken(e, &group.name))?;
    Ok(Response::json(201, &group)?.with_header("location", &format!("/groups/{}", group.id)))
}

/// A description may be empty; otherwise it is checked like other text.
fn validate_description(description: &str) -> Result<String, ApiError> {
    if description.trim().is_empty() {
        return Ok(String::new());
    }
    text::checked("description", description, MAX_DESCRIPTION_CHARS, true)
}

fn name_taken(error: ApiError, name: &str) -> ApiError {
    if error.status == 409 {
        ApiError::conflict(format!("a group named {name:?} already exists"))
    } else {
        error
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupChanges {
    name: Option<String>,
    description: Option<String>,
}

/// `PATCH /groups/{id} {name?, description?}`: 200 with the updated group.
fn update_group(request: &Request, params: &Params) -> Result<Response, ApiError> {
    let id = group_id(params)?;
    let changes: GroupChanges = request.json()?;
    if changes.name.is_none() && changes.description.is_none() {
        return Err(ApiError::invalid(
            "give at least one of name and description",
        ));
    }
    let name = changes
        .name
        .as_deref()
        .map(|n| text::checked("name", n, MAX_NAME_CHARS, false))
        .transpose()?;
    let description = changes
        .description
        .as_deref()
        .map(validate_description)
        .transpose()?;
    let updated = sql::execute(
        "UPDATE groups SET name = COALESCE($1, name), description = COALESCE($2, description) WHERE id = $3",
        &params![name.clone(), description, id],
    )
    .map_err(|e| name_taken(e, name.as_deref().unwrap_or_default()))?;
    if updated == 0 {
        return Err(ApiError::not_found(format!("no group with id {id}")));
    }
    Response::json(200, &find_group(id)?)
}

/// `DELETE /groups/{id}`: 204. Commits only once the group's memberships
/// are gone from the graph.
fn delete_group(_: &Request, params: &Params) -> Result<Response, ApiError> {
    let id = group_id(params)?;
    let transaction = Transaction::begin()?;
    let deleted = transaction.execute("DELETE FROM groups WHERE id = $1", &params![id])?;
    if deleted == 0 {
        return Err(ApiError::not_found(format!("no group with id {id}")));
    }
    graph::delete_node(&people::group_node(id))?;
    transaction.commit()?;
    Ok(Response::no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_description_is_allowed_and_a_long_one_is_not() {
        assert_eq!(validate_description("  ").unwrap(), "");
        assert_eq!(validate_description(" hi\nthere ").unwrap(), "hi\nthere");
        assert!(validate_description(&"x".repeat(MAX_DESCRIPTION_CHARS + 1)).is_err());
    }
}
