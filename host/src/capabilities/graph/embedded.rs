//! The embedded graph store: nodes and relationships in two SQLite tables,
//! properties as tagged JSON; traversals are breadth-first searches over
//! an index in each direction.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::Result;
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value as Json, json};
use sqlx::sqlite::SqlitePool;
use sqlx::{Row, SqliteConnection};

use super::{
    Direction, GraphBackend, LinkLimit, LinkOutcome, Node, NodeRef, Properties, Relationship,
    Suggestion, Value, merge_properties,
};
use crate::capabilities::sql::{begin_immediate, classify, open_sqlite_store};
use crate::capabilities::{CapabilityError, ErrorKind};

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS graph_nodes (
        label TEXT NOT NULL,
        key TEXT NOT NULL,
        properties TEXT NOT NULL,
        PRIMARY KEY (label, key)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS graph_edges (
        source_label TEXT NOT NULL,
        source_key TEXT NOT NULL,
        kind TEXT NOT NULL,
        target_label TEXT NOT NULL,
        target_key TEXT NOT NULL,
        properties TEXT NOT NULL,
        PRIMARY KEY (source_label, source_key, kind, target_label, target_key)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS graph_edges_by_target
        ON graph_edges (target_label, target_key, kind);
";

/// The embedded graph backend.
pub(crate) struct EmbeddedBackend {
    pool: SqlitePool,
    path: PathBuf,
}

impl EmbeddedBackend {
    /// Opens (creating if needed) the store file at `path`.
    pub(crate) async fn open(path: &Path) -> Result<Self> {
        let pool = open_sqlite_store(path, SCHEMA, "graph store").await?;
        Ok(Self {
            pool,
            path: path.to_owned(),
        })
    }

    /// The nodes linked to `node` by `kind` in either direction.
    async fn linked(
        &self,
        node: &NodeRef,
        kind: &str,
    ) -> Result<BTreeSet<NodeRef>, CapabilityError> {
        let rows = sqlx::query(
            "SELECT target_label, target_key FROM graph_edges \
               WHERE source_label = ?1 AND source_key = ?2 AND kind = ?3 \
             UNION SELECT source_label, source_key FROM graph_edges \
               WHERE target_label = ?1 AND target_key = ?2 AND kind = ?3",
        )
        .bind(&node.label)
        .bind(&node.key)
        .bind(kind)
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        Ok(rows
            .iter()
            .map(|row| NodeRef {
                label: row.get(0),
                key: row.get(1),
            })
            .collect())
    }

    /// Breadth-first distances from `start`, up to `depth` links.
    async fn distances(
        &self,
        start: &NodeRef,
        kind: &str,
        depth: u32,
        stop_at: Option<&NodeRef>,
    ) -> Result<HashMap<NodeRef, (u32, NodeRef)>, CapabilityError> {
        let mut reached: HashMap<NodeRef, (u32, NodeRef)> = HashMap::new();
        reached.insert(start.clone(), (0, start.clone()));
        let mut frontier = vec![start.clone()];
        for distance in 1..=depth {
            let mut next = Vec::new();
            for node in &frontier {
                for linked in self.linked(node, kind).await? {
                    if !reached.contains_key(&linked) {
                        reached.insert(linked.clone(), (distance, node.clone()));
                        if Some(&linked) == stop_at {
                            return Ok(reached);
                        }
                        next.push(linked);
                    }
                }
            }
            frontier = next;
        }
        Ok(reached)
    }
}

fn property_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Boolean(b) => json!({ "boolean": b }),
        Value::Int(i) => json!({ "int": i }),
        Value::Float(f) => json!({ "float": f }),
        Value::Text(text) | Value::Uuid(text) => json!({ "text": text }),
        Value::Bytes(bytes) => json!({ "bytes": STANDARD.encode(bytes) }),
        Value::Timestamp(t) => json!({ "timestamp": t }),
    }
}

fn property_value(json: &Json) -> Option<Value> {
    let (tag, value) = json.as_object()?.iter().next()?;
    Some(match tag.as_str() {
        "boolean" => Value::Boolean(value.as_bool()?),
        "int" => Value::Int(value.as_i64()?),
        "float" => Value::Float(value.as_f64()?),
        "text" => Value::Text(value.as_str()?.to_owned()),
        "bytes" => Value::Bytes(STANDARD.decode(value.as_str()?).ok()?),
        "timestamp" => Value::Timestamp(value.as_i64()?),
        _ => return None,
    })
}

fn encode_properties(properties: &Properties) -> String {
    let map: BTreeMap<&str, Json> = properties
        .iter()
        .map(|(name, value)| (name.as_str(), property_json(value)))
        .collect();
    serde_json::to_string(&map).expect("properties serialize")
}

fn decode_properties(text: &str) -> Result<Properties, CapabilityError> {
    let corrupt = || CapabilityError::internal("stored properties cannot be read");
    let map: BTreeMap<String, Json> = serde_json::from_str(text).map_err(|_| corrupt())?;
    map.into_iter()
        .map(|(name, json)| Ok((name, property_value(&json).ok_or_else(corrupt)?)))
        .collect()
}

