//! Exposes Summer's capabilities over plain HTTP so integration tests can
//! drive every import through WIT and check the results. Routes live under
//! any prefix, so one build can be mounted twice under two names:
//!
//! - `POST /{prefix}/sql/query` and `/sql/execute` with
//!   `{"statement": "...", "params": [...]}`; values are JSON scalars, or
//!   `{"uuid": "..."}`, `{"timestamp": micros}`, `{"bytes": [..]}`.
//! - `PUT|GET|DELETE /{prefix}/cache/{key}` (`?ttl_ms=` on PUT),
//!   `GET /{prefix}/cache/{key}/exists`, `POST .../incr?delta=`,
//!   `POST .../expire?ttl_ms=`, `GET /{prefix}/cache?keys=a,b`.
//! - `PUT|GET|DELETE /{prefix}/blob/{key}` (the request's content type is
//!   kept), `GET /{prefix}/blob/{key}/info`,
//!   `GET /{prefix}/blob?prefix=&limit=&cursor=`.
//! - `POST /{prefix}/wide/{table}` with `{"rows": [{column: value}, ..]}`;
//!   `POST .../get` and `.../delete` with `{"key": [..]}`;
//!   `POST .../delete-partition` with `{"partition": [..]}`;
//!   `POST .../scan` with `{"partition": [..], "order": "ascending" |
//!   "descending", "limit": n, "cursor": ..}`.
//! - `PUT /{prefix}/graph/{label}/{key}` with `{property: value}`;
//!   `GET|DELETE /{prefix}/graph/{label}/{key}`;
//!   `PUT|DELETE /{prefix}/graph/{label}/{key}/{kind}/{label2}/{key2}`;
//!   `GET /{prefix}/graph/{label}/{key}/{kind}?direction=&limit=`,
//!   `.../{kind}/suggestions?hops=&limit=`,
//!   `.../{kind}/path/{label2}/{key2}?max_hops=`.
//! - `POST /{prefix}/bench/{capability}?n=` times `n` round trips of one
//!   small call (`sql`: a primary-key SELECT, `cache`: a GET, `blob`: a
//!   HEAD, `wide`: a 20-row newest-first scan, `graph`: 20 neighbours)
//!   from inside the component and returns the median and p99 in µs.
//! - `POST /{prefix}/trace` with `{"span": name, "attribute": [k, v],
//!   "request_attribute": [k, v], "cache_key": key, "fetch": url}` (all
//!   but `span` optional): adds to the request's trace and answers the
//!   `traceparent` seen outside and inside its span.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value as Json, json};
use summer_sdk::graph::{self, NodeRef};
use summer_sdk::http::{Request, Response};
use summer_sdk::{ApiError, Params, Router, Value, blob, cache, config, sql, trace, wide};

summer_sdk::http_component!(handle);

