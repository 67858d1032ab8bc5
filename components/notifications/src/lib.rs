//! The notifications component: `POST /notifications`, a user's
//! notifications newest first (`GET /notifications/{user_id}`, optionally
//! only the unread ones), and marking one or all of them as read.

use serde::{Deserialize, Serialize};
use summer_sdk::http::{Request, Response};
use summer_sdk::wide::{self, Order, WideRow};
use summer_sdk::{ApiError, Params, Router, Timestamp, Value};
use summer_trip::{new_id, paging, parse_id, people, text, timestamp_of};
use uuid::Uuid;

summer_sdk::http_component!(handle);

const ALL: &str = "notifications";
const UNREAD: &str = "unread_notifications";
const MAX_TYPE_CHARS: usize = 50;
const MAX_CONTENT_CHARS: usize = 1000;
/// Rows marked read per round when marking all.
const MARK_BATCH: u32 = 500;

fn handle(request: &Request) -> Response {
    Router::new()
        .post("/notifications", create_notification)
        .get("/notifications/{user_id}", list_notifications)
        .post("/notifications/{user_id}/read", mark_all_read)
        .post("/notifications/{user_id}/{id}/read", mark_one_read)
        .handle(request)
}

/// A notification as the API shows it.
#[derive(Debug, Serialize)]
struct Notification {
    id: Uuid,
    user_id: Uuid,
    #[serde(rename = "type")]
    kind: String,
    content: String,
    read: bool,
    created_at: Timestamp,
}

impl Notification {
    fn from_row(row: &WideRow) -> Result<Self, ApiError> {
        Ok(Self {
            id: row.get("id")?,
            user_id: row.get("user_id")?,
            kind: row.get("type")?,
            content: row.get("content")?,
            // Rows of the unread table have no `read` column.
            read: row.get::<Option<bool>>("read")?.unwrap_or(false),
            created_at: row.get("created_at")?,
        })
    }

    /// The row of the unread table.
    fn unread_cells(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("user_id", self.user_id.into()),
            ("created_at", self.created_at.into()),
            ("id", self.id.into()),
            ("type", self.kind.as_str().into()),
            ("content", self.content.as_str().into()),
        ]
    }

    /// The row of the table of all notifications.
    fn cells(&self) -> Vec<(&'static str, Value)> {
        let mut cells = self.unread_cells();
        cells.push(("read", self.read.into()));
        cells
    }

    fn key(&self) -> [Value; 3] {
        [self.user_id.into(), self.created_at.into(), self.id.into()]
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewNotification {
    user_id: String,
    #[serde(rename = "type")]
    kind: String,
    content: String,
}

/// `POST /notifications {user_id, type, content}`: 201 with the
/// notification, unread; 404 when the user does not exist.
fn create_notification(request: &Request, _: &Params) -> Result<Response, ApiError> {
    let new: NewNotification = request.json()?;
    let user_id = parse_id("user_id", &new.user_id)?;
    let kind = text::token("type", &new.kind, MAX_TYPE_CHARS)?;
    let content = text::checked("content", &new.content, MAX_CONTENT_CHARS, true)?;
    people::require_user(user_id)?;
    let id = new_id();
    let notification = Notification {
        id,
        user_id,
        kind,
        content,
        read: false,
        created_at: timestamp_of(id).ok_or_else(|| ApiError::internal("a new id has no time"))?,
    };
    wide::put(ALL, notification.cells())?;
    wide::put(UNREAD, notification.unread_cells())?;
    Response::json(201, &notification)
}

fn user_id(params: &Params) -> Result<Uuid, ApiError> {
    parse_id("user id", params.get("user_id").unwrap_or_default())
}

/// `GET /notifications/{user_id}?unread=true&limit=N&cursor=C`: newest first.
fn list_notifications(request: &Request, params: &Params) -> Result<Response, ApiError> {
    let user_id = user_id(params)?;
    let unread_only = match request.query_param("unread")?.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::invalid("unread must be true or false")),
    };
    people::require_user(user_id)?;
    let table = if unread_only { UNREAD } else { ALL };
    let page = paging::wide_page(request, table, &[user_id.into()], Notification::from_row)?;
    Response::json(200, &page)
}

/// `POST /notifications/{user_id}/{id}/read`: 200 with the notification,
/// now read (also when it already was).
fn mark_one_read(_: &Request, params: &Params) -> Result<Response, ApiError> {
    let user_id = user_id(params)?;
    let id = parse_id("notification id", params.get("id").unwrap_or_default())?;
    let not_found = || ApiError::not_found(format!("user {user_id} has no notification {id}"));
    let created_at = timestamp_of(id).ok_or_else(not_found)?;
    let key: [Value; 3] = [user_id.into(), created_at.into(), id.into()];
    let row = wide::get(ALL, &key)?.ok_or_else(not_found)?;
    let mut notification = Notification::from_row(&row)?;
    if !notification.read {
        notification.read = true;
        wide::put(ALL, notification.cells())?;
    }
    wide::delete(UNREAD, &notification.key())?;
    Response::json(200, &notification)
}

/// What marking all read did: how many this call marked, and the id bound
/// it marked up to (the id minted as it started; ids are UUIDv7s, so every
/// notification created later has a larger one and stays unread).
#[derive(Serialize)]
struct Marked {
    marked: u64,
    through: Uuid,
}

/// `POST /notifications/{user_id}/read`: marks read every notification
/// that was unread when the call started; 200 with how many this call
/// marked. Notifications that arrive meanwhile stay unread, and of calls
/// that overlap each notification is counted by exactly one.
fn mark_all_read(_: &Request, params: &Params) -> Result<Response, ApiError> {
    let user_id = user_id(params)?;
    people::require_user(user_id)?;
    // Ids are UUIDv7s, so every notification created from here on has a larger one.
    let started = new_id();
    let mut marked = 0;
    let mut cursor = None;
    loop {
        let page = wide::scan(
            UNREAD,
            &[user_id.into()],
            Order::Ascending,
            MARK_BATCH,
            cursor.as_deref(),
        )?;
        let rows: Vec<Notification> = page
            .rows
            .iter()
            .map(Notification::from_row)
            .collect::<Result<_, _>>()?;
        // Ascending order: once one is newer than the start, all that follow are.
        let newer = rows.iter().any(|n| n.id > started);
        marked += mark(rows.into_iter().filter(|n| n.id <= started).collect())?;
        match page.next {
            Some(next) if !newer => cursor = Some(next),
            _ => {
                let through = started;
                return Response::json(200, &Marked { marked, through });
            }
        }
    }
}

/// Marks unread notifications read; how many of them this call took off
/// the unread table (a concurrent call takes the others).
fn mark(mut notifications: Vec<Notification>) -> Result<u64, ApiError> {
    if notifications.is_empty() {
        return Ok(0);
    }
    for n in &mut notifications {
        n.read = true;
    }
    wide::put_many(ALL, notifications.iter().map(Notification::cells))?;
    let keys: Vec<Vec<Value>> = notifications.iter().map(|n| n.key().to_vec()).collect();
    let taken = wide::delete_existing(UNREAD, &keys)?;
    Ok(taken.iter().filter(|t| **t).count() as u64)
}
