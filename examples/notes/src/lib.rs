//! Example of the `sql` capability (docs/sql.md): notes kept in a table.
//!
//! - `PUT /notes/{slug}` with `{"text": "..."}` writes a note (200);
//! - `GET /notes/{slug}` reads it (404 when there is none);
//! - `GET /notes` lists the 20 most recently written;
//! - `DELETE /notes/{slug}` removes it (204).
//!
//! Its table is made by `migrations/0001_notes.sql`, which the host applies
//! when it loads the component (`sql = { migrations = ... }` in the manifest).

use serde::{Deserialize, Serialize};
use summer_sdk::http::{Request, Response};
use summer_sdk::sql::{self, Row};
use summer_sdk::{ApiError, Params, Router, Timestamp, params};

summer_sdk::http_component!(handle);

fn handle(request: &Request) -> Response {
    Router::new()
        .get("/notes", list)
        .get("/notes/{slug}", read)
        .put("/notes/{slug}", write)
        .delete("/notes/{slug}", remove)
        .handle(request)
}

#[derive(Deserialize)]
struct NewNote {
    text: String,
}

#[derive(Serialize)]
struct Note {
    slug: String,
    text: String,
    updated_at: Timestamp,
}

impl Note {
    fn from_row(row: Row<'_>) -> Result<Self, ApiError> {
        Ok(Self {
            slug: row.get("slug")?,
            text: row.get("text")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

fn write(request: &Request, params: &Params) -> Result<Response, ApiError> {
    let slug = params.get("slug").unwrap_or_default();
    let NewNote { text } = request.json()?;
    if text.is_empty() || text.len() > 10_000 {
        return Err(ApiError::invalid("text is 1 to 10000 bytes"));
    }
    let note = Note {
        slug: slug.to_owned(),
        text,
        updated_at: Timestamp::now(),
    };
    // Parameters are bound, never spliced into the statement.
    sql::execute(
        "INSERT INTO example_notes (slug, text, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (slug) DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at",
        &params![note.slug.as_str(), note.text.as_str(), note.updated_at],
    )?;
    Response::json(200, &note)
}

fn read(_request: &Request, params: &Params) -> Result<Response, ApiError> {
    let slug = params.get("slug").unwrap_or_default();
    let rows = sql::query(
        "SELECT slug, text, updated_at FROM example_notes WHERE slug = $1",
        &params![slug],
    )?;
    let row = rows
        .first()
        .ok_or_else(|| ApiError::not_found(format!("no note {slug:?}")))?;
    Response::json(200, &Note::from_row(row)?)
}

fn list(_request: &Request, _params: &Params) -> Result<Response, ApiError> {
    let rows = sql::query(
        "SELECT slug, text, updated_at FROM example_notes ORDER BY updated_at DESC LIMIT 20",
        &[],
    )?;
    let notes = rows
        .iter()
        .map(Note::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Response::json(200, &notes)
}

fn remove(_request: &Request, params: &Params) -> Result<Response, ApiError> {
    let slug = params.get("slug").unwrap_or_default();
    match sql::execute("DELETE FROM example_notes WHERE slug = $1", &params![slug])? {
        0 => Err(ApiError::not_found(format!("no note {slug:?}"))),
        _ => Ok(Response::no_content()),
    }
}