async fn stored_node_properties(
    conn: &mut SqliteConnection,
    node: &NodeRef,
) -> Result<Option<Properties>, CapabilityError> {
    let text: Option<String> =
        sqlx::query_scalar("SELECT properties FROM graph_nodes WHERE label = ? AND key = ?")
            .bind(&node.label)
            .bind(&node.key)
            .fetch_optional(&mut *conn)
            .await
            .map_err(classify)?;
    text.map(|t| decode_properties(&t)).transpose()
}

async fn merge_node(conn: &mut SqliteConnection, node: &Node) -> Result<(), CapabilityError> {
    let mut properties = stored_node_properties(conn, &node.id)
        .await?
        .unwrap_or_default();
    merge_properties(&mut properties, &node.properties);
    sqlx::query("INSERT OR REPLACE INTO graph_nodes (label, key, properties) VALUES (?, ?, ?)")
        .bind(&node.id.label)
        .bind(&node.id.key)
        .bind(encode_properties(&properties))
        .execute(&mut *conn)
        .await
        .map_err(classify)?;
    Ok(())
}

async fn merge_relationship(
    conn: &mut SqliteConnection,
    rel: &Relationship,
) -> Result<(), CapabilityError> {
    for end in [&rel.source, &rel.target] {
        if stored_node_properties(conn, end).await?.is_none() {
            return Err(CapabilityError::new(
                ErrorKind::NotFound,
                format!("there is no node {}:{}", end.label, end.key),
            ));
        }
    }
    let mut properties = stored_edge_properties(conn, rel).await?.unwrap_or_default();
    merge_properties(&mut properties, &rel.properties);
    sqlx::query(
        "INSERT OR REPLACE INTO graph_edges \
         (source_label, source_key, kind, target_label, target_key, properties) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&rel.source.label)
    .bind(&rel.source.key)
    .bind(&rel.kind)
    .bind(&rel.target.label)
    .bind(&rel.target.key)
    .bind(encode_properties(&properties))
    .execute(&mut *conn)
    .await
    .map_err(classify)?;
    Ok(())
}

/// The stored properties of the relationship `rel` names, if it exists.
async fn stored_edge_properties(
    conn: &mut SqliteConnection,
    rel: &Relationship,
) -> Result<Option<Properties>, CapabilityError> {
    let stored: Option<String> = sqlx::query_scalar(
        "SELECT properties FROM graph_edges WHERE source_label = ? AND source_key = ? AND kind = ? \
         AND target_label = ? AND target_key = ?",
    )
    .bind(&rel.source.label)
    .bind(&rel.source.key)
    .bind(&rel.kind)
    .bind(&rel.target.label)
    .bind(&rel.target.key)
    .fetch_optional(&mut *conn)
    .await
    .map_err(classify)?;
    stored.map(|t| decode_properties(&t)).transpose()
}

/// How many `kind` links `node` has in `direction`.
async fn count_links(
    conn: &mut SqliteConnection,
    node: &NodeRef,
    kind: &str,
    direction: Direction,
) -> Result<u64, CapabilityError> {
    let outgoing = "SELECT count(*) FROM graph_edges \
         WHERE source_label = ?1 AND source_key = ?2 AND kind = ?3";
    let incoming = "SELECT count(*) FROM graph_edges \
         WHERE target_label = ?1 AND target_key = ?2 AND kind = ?3";
    let statement = match direction {
        Direction::Outgoing => outgoing.to_owned(),
        Direction::Incoming => incoming.to_owned(),
        Direction::Both => format!("SELECT ({outgoing}) + ({incoming})"),
    };
    let count: i64 = sqlx::query_scalar(&statement)
        .bind(&node.label)
        .bind(&node.key)
        .bind(kind)
        .fetch_one(&mut *conn)
        .await
        .map_err(classify)?;
    Ok(count as u64)
}

fn node_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Node, CapabilityError> {
    Ok(Node {
        id: NodeRef {
            label: row.get(0),
            key: row.get(1),
        },
        properties: decode_properties(row.get(2))?,
    })
}

#[async_trait]
impl GraphBackend for EmbeddedBackend {
    fn describe(&self) -> String {
        format!("embedded graph store ({})", self.path.display())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn merge(
        &self,
        nodes: Vec<Node>,
        relationships: Vec<Relationship>,
    ) -> Result<(), CapabilityError> {
        let mut tx = begin_immediate(&self.pool).await.map_err(classify)?;
        for node in &nodes {
            merge_node(&mut tx, node).await?;
        }
        for rel in &relationships {
            merge_relationship(&mut tx, rel).await?;
        }
        tx.commit().await.map_err(classify)
    }

    /// One write transaction: SQLite runs one at a time, so the counts read
    /// hold until the relationship is written.
    async fn merge_relationship_within(
        &self,
        rel: Relationship,
        limit: LinkLimit,
    ) -> Result<LinkOutcome, CapabilityError> {
        let mut tx = begin_immediate(&self.pool).await.map_err(classify)?;
        for end in [&rel.source, &rel.target] {
            sqlx::query(
                "INSERT OR IGNORE INTO graph_nodes (label, key, properties) VALUES (?, ?, '{}')",
            )
            .bind(&end.label)
            .bind(&end.key)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        }
        let existed = stored_edge_properties(&mut tx, &rel).await?.is_some();
        let (from, to) = limit.directions();
        let source_links = count_links(&mut tx, &rel.source, &rel.kind, from).await?;
        let target_links = count_links(&mut tx, &rel.target, &rel.kind, to).await?;
        let outcome = LinkOutcome::decide(existed, source_links, target_links, limit);
        if matches!(outcome, LinkOutcome::Created | LinkOutcome::Existed) {
            merge_relationship(&mut tx, &rel).await?;
        }
        tx.commit().await.map_err(classify)?;
        Ok(outcome)
    }

    async fn get_node(&self, node: &NodeRef) -> Result<Option<Node>, CapabilityError> {
        let mut conn = self.pool.acquire().await.map_err(classify)?;
        let properties = stored_node_properties(&mut conn, node).await?;
        Ok(properties.map(|properties| Node {
            id: node.clone(),
            properties,
        }))
    }

    async fn delete_node(&self, node: &NodeRef) -> Result<bool, CapabilityError> {
        let mut tx = begin_immediate(&self.pool).await.map_err(classify)?;
        sqlx::query(
            "DELETE FROM graph_edges WHERE (source_label = ?1 AND source_key = ?2) \
             OR (target_label = ?1 AND target_key = ?2)",
        )
        .bind(&node.label)
        .bind(&node.key)
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
        let deleted = sqlx::query("DELETE FROM graph_nodes WHERE label = ? AND key = ?")
            .bind(&node.label)
            .bind(&node.key)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn delete_relationship(
        &self,
        source: &NodeRef,
        kind: &str,
        target: &NodeRef,
    ) -> Result<bool, CapabilityError> {
        let deleted = sqlx::query(
            "DELETE FROM graph_edges WHERE source_label = ? AND source_key = ? AND kind = ? \
             AND target_label = ? AND target_key = ?",
        )
        .bind(&source.label)
        .bind(&source.key)
        .bind(kind)
        .bind(&target.label)
        .bind(&target.key)
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn neighbours(
        &self,
        node: &NodeRef,
        kind: &str,
        direction: Direction,
        limit: u32,
    ) -> Result<Vec<Node>, CapabilityError> {
        let outgoing = "SELECT n.label, n.key, n.properties FROM graph_edges e JOIN graph_nodes n \
             ON n.label = e.target_label AND n.key = e.target_key \
             WHERE e.source_label = ?1 AND e.source_key = ?2 AND e.kind = ?3";
        let incoming = "SELECT n.label, n.key, n.properties FROM graph_edges e JOIN graph_nodes n \
             ON n.label = e.source_label AND n.key = e.source_key \
             WHERE e.target_label = ?1 AND e.target_key = ?2 AND e.kind = ?3";
        let select = match direction {
            Direction::Outgoing => outgoing.to_owned(),
            Direction::Incoming => incoming.to_owned(),
            Direction::Both => format!("{outgoing} UNION {incoming}"),
        };
        let statement = format!("SELECT * FROM ({select}) ORDER BY 1, 2 LIMIT ?4");
        let rows = sqlx::query(&statement)
            .bind(&node.label)
            .bind(&node.key)
            .bind(kind)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(classify)?;
        rows.iter().map(node_from_row).collect()
    }

    async fn suggest(
        &self,
        node: &NodeRef,
        kind: &str,
        hops: u32,
        limit: u32,
    ) -> Result<Vec<Suggestion>, CapabilityError> {
        if self.get_node(node).await?.is_none() {
            return Ok(Vec::new());
        }
        let mine = self.linked(node, kind).await?;
        let reached = self.distances(node, kind, hops, None).await?;
        let mut ranked = Vec::new();
        for (candidate, (distance, _)) in reached {
            if distance < 2 || mine.contains(&candidate) {
                continue;
            }
            let theirs = self.linked(&candidate, kind).await?;
            let mutual = theirs.intersection(&mine).count() as u32;
            ranked.push((mutual, candidate));
        }
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let mut suggestions = Vec::new();
        for (mutual, candidate) in ranked.into_iter().take(limit as usize) {
            if let Some(node) = self.get_node(&candidate).await? {
                suggestions.push(Suggestion { node, mutual });
            }
        }
        Ok(suggestions)
    }

    async fn shortest_path(
        &self,
        source: &NodeRef,
        target: &NodeRef,
        kind: &str,
        max_hops: u32,
    ) -> Result<Option<Vec<NodeRef>>, CapabilityError> {
        let reached = self.distances(source, kind, max_hops, Some(target)).await?;
        if !reached.contains_key(target) {
            return Ok(None);
        }
        let mut path = vec![target.clone()];
        while let Some(last) = path.last().filter(|last| *last != source) {
            let (_, previous) = &reached[last];
            path.push(previous.clone());
        }
        path.reverse();
        Ok(Some(path))
    }
}
