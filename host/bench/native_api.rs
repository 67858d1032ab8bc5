//! The native baseline of the api benchmark (`tooling/bench api`): the
//! Summer-Trip routes it loads, written straight against the backends the
//! host gives components (the same drivers and pools, statements, cache
//! keys, namespaces, validation and JSON), with no WebAssembly in between.
//! `prepare` writes the benchmark's fixture through the same backends and
//! prints what it made as one JSON line.
//!
//!   native_api serve --port PORT [summer serve's settings]
//!   native_api prepare --miss-users N --miss-file PATH [summer serve's settings]

#[path = "shared/mod.rs"]
mod shared;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use clap::Parser;
use http::{Method, Request, Response, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use summer::capabilities::graph::{Node, NodeRef, Relationship};
use summer::capabilities::wide::{Order, PageRequest, TableSchema, Value, scan_page};
use summer::capabilities::{Backends, CapabilityError, ErrorKind};
use summer::config::Settings;
use summer::manifest::Manifest;
use summer::runtime::prepare_databases;
use summer_sdk::multipart::Multipart;
use summer_sdk::{ApiError, Timestamp, cursor};
use summer_trip::{new_id, parse_id, text, timestamp_of};
use uuid::Uuid;

/// The namespace the Summer-Trip components share (see summer.toml).
const NAMESPACE: &str = "summer-trip";
/// The same namespace as a graph label prefix.
const GRAPH_PREFIX: &str = "summer_trip__";
/// As the users component caches a user.
const CACHE_TTL: Duration = Duration::from_secs(60);
/// As the messages component bounds a message.
const MAX_CONTENT_CHARS: usize = 4000;
/// As the Summer-Trip lists page.
const DEFAULT_LIMIT: u32 = 20;
const MAX_SUGGESTIONS: u32 = 100;
/// As the guest SDK reads and writes blobs.
const CHUNK: usize = 64 * 1024;
/// The size of the file the benchmark downloads.
const FILE_BYTES: usize = 1 << 20;
/// Rows per `INSERT` when writing the fixture.
const SQL_BATCH: usize = 250;

#[derive(Parser)]
enum Command {
    /// Serves the benchmarked routes on 127.0.0.1:PORT.
    Serve {
        #[arg(long)]
        port: u16,
        #[command(flatten)]
        settings: Settings,
    },
    /// Writes the fixture; prints its ids as one JSON line.
    Prepare {
        /// Users that only the cache-miss run reads, each once.
        #[arg(long)]
        miss_users: usize,
        /// Where their ids go, one per line.
        #[arg(long)]
        miss_file: std::path::PathBuf,
        #[command(flatten)]
        settings: Settings,
    },
}

impl Command {
    fn settings(&self) -> &Settings {
        match self {
            Command::Serve { settings, .. } | Command::Prepare { settings, .. } => settings,
        }
    }
}

/// What the routes need: the backends and the messages table.
struct App {
    backends: Backends,
    messages: Arc<TableSchema>,
}

type Body = UnsyncBoxBody<Bytes, Infallible>;

#[tokio::main]
async fn main() -> Result<()> {
    let command = Command::parse();
    let manifest = Manifest::load(&command.settings().manifest)?;
    let backends = Backends::open(command.settings()).await?;
    let mut tables = summer::capabilities::wide::TableSet::new();
    for component in manifest.components.iter().chain(&manifest.seed) {
        tables.extend(prepare_databases(&backends, component).await?);
    }
    let messages = tables.get("messages").context("no messages table")?.clone();
    let app = Arc::new(App { backends, messages });
    match command {
        Command::Serve { port, .. } => serve(app, port).await,
        Command::Prepare {
            miss_users,
            miss_file,
            ..
        } => {
            let fixture = prepare(&app, miss_users, &miss_file).await?;
            println!("{fixture}");
            app.backends.close().await;
            Ok(())
        }
    }
}

async fn serve(app: Arc<App>, port: u16) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let app = app.clone();
                async move { Ok::<_, Infallible>(app.handle(request).await) }
            });
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn user_node(id: Uuid) -> NodeRef {
    NodeRef {
        label: format!("{GRAPH_PREFIX}User"),
        key: id.to_string(),
    }
}

fn uuid(id: Uuid) -> Value {
    Value::Uuid(id.hyphenated().to_string())
}

fn json(status: u16, value: &impl Serialize) -> Result<Response<Body>, ApiError> {
    let body = serde_json::to_vec(value).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)).boxed_unsync())
        .expect("a valid response"))
}

fn error_response(error: &ApiError) -> Response<Body> {
    json(error.status, &error.body()).expect("an error body serializes")
}

