//! The users component: `GET /users`, `GET /users/{id}`, `POST /users`.

use serde::{Deserialize, Serialize};
use summer_sdk::http::{Request, Response};
use summer_sdk::sql::{self, Row};
use summer_sdk::{ApiError, Params, Router, Timestamp, cursor, params};
use uuid::Uuid;

summer_sdk::http_component!(handle);

/// Default and largest page sizes of `GET /users`.
const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;
const MAX_NAME_CHARS: usize = 100;
const MAX_EMAIL_CHARS: usize = 254;

fn handle(request: &Request) -> Response {
    Router::new()
        .get("/users", list_users)
        .post("/users", create_user)
        .get("/users/{id}", get_user)
        .handle(request)
}

/// A user as the API shows it.
#[derive(Debug, Serialize)]
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

#[derive(Serialize)]
struct Page<T> {
    items: Vec<T>,
    next_cursor: Option<String>,
}

/// `GET /users?limit=N&cursor=C`: users in creation order. Ids are UUIDv7,
/// so ordering by id is ordering by creation time, and the cursor is the
/// last id of the page.
fn list_users(request: &Request, _: &Params) -> Result<Response, ApiError> {
    let limit = parse_limit(request.query_param("limit")?.as_deref())?;
    let after = match request.query_param("cursor")? {
        Some(c) => {
            Some(parse_id(&cursor::decode(&c)?).map_err(|_| ApiError::invalid("invalid cursor"))?)
        }
        None => None,
    };
    let fetch = i64::from(limit) + 1;
    let rows = match after {
        Some(after) => sql::query(
            "SELECT id, name, email, created_at FROM users WHERE id > $1 ORDER BY id LIMIT $2",
            &params![after, fetch],
        )?,
        None => sql::query(
            "SELECT id, name, email, created_at FROM users ORDER BY id LIMIT $1",
            &params![fetch],
        )?,
    };
    let mut items = rows
        .iter()
        .map(User::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|u| cursor::encode(&u.id.to_string()))
    } else {
        None
    };
    Response::json(200, &Page { items, next_cursor })
}

fn parse_limit(limit: Option<&str>) -> Result<u32, ApiError> {
    let Some(limit) = limit else {
        return Ok(DEFAULT_LIMIT);
    };
    match limit.parse::<u32>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid(format!(
            "limit must be a whole number from 1 to {MAX_LIMIT}"
        ))),
    }
}

fn parse_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::try_parse(text)
        .map_err(|_| ApiError::invalid(format!("{text:?} is not a valid user id (UUID)")))
}

/// `GET /users/{id}`.
fn get_user(_: &Request, params: &Params) -> Result<Response, ApiError> {
    let id = parse_id(params.get("id").unwrap_or_default())?;
    let rows = sql::query(
        "SELECT id, name, email, created_at FROM users WHERE id = $1",
        &params![id],
    )?;
    let row = rows
        .first()
        .ok_or_else(|| ApiError::not_found(format!("no user with id {id}")))?;
    Response::json(200, &User::from_row(row)?)
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
        id: Uuid::now_v7(),
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
    match inserted {
        Ok(_) => {}
        Err(e) if e.status == 409 => {
            return Err(ApiError::conflict(format!(
                "a user with email {} already exists",
                user.email
            )));
        }
        Err(e) => return Err(e),
    }
    Ok(Response::json(201, &user)?.with_header("location", &format!("/users/{}", user.id)))
}

fn validate_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ApiError::invalid("name must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::invalid(format!(
            "name must be at most {MAX_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "name must not contain control characters",
        ));
    }
    Ok(name.to_owned())
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
    fn limits_are_checked() {
        assert_eq!(parse_limit(None).unwrap(), DEFAULT_LIMIT);
        assert_eq!(parse_limit(Some("1")).unwrap(), 1);
        assert_eq!(parse_limit(Some("100")).unwrap(), 100);
        for bad in ["0", "101", "-1", "ten", ""] {
            assert_eq!(parse_limit(Some(bad)).unwrap_err().status, 400, "{bad}");
        }
    }

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
