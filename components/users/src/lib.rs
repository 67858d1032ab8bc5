//! The users component: `GET /users`, `GET /users/{id}` (read through a
//! cache), `POST /users`, `PATCH /users/{id}`, `DELETE /users/{id}` (which
//! also removes the user's friendships and memberships from the graph).

use serde::{Deserialize, Serialize};
use summer_sdk::http::{Request, Response};
use summer_sdk::sql::{self, Row};
use summer_sdk::{ApiError, Params, Router, Timestamp, cache, params};
use summer_trip::records::Table;
use summer_trip::{new_id, parse_id, people, text};
use uuid::Uuid;

summer_sdk::http_component!(handle);

const MAX_NAME_CHARS: usize = 100;
const MAX_EMAIL_CHARS: usize = 254;

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

const USERS: Table<User> = Table {
    name: "users",
    columns: "id, name, email, created_at",
    what: "user",
    from_row: User::from_row,
    id_of: |user| user.id,
};

/// `GET /users?limit=N&cursor=C`: users in creation order.
fn list_users(request: &Request, _: &Params) -> Result<Response, ApiError> {
    Response::json(200, &USERS.list(request)?)
}

fn user_id(params: &Params) -> Result<Uuid, ApiError> {
    parse_id("user id", params.get("id").unwrap_or_default())
}

/// `GET /users/{id}`, cache-aside: `X-Cache: hit` when the cache answered.
/// A cache that is down or holds garbage is read past, never fatal.
fn get_user(_: &Request, params: &Params) -> Result<Response, ApiError> {
    let id = user_id(params)?;
    if let Ok(Some(user)) = cache::get_json::<User>(&people::user_cache_key(id)) {
        return Ok(Response::json(200, &user)?.with_header("x-cache", "hit"));
    }
    let user = USERS.find(id)?;
    let _ = cache::set_json(
        &people::user_cache_key(id),
        &user,
        Some(people::USER_CACHE_TTL),
    );
    Ok(Response::json(200, &user)?.with_header("x-cache", "miss"))
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
    #[serde(default, deserialize_with = "summer_trip::patch::not_null")]
    name: Option<String>,
    #[serde(default, deserialize_with = "summer_trip::patch::not_null")]
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
        return Err(USERS.not_found(id));
    }
    forget(id);
    Response::json(200, &USERS.find(id)?)
}

/// `DELETE /users/{id}`: 204, with the user's friendships and memberships.
fn delete_user(_: &Request, params: &Params) -> Result<Response, ApiError> {
    let id = user_id(params)?;
    USERS.delete_with_node(id, &people::user_node(id))?;
    forget(id);
    Ok(Response::no_content())
}

/// Drops the cached copy of user `id`. If the cache is down the copy
/// expires within [`people::USER_CACHE_TTL`].
fn forget(id: Uuid) {
    let _ = cache::delete(&people::user_cache_key(id));
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