fn handle(request: &Request) -> Response {
    Router::new()
        .post("/{prefix}/sql/query", sql_query)
        .post("/{prefix}/sql/execute", sql_execute)
        .get("/{prefix}/config/{name}", config_get)
        .get("/{prefix}/config/{name}/required", config_require)
        .get("/{prefix}/cache", cache_get_many)
        .put("/{prefix}/cache/{key}", cache_set)
        .get("/{prefix}/cache/{key}", cache_get)
        .delete("/{prefix}/cache/{key}", cache_delete)
        .get("/{prefix}/cache/{key}/exists", cache_exists)
        .post("/{prefix}/cache/{key}/incr", cache_incr)
        .post("/{prefix}/cache/{key}/expire", cache_expire)
        .get("/{prefix}/blob", blob_list)
        .put("/{prefix}/blob/{key}", blob_put)
        .get("/{prefix}/blob/{key}", blob_get)
        .delete("/{prefix}/blob/{key}", blob_delete)
        .get("/{prefix}/blob/{key}/info", blob_info)
        .post("/{prefix}/wide/{table}", wide_put)
        .post("/{prefix}/wide/{table}/get", wide_get)
        .post("/{prefix}/wide/{table}/delete", wide_delete)
        .post(
            "/{prefix}/wide/{table}/delete-partition",
            wide_delete_partition,
        )
        .post("/{prefix}/wide/{table}/scan", wide_scan)
        .put("/{prefix}/graph/{label}/{key}", graph_merge_node)
        .get("/{prefix}/graph/{label}/{key}", graph_get_node)
        .delete("/{prefix}/graph/{label}/{key}", graph_delete_node)
        .get("/{prefix}/graph/{label}/{key}/{kind}", graph_neighbours)
        .get(
            "/{prefix}/graph/{label}/{key}/{kind}/suggestions",
            graph_suggest,
        )
        .get(
            "/{prefix}/graph/{label}/{key}/{kind}/path/{label2}/{key2}",
            graph_path,
        )
        .put(
            "/{prefix}/graph/{label}/{key}/{kind}/{label2}/{key2}",
            graph_merge_link,
        )
        .delete(
            "/{prefix}/graph/{label}/{key}/{kind}/{label2}/{key2}",
            graph_delete_link,
        )
        .post("/{prefix}/bench/{capability}", bench)
        .post("/{prefix}/trace", trace_run)
        .handle(request)
}

/// What `POST /{prefix}/trace` does: an attribute on the request's span,
/// then inside a span of its own (with an attribute) a cache read and an
/// outgoing GET, each when asked for.
#[derive(Deserialize)]
struct TraceRun {
    span: String,
    request_attribute: Option<(String, String)>,
    attribute: Option<(String, String)>,
    cache_key: Option<String>,
    fetch: Option<String>,
}

/// Runs a [`TraceRun`]; answers the `traceparent` seen outside the span and
/// inside it, and the outgoing GET's status.
fn trace_run(request: &Request, _: &Params) -> Result<Response, ApiError> {
    let run: TraceRun = request.json()?;
    if let Some((key, value)) = &run.request_attribute {
        trace::set_request_attribute(key, value);
    }
    let outside = trace::traceparent();
    let (inside, status) = trace::in_span(&run.span, |span| {
        if let Some((key, value)) = &run.attribute {
            span.set_attribute(key, value);
        }
        if let Some(key) = &run.cache_key {
            cache::get(key)?;
        }
        let status = match &run.fetch {
            Some(url) => Some(summer_sdk::outbound::get(url)?.status),
            None => None,
        };
        Ok::<_, ApiError>((trace::traceparent(), status))
    })?;
    Response::json(
        200,
        &json!({ "outside": outside, "inside": inside, "status": status }),
    )
}

#[derive(Deserialize)]
struct Statement {
    statement: String,
    #[serde(default)]
    params: Vec<Json>,
}

fn to_value(json: &Json) -> Result<Value, ApiError> {
    let bad = || ApiError::invalid(format!("unsupported parameter {json}"));
    Ok(match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().ok_or_else(bad)?),
        },
        Json::String(s) => Value::Text(s.clone()),
        Json::Object(o) => match o.iter().next() {
            Some((k, Json::String(s))) if k == "uuid" => Value::Uuid(s.clone()),
            Some((k, v)) if k == "timestamp" => Value::Timestamp(v.as_i64().ok_or_else(bad)?),
            Some((k, Json::Array(bytes))) if k == "bytes" => Value::Bytes(
                bytes
                    .iter()
                    .map(|b| {
                        b.as_u64()
                            .and_then(|b| u8::try_from(b).ok())
                            .ok_or_else(bad)
                    })
                    .collect::<Result<_, _>>()?,
            ),
            _ => return Err(bad()),
        },
        Json::Array(_) => return Err(bad()),
    })
}

