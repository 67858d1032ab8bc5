//! The `summer:platform/graph` host functions: names are checked and put in
//! the calling component's namespace, properties checked, limits enforced,
//! then the call goes to the configured `GraphBackend`.

use std::sync::Arc;

use anyhow::Result;
use wasmtime::component::{HasData, Linker};

use super::{
    Direction, GraphBackend, LinkLimit, LinkOutcome, MAX_BATCH, Node, NodeRef, Relationship,
    check_key, check_name, checked_properties,
};
use crate::capabilities::BackendName;
use crate::capabilities::bindings::summer::platform::{graph as wit, types::Error};
use crate::capabilities::{CapabilityError, CapabilityState, guest_call};

/// What the `graph` host functions need from the store.
pub(crate) struct GraphView<'a> {
    pub(crate) backend: &'a Arc<dyn GraphBackend>,
    pub(crate) meter: &'a BackendName,
    /// The calling component's namespace; labels and kinds are prefixed with it.
    pub(crate) namespace: &'a str,
}

struct GraphData;

impl HasData for GraphData {
    type Data<'a> = GraphView<'a>;
}

/// Links `summer:platform/graph` into `linker`.
pub(crate) fn add_to_linker<T: CapabilityState>(linker: &mut Linker<T>) -> Result<()> {
    wit::add_to_linker::<T, GraphData>(linker, |state| state.graph())?;
    Ok(())
}

/// The largest `link-limit.max` a component may ask for.
const MAX_LINK_LIMIT: u32 = 100_000;

type GuestResult<T> = wasmtime::Result<Result<T, Error>>;
type Outcome<T> = Result<T, CapabilityError>;

fn within(what: &str, value: u32, range: std::ops::RangeInclusive<u32>) -> Outcome<()> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(CapabilityError::invalid(format!(
            "{what} must be from {} to {}, not {value}",
            range.start(),
            range.end()
        )))
    }
}

impl GraphView<'_> {
    fn prefix(&self) -> String {
        format!("{}__", self.namespace.replace('-', "_"))
    }

    fn name(&self, what: &str, name: &str) -> Outcome<String> {
        check_name(what, name)?;
        Ok(format!("{}{name}", self.prefix()))
    }

    fn node_ref(&self, node: wit::NodeRef) -> Outcome<NodeRef> {
        check_key(&node.key)?;
        Ok(NodeRef {
            label: self.name("label", &node.label)?,
            key: node.key,
        })
    }

    fn node(&self, node: wit::Node) -> Outcome<Node> {
        let id = self.node_ref(wit::NodeRef {
            label: node.label,
            key: node.key,
        })?;
        Ok(Node {
            id,
            properties: checked_properties(node.properties)?,
        })
    }

    fn relationship(&self, rel: wit::Relationship) -> Outcome<Relationship> {
        Ok(Relationship {
            source: self.node_ref(rel.source)?,
            kind: self.name("relationship kind", &rel.kind)?,
            target: self.node_ref(rel.target)?,
            properties: checked_properties(rel.properties)?,
        })
    }

    fn strip(&self, label: String) -> String {
        label
            .strip_prefix(&self.prefix())
            .map(str::to_owned)
            .unwrap_or(label)
    }

    fn out_ref(&self, node: NodeRef) -> wit::NodeRef {
        wit::NodeRef {
            label: self.strip(node.label),
            key: node.key,
        }
    }

    fn out_node(&self, node: Node) -> wit::Node {
        wit::Node {
            label: self.strip(node.id.label),
            key: node.id.key,
            properties: node.properties,
        }
    }

    async fn merge_batch_checked(
        &self,
        nodes: Vec<wit::Node>,
        rels: Vec<wit::Relationship>,
    ) -> Outcome<()> {
        if nodes.len() > MAX_BATCH || rels.len() > MAX_BATCH {
            return Err(CapabilityError::invalid(format!(
                "a batch holds at most {MAX_BATCH} nodes and {MAX_BATCH} relationships"
            )));
        }
        let nodes = nodes
            .into_iter()
            .map(|n| self.node(n))
            .collect::<Outcome<Vec<_>>>()?;
        let rels = rels
            .into_iter()
            .map(|r| self.relationship(r))
            .collect::<Outcome<Vec<_>>>()?;
        self.backend.merge(nodes, rels).await
    }

    async fn neighbours_checked(
        &self,
        node: wit::NodeRef,
        kind: String,
        direction: wit::Direction,
        limit: u32,
    ) -> Outcome<Vec<wit::Node>> {
        within("limit", limit, 1..=1000)?;
        let node = self.node_ref(node)?;
        let kind = self.name("relationship kind", &kind)?;
        let direction = match direction {
            wit::Direction::Outgoing => Direction::Outgoing,
            wit::Direction::Incoming => Direction::Incoming,
            wit::Direction::Both => Direction::Both,
        };
        let nodes = self
            .backend
            .neighbours(&node, &kind, direction, limit)
            .await?;
        Ok(nodes.into_iter().map(|n| self.out_node(n)).collect())
    }

    async fn suggest_checked(
        &self,
        node: wit::NodeRef,
        kind: String,
        hops: u32,
        limit: u32,
    ) -> Outcome<Vec<wit::Suggestion>> {
        within("hops", hops, 2..=4)?;
        within("limit", limit, 1..=100)?;
        let node = self.node_ref(node)?;
        let kind = self.name("relationship kind", &kind)?;
        let suggestions = self.backend.suggest(&node, &kind, hops, limit).await?;
        Ok(suggestions
            .into_iter()
            .map(|s| wit::Suggestion {
                node: self.out_node(s.node),
                mutual: s.mutual,
            })
            .collect())
    }

    async fn shortest_path_checked(
        &self,
        source: wit::NodeRef,
        target: wit::NodeRef,
        kind: String,
        max_hops: u32,
    ) -> Outcome<Option<Vec<wit::NodeRef>>> {
        within("max-hops", max_hops, 1..=10)?;
        let source = self.node_ref(source)?;
        let target = self.node_ref(target)?;
        let kind = self.name("relationship kind", &kind)?;
        let path = if source == target {
            self.backend.get_node(&source).await?.map(|_| vec![source])
        } else {
            self.backend
                .shortest_path(&source, &target, &kind, max_hops)
                .await?
        };
        Ok(path.map(|path| path.into_iter().map(|n| self.out_ref(n)).collect()))
    }
}

