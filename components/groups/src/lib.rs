//! The groups component: `GET /groups`, `GET /groups/{id}`, `POST /groups`,
//! `PATCH /groups/{id}`, `DELETE /groups/{id}` (which also removes the
//! group's memberships from the graph).

use serde::{Deserialize, Serialize};
use summer_sdk::http::{Request, Response};
use summer_sdk::sql::{self, Row};
use summer_sdk::{ApiError, Params, Router, Timestamp, params};
use summer_trip::records::Table;
use summer_trip::{new_id, parse_id, people, text};
use uuid::Uuid;

summer_sdk::http_component!(handle);

const MAX_NAME_CHARS: usize = 100;
const MAX_DESCRIPTION_CHARS: usize = 1000;

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

const GROUPS: Table<Group> = Table {
    name: "groups",
    columns: "id, name, description, created_at",
    what: "group",
    from_row: Group::from_row,
    id_of: |group| group.id,
};

/// `GET /groups?limit=N&cursor=C`: groups in creation order.
fn list_groups(request: &Request, _: &Params) -> Result<Response, ApiError> {
    Response::json(200, &GROUPS.list(request)?)
}

fn group_id(params: &Params) -> Result<Uuid, ApiError> {
    parse_id("group id", params.get("id").unwrap_or_default())
}

/// `GET /groups/{id}`.
fn get_group(_: &Request, params: &Params) -> Result<Response, ApiError> {
    Response::json(200, &GROUPS.find(group_id(params)?)?)
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
    #[serde(default, deserialize_with = "summer_trip::patch::not_null")]
    name: Option<String>,
    #[serde(default, deserialize_with = "summer_trip::patch::not_null")]
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
        return Err(GROUPS.not_found(id));
    }
    Response::json(200, &GROUPS.find(id)?)
}

/// `DELETE /groups/{id}`: 204, with the group's memberships.
fn delete_group(_: &Request, params: &Params) -> Result<Response, ApiError> {
    let id = group_id(params)?;
    GROUPS.delete_with_node(id, &people::group_node(id))?;
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
