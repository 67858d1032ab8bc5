//! The Neo4j graph backend: a pooled Bolt connection; labels and kinds are
//! checked names written into the Cypher text (Cypher cannot bind them),
//! every value is a parameter. Each label gets a uniqueness constraint on
//! its key the first time it is written.

use std::collections::HashSet;
use std::sync::Mutex;

use anyhow::{Context, Result};
use async_trait::async_trait;
use chrono::{DateTime, FixedOffset, Utc};
use neo4rs::{BoltMap, BoltString, BoltType, ConfigBuilder, Graph, Query, query};

use super::{
    Direction, GraphBackend, KEY_PROPERTY, LinkLimit, LinkOutcome, Node, NodeRef, Properties,
    Relationship, Suggestion, Value,
};
use crate::capabilities::{Capability, CapabilityError, ErrorKind, tls};
use crate::config::{Neo4jServer, Neo4jSettings, Tls};

/// The Neo4j graph backend.
pub(crate) struct Neo4jBackend {
    graph: Graph,
    address: String,
    constrained: Mutex<HashSet<String>>,
}

impl Neo4jBackend {
    /// Connects and checks that the server answers, over TLS when the
    /// settings ask for it.
    pub(crate) async fn connect(settings: &Neo4jSettings, server: &Neo4jServer) -> Result<Self> {
        tls::install_provider();
        let mut config = ConfigBuilder::default()
            .uri(&server.uri)
            .user(settings.user.as_str())
            .password(settings.password.as_str())
            .max_connections(settings.pool_size);
        if let Tls::Verified(Some(authorities)) = &server.tls {
            tls::read_authorities(authorities, "NEO4J_TLS_CA_FILE")?;
            config = config.with_client_certificate(authorities);
        }
        let setting = if settings.uri.is_some() {
            "NEO4J_URI"
        } else {
            "NEO4J_HOST"
        };
        let address = &server.address;
        let failed = || format!("connecting to Neo4j at {address} ({setting})");
        let graph = Graph::connect(config.build()?).with_context(failed)?;
        graph.run(query("RETURN 1")).await.with_context(failed)?;
        let tls = if server.tls == Tls::Off { "" } else { ", TLS" };
        Ok(Self {
            graph,
            address: format!("{address}{tls}"),
            constrained: Mutex::new(HashSet::new()),
        })
    }

    /// Creates the key constraint (and with it the index) of each label not
    /// yet seen by this process.
    async fn ensure_constraints<'a>(
        &self,
        labels: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), CapabilityError> {
        let missing: Vec<String> = {
            let seen = self.constrained.lock().expect("constraint set lock");
            labels
                .into_iter()
                .filter(|l| !seen.contains(*l))
                .map(str::to_owned)
                .collect()
        };
        for label in missing {
            let statement = format!(
                "CREATE CONSTRAINT IF NOT EXISTS FOR (n:`{label}`) REQUIRE n.{KEY_PROPERTY} IS UNIQUE"
            );
            self.graph.run(query(&statement)).await.map_err(classify)?;
            self.constrained
                .lock()
                .expect("constraint set lock")
                .insert(label);
        }
        Ok(())
    }

    async fn rows(&self, q: Query) -> Result<Vec<neo4rs::Row>, CapabilityError> {
        let mut stream = self.graph.execute(q).await.map_err(classify)?;
        let mut rows = Vec::new();
        while let Some(row) = stream.next().await.map_err(classify)? {
            rows.push(row);
        }
        Ok(rows)
    }

    async fn count(&self, q: Query) -> Result<i64, CapabilityError> {
        let rows = self.rows(q).await?;
        let row = rows
            .first()
            .ok_or_else(|| CapabilityError::internal("no count returned"))?;
        row.get::<i64>("n")
            .map_err(|e| CapabilityError::internal(e.to_string()))
    }
}

