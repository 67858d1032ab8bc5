//! The messages component: `POST /messages` and `GET /messages/{conversation_id}`,
//! newest first. A conversation is any id the clients agree on (a group's
//! id, or one made for two users); the author must be an existing user.

use serde::{Deserialize, Serialize};
use summer_sdk::http::{Request, Response};
use summer_sdk::wide::{self, WideRow};
use summer_sdk::{ApiError, Params, Router, Timestamp, Value};
use summer_trip::{new_id, paging, parse_id, people, text, timestamp_of};
use uuid::Uuid;

summer_sdk::http_component!(handle);

const TABLE: &str = "messages";
const MAX_CONTENT_CHARS: usize = 4000;

fn handle(request: &Request) -> Response {
    Router::new()
        .post("/messages", send_message)
        .get("/messages/{conversation_id}", list_messages)
        .handle(request)
}

/// A message as the API shows it.
#[derive(Debug, Serialize)]
struct Message {
    id: Uuid,
    conversation_id: Uuid,
    user_id: Uuid,
    content: String,
    sent_at: Timestamp,
}

impl Message {
    fn from_row(row: &WideRow) -> Result<Self, ApiError> {
        Ok(Self {
            id: row.get("id")?,
            conversation_id: row.get("conversation_id")?,
            user_id: row.get("user_id")?,
            content: row.get("content")?,
            sent_at: row.get("sent_at")?,
        })
    }

    fn cells(&self) -> [(&'static str, Value); 5] {
        [
            ("conversation_id", self.conversation_id.into()),
            ("sent_at", self.sent_at.into()),
            ("id", self.id.into()),
            ("user_id", self.user_id.into()),
            ("content", self.content.as_str().into()),
        ]
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewMessage {
    conversation_id: String,
    user_id: String,
    content: String,
}

/// `POST /messages {conversation_id, user_id, content}`: 201 with the
/// message; 404 when the user does not exist.
fn send_message(request: &Request, _: &Params) -> Result<Response, ApiError> {
    let new: NewMessage = request.json()?;
    let conversation_id = parse_id("conversation_id", &new.conversation_id)?;
    let user_id = parse_id("user_id", &new.user_id)?;
    let content = text::checked("content", &new.content, MAX_CONTENT_CHARS, true)?;
    people::require_user(user_id)?;
    let id = new_id();
    let message = Message {
        id,
        conversation_id,
        user_id,
        content,
        sent_at: timestamp_of(id).ok_or_else(|| ApiError::internal("a new id has no time"))?,
    };
    wide::put(TABLE, message.cells())?;
    Response::json(201, &message)
}

/// `GET /messages/{conversation_id}?limit=N&cursor=C`: newest first. The
/// cursor marks the last message seen, so messages sent meanwhile do not
/// shift the pages that follow.
fn list_messages(request: &Request, params: &Params) -> Result<Response, ApiError> {
    let conversation_id = parse_id(
        "conversation id",
        params.get("conversation_id").unwrap_or_default(),
    )?;
    let page = paging::wide_page(request, TABLE, &[conversation_id.into()], Message::from_row)?;
    Response::json(200, &page)
}
