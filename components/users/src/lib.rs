//! The users component: `GET /users`, `GET /users/{id}` (read through a
//! cache), `POST /users`, `PATCH /users/{id}`, `DELETE /users/{id}` (which
//! also removes the user's friendships and memberships from the graph).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use summer_sdk::http::{Request, Response};
use summer_sdk::sql::{self, Row, Transaction};
use summer_sdk::{ApiError, Params, Router, Timestamp, cache, graph, params};
use summer_trip::{Page, new_id, paging, parse_id, people, text};
use uuid::Uuid;

summer_sdk::http_component!(handle);

const MAX_NAME_CHARS: usize = 100;
const MAX_EMAIL_CHARS: usize = 254;
/// How long a user stays cached after a read.
const CACHE_TTL: Duration = Duration::from_secs(60);
const COLUMNS: &str = "id, name, email, created_at";

fn handle(request: &Request) -> Response {
    Router::new()
        .get("/users", list_users)
        .post("/users", create_user)
        .get("/users/{id}", get_user)
        .patch("/users/{id}", update_user)
        .delete("/users/{id}", delete_user)
        .handle(request)
}

/// A user as the API shows it.
#[derive(Debug, Serialize, Deserialize)]
struct User {
    id: Uuid,
    name: String,
    email: String,
    created_at: Timestamp,
}