fn bolt_value(value: &Value) -> BoltType {
    match value {
        Value::Null => BoltType::Null(neo4rs::BoltNull),
        Value::Boolean(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::Float(f) => (*f).into(),
        Value::Text(text) | Value::Uuid(text) => text.clone().into(),
        Value::Bytes(bytes) => bytes.clone().into(),
        Value::Timestamp(micros) => DateTime::<Utc>::from_timestamp_micros(*micros)
            .map_or(BoltType::Null(neo4rs::BoltNull), Into::into),
    }
}

fn bolt_properties(properties: &Properties) -> BoltType {
    let map: BoltMap = properties
        .iter()
        .map(|(name, value)| (BoltString::from(name.as_str()), bolt_value(value)))
        .collect();
    BoltType::Map(map)
}

fn property_value(bolt: BoltType) -> Option<Value> {
    Some(match bolt {
        BoltType::Boolean(b) => Value::Boolean(b.value),
        BoltType::Integer(i) => Value::Int(i.value),
        BoltType::Float(f) => Value::Float(f.value),
        BoltType::String(s) => Value::Text(s.value),
        BoltType::Bytes(b) => Value::Bytes(b.value.to_vec()),
        other @ BoltType::DateTime(_) => {
            let time: DateTime<FixedOffset> = other.try_into().ok()?;
            Value::Timestamp(time.timestamp_micros())
        }
        _ => return None,
    })
}

/// Reads the `label`, `key` and `props` columns of a row into a node.
fn node_from_row(row: &neo4rs::Row) -> Result<Node, CapabilityError> {
    let bad = |e: neo4rs::DeError| CapabilityError::internal(format!("reading a node: {e}"));
    let label: String = row.get("label").map_err(bad)?;
    let key: String = row.get("key").map_err(bad)?;
    let props: BoltMap = row.get("props").map_err(bad)?;
    let mut properties: Properties = props
        .value
        .into_iter()
        .filter(|(name, _)| name.value != KEY_PROPERTY)
        .filter_map(|(name, value)| Some((name.value, property_value(value)?)))
        .collect();
    properties.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Node {
        id: NodeRef { label, key },
        properties,
    })
}

/// Groups items by a text key, keeping first-seen order within each group.
fn grouped<T, K: Ord + Clone>(
    items: &[T],
    key: impl Fn(&T) -> K,
) -> std::collections::BTreeMap<K, Vec<&T>> {
    let mut groups = std::collections::BTreeMap::new();
    for item in items {
        groups.entry(key(item)).or_insert_with(Vec::new).push(item);
    }
    groups
}

/// A property set on a node, and removed, to take its write lock early.
const LOCK_PROPERTY: &str = "_summer_lock";
/// Attempts of a bounded merge while Neo4j answers with a transient error
/// (such as a detected deadlock); the merge is idempotent.
const LINK_ATTEMPTS: usize = 3;

/// The Cypher of a relationship pattern in `direction` from a node.
fn link_pattern(kind: &str, direction: Direction) -> String {
    match direction {
        Direction::Outgoing => format!("-[:`{kind}`]->"),
        Direction::Incoming => format!("<-[:`{kind}`]-"),
        Direction::Both => format!("-[:`{kind}`]-"),
    }
}

/// The counts a bounded merge reads while it holds both ends' locks.
fn link_outcome(
    row: Option<neo4rs::Row>,
    limit: LinkLimit,
) -> Result<LinkOutcome, CapabilityError> {
    let row = row.ok_or_else(|| CapabilityError::internal("a bounded merge returned no row"))?;
    let bad = |e: neo4rs::DeError| CapabilityError::internal(format!("reading link counts: {e}"));
    let count = |name: &str| row.get::<i64>(name).map(|n| n.max(0) as u64).map_err(bad);
    Ok(LinkOutcome::decide(
        row.get::<bool>("existed").map_err(bad)?,
        count("source_links")?,
        count("target_links")?,
        limit,
    ))
}

impl Neo4jBackend {
    /// One attempt of a bounded merge, as one statement (so one implicit
    /// transaction): merge both ends, lock them in key order (so two calls
    /// never wait on each other in a circle), count their links under the
    /// locks, then create the relationship only when both have room.
    async fn try_link_within(
        &self,
        rel: &Relationship,
        limit: LinkLimit,
    ) -> Result<LinkOutcome, CapabilityError> {
        let (from, to) = limit.directions();
        let (first, second) = if rel.source <= rel.target {
            ("a", "b")
        } else {
            ("b", "a")
        };
        let (source, kind, target) = (&rel.source.label, &rel.kind, &rel.target.label);
        let statement = format!(
            "MERGE (a:`{source}` {{{KEY_PROPERTY}: $source}}) \
             MERGE (b:`{target}` {{{KEY_PROPERTY}: $target}}) \
             WITH a, b SET {first}.{LOCK_PROPERTY} = true \
             WITH a, b SET {second}.{LOCK_PROPERTY} = true \
             WITH a, b OPTIONAL MATCH (a)-[existing:`{kind}`]->(b) \
             WITH a, b, existing, COUNT {{ (a){}() }} AS source_links, \
               COUNT {{ (b){}() }} AS target_links \
             FOREACH (_ IN CASE WHEN existing IS NULL AND source_links < $max \
                 AND target_links < $max THEN [1] ELSE [] END | \
               CREATE (a)-[r:`{kind}`]->(b) SET r += $props) \
             FOREACH (_ IN CASE WHEN existing IS NOT NULL THEN [1] ELSE [] END | \
               SET existing += $props) \
             REMOVE a.{LOCK_PROPERTY}, b.{LOCK_PROPERTY} \
             RETURN existing IS NOT NULL AS existed, source_links, target_links",
            link_pattern(kind, from),
            link_pattern(kind, to),
        );
        let q = query(&statement)
            .param("source", rel.source.key.as_str())
            .param("target", rel.target.key.as_str())
            .param("max", i64::from(limit.max))
            .param("props", bolt_properties(&rel.properties));
        let rows = self.rows(q).await?;
        link_outcome(rows.into_iter().next(), limit)
    }
}