fn to_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Boolean(b) => json!(b),
        Value::Int(i) => json!(i),
        Value::Float(f) => json!(f),
        Value::Text(s) => json!(s),
        Value::Bytes(b) => json!({ "bytes": b }),
        Value::Uuid(u) => json!({ "uuid": u }),
        Value::Timestamp(t) => json!({ "timestamp": t }),
    }
}

fn statement(request: &Request) -> Result<(String, Vec<Value>), ApiError> {
    let body: Statement = request.json()?;
    let params = body.params.iter().map(to_value).collect::<Result<_, _>>()?;
    Ok((body.statement, params))
}

fn sql_query(request: &Request, _: &Params) -> Result<Response, ApiError> {
    let (statement, params) = statement(request)?;
    let rows = sql::query(&statement, &params)?;
    let values: Vec<Vec<Json>> = rows
        .values()
        .iter()
        .map(|r| r.iter().map(to_json).collect())
        .collect();
    Response::json(200, &json!({ "columns": rows.columns(), "rows": values }))
}

fn sql_execute(request: &Request, _: &Params) -> Result<Response, ApiError> {
    let (statement, params) = statement(request)?;
    Response::json(
        200,
        &json!({ "changed": sql::execute(&statement, &params)? }),
    )
}

fn key(params: &Params) -> &str {
    params.get("key").unwrap_or_default()
}

fn number<T: std::str::FromStr>(request: &Request, name: &str) -> Result<Option<T>, ApiError> {
    request
        .query_param(name)?
        .map(|v| {
            v.parse()
                .map_err(|_| ApiError::invalid(format!("{name} must be a number")))
        })
        .transpose()
}

fn cache_set(request: &Request, params: &Params) -> Result<Response, ApiError> {
    let ttl = number::<u64>(request, "ttl_ms")?.map(Duration::from_millis);
    cache::set(key(params), request.body()?, ttl)?;
    Ok(Response::no_content())
}

fn config_get(_: &Request, params: &Params) -> Result<Response, ApiError> {
    let name = params.get("name").unwrap_or_default();
    Response::json(200, &json!({ "value": config::get(name)? }))
}

fn config_require(_: &Request, params: &Params) -> Result<Response, ApiError> {
    let name = params.get("name").unwrap_or_default();
    Ok(Response::new(200).with_body(config::require(name)?))
}

fn cache_get(_: &Request, params: &Params) -> Result<Response, ApiError> {
    match cache::get(key(params))? {
        Some(bytes) => Ok(Response::new(200).with_body(bytes)),
        None => Err(ApiError::not_found(format!("no key {}", key(params)))),
    }
}

fn cache_get_many(request: &Request, _: &Params) -> Result<Response, ApiError> {
    let keys: Vec<String> = request
        .query_param("keys")?
        .unwrap_or_default()
        .split(',')
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect();
    let values: Vec<Option<String>> = cache::get_many(&keys)?
        .into_iter()
        .map(|v| v.map(|b| String::from_utf8_lossy(&b).into_owned()))
        .collect();
    Response::json(200, &json!({ "values": values }))
}

fn cache_delete(_: &Request, params: &Params) -> Result<Response, ApiError> {
    Response::json(200, &json!({ "existed": cache::delete(key(params))? }))
}

fn cache_exists(_: &Request, params: &Params) -> Result<Response, ApiError> {
    Response::json(200, &json!({ "exists": cache::exists(key(params))? }))
}

fn cache_incr(request: &Request, params: &Params) -> Result<Response, ApiError> {
    let delta = number::<i64>(request, "delta")?.unwrap_or(1);
    Response::json(200, &json!({ "value": cache::incr(key(params), delta)? }))
}

fn cache_expire(request: &Request, params: &Params) -> Result<Response, ApiError> {
    let ttl = number::<u64>(request, "ttl_ms")?.unwrap_or(0);
    Response::json(
        200,
        &json!({ "existed": cache::expire(key(params), Duration::from_millis(ttl))? }),
    )
}

fn info_json(info: &blob::ObjectInfo) -> Json {
    json!({ "key": info.key, "size": info.size, "content_type": info.content_type, "modified": info.modified })
}