/// A capability error as the guest SDK turns it into an HTTP error.
fn api(error: CapabilityError) -> ApiError {
    let (status, code) = match error.kind {
        ErrorKind::NotFound => (404, "not_found"),
        ErrorKind::Conflict => (409, "conflict"),
        ErrorKind::Unavailable => (503, "unavailable"),
        ErrorKind::Timeout => (504, "timeout"),
        ErrorKind::Invalid | ErrorKind::Denied | ErrorKind::Internal => (500, "internal"),
    };
    ApiError::new(status, code, error.message)
}

/// A user as the users component shows and caches it.
#[derive(Serialize, serde::Deserialize)]
struct User {
    id: Uuid,
    name: String,
    email: String,
    created_at: Timestamp,
}

/// A message as the messages component shows it.
#[derive(Serialize)]
struct Message {
    id: Uuid,
    conversation_id: Uuid,
    user_id: Uuid,
    content: String,
    sent_at: Timestamp,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewMessage {
    conversation_id: String,
    user_id: String,
    content: String,
}

#[derive(Serialize)]
struct Page<T> {
    items: Vec<T>,
    next_cursor: Option<String>,
}

#[derive(Clone, Serialize)]
struct UserRef {
    id: Uuid,
    name: String,
}

#[derive(Serialize)]
struct Suggestion {
    user: UserRef,
    mutual_friends: u32,
}

/// A stored file as the storage component shows it.
#[derive(Serialize)]
struct File {
    filename: String,
    size: u64,
    content_type: String,
    uploaded_at: Timestamp,
}

fn text_of(value: &Value) -> Result<String, ApiError> {
    match value {
        Value::Text(text) | Value::Uuid(text) => Ok(text.clone()),
        other => Err(ApiError::internal(format!("expected text, got {other:?}"))),
    }
}

fn uuid_of(value: &Value) -> Result<Uuid, ApiError> {
    Uuid::try_parse(&text_of(value)?).map_err(|e| ApiError::internal(e.to_string()))
}

fn timestamp_value(value: &Value) -> Result<Timestamp, ApiError> {
    match value {
        Value::Timestamp(micros) => Ok(Timestamp(*micros)),
        Value::Text(text) => {
            Timestamp::parse(text).ok_or_else(|| ApiError::internal("not a timestamp"))
        }
        other => Err(ApiError::internal(format!(
            "expected a timestamp, got {other:?}"
        ))),
    }
}

/// A row of named cells, by column name.
fn named<'a>(columns: &'a [String], row: &'a [Value]) -> HashMap<&'a str, &'a Value> {
    columns.iter().map(String::as_str).zip(row).collect()
}

fn cell<'a>(row: &HashMap<&str, &'a Value>, name: &str) -> Result<&'a Value, ApiError> {
    row.get(name)
        .copied()
        .ok_or_else(|| ApiError::internal(format!("no column {name}")))
}