const NODE_COLUMNS: &str = "labels(m)[0] AS label, m.key AS key, properties(m) AS props";

#[async_trait]
impl GraphBackend for Neo4jBackend {
    fn describe(&self) -> String {
        format!("neo4j at {}", self.address)
    }

    /// A constant statement: a pooled connection and a server that answers,
    /// without planning a lookup on a server that has just started.
    async fn ping(&self) -> Result<(), CapabilityError> {
        self.graph.run(query("RETURN 1")).await.map_err(classify)
    }

    async fn merge(
        &self,
        nodes: Vec<Node>,
        relationships: Vec<Relationship>,
    ) -> Result<(), CapabilityError> {
        self.ensure_constraints(nodes.iter().map(|n| n.id.label.as_str()))
            .await?;
        let mut txn = self.graph.start_txn().await.map_err(classify)?;
        for (label, group) in grouped(&nodes, |n| n.id.label.clone()) {
            let batch: Vec<BoltType> = group
                .iter()
                .map(|n| {
                    let mut entry = BoltMap::new();
                    entry.put("key".into(), n.id.key.clone().into());
                    entry.put("props".into(), bolt_properties(&n.properties));
                    BoltType::Map(entry)
                })
                .collect();
            let statement = format!(
                "UNWIND $batch AS row MERGE (m:`{label}` {{{KEY_PROPERTY}: row.key}}) SET m += row.props"
            );
            txn.run(query(&statement).param("batch", batch))
                .await
                .map_err(classify)?;
        }
        let groups = grouped(&relationships, |r| {
            (
                r.source.label.clone(),
                r.kind.clone(),
                r.target.label.clone(),
            )
        });
        for ((source, kind, target), group) in groups {
            let batch: Vec<BoltType> = group
                .iter()
                .map(|r| {
                    let mut entry = BoltMap::new();
                    entry.put("source".into(), r.source.key.clone().into());
                    entry.put("target".into(), r.target.key.clone().into());
                    entry.put("props".into(), bolt_properties(&r.properties));
                    BoltType::Map(entry)
                })
                .collect();
            let statement = format!(
                "UNWIND $batch AS row \
                 MATCH (a:`{source}` {{{KEY_PROPERTY}: row.source}}) \
                 MATCH (b:`{target}` {{{KEY_PROPERTY}: row.target}}) \
                 MERGE (a)-[r:`{kind}`]->(b) SET r += row.props RETURN count(r) AS n"
            );
            let mut stream = txn
                .execute(query(&statement).param("batch", batch))
                .await
                .map_err(classify)?;
            let row = stream.next(&mut txn).await.map_err(classify)?;
            let merged = row.and_then(|row| row.get::<i64>("n").ok()).unwrap_or(0);
            if merged != group.len() as i64 {
                txn.rollback().await.map_err(classify)?;
                return Err(CapabilityError::new(
                    ErrorKind::NotFound,
                    "a relationship names a node that does not exist",
                ));
            }
        }
        txn.commit().await.map_err(classify)?;
        Ok(())
    }

