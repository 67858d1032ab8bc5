//! The `graph` capability: a property graph of labelled, keyed nodes and
//! typed relationships; the `GraphBackend` trait, its backends (an embedded
//! store on SQLite, Neo4j), and the WIT host functions over them.

mod embedded;
mod host;
mod neo4j;

use std::sync::Arc;

use anyhow::Result;
use async_trait::async_trait;

pub(crate) use embedded::EmbeddedBackend;
pub(crate) use host::{GraphView, add_to_linker};
pub(crate) use neo4j::Neo4jBackend;

use super::CapabilityError;
pub(crate) use super::bindings::summer::platform::types::Value;
use crate::config::Settings;

/// The most nodes, or relationships, one batch may merge.
pub(crate) const MAX_BATCH: usize = 1000;
/// The property that holds a node's key in the backends.
pub(crate) const KEY_PROPERTY: &str = "key";

/// Property names and values, sorted by name, without nulls once stored.
pub(crate) type Properties = Vec<(String, Value)>;

/// A node's identity. Inside the host, labels are already namespaced.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeRef {
    pub label: String,
    pub key: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub id: NodeRef,
    pub properties: Properties,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Relationship {
    pub source: NodeRef,
    pub kind: String,
    pub target: NodeRef,
    pub properties: Properties,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Outgoing,
    Incoming,
    Both,
}

/// How many links of its kind each end of a new relationship may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkLimit {
    /// At most this many, counting the new one.
    pub(crate) max: u32,
    /// Count links in either direction at both ends; otherwise the
    /// source's outgoing and the target's incoming ones.
    pub(crate) undirected: bool,
}

impl LinkLimit {
    /// The directions in which the source's and the target's links count.
    pub(crate) fn directions(self) -> (Direction, Direction) {
        if self.undirected {
            (Direction::Both, Direction::Both)
        } else {
            (Direction::Outgoing, Direction::Incoming)
        }
    }
}

/// What a bounded merge of a relationship did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkOutcome {
    Created,
    Existed,
    SourceFull,
    TargetFull,
}