impl App {
    async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        let path = request.uri().path().to_owned();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let outcome = match (request.method(), segments.as_slice()) {
            (&Method::GET, ["users", id]) => self.get_user(id).await,
            (&Method::GET, ["users", id, "friends", "suggestions"]) => {
                self.suggest_friends(id).await
            }
            (&Method::POST, ["messages"]) => self.send_message(request).await,
            (&Method::GET, ["messages", id]) => self.list_messages(id).await,
            (&Method::POST, ["storage", "upload"]) => self.upload(request).await,
            (&Method::GET, ["storage", "download", name]) => self.download(name).await,
            _ => Err(ApiError::not_found(format!("no route for {path}"))),
        };
        outcome.unwrap_or_else(|e| error_response(&e))
    }

    /// `GET /users/{id}`, cache-aside, as the users component.
    async fn get_user(&self, id: &str) -> Result<Response<Body>, ApiError> {
        let id = parse_id("user id", id)?;
        let key = format!("{NAMESPACE}:user:{id}");
        if let Ok(Some(bytes)) = self.backends.cache.get(&key).await
            && let Ok(user) = serde_json::from_slice::<User>(&bytes)
        {
            return Ok(with_header(json(200, &user)?, "x-cache", "hit"));
        }
        let rows = self
            .backends
            .sql
            .query(
                "SELECT id, name, email, created_at FROM users WHERE id = $1",
                vec![uuid(id)],
            )
            .await
            .map_err(api)?;
        let row = rows
            .rows
            .first()
            .ok_or_else(|| ApiError::not_found(format!("no user with id {id}")))?;
        let row = named(&rows.columns, row);
        let user = User {
            id: uuid_of(cell(&row, "id")?)?,
            name: text_of(cell(&row, "name")?)?,
            email: text_of(cell(&row, "email")?)?,
            created_at: timestamp_value(cell(&row, "created_at")?)?,
        };
        let cached = serde_json::to_vec(&user).map_err(|e| ApiError::internal(e.to_string()))?;
        let _ = self.backends.cache.set(&key, cached, Some(CACHE_TTL)).await;
        Ok(with_header(json(200, &user)?, "x-cache", "miss"))
    }

    /// The user `id` (id and name), or a 404, as `people::require_user`.
    async fn require_user(&self, id: Uuid) -> Result<UserRef, ApiError> {
        let found = self.users_by_id(&[id]).await?;
        found
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::not_found(format!("no user with id {id}")))
    }

    /// The users among `ids` that exist, in the order of `ids`.
    async fn users_by_id(&self, ids: &[Uuid]) -> Result<Vec<UserRef>, ApiError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let statement = if ids.len() == 1 {
            "SELECT id, name FROM users WHERE id = $1".to_owned()
        } else {
            let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
            format!(
                "SELECT id, name FROM users WHERE id IN ({})",
                placeholders.join(", ")
            )
        };
        let values = ids.iter().map(|id| uuid(*id)).collect();
        let rows = self
            .backends
            .sql
            .query(&statement, values)
            .await
            .map_err(api)?;
        let mut found = HashMap::new();
        for row in &rows.rows {
            let row = named(&rows.columns, row);
            found.insert(uuid_of(cell(&row, "id")?)?, text_of(cell(&row, "name")?)?);
        }
        Ok(ids
            .iter()
            .filter_map(|id| {
                found.get(id).map(|name| UserRef {
                    id: *id,
                    name: name.clone(),
                })
            })
            .collect())
    }

    /// `GET /users/{id}/friends/suggestions`, first page, as the social component.
    async fn suggest_friends(&self, id: &str) -> Result<Response<Body>, ApiError> {
        let user = parse_id("user id", id)?;
        self.require_user(user).await?;
        let (offset, limit) = (0, DEFAULT_LIMIT);
        let wanted = (offset + limit + 1).min(MAX_SUGGESTIONS);
        let ranked = self
            .backends
            .graph
            .suggest(
                &user_node(user),
                &format!("{GRAPH_PREFIX}FRIEND"),
                2,
                wanted,
            )
            .await
            .map_err(api)?;
        let ids: Vec<Uuid> = ranked
            .iter()
            .filter_map(|s| Uuid::try_parse(&s.node.id.key).ok())
            .collect();
        let existing = self.users_by_id(&ids).await?;
        let mut items: Vec<Suggestion> = ranked
            .iter()
            .filter_map(|s| {
                let user = existing
                    .iter()
                    .find(|u| u.id.to_string() == s.node.id.key)?;
                Some(Suggestion {
                    user: user.clone(),
                    mutual_friends: s.mutual,
                })
            })
            .collect();
        let more = items.len() > limit as usize && offset + limit < MAX_SUGGESTIONS;
        items.truncate(limit as usize);
        let next_cursor = more.then(|| cursor::encode(&(offset + limit).to_string()));
        json(200, &Page { items, next_cursor })
    }

    /// `POST /messages`, as the messages component.
    async fn send_message(&self, request: Request<Incoming>) -> Result<Response<Body>, ApiError> {
        let body = read_body(request).await?;
        let new: NewMessage = serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))?;
        let conversation_id = parse_id("conversation_id", &new.conversation_id)?;
        let user_id = parse_id("user_id", &new.user_id)?;
        let content = text::checked("content", &new.content, MAX_CONTENT_CHARS, true)?;
        self.require_user(user_id).await?;
        let id = new_id();
        let message = Message {
            id,
            conversation_id,
            user_id,
            content,
            sent_at: timestamp_of(id).ok_or_else(|| ApiError::internal("a new id has no time"))?,
        };
        let row = self
            .messages
            .typed_row(vec![
                ("conversation_id".into(), uuid(conversation_id)),
                ("sent_at".into(), Value::Timestamp(message.sent_at.micros())),
                ("id".into(), uuid(id)),
                ("user_id".into(), uuid(user_id)),
                ("content".into(), Value::Text(message.content.clone())),
            ])
            .map_err(api)?;
        self.backends
            .wide
            .put(&self.messages, vec![row])
            .await
            .map_err(api)?;
        json(201, &message)
    }

    /// `GET /messages/{conversation_id}`, first page, newest first.
    async fn list_messages(&self, id: &str) -> Result<Response<Body>, ApiError> {
        let conversation_id = parse_id("conversation id", id)?;
        let request = PageRequest {
            order: Order::Descending,
            limit: DEFAULT_LIMIT,
            cursor: None,
        };
        let page = scan_page(
            &*self.backends.wide,
            &self.messages,
            vec![uuid(conversation_id)],
            request,
        )
        .await
        .map_err(api)?;
        let items = page
            .rows
            .into_iter()
            .map(|row| self.message_of(row))
            .collect::<Result<Vec<_>, _>>()?;
        json(
            200,
            &Page {
                items,
                next_cursor: page.next,
            },
        )
    }

    fn message_of(&self, row: Vec<Value>) -> Result<Message, ApiError> {
        let cells = self.messages.cells(row);
        let row: HashMap<&str, &Value> = cells.iter().map(|(n, v)| (n.as_str(), v)).collect();
        Ok(Message {
            id: uuid_of(cell(&row, "id")?)?,
            conversation_id: uuid_of(cell(&row, "conversation_id")?)?,
            user_id: uuid_of(cell(&row, "user_id")?)?,
            content: text_of(cell(&row, "content")?)?,
            sent_at: timestamp_value(cell(&row, "sent_at")?)?,
        })
    }

    /// `POST /storage/upload` (multipart, field `file`), as the storage
    /// component: parsed by the guest SDK's multipart reader, written in
    /// its chunks.
    async fn upload(&self, request: Request<Incoming>) -> Result<Response<Body>, ApiError> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let boundary = content_type
            .split(';')
            .find_map(|p| p.trim().strip_prefix("boundary="))
            .ok_or_else(|| ApiError::invalid("a multipart/form-data body with a boundary"))?
            .trim_matches('"')
            .to_owned();
        let body = read_body(request).await?;
        let mut form = Multipart::new(std::io::Cursor::new(body), &boundary);
        while let Some(part) = form.next_part()? {
            if part.name != "file" {
                continue;
            }
            let filename = part
                .filename
                .ok_or_else(|| ApiError::invalid("the file field has no filename"))?;
            let content_type = part
                .content_type
                .unwrap_or_else(|| "application/octet-stream".to_owned());
            let key = format!("{NAMESPACE}/files/{filename}");
            let mut writer = self
                .backends
                .blob
                .create(&key, &content_type)
                .await
                .map_err(api)?;
            let mut size = 0;
            while let Some(chunk) = form.read_chunk()? {
                size += chunk.len();
                writer.write(&chunk).await.map_err(api)?;
            }
            if size == 0 {
                return Err(ApiError::invalid("the file is empty"));
            }
            let info = writer.finish().await.map_err(api)?;
            let file = File {
                filename,
                size: info.size,
                content_type: info.content_type,
                uploaded_at: Timestamp(info.modified),
            };
            let location = format!("/storage/download/{}", file.filename);
            return Ok(with_header(json(201, &file)?, "location", &location));
        }
        Err(ApiError::invalid("the form has no field named file"))
    }

    /// `GET /storage/download/{filename}`: streamed in the SDK's chunks.
    async fn download(&self, filename: &str) -> Result<Response<Body>, ApiError> {
        let key = format!("{NAMESPACE}/files/{filename}");
        let reader = self.backends.blob.open(&key).await.map_err(api)?;
        let info = reader.info().clone();
        let frames = futures::stream::unfold(reader, |mut reader| async move {
            match reader.read(CHUNK).await {
                Ok(chunk) if !chunk.is_empty() => {
                    Some((Ok(Frame::data(Bytes::from(chunk))), reader))
                }
                _ => None,
            }
        });
        Ok(Response::builder()
            .header(header::CONTENT_TYPE, info.content_type)
            .header(header::CONTENT_LENGTH, info.size)
            .header(
                header::CONTENT_DISPOSITION,
                format!("attachment; filename*=UTF-8''{filename}"),
            )
            .body(StreamBody::new(frames).boxed_unsync())
            .expect("a valid response"))
    }
}