fn blob_put(request: &Request, params: &Params) -> Result<Response, ApiError> {
    let content_type = request
        .header("content-type")
        .unwrap_or("application/octet-stream");
    let info = blob::put(key(params), content_type, request.body()?)?;
    Response::json(201, &info_json(&info))
}

fn blob_get(_: &Request, params: &Params) -> Result<Response, ApiError> {
    let (info, body) = blob::get(key(params))?
        .ok_or_else(|| ApiError::not_found(format!("no object {}", key(params))))?;
    Ok(Response::new(200)
        .with_header("content-type", &info.content_type)
        .with_body(body))
}

fn blob_info(_: &Request, params: &Params) -> Result<Response, ApiError> {
    let info = blob::head(key(params))?
        .ok_or_else(|| ApiError::not_found(format!("no object {}", key(params))))?;
    Response::json(200, &info_json(&info))
}

fn blob_delete(_: &Request, params: &Params) -> Result<Response, ApiError> {
    Response::json(200, &json!({ "existed": blob::delete(key(params))? }))
}

fn blob_list(request: &Request, _: &Params) -> Result<Response, ApiError> {
    let prefix = request.query_param("prefix")?.unwrap_or_default();
    let limit = number::<u32>(request, "limit")?.unwrap_or(100);
    let cursor = request.query_param("cursor")?;
    let listing = blob::list(&prefix, limit, cursor.as_deref())?;
    let objects: Vec<Json> = listing.objects.iter().map(info_json).collect();
    Response::json(
        200,
        &json!({ "objects": objects, "cursor": listing.cursor }),
    )
}

#[derive(Deserialize)]
struct WideRows {
    rows: Vec<serde_json::Map<String, Json>>,
}

#[derive(Deserialize)]
struct WideKey {
    #[serde(alias = "partition")]
    key: Vec<Json>,
}

#[derive(Deserialize)]
struct WideScan {
    partition: Vec<Json>,
    order: String,
    limit: u32,
    cursor: Option<String>,
}

fn table(params: &Params) -> &str {
    params.get("table").unwrap_or_default()
}

fn values(json: &[Json]) -> Result<Vec<Value>, ApiError> {
    json.iter().map(to_value).collect()
}

fn row_json(row: &wide::WideRow) -> Json {
    let cells = row
        .cells()
        .iter()
        .map(|(name, value)| (name.clone(), to_json(value)));
    Json::Object(cells.collect())
}

fn wide_put(request: &Request, params: &Params) -> Result<Response, ApiError> {
    let body: WideRows = request.json()?;
    let rows = body
        .rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|(name, json)| Ok((name.as_str(), to_value(json)?)))
                .collect::<Result<Vec<_>, ApiError>>()
        })
        .collect::<Result<Vec<_>, _>>()?;
    match rows.len() {
        1 => wide::put(table(params), rows.into_iter().next().unwrap_or_default())?,
        _ => wide::put_many(table(params), rows)?,
    }
    Ok(Response::no_content())
}

fn wide_get(request: &Request, params: &Params) -> Result<Response, ApiError> {
    let body: WideKey = request.json()?;
    match wide::get(table(params), &values(&body.key)?)? {
        Some(row) => Response::json(200, &row_json(&row)),
        None => Err(ApiError::not_found("no such row")),
    }
}

fn wide_delete(request: &Request, params: &Params) -> Result<Response, ApiError> {
    let body: WideKey = request.json()?;
    wide::delete(table(params), &values(&body.key)?)?;
    Ok(Response::no_content())
}

fn wide_delete_partition(request: &Request, params: &Params) -> Result<Response, ApiError> {
    let body: WideKey = request.json()?;
    wide::delete_partition(table(params), &values(&body.key)?)?;
    Ok(Response::no_content())
}