impl LinkOutcome {
    /// Chooses the outcome from what the backend read under its lock.
    pub(crate) fn decide(
        existed: bool,
        source_links: u64,
        target_links: u64,
        limit: LinkLimit,
    ) -> Self {
        let max = u64::from(limit.max);
        if existed {
            Self::Existed
        } else if source_links >= max {
            Self::SourceFull
        } else if target_links >= max {
            Self::TargetFull
        } else {
            Self::Created
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Suggestion {
    pub node: Node,
    pub mutual: u32,
}

/// A property graph that components reach through `summer:platform/graph`.
/// Labels and kinds arrive namespaced and checked; properties checked.
#[async_trait]
pub trait GraphBackend: Send + Sync {
    /// A short description for logs.
    fn describe(&self) -> String;

    /// Closes the backend's connections at shutdown, after the last request.
    async fn close(&self) {}

    /// A round trip to the database, for readiness checks.
    async fn ping(&self) -> Result<(), CapabilityError> {
        let probe = NodeRef {
            label: "SummerReadyProbe".to_owned(),
            key: "probe".to_owned(),
        };
        self.get_node(&probe).await.map(drop)
    }

    /// Merges the nodes, then the relationships, in one transaction. A
    /// relationship whose node does not exist fails the whole call with
    /// `not-found`. Null properties remove the property.
    async fn merge(
        &self,
        nodes: Vec<Node>,
        relationships: Vec<Relationship>,
    ) -> Result<(), CapabilityError>;

    /// Merges both nodes (no properties), then the relationship unless an
    /// end already has `limit.max` links of its kind; the check and the
    /// write are atomic against concurrent calls.
    async fn merge_relationship_within(
        &self,
        relationship: Relationship,
        limit: LinkLimit,
    ) -> Result<LinkOutcome, CapabilityError>;

    async fn get_node(&self, node: &NodeRef) -> Result<Option<Node>, CapabilityError>;

    /// Removes the node and its relationships; false when absent.
    async fn delete_node(&self, node: &NodeRef) -> Result<bool, CapabilityError>;

    async fn delete_relationship(
        &self,
        source: &NodeRef,
        kind: &str,
        target: &NodeRef,
    ) -> Result<bool, CapabilityError>;

    /// Nodes linked to `node` by `kind`, ordered by label and key.
    async fn neighbours(
        &self,
        node: &NodeRef,
        kind: &str,
        direction: Direction,
        limit: u32,
    ) -> Result<Vec<Node>, CapabilityError>;

    /// Nodes within `hops` undirected `kind` links that are neither `node`
    /// nor its neighbours, most mutual neighbours first, then label and key.
    async fn suggest(
        &self,
        node: &NodeRef,
        kind: &str,
        hops: u32,
        limit: u32,
    ) -> Result<Vec<Suggestion>, CapabilityError>;

    /// A shortest undirected `kind` path of 1 to `max_hops` links between
    /// two distinct nodes.
    async fn shortest_path(
        &self,
        source: &NodeRef,
        target: &NodeRef,
        kind: &str,
        max_hops: u32,
    ) -> Result<Option<Vec<NodeRef>>, CapabilityError>;
}

/// Opens Neo4j when `NEO4J_URI` or `NEO4J_HOST` is set, the embedded graph
/// store under the data directory otherwise.
pub(crate) async fn open_backend(settings: &Settings) -> Result<Arc<dyn GraphBackend>> {
    if let Some(server) = settings.neo4j.server()? {
        return Ok(Arc::new(
            Neo4jBackend::connect(&settings.neo4j, &server).await?,
        ));
    }
    let path = settings.data_dir.join("graph.db");
    Ok(Arc::new(EmbeddedBackend::open(&path).await?))
}

/// Checks a label or relationship kind as the component wrote it: letters,
/// digits and single underscores, starting with a letter.
pub(crate) fn check_name(what: &str, name: &str) -> Result<(), CapabilityError> {
    let valid = (1..=40).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.contains("__");
    if valid {
        Ok(())
    } else {
        Err(CapabilityError::invalid(format!(
            "{what} {name:?} must be 1 to 40 letters, digits and single underscores, starting with a letter"
        )))
    }
}

/// Checks a node key: 1 to 512 bytes.
pub(crate) fn check_key(key: &str) -> Result<(), CapabilityError> {
    if (1..=512).contains(&key.len()) {
        Ok(())
    } else {
        Err(CapabilityError::invalid(
            "a node key must be 1 to 512 bytes",
        ))
    }
}

/// Checks property names and values, and sorts them by name. `uuid` values
/// become text, as every backend stores them.
pub(crate) fn checked_properties(properties: Properties) -> Result<Properties, CapabilityError> {
    let mut checked = Vec::with_capacity(properties.len());
    for (name, value) in properties {
        let valid_name = (1..=64).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && name != KEY_PROPERTY;
        if !valid_name {
            return Err(CapabilityError::invalid(format!(
                "property name {name:?} must be letters, digits and '_', and not {KEY_PROPERTY:?}"
            )));
        }
        let value = match value {
            Value::Uuid(text) => Value::Text(text),
            Value::Float(f) if !f.is_finite() => {
                return Err(CapabilityError::invalid(format!(
                    "property {name:?} must be a finite number"
                )));
            }
            other => other,
        };
        checked.push((name, value));
    }
    checked.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(pair) = checked.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        return Err(CapabilityError::invalid(format!(
            "property {:?} is given twice",
            pair[0].0
        )));
    }
    Ok(checked)
}

/// Applies merged properties onto stored ones: set the given, drop nulls.
pub(crate) fn merge_properties(stored: &mut Properties, given: &Properties) {
    for (name, value) in given {
        stored.retain(|(n, _)| n != name);
        if *value != Value::Null {
            stored.push((name.clone(), value.clone()));
        }
    }
    stored.sort_by(|a, b| a.0.cmp(&b.0));
}

#[cfg(test)]
mod conformance;