fn with_header(mut response: Response<Body>, name: &'static str, value: &str) -> Response<Body> {
    if let Ok(value) = value.parse() {
        response.headers_mut().insert(name, value);
    }
    response
}

async fn read_body(request: Request<Incoming>) -> Result<Bytes, ApiError> {
    Ok(request
        .into_body()
        .collect()
        .await
        .map_err(|e| ApiError::invalid(format!("reading the body: {e}")))?
        .to_bytes())
}

/// What `prepare` made, for the load scripts.
#[derive(Serialize)]
struct Fixture {
    /// Read again and again: a cache hit after the first.
    hot_user: Uuid,
    /// Posts messages.
    author: Uuid,
    /// A conversation of 100 messages, read newest first.
    conversation: Uuid,
    /// A conversation only posted to, so the read above keeps its size.
    post_conversation: Uuid,
    /// Has ten friends with six friends each: friends of friends to suggest.
    social_user: Uuid,
    /// A 1 MiB file to download.
    file: String,
}

fn fake_user(n: usize) -> (Uuid, String, String) {
    let id = new_id();
    (
        id,
        format!("Bench User {n}"),
        format!("bench-{id}@example.org"),
    )
}

async fn insert_users(app: &App, users: &[(Uuid, String, String)]) -> Result<()> {
    let created_at = Value::Timestamp(Timestamp::now().micros());
    for batch in users.chunks(SQL_BATCH) {
        let statement = shared::users::insert_statement(batch.len());
        let values = batch
            .iter()
            .flat_map(|(id, name, email)| {
                [
                    uuid(*id),
                    Value::Text(name.clone()),
                    Value::Text(email.clone()),
                    created_at.clone(),
                ]
            })
            .collect();
        app.backends
            .sql
            .execute(&statement, values)
            .await
            .context("inserting users")?;
    }
    Ok(())
}

