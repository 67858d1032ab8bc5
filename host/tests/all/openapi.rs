//! The OpenAPI document the host serves is kept true: every documented
//! operation answers with a documented status and a body of the documented
//! shape, every route of the manifest is documented, and methods that are
//! not documented are refused.

use crate::support;

use std::collections::BTreeSet;

use serde_json::{Value, json};
use summer::manifest::RoutePattern;
use support::{Reply, Server, get, repo_root, send, upload};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// One documented operation.
#[derive(Clone, Debug)]
struct Operation {
    path: String,
    method: String,
    spec: Value,
}

impl Operation {
    fn id(&self) -> &str {
        self.spec["operationId"].as_str().unwrap()
    }

    fn documents(&self, status: u16) -> bool {
        self.spec["responses"].get(status.to_string()).is_some()
    }

    /// The documented success status (the only 2xx).
    fn success(&self) -> u16 {
        let statuses: Vec<u16> = self.spec["responses"]
            .as_object()
            .unwrap()
            .keys()
            .filter_map(|s| s.parse().ok())
            .filter(|s| (200..300).contains(s))
            .collect();
        assert_eq!(statuses.len(), 1, "{} documents {statuses:?}", self.id());
        statuses[0]
    }

    fn path_params(&self) -> Vec<String> {
        self.path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_owned)
            .collect()
    }

    fn takes_json(&self) -> bool {
        self.spec["requestBody"]["content"]
            .get("application/json")
            .is_some()
    }

    fn url(&self, server: &Server, value_of: impl Fn(&str) -> String) -> String {
        let mut path = self.path.clone();
        for name in self.path_params() {
            path = path.replace(&format!("{{{name}}}"), &value_of(&name));
        }
        server.url(&path)
    }
}

fn operations(document: &Value) -> Vec<Operation> {
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in METHODS {
            if let Some(spec) = item.get(method) {
                operations.push(Operation {
                    path: path.clone(),
                    method: method.to_owned(),
                    spec: spec.clone(),
                });
            }
        }
    }
    operations
}

/// A documented path or a manifest route as the host's router reads it.
fn pattern(path: &str) -> RoutePattern {
    path.parse()
        .unwrap_or_else(|e| panic!("{path} is not a route pattern: {e}"))
}

// ------------------------------------------------- a small schema check

/// Checks `value` against an OpenAPI 3.1 schema (the subset the document
/// uses); the first mismatch, with where it is.
fn check(document: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap();
        return check(
            document,
            &document["components"]["schemas"][name],
            value,
            at,
        );
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            other => other
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap())
                .collect(),
        };
        if !types.iter().any(|t| has_type(value, t)) {
            return Err(format!("{at}: {value} is not of type {types:?}"));
        }
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        return Err(format!("{at}: {value} is not one of {allowed:?}"));
    }
    if let (Some(min), Some(n)) = (schema["minimum"].as_f64(), value.as_f64())
        && n < min
    {
        return Err(format!("{at}: {n} is below {min}"));
    }
    if let (Some(format), Some(text)) = (schema["format"].as_str(), value.as_str()) {
        check_format(format, text).map_err(|why| format!("{at}: {why}"))?;
    }
    if let Some(object) = value.as_object() {
        check_object(document, schema, object, at)?;
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            check(document, items, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

fn has_type(value: &Value, kind: &str) -> bool {
    match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        other => panic!("the document uses type {other}, which this check does not know"),
    }
}

fn check_format(format: &str, text: &str) -> Result<(), String> {
    let ok = match format {
        "uuid" => uuid::Uuid::parse_str(text).is_ok(),
        "date-time" => chrono::DateTime::parse_from_rfc3339(text).is_ok(),
        "email" => text.contains('@'),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{text:?} is not a {format}"))
    }
}

fn check_object(
    document: &Value,
    schema: &Value,
    object: &serde_json::Map<String, Value>,
    at: &str,
) -> Result<(), String> {
    let properties = schema["properties"].as_object();
    for required in schema["required"].as_array().into_iter().flatten() {
        let name = required.as_str().unwrap();
        if !object.contains_key(name) {
            return Err(format!("{at}: required property {name} is missing"));
        }
    }
    for (name, value) in object {
        match properties.and_then(|p| p.get(name)) {
            Some(property) => check(document, property, value, &format!("{at}.{name}"))?,
            None if schema["additionalProperties"] == false => {
                return Err(format!("{at}: property {name} is not documented"));
            }
            None if schema["additionalProperties"].is_object() => {
                let extra = &schema["additionalProperties"];
                check(document, extra, value, &format!("{at}.{name}"))?;
            }
            None => {}
        }
    }
    Ok(())
}

// ------------------------------------------------------------ the checks

/// The documented response for `status` of `operation`, resolved.
fn documented_response(document: &Value, operation: &Operation, status: u16) -> Value {
    let response = &operation.spec["responses"][status.to_string()];
    match response["$ref"].as_str() {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap();
            document["components"]["responses"][name].clone()
        }
        None => response.clone(),
    }
}