fn wide_scan(request: &Request, params: &Params) -> Result<Response, ApiError> {
    let body: WideScan = request.json()?;
    let order = match body.order.as_str() {
        "ascending" => wide::Order::Ascending,
        "descending" => wide::Order::Descending,
        other => return Err(ApiError::invalid(format!("unknown order {other:?}"))),
    };
    let partition = values(&body.partition)?;
    let page = wide::scan(
        table(params),
        &partition,
        order,
        body.limit,
        body.cursor.as_deref(),
    )?;
    let rows: Vec<Json> = page.rows.iter().map(row_json).collect();
    Response::json(200, &json!({ "rows": rows, "next": page.next }))
}

fn node_at(params: &Params, label: &str, key: &str) -> NodeRef {
    NodeRef::new(
        params.get(label).unwrap_or_default(),
        params.get(key).unwrap_or_default(),
    )
}

fn node_json(node: &graph::Node) -> Json {
    let properties: serde_json::Map<String, Json> = node
        .properties
        .iter()
        .map(|(n, v)| (n.clone(), to_json(v)))
        .collect();
    json!({ "label": node.id.label, "key": node.id.key, "properties": properties })
}

fn graph_merge_node(request: &Request, params: &Params) -> Result<Response, ApiError> {
    let body: serde_json::Map<String, Json> = request.json()?;
    let props = body
        .iter()
        .map(|(name, json)| Ok((name.as_str(), to_value(json)?)))
        .collect::<Result<Vec<_>, ApiError>>()?;
    graph::merge_node(&node_at(params, "label", "key"), props)?;
    Ok(Response::no_content())
}

fn graph_get_node(_: &Request, params: &Params) -> Result<Response, ApiError> {
    match graph::get_node(&node_at(params, "label", "key"))? {
        Some(node) => Response::json(200, &node_json(&node)),
        None => Err(ApiError::not_found("no such node")),
    }
}

fn graph_delete_node(_: &Request, params: &Params) -> Result<Response, ApiError> {
    let existed = graph::delete_node(&node_at(params, "label", "key"))?;
    Response::json(200, &json!({ "deleted": existed }))
}

fn graph_merge_link(_: &Request, params: &Params) -> Result<Response, ApiError> {
    let (source, target) = (
        node_at(params, "label", "key"),
        node_at(params, "label2", "key2"),
    );
    graph::merge_relationship(&source, params.get("kind").unwrap_or_default(), &target, [])?;
    Ok(Response::no_content())
}

fn graph_delete_link(_: &Request, params: &Params) -> Result<Response, ApiError> {
    let (source, target) = (
        node_at(params, "label", "key"),
        node_at(params, "label2", "key2"),
    );
    let existed =
        graph::delete_relationship(&source, params.get("kind").unwrap_or_default(), &target)?;
    Response::json(200, &json!({ "deleted": existed }))
}

fn graph_neighbours(request: &Request, params: &Params) -> Result<Response, ApiError> {
    let direction = match request.query_param("direction")?.as_deref() {
        None | Some("both") => graph::Direction::Both,
        Some("outgoing") => graph::Direction::Outgoing,
        Some("incoming") => graph::Direction::Incoming,
        Some(other) => return Err(ApiError::invalid(format!("unknown direction {other:?}"))),
    };
    let limit = number::<u32>(request, "limit")?.unwrap_or(100);
    let kind = params.get("kind").unwrap_or_default();
    let nodes = graph::neighbours(&node_at(params, "label", "key"), kind, direction, limit)?;
    let nodes: Vec<Json> = nodes.iter().map(node_json).collect();
    Response::json(200, &json!({ "nodes": nodes }))
}

fn graph_suggest(request: &Request, params: &Params) -> Result<Response, ApiError> {
    let hops = number::<u32>(request, "hops")?.unwrap_or(2);
    let limit = number::<u32>(request, "limit")?.unwrap_or(10);
    let kind = params.get("kind").unwrap_or_default();
    let suggestions = graph::suggest(&node_at(params, "label", "key"), kind, hops, limit)?;
    let suggestions: Vec<Json> = suggestions
        .iter()
        .map(|(node, mutual)| json!({ "key": node.id.key, "mutual": mutual }))
        .collect();
    Response::json(200, &json!({ "suggestions": suggestions }))
}

