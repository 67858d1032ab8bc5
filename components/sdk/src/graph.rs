//! Typed access to `summer:platform/graph`: nodes named by label and key,
//! relationships of a kind between them, and the traversals a social app
//! needs (neighbours, friends-of-friends suggestions, shortest paths).
//!
//! ```no_run
//! use summer_sdk::graph::{self, NodeRef};
//!
//! # fn example(my_id: &str, their_id: &str) -> Result<(), summer_sdk::ApiError> {
//! let me = NodeRef::new("User", my_id);
//! graph::merge_node(&me, [])?;
//! graph::merge_node(&NodeRef::new("User", their_id), [])?;
//! graph::merge_relationship(&me, "FRIEND", &NodeRef::new("User", their_id), [])?;
//! let friends = graph::neighbours(&me, "FRIEND", graph::Direction::Both, 100)?;
//! let suggestions = graph::suggest(&me, "FRIEND", 2, 10)?;
//! # let _ = (friends, suggestions); Ok(()) }
//! ```
//!
//! Needs `grants = ["graph"]`; the guide is `docs/graph.md`.

use crate::ApiError;
use crate::bindings::summer::platform::graph as wit;
use crate::value::{FromValue, Value, convert};

pub use wit::{Direction, LinkLimit, LinkOutcome, NodeRef};

impl NodeRef {
    /// The node labelled `label` with key `key`.
    pub fn new(label: &str, key: &str) -> Self {
        Self {
            label: label.to_owned(),
            key: key.to_owned(),
        }
    }
}

/// A node with its properties.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The node's label and key.
    pub id: NodeRef,
    /// Its properties, by name.
    pub properties: Vec<(String, Value)>,
}

impl Node {
    /// The property `name` as `T`; an absent one reads as `Value::Null`.
    pub fn get<T: FromValue>(&self, name: &str) -> Result<T, ApiError> {
        let value = self
            .properties
            .iter()
            .find(|(n, _)| n == name)
            .map_or(&Value::Null, |(_, v)| v);
        convert(name, value)
    }
}

impl From<wit::Node> for Node {
    fn from(node: wit::Node) -> Self {
        Self {
            id: NodeRef {
                label: node.label,
                key: node.key,
            },
            properties: node.properties,
        }
    }
}

fn properties<'a>(given: impl IntoIterator<Item = (&'a str, Value)>) -> Vec<(String, Value)> {
    given.into_iter().map(|(n, v)| (n.to_owned(), v)).collect()
}

fn wit_node<'a>(id: &NodeRef, props: impl IntoIterator<Item = (&'a str, Value)>) -> wit::Node {
    wit::Node {
        label: id.label.clone(),
        key: id.key.clone(),
        properties: properties(props),
    }
}

/// Creates the node or sets the given properties on it (null removes one).
pub fn merge_node<'a>(
    id: &NodeRef,
    props: impl IntoIterator<Item = (&'a str, Value)>,
) -> Result<(), ApiError> {
    Ok(wit::merge_node(&wit_node(id, props))?)
}

/// The node with its properties, or `None`.
pub fn get_node(id: &NodeRef) -> Result<Option<Node>, ApiError> {
    Ok(wit::get_node(id)?.map(Node::from))
}

/// Removes the node and its relationships; false when it did not exist.
pub fn delete_node(id: &NodeRef) -> Result<bool, ApiError> {
    Ok(wit::delete_node(id)?)
}

/// Creates the relationship or sets its properties; both nodes must exist.
pub fn merge_relationship<'a>(
    source: &NodeRef,
    kind: &str,
    target: &NodeRef,
    props: impl IntoIterator<Item = (&'a str, Value)>,
) -> Result<(), ApiError> {
    let relationship = wit::Relationship {
        source: source.clone(),
        kind: kind.to_owned(),
        target: target.clone(),
        properties: properties(props),
    };
    Ok(wit::merge_relationship(&relationship)?)
}

/// Merges both nodes, then the relationship unless either end already has
/// `limit.max` `kind` links: a cap (at most 1,000 friends, say) that holds
/// under concurrent requests, since the check and the write are one step.
///
/// ```no_run
/// use summer_sdk::graph::{self, LinkLimit, LinkOutcome, NodeRef};
///
/// # fn example(me: &NodeRef, them: &NodeRef) -> Result<(), summer_sdk::ApiError> {
/// let limit = LinkLimit { max: 1000, undirected: true };
/// match graph::merge_relationship_within(me, "FRIEND", them, [], limit)? {
///     LinkOutcome::Created | LinkOutcome::Existed => {}
///     LinkOutcome::SourceFull | LinkOutcome::TargetFull => {
///         return Err(summer_sdk::ApiError::conflict("too many friends"));
///     }
/// }
/// # Ok(()) }
/// ```
pub fn merge_relationship_within<'a>(
    source: &NodeRef,
    kind: &str,
    target: &NodeRef,
    props: impl IntoIterator<Item = (&'a str, Value)>,
    limit: LinkLimit,
) -> Result<LinkOutcome, ApiError> {
    let relationship = wit::Relationship {
        source: source.clone(),
        kind: kind.to_owned(),
        target: target.clone(),
        properties: properties(props),
    };
    Ok(wit::merge_relationship_within(&relationship, limit)?)
}

/// Removes the relationship; false when it did not exist.
pub fn delete_relationship(
    source: &NodeRef,
    kind: &str,
    target: &NodeRef,
) -> Result<bool, ApiError> {
    Ok(wit::delete_relationship(source, kind, target)?)
}

/// Up to `limit` nodes linked to `id` by `kind`, by label and key.
pub fn neighbours(
    id: &NodeRef,
    kind: &str,
    direction: Direction,
    limit: u32,
) -> Result<Vec<Node>, ApiError> {
    Ok(wit::neighbours(id, kind, direction, limit)?
        .into_iter()
        .map(Node::from)
        .collect())
}

/// Nodes within `hops` links that are not yet neighbours, most mutual
/// neighbours first, with that count.
pub fn suggest(
    id: &NodeRef,
    kind: &str,
    hops: u32,
    limit: u32,
) -> Result<Vec<(Node, u32)>, ApiError> {
    Ok(wit::suggest(id, kind, hops, limit)?
        .into_iter()
        .map(|s| (Node::from(s.node), s.mutual))
        .collect())
}

/// The nodes of a shortest path of at most `max_hops` links, if any.
pub fn shortest_path(
    source: &NodeRef,
    target: &NodeRef,
    kind: &str,
    max_hops: u32,
) -> Result<Option<Vec<NodeRef>>, ApiError> {
    Ok(wit::shortest_path(source, target, kind, max_hops)?)
}

/// Merges nodes, then relationships (source, kind, target), all or none.
pub fn merge_batch(
    nodes: &[NodeRef],
    relationships: &[(NodeRef, &str, NodeRef)],
) -> Result<(), ApiError> {
    let nodes: Vec<wit::Node> = nodes.iter().map(|id| wit_node(id, [])).collect();
    let relationships: Vec<wit::Relationship> = relationships
        .iter()
        .map(|(source, kind, target)| wit::Relationship {
            source: source.clone(),
            kind: (*kind).to_owned(),
            target: target.clone(),
            properties: Vec::new(),
        })
        .collect();
    Ok(wit::merge_batch(&nodes, &relationships)?)
}