    async fn merge_relationship_within(
        &self,
        rel: Relationship,
        limit: LinkLimit,
    ) -> Result<LinkOutcome, CapabilityError> {
        self.ensure_constraints([rel.source.label.as_str(), rel.target.label.as_str()])
            .await?;
        let mut attempt = 1;
        loop {
            match self.try_link_within(&rel, limit).await {
                Err(e) if e.kind == ErrorKind::Unavailable && attempt < LINK_ATTEMPTS => {
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    async fn get_node(&self, node: &NodeRef) -> Result<Option<Node>, CapabilityError> {
        let statement = format!(
            "MATCH (m:`{}` {{{KEY_PROPERTY}: $key}}) RETURN {NODE_COLUMNS}",
            node.label
        );
        let rows = self
            .rows(query(&statement).param("key", node.key.as_str()))
            .await?;
        rows.first().map(node_from_row).transpose()
    }

    async fn delete_node(&self, node: &NodeRef) -> Result<bool, CapabilityError> {
        let statement = format!(
            "OPTIONAL MATCH (m:`{}` {{{KEY_PROPERTY}: $key}}) DETACH DELETE m RETURN count(m) AS n",
            node.label
        );
        Ok(self
            .count(query(&statement).param("key", node.key.as_str()))
            .await?
            > 0)
    }

    async fn delete_relationship(
        &self,
        source: &NodeRef,
        kind: &str,
        target: &NodeRef,
    ) -> Result<bool, CapabilityError> {
        let statement = format!(
            "OPTIONAL MATCH (:`{}` {{{KEY_PROPERTY}: $source}})-[r:`{kind}`]->(:`{}` {{{KEY_PROPERTY}: $target}}) \
             DELETE r RETURN count(r) AS n",
            source.label, target.label
        );
        let q = query(&statement)
            .param("source", source.key.as_str())
            .param("target", target.key.as_str());
        Ok(self.count(q).await? > 0)
    }

    async fn neighbours(
        &self,
        node: &NodeRef,
        kind: &str,
        direction: Direction,
        limit: u32,
    ) -> Result<Vec<Node>, CapabilityError> {
        let link = link_pattern(kind, direction);
        let statement = format!(
            "MATCH (:`{}` {{{KEY_PROPERTY}: $key}}){link}(m) WITH DISTINCT m \
             RETURN {NODE_COLUMNS} ORDER BY label, key LIMIT $limit",
            node.label
        );
        let q = query(&statement)
            .param("key", node.key.as_str())
            .param("limit", i64::from(limit));
        self.rows(q).await?.iter().map(node_from_row).collect()
    }

    async fn suggest(
        &self,
        node: &NodeRef,
        kind: &str,
        hops: u32,
        limit: u32,
    ) -> Result<Vec<Suggestion>, CapabilityError> {
        let statement = format!(
            "MATCH (me:`{label}` {{{KEY_PROPERTY}: $key}})-[:`{kind}`*2..{hops}]-(m) \
             WHERE m <> me AND NOT (me)-[:`{kind}`]-(m) \
             WITH DISTINCT me, m \
             OPTIONAL MATCH (me)-[:`{kind}`]-(shared)-[:`{kind}`]-(m) \
             WITH m, count(DISTINCT shared) AS mutual \
             RETURN {NODE_COLUMNS}, mutual ORDER BY mutual DESC, label, key LIMIT $limit",
            label = node.label
        );
        let q = query(&statement)
            .param("key", node.key.as_str())
            .param("limit", i64::from(limit));
        self.rows(q)
            .await?
            .iter()
            .map(|row| {
                let mutual: i64 = row
                    .get("mutual")
                    .map_err(|e| CapabilityError::internal(e.to_string()))?;
                Ok(Suggestion {
                    node: node_from_row(row)?,
                    mutual: mutual as u32,
                })
            })
            .collect()
    }

    async fn shortest_path(
        &self,
        source: &NodeRef,
        target: &NodeRef,
        kind: &str,
        max_hops: u32,
    ) -> Result<Option<Vec<NodeRef>>, CapabilityError> {
        let statement = format!(
            "MATCH (a:`{}` {{{KEY_PROPERTY}: $source}}), (b:`{}` {{{KEY_PROPERTY}: $target}}) \
             MATCH p = shortestPath((a)-[:`{kind}`*..{max_hops}]-(b)) \
             RETURN [m IN nodes(p) | [labels(m)[0], m.{KEY_PROPERTY}]] AS path",
            source.label, target.label
        );
        let q = query(&statement)
            .param("source", source.key.as_str())
            .param("target", target.key.as_str());
        let rows = self.rows(q).await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let path: Vec<Vec<String>> = row
            .get("path")
            .map_err(|e| CapabilityError::internal(e.to_string()))?;
        let path = path
            .into_iter()
            .filter_map(|pair| match <[String; 2]>::try_from(pair) {
                Ok([label, key]) => Some(NodeRef { label, key }),
                Err(_) => None,
            })
            .collect();
        Ok(Some(path))
    }
}

/// Classifies a driver error into what the guest can act on.
fn classify(error: neo4rs::Error) -> CapabilityError {
    use neo4rs::Error as E;
    let kind = match &error {
        E::Neo4j(e) => match e.kind() {
            neo4rs::Neo4jErrorKind::Client(neo4rs::Neo4jClientErrorKind::Security(_)) => {
                ErrorKind::Denied
            }
            neo4rs::Neo4jErrorKind::Client(_)
                if e.code().contains("ConstraintValidationFailed") =>
            {
                ErrorKind::Conflict
            }
            neo4rs::Neo4jErrorKind::Client(_) => ErrorKind::Invalid,
            neo4rs::Neo4jErrorKind::Transient => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        },
        E::IOError { .. }
        | E::ConnectionError
        | E::ServerUnavailableError(_)
        | E::ConnectionTimedOut => ErrorKind::Unavailable,
        E::AuthenticationError(_) => ErrorKind::Denied,
        _ => ErrorKind::Internal,
    };
    CapabilityError::from_server(Capability::Graph, kind, error)
}