impl User {
    fn from_row(row: Row<'_>) -> Result<Self, ApiError> {
        Ok(Self {
            id: row.get("id")?,
            name: row.get("name")?,
            email: row.get("email")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// `GET /users?limit=N&cursor=C`: users in creation order. Ids are UUIDv7,
/// so ordering by id is ordering by creation time, and the cursor is the
/// last id of the page.
fn list_users(request: &Request, _: &Params) -> Result<Response, ApiError> {
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
            &format!("SELECT {COLUMNS} FROM users WHERE id > $1 ORDER BY id LIMIT $2"),
            &params![after, fetch],
        )?,
        None => sql::query(
            &format!("SELECT {COLUMNS} FROM users ORDER BY id LIMIT $1"),
            &params![fetch],
        )?,
    };
    let users = rows
        .iter()
        .map(User::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Response::json(
        200,
        &Page::from_overfetch(users, limit, |u| u.id.to_string()),
    )
}

fn user_id(params: &Params) -> Result<Uuid, ApiError> {
    parse_id("user id", params.get("id").unwrap_or_default())
}

fn cache_key(id: Uuid) -> String {
    format!("user:{id}")
}

/// `GET /users/{id}`, cache-aside: `X-Cache: hit` when the cache answered.
/// A cache that is down or holds garbage is read past, never fatal.
fn get_user(_: &Request, params: &Params) -> Result<Response, ApiError> {
    let id = user_id(params)?;
    if let Ok(Some(user)) = cache::get_json::<User>(&cache_key(id)) {
        return Ok(Response::json(200, &user)?.with_header("x-cache", "hit"));
    }
    let user = find_user(id)?;
    let _ = cache::set_json(&cache_key(id), &user, Some(CACHE_TTL));
    Ok(Response::json(200, &user)?.with_header("x-cache", "miss"))
}

fn find_user(id: Uuid) -> Result<User, ApiError> {
    let rows = sql::query(
        &format!("SELECT {COLUMNS} FROM users WHERE id = $1"),
        &params![id],
    )?;
    let row = rows
        .first()
        .ok_or_else(|| ApiError::not_found(format!("no user with id {id}")))?;
    User::from_row(row)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    name: String,
    email: String,
}

/// `POST /users {name, email}`: 201 with the user, 409 if the email is taken.
fn create_user(request: &Request, _: &Params) -> Result<Response, ApiError> {
    let new: NewUser = request.json()?;
    let user = User {
        id: new_id(),
        name: validate_name(&new.name)?,
        email: validate_email(&new.email)?,
        created_at: Timestamp::now(),
    };
    let inserted = sql::execute(
        "INSERT INTO users (id, name, email, created_at) VALUES ($1, $2, $3, $4)",
        &params![
            user.id,
            user.name.as_str(),
            user.email.as_str(),
            user.created_at
        ],
    );
    inserted.map_err(|e| email_taken(e, &user.email))?;
    Ok(Response::json(201, &user)?.with_header("location", &format!("/users/{}", user.id)))
}

fn email_taken(error: ApiError, email: &str) -> ApiError {
    if error.status == 409 {
        ApiError::conflict(format!("a user with email {email} already exists"))
    } else {
        error
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserChanges {
    name: Option<String>,
    email: Option<String>,
}

/// `PATCH /users/{id} {name?, email?}`: 200 with the updated user.
fn update_user(request: &Request, params: &Params) -> Result<Response, ApiError> {
    let id = user_id(params)?;
    let changes: UserChanges = request.json()?;
    if changes.name.is_none() && changes.email.is_none() {
        return Err(ApiError::invalid("give at least one of name and email"));
    }
    let name = changes.name.as_deref().map(validate_name).transpose()?;
    let email = changes.email.as_deref().map(validate_email).transpose()?;
    let updated = sql::execute(
        "UPDATE users SET name = COALESCE($1, name), email = COALESCE($2, email) WHERE id = $3",
        &params![name, email.clone(), id],
    )
    .map_err(|e| email_taken(e, email.as_deref().unwrap_or_default()))?;
    if updated == 0 {
        return Err(ApiError::not_found(format!("no user with id {id}")));
    }
    forget(id);
    Response::json(200, &find_user(id)?)
}

/// `DELETE /users/{id}`: 204. The row goes in a transaction that commits
/// only once the user's node (friendships, memberships) is gone from the
/// graph, so a graph that is down leaves the user whole.
fn delete_user(_: &Request, params: &Params) -> Result<Response, ApiError> {
    let id = user_id(params)?;
    let transaction = Transaction::begin()?;
    let deleted = transaction.execute("DELETE FROM users WHERE id = $1", &params![id])?;
    if deleted == 0 {
        return Err(ApiError::not_found(format!("no user with id {id}")));
    }
    graph::delete_node(&people::user_node(id))?;
    transaction.commit()?;
    forget(id);
    Ok(Response::no_content())
}

/// Drops the cached copy of user `id`. If the cache is down the copy
/// expires within [`CACHE_TTL`].
fn forget(id: Uuid) {
    let _ = cache::delete(&cache_key(id));
}

fn validate_name(name: &str) -> Result<String, ApiError> {
    text::checked("name", name, MAX_NAME_CHARS, false)
}

/// A deliberately simple check: one `@`, a non-empty local part, a domain
/// with a dot and no empty labels, no spaces. Stored lowercase.
fn validate_email(email: &str) -> Result<String, ApiError> {
    let email = email.trim().to_lowercase();
    let invalid = || ApiError::invalid(format!("{email:?} is not a valid email address"));
    if email.len() > MAX_EMAIL_CHARS || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let domain_ok = domain.contains('.') && domain.split('.').all(|label| !label.is_empty());
    if local.is_empty() || domain.contains('@') || !domain_ok {
        return Err(invalid());
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_and_lowercased() {
        assert_eq!(
            validate_email(" Ada@Example.ORG ").unwrap(),
            "ada@example.org"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.org",
            "ada@example",
            "a@b@c.d",
            "a b@c.d",
            "ada@example..org",
        ] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(validate_name("  Ada Lovelace ").unwrap(), "Ada Lovelace");
        assert!(validate_name("   ").is_err());
        assert!(validate_name(&"x".repeat(MAX_NAME_CHARS + 1)).is_err());
        assert!(validate_name("a\u{0}b").is_err());
        assert!(validate_name(&"é".repeat(MAX_NAME_CHARS)).is_ok());
    }
}