impl wit::Host for GraphView<'_> {
    async fn merge_node(&mut self, node: wit::Node) -> GuestResult<()> {
        guest_call(
            self.meter,
            "merge-node",
            self.merge_batch_checked(vec![node], Vec::new()),
        )
        .await
    }

    async fn get_node(&mut self, node: wit::NodeRef) -> GuestResult<Option<wit::Node>> {
        let found = async {
            let node = self.backend.get_node(&self.node_ref(node)?).await?;
            Ok(node.map(|n| self.out_node(n)))
        };
        guest_call(self.meter, "get-node", found).await
    }

    async fn delete_node(&mut self, node: wit::NodeRef) -> GuestResult<bool> {
        let deleted = async { self.backend.delete_node(&self.node_ref(node)?).await };
        guest_call(self.meter, "delete-node", deleted).await
    }

    async fn merge_relationship(&mut self, relationship: wit::Relationship) -> GuestResult<()> {
        guest_call(
            self.meter,
            "merge-relationship",
            self.merge_batch_checked(Vec::new(), vec![relationship]),
        )
        .await
    }

    async fn merge_relationship_within(
        &mut self,
        relationship: wit::Relationship,
        limit: wit::LinkLimit,
    ) -> GuestResult<wit::LinkOutcome> {
        let outcome = async {
            within("the link limit", limit.max, 1..=MAX_LINK_LIMIT)?;
            let limit = LinkLimit {
                max: limit.max,
                undirected: limit.undirected,
            };
            let relationship = self.relationship(relationship)?;
            let outcome = self
                .backend
                .merge_relationship_within(relationship, limit)
                .await?;
            Ok(match outcome {
                LinkOutcome::Created => wit::LinkOutcome::Created,
                LinkOutcome::Existed => wit::LinkOutcome::Existed,
                LinkOutcome::SourceFull => wit::LinkOutcome::SourceFull,
                LinkOutcome::TargetFull => wit::LinkOutcome::TargetFull,
            })
        };
        guest_call(self.meter, "merge-relationship-within", outcome).await
    }

    async fn delete_relationship(
        &mut self,
        source: wit::NodeRef,
        kind: String,
        target: wit::NodeRef,
    ) -> GuestResult<bool> {
        let outcome = async {
            let source = self.node_ref(source)?;
            let target = self.node_ref(target)?;
            let kind = self.name("relationship kind", &kind)?;
            self.backend
                .delete_relationship(&source, &kind, &target)
                .await
        };
        guest_call(self.meter, "delete-relationship", outcome).await
    }

    async fn neighbours(
        &mut self,
        node: wit::NodeRef,
        kind: String,
        direction: wit::Direction,
        limit: u32,
    ) -> GuestResult<Vec<wit::Node>> {
        guest_call(
            self.meter,
            "neighbours",
            self.neighbours_checked(node, kind, direction, limit),
        )
        .await
    }

    async fn suggest(
        &mut self,
        node: wit::NodeRef,
        kind: String,
        hops: u32,
        limit: u32,
    ) -> GuestResult<Vec<wit::Suggestion>> {
        guest_call(
            self.meter,
            "suggest",
            self.suggest_checked(node, kind, hops, limit),
        )
        .await
    }

    async fn shortest_path(
        &mut self,
        source: wit::NodeRef,
        target: wit::NodeRef,
        kind: String,
        max_hops: u32,
    ) -> GuestResult<Option<Vec<wit::NodeRef>>> {
        guest_call(
            self.meter,
            "shortest-path",
            self.shortest_path_checked(source, target, kind, max_hops),
        )
        .await
    }

    async fn merge_batch(
        &mut self,
        nodes: Vec<wit::Node>,
        relationships: Vec<wit::Relationship>,
    ) -> GuestResult<()> {
        guest_call(
            self.meter,
            "merge-batch",
            self.merge_batch_checked(nodes, relationships),
        )
        .await
    }
}