fn friendship(a: Uuid, b: Uuid) -> Relationship {
    Relationship {
        source: user_node(a.min(b)),
        kind: format!("{GRAPH_PREFIX}FRIEND"),
        target: user_node(a.max(b)),
        properties: Vec::new(),
    }
}

/// Ten friends of the social user; friend `i` is also friends with six of
/// thirty others (`3i` to `3i + 5`, around), so each of the others has two
/// mutual friends with the social user.
async fn write_friendships(app: &App, people: &[(Uuid, String, String)]) -> Result<()> {
    let me = people[0].0;
    let friends = &people[1..11];
    let others = &people[11..41];
    let nodes = people
        .iter()
        .map(|(id, _, _)| Node {
            id: user_node(*id),
            properties: Vec::new(),
        })
        .collect();
    let mut links: Vec<Relationship> = friends.iter().map(|f| friendship(me, f.0)).collect();
    for (i, friend) in friends.iter().enumerate() {
        for j in 0..6 {
            links.push(friendship(friend.0, others[(3 * i + j) % others.len()].0));
        }
    }
    app.backends
        .graph
        .merge(nodes, links)
        .await
        .context("writing friendships")?;
    Ok(())
}

async fn write_messages(app: &App, conversation: Uuid, author: Uuid) -> Result<()> {
    let mut rows = Vec::new();
    for n in 0..100 {
        let id = new_id();
        let sent_at = timestamp_of(id).context("a new id has a time")?;
        rows.push(app.messages.typed_row(vec![
            ("conversation_id".into(), uuid(conversation)),
            ("sent_at".into(), Value::Timestamp(sent_at.micros() + n)),
            ("id".into(), uuid(id)),
            ("user_id".into(), uuid(author)),
            (
                "content".into(),
                Value::Text(format!("Message {n} of the benchmark")),
            ),
        ])?);
    }
    app.backends.wide.put(&app.messages, rows).await?;
    Ok(())
}

async fn write_file(app: &App, filename: &str) -> Result<()> {
    let key = format!("{NAMESPACE}/files/{filename}");
    let mut writer = app
        .backends
        .blob
        .create(&key, "application/octet-stream")
        .await?;
    let content: Vec<u8> = (0..FILE_BYTES).map(|i| (i % 251) as u8).collect();
    for chunk in content.chunks(CHUNK) {
        writer.write(chunk).await?;
    }
    writer.finish().await?;
    Ok(())
}

async fn prepare(app: &App, miss_users: usize, miss_file: &std::path::Path) -> Result<String> {
    let people: Vec<_> = (0..43).map(fake_user).collect();
    insert_users(app, &people).await?;
    write_friendships(app, &people[..41]).await?;
    let misses: Vec<_> = (0..miss_users).map(|n| fake_user(n + 100)).collect();
    insert_users(app, &misses).await?;
    let ids: String = misses.iter().map(|(id, _, _)| format!("{id}\n")).collect();
    std::fs::write(miss_file, ids).with_context(|| format!("writing {}", miss_file.display()))?;
    let fixture = Fixture {
        hot_user: people[41].0,
        author: people[42].0,
        conversation: new_id(),
        post_conversation: new_id(),
        social_user: people[0].0,
        file: "bench-1mib.bin".to_owned(),
    };
    write_messages(app, fixture.conversation, fixture.author).await?;
    write_file(app, &fixture.file).await?;
    Ok(serde_json::to_string(&fixture)?)
}