/// Asserts that `reply` is documented for `operation`: its status, and for
/// JSON its body's shape and the documented headers.
fn assert_documented(document: &Value, operation: &Operation, reply: &Reply) {
    let id = operation.id();
    assert!(
        operation.documents(reply.status),
        "{id} answered {} which it does not document: {}",
        reply.status,
        reply.raw
    );
    let response = documented_response(document, operation, reply.status);
    if let Some(schema) = response["content"]["application/json"].get("schema") {
        assert_eq!(
            reply.header("content-type"),
            Some("application/json"),
            "{id}"
        );
        check(document, schema, &reply.body, "body")
            .unwrap_or_else(|why| panic!("{id} {}: {why}\n{}", reply.status, reply.raw));
    }
    for header in response["headers"]
        .as_object()
        .into_iter()
        .flat_map(|h| h.keys())
    {
        assert!(reply.header(header).is_some(), "{id}: no {header} header");
    }
}

/// What the scenario created for the operations to work on.
struct Fixtures {
    user: String,
    friend: String,
    group: String,
    notification: String,
    filename: String,
}

fn created(reply: Reply) -> String {
    assert_eq!(reply.status, 201, "{}", reply.raw);
    reply.body["id"].as_str().unwrap().to_owned()
}

fn post_json(server: &Server, path: &str, body: Value) -> Reply {
    send(
        "POST",
        &server.url(path),
        Some("application/json"),
        body.to_string().as_bytes(),
    )
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

impl Fixtures {
    fn create(server: &Server) -> Self {
        let user = |name: &str| {
            let email = format!("{}@example.org", unique("doc"));
            created(post_json(
                server,
                "/users",
                json!({ "name": name, "email": email }),
            ))
        };
        let (user, friend) = (user("Doc Ada"), user("Doc Bob"));
        let group = created(post_json(
            server,
            "/groups",
            json!({ "name": unique("Doc") }),
        ));
        let befriend = post_json(
            server,
            &format!("/users/{user}/friends"),
            json!({ "friend_id": friend }),
        );
        assert_eq!(befriend.status, 200, "{}", befriend.raw);
        let join = post_json(
            server,
            &format!("/groups/{group}/members"),
            json!({ "user_id": user }),
        );
        assert_eq!(join.status, 200, "{}", join.raw);
        let notification = created(post_json(
            server,
            "/notifications",
            json!({ "user_id": user, "type": "message", "content": "hello" }),
        ));
        let filename = format!("{}.txt", unique("doc"));
        let stored = upload(server, &filename, "text/plain", b"documented");
        assert_eq!(stored.status, 201, "{}", stored.raw);
        Self {
            user,
            friend,
            group,
            notification,
            filename,
        }
    }

    fn value_of(&self, param: &str) -> String {
        match param {
            "user_id" => self.user.clone(),
            "friend_id" => self.friend.clone(),
            "group_id" | "conversation_id" => self.group.clone(),
            "notification_id" => self.notification.clone(),
            "filename" => self.filename.clone(),
            other => panic!("the document has a path parameter {other} the test cannot fill"),
        }
    }

    /// A valid request body for `operation`: (content type, bytes).
    fn body_for(&self, operation: &Operation) -> Option<(String, Vec<u8>)> {
        let json = |value: Value| {
            Some((
                "application/json".to_owned(),
                value.to_string().into_bytes(),
            ))
        };
        match operation.id() {
            "createUser" => {
                json(json!({ "name": "New", "email": format!("{}@example.org", unique("new")) }))
            }
            "updateUser" => json(json!({ "name": "Doc Ada Renamed" })),
            "createGroup" => json(json!({ "name": unique("Group"), "description": "d" })),
            "updateGroup" => json(json!({ "description": "changed" })),
            "addFriend" => json(json!({ "friend_id": self.friend })),
            "addMember" => json(json!({ "user_id": self.user })),
            "sendMessage" => json(
                json!({ "conversation_id": self.group, "user_id": self.user, "content": "hi" }),
            ),
            "createNotification" => {
                json(json!({ "user_id": self.user, "type": "message", "content": "hi" }))
            }
            "uploadFile" => {
                let (content_type, body) = support::multipart_file(
                    "file",
                    &format!("{}.bin", unique("up")),
                    "application/octet-stream",
                    b"\x00\x01",
                );
                Some((content_type, body))
            }
            other => {
                assert!(
                    operation.spec.get("requestBody").is_none(),
                    "the test has no request body for {other}"
                );
                None
            }
        }
    }
}

fn call(operation: &Operation, url: &str, body: Option<(String, Vec<u8>)>) -> Reply {
    let method = operation.method.to_uppercase();
    match body {
        Some((content_type, bytes)) => send(&method, url, Some(&content_type), &bytes),
        None => send(&method, url, None, b""),
    }
}

/// Deletions run last, in an order that keeps the fixtures they need.
fn run_order(operations: &[Operation]) -> Vec<Operation> {
    const LAST: [&str; 5] = [
        "removeFriend",
        "removeMember",
        "deleteFile",
        "deleteGroup",
        "deleteUser",
    ];
    let mut ordered: Vec<Operation> = operations
        .iter()
        .filter(|o| !LAST.contains(&o.id()))
        .cloned()
        .collect();
    for id in LAST {
        let operation = operations.iter().find(|o| o.id() == id);
        ordered.push(
            operation
                .unwrap_or_else(|| panic!("{id} is not documented"))
                .clone(),
        );
    }
    assert_eq!(
        ordered.len(),
        operations.len(),
        "an operation is listed twice"
    );
    ordered
}

fn the_served_document_is_the_repository_s(server: &Server) {
    let served = get(&server.url("/openapi.json"));
    assert_eq!(served.status, 200);
    assert_eq!(served.header("content-type"), Some("application/json"));
    let file = std::fs::read_to_string(repo_root().join("api/openapi.json")).unwrap();
    let file: Value = serde_json::from_str(&file).unwrap();
    assert_eq!(served.body, file);
    assert!(file["openapi"].as_str().unwrap().starts_with("3."));
}

fn every_route_is_documented_and_every_documented_path_is_routed(_: &Server) {
    let document = document();
    let documented: BTreeSet<String> = document["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(|p| pattern(p).canonical())
        .collect();
    let manifest: toml::Table = std::fs::read_to_string(repo_root().join("summer.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let mut routed: BTreeSet<String> = manifest["component"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["routes"].as_array().unwrap().iter())
        .map(|r| pattern(r.as_str().unwrap()).canonical())
        .collect();
    routed.extend(["/healthz", "/readyz", "/metrics", "/openapi.json"].map(str::to_owned));
    assert_eq!(documented, routed, "documented paths and routes differ");
}

fn every_operation_answers_as_documented(server: &Server) {
    let document = document();
    let fixtures = Fixtures::create(server);
    for operation in run_order(&operations(&document)) {
        let url = operation.url(server, |p| fixtures.value_of(p));
        let reply = call(&operation, &url, fixtures.body_for(&operation));
        assert_eq!(
            reply.status,
            operation.success(),
            "{}: {}",
            operation.id(),
            reply.raw
        );
        assert_documented(&document, &operation, &reply);
    }
}

/// What to put in each path parameter.
type ParamValues<'a> = dyn Fn(&str) -> String + 'a;

fn documented_errors_are_answered_as_documented(server: &Server) {
    let document = document();
    let fixtures = Fixtures::create(server);
    let mut checked = 0;
    for operation in operations(&document) {
        let params = operation.path_params();
        let uuid_params = params.iter().any(|p| p != "filename");
        // A malformed id is a 400; ids that name nothing are a 404.
        let malformed = |p: &str| match p {
            "filename" => fixtures.value_of(p),
            _ => "not-a-uuid".to_owned(),
        };
        let unknown = |p: &str| match p {
            "filename" => unique("absent"),
            _ => uuid::Uuid::now_v7().to_string(),
        };
        let probes: [(u16, &ParamValues); 2] = [(400, &malformed), (404, &unknown)];
        for (status, value_of) in probes {
            if !uuid_params || !operation.documents(status) {
                continue;
            }
            let url = operation.url(server, value_of);
            let reply = call(&operation, &url, fixtures.body_for(&operation));
            assert_eq!(
                reply.status,
                status,
                "{} at {url}: {}",
                operation.id(),
                reply.raw
            );
            assert_documented(&document, &operation, &reply);
            checked += 1;
        }
        if operation.takes_json() {
            let url = operation.url(server, |p| fixtures.value_of(p));
            for (content_type, body, status) in [
                ("text/plain", "{}", 415),
                ("application/json", "{\"unterminated", 400),
                ("application/json", "{\"unknown_field\": true}", 400),
            ] {
                let reply = send(
                    &operation.method.to_uppercase(),
                    &url,
                    Some(content_type),
                    body.as_bytes(),
                );
                assert_eq!(
                    reply.status,
                    status,
                    "{} with {content_type} {body}: {}",
                    operation.id(),
                    reply.raw
                );
                assert_documented(&document, &operation, &reply);
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 40,
        "only {checked} documented errors were checked"
    );
}

/// The schema of an operation's JSON request body, references followed.
fn request_schema<'a>(document: &'a Value, operation: &'a Operation) -> Option<&'a Value> {
    let schema = operation.spec["requestBody"]["content"].get("application/json")?;
    let name = schema["schema"]["$ref"].as_str()?.rsplit('/').next()?;
    Some(&document["components"]["schemas"][name])
}

/// Every text field whose schema has a `pattern` is answered as that pattern
/// says: text holding a character the pattern refuses is a 400 that names
/// the field, and text it accepts is stored.
fn text_patterns_say_what_is_refused(server: &Server) {
    let document = document();
    let fixtures = Fixtures::create(server);
    let probes = [
        '\u{0}', '\t', '\n', '\r', '\u{b}', '\u{1b}', '\u{7f}', '\u{85}', '\u{9f}', 'é',
    ];
    let mut checked = 0;
    for operation in operations(&document) {
        let Some(schema) = request_schema(&document, &operation) else {
            continue;
        };
        for (field, property) in schema["properties"].as_object().unwrap() {
            let Some(pattern) = property["pattern"].as_str() else {
                continue;
            };
            let pattern = regex_lite::Regex::new(pattern).unwrap();
            for probe in probes {
                let (content_type, body) = fixtures.body_for(&operation).unwrap();
                let mut body: Value = serde_json::from_slice(&body).unwrap();
                // Unique, since names are unique; short enough for every field.
                let text = format!("{}{probe}x", unique("t"));
                body[field.as_str()] = json!(text);
                let url = operation.url(server, |p| fixtures.value_of(p));
                let bytes = body.to_string().into_bytes();
                let reply = call(&operation, &url, Some((content_type, bytes)));
                let what = format!("{} with {field} = {text:?}", operation.id());
                if pattern.is_match(&text) {
                    assert_eq!(reply.status, operation.success(), "{what}: {}", reply.raw);
                } else {
                    let message = reply.assert_error(400, "invalid");
                    assert!(message.contains(field.as_str()), "{what}: {message}");
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 60, "only {checked} pattern probes ran");
}

fn undocumented_methods_are_refused(server: &Server) {
    let document = document();
    let fixtures = Fixtures::create(server);
    let paths = document["paths"].as_object().unwrap();
    for path in paths.keys() {
        let host_endpoint =
            ["/healthz", "/readyz", "/metrics", "/openapi.json"].contains(&path.as_str());
        let probe = Operation {
            path: path.clone(),
            method: String::new(),
            spec: Value::Null,
        };
        let url = probe.url(server, |p| fixtures.value_of(p));
        let concrete = url.strip_prefix(&server.base).unwrap();
        // A concrete path may match several documented ones: `/storage/files`
        // is also the file `files` of `DELETE /storage/{filename}`.
        let documented: BTreeSet<String> = paths
            .iter()
            .filter(|(documented, _)| pattern(documented).matches(concrete))
            .flat_map(|(_, item)| METHODS.iter().filter(|m| item.get(**m).is_some()))
            .map(|m| m.to_string())
            .collect();
        for method in METHODS.iter().filter(|m| !documented.contains(**m)) {
            let reply = send(
                &method.to_uppercase(),
                &url,
                Some("application/json"),
                b"{}",
            );
            reply.assert_error(405, "method_not_allowed");
            let mut allow: BTreeSet<String> = reply
                .header("allow")
                .unwrap_or_default()
                .split(", ")
                .map(str::to_lowercase)
                .collect();
            // The host's endpoints also answer HEAD, which the document
            // leaves implied.
            if host_endpoint {
                assert!(
                    allow.remove("head"),
                    "{method} {concrete}: Allow lacks HEAD"
                );
            }
            assert_eq!(
                allow, documented,
                "{method} {concrete}: Allow differs from the document"
            );
        }
    }
}

fn document() -> Value {
    let text = std::fs::read_to_string(repo_root().join("api/openapi.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

on_both_databases!(
    the_served_document_is_the_repository_s,
    every_route_is_documented_and_every_documented_path_is_routed,
    every_operation_answers_as_documented,
    documented_errors_are_answered_as_documented,
    text_patterns_say_what_is_refused,
    undocumented_methods_are_refused,
);