fn graph_path(request: &Request, params: &Params) -> Result<Response, ApiError> {
    let max_hops = number::<u32>(request, "max_hops")?.unwrap_or(6);
    let (source, target) = (
        node_at(params, "label", "key"),
        node_at(params, "label2", "key2"),
    );
    let path = graph::shortest_path(
        &source,
        &target,
        params.get("kind").unwrap_or_default(),
        max_hops,
    )?;
    let path = path.map(|nodes| nodes.into_iter().map(|n| n.key).collect::<Vec<_>>());
    Response::json(200, &json!({ "path": path }))
}

/// Times `n` calls of `call`, after one warm-up call.
fn time_calls(
    n: usize,
    mut call: impl FnMut() -> Result<(), ApiError>,
) -> Result<Vec<u128>, ApiError> {
    call()?;
    let mut micros = Vec::with_capacity(n);
    for _ in 0..n {
        let started = std::time::Instant::now();
        call()?;
        micros.push(started.elapsed().as_nanos());
    }
    micros.sort_unstable();
    Ok(micros)
}

fn bench(request: &Request, params: &Params) -> Result<Response, ApiError> {
    let n = number::<usize>(request, "n")?
        .unwrap_or(1000)
        .clamp(1, 100_000);
    let key = format!("bench-{}", params.get("prefix").unwrap_or_default());
    let nanos = match params.get("capability").unwrap_or_default() {
        "sql" => {
            sql::execute(
                "CREATE TABLE IF NOT EXISTS probe_bench (k TEXT PRIMARY KEY, v BIGINT)",
                &[],
            )?;
            sql::execute(
                "INSERT INTO probe_bench (k, v) VALUES ($1, 1) ON CONFLICT (k) DO NOTHING",
                &[Value::Text(key.clone())],
            )?;
            let params = [Value::Text(key)];
            time_calls(n, || {
                sql::query("SELECT v FROM probe_bench WHERE k = $1", &params).map(drop)
            })?
        }
        "cache" => {
            cache::set(&key, b"value", None)?;
            time_calls(n, || cache::get(&key).map(drop))?
        }
        "blob" => {
            blob::put(&key, "text/plain", b"value")?;
            time_calls(n, || blob::head(&key).map(drop))?
        }
        "graph" => {
            let me = NodeRef::new("Bench", &key);
            let friends: Vec<NodeRef> = (0..20)
                .map(|i| NodeRef::new("Bench", &format!("{key}-{i}")))
                .collect();
            let mut nodes = friends.clone();
            nodes.push(me.clone());
            let links: Vec<_> = friends
                .iter()
                .map(|f| (me.clone(), "LINK", f.clone()))
                .collect();
            graph::merge_batch(&nodes, &links)?;
            time_calls(n, || {
                graph::neighbours(&me, "LINK", graph::Direction::Both, 20).map(drop)
            })?
        }
        "wide" => {
            let rows = (0..20).map(|seq| {
                [
                    ("stream", Value::Text(key.clone())),
                    ("at", Value::Timestamp(seq)),
                    ("seq", Value::Int(seq)),
                    ("body", Value::Text("value".into())),
                ]
            });
            wide::put_many("events", rows)?;
            let partition = [Value::Text(key)];
            time_calls(n, || {
                wide::scan("events", &partition, wide::Order::Descending, 20, None).map(drop)
            })?
        }
        other => return Err(ApiError::not_found(format!("no benchmark for {other}"))),
    };
    let at = |q: f64| nanos[((nanos.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
    Response::json(
        200,
        &json!({ "n": n, "median_us": at(0.5), "p99_us": at(0.99) }),
    )
}
