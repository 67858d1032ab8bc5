//! The graph conformance suite: one set of checks, run against every
//! backend. Each check uses node keys of its own, so runs do not meet.

use super::*;
use crate::capabilities::ErrorKind;
use crate::capabilities::cancellation::cancel_at_every_await;

const PERSON: &str = "conformance__Person";
const PLACE: &str = "conformance__Place";
const KNOWS: &str = "conformance__KNOWS";

/// Keys unique to one check of one run.
struct Keys(String);

impl Keys {
    fn new() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string()[..12].to_owned())
    }

    fn person(&self, name: &str) -> NodeRef {
        NodeRef {
            label: PERSON.into(),
            key: format!("{}-{name}", self.0),
        }
    }
}

fn node(id: &NodeRef, properties: Properties) -> Node {
    Node {
        id: id.clone(),
        properties,
    }
}

fn knows(source: &NodeRef, target: &NodeRef) -> Relationship {
    Relationship {
        source: source.clone(),
        kind: KNOWS.into(),
        target: target.clone(),
        properties: Vec::new(),
    }
}

/// Creates people named by single letters and `KNOWS` links `"ab"` (a→b).
async fn people(graph: &dyn GraphBackend, keys: &Keys, names: &str, links: &[&str]) {
    let nodes = names
        .chars()
        .map(|c| node(&keys.person(&c.to_string()), Vec::new()))
        .collect();
    let rels = links
        .iter()
        .map(|link| {
            let (a, b) = link.split_at(1);
            knows(&keys.person(a), &keys.person(b))
        })
        .collect();
    graph.merge(nodes, rels).await.unwrap();
}

fn names(keys: &Keys, nodes: &[Node]) -> Vec<String> {
    nodes
        .iter()
        .map(|n| {
            n.id.key
                .trim_start_matches(&format!("{}-", keys.0))
                .to_owned()
        })
        .collect()
}

pub(crate) async fn merge_node_sets_keeps_and_removes_properties(graph: &dyn GraphBackend) {
    let keys = Keys::new();
    let ada = keys.person("ada");
    assert_eq!(graph.get_node(&ada).await.unwrap(), None);
    let first = vec![
        ("age".to_owned(), Value::Int(36)),
        ("name".into(), Value::Text("Ada".into())),
    ];
    graph
        .merge(vec![node(&ada, first)], Vec::new())
        .await
        .unwrap();
    let second = vec![
        ("age".to_owned(), Value::Null),
        ("city".into(), Value::Text("London".into())),
    ];
    graph
        .merge(vec![node(&ada, second)], Vec::new())
        .await
        .unwrap();
    let stored = graph.get_node(&ada).await.unwrap().expect("merged node");
    assert_eq!(
        stored.properties,
        [
            ("city".to_owned(), Value::Text("London".into())),
            ("name".into(), Value::Text("Ada".into()))
        ]
    );
}

pub(crate) async fn property_values_round_trip(graph: &dyn GraphBackend) {
    let keys = Keys::new();
    let id = keys.person("typed");
    let properties = vec![
        ("at".to_owned(), Value::Timestamp(1_700_000_000_123_456)),
        ("flag".into(), Value::Boolean(true)),
        ("n".into(), Value::Int(-42)),
        ("raw".into(), Value::Bytes(vec![0, 1, 255])),
        ("text".into(), Value::Text("héllo".into())),
        ("x".into(), Value::Float(2.5)),
    ];
    graph
        .merge(vec![node(&id, properties.clone())], Vec::new())
        .await
        .unwrap();
    assert_eq!(
        graph.get_node(&id).await.unwrap().unwrap().properties,
        properties
    );
}

pub(crate) async fn relationships_need_both_nodes_and_fail_the_whole_batch(
    graph: &dyn GraphBackend,
) {
    let keys = Keys::new();
    let (a, ghost) = (keys.person("a"), keys.person("ghost"));
    let error = graph
        .merge(vec![node(&a, Vec::new())], vec![knows(&a, &ghost)])
        .await
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::NotFound, "{error}");
    assert_eq!(
        graph.get_node(&a).await.unwrap(),
        None,
        "the batch was rolled back"
    );
}

pub(crate) async fn neighbours_follow_direction_in_key_order(graph: &dyn GraphBackend) {
    let keys = Keys::new();
    people(graph, &keys, "abcd", &["ac", "ab", "da", "aa"]).await;
    let a = keys.person("a");
    for (direction, expected) in [
        (Direction::Outgoing, &["a", "b", "c"][..]),
        (Direction::Incoming, &["a", "d"][..]),
        (Direction::Both, &["a", "b", "c", "d"][..]),
    ] {
        let linked = graph.neighbours(&a, KNOWS, direction, 10).await.unwrap();
        assert_eq!(names(&keys, &linked), expected, "{direction:?}");
    }
    let limited = graph
        .neighbours(&a, KNOWS, Direction::Both, 2)
        .await
        .unwrap();
    assert_eq!(names(&keys, &limited), ["a", "b"]);
    let other_kind = graph
        .neighbours(&a, "conformance__LIKES", Direction::Both, 10)
        .await
        .unwrap();
    assert!(other_kind.is_empty());
}

pub(crate) async fn merging_a_relationship_twice_keeps_one(graph: &dyn GraphBackend) {
    let keys = Keys::new();
    people(graph, &keys, "ab", &["ab", "ab"]).await;
    let (a, b) = (keys.person("a"), keys.person("b"));
    let mut rel = knows(&a, &b);
    rel.properties = vec![("since".into(), Value::Int(2020))];
    graph.merge(Vec::new(), vec![rel]).await.unwrap();
    assert_eq!(
        graph
            .neighbours(&a, KNOWS, Direction::Outgoing, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(graph.delete_relationship(&a, KNOWS, &b).await.unwrap());
    assert!(!graph.delete_relationship(&a, KNOWS, &b).await.unwrap());
    assert!(
        graph
            .neighbours(&a, KNOWS, Direction::Both, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub(crate) async fn deleting_a_node_removes_its_relationships(graph: &dyn GraphBackend) {
    let keys = Keys::new();
    people(graph, &keys, "abc", &["ab", "cb"]).await;
    let b = keys.person("b");
    assert!(graph.delete_node(&b).await.unwrap());
    assert!(!graph.delete_node(&b).await.unwrap());
    assert_eq!(graph.get_node(&b).await.unwrap(), None);
    let left = graph
        .neighbours(&keys.person("a"), KNOWS, Direction::Both, 10)
        .await
        .unwrap();
    assert!(left.is_empty());
}

pub(crate) async fn suggestions_rank_by_mutual_neighbours(graph: &dyn GraphBackend) {
    let keys = Keys::new();
    // a knows b, c, d; e is linked to b, c and d; f to b; g only through e.
    people(
        graph,
        &keys,
        "abcdefgh",
        &["ab", "ac", "da", "be", "ce", "ed", "fb", "eg", "gh"],
    )
    .await;
    let a = keys.person("a");
    let two_hops = graph.suggest(&a, KNOWS, 2, 10).await.unwrap();
    let ranked: Vec<(String, u32)> = two_hops
        .iter()
        .map(|s| {
            (
                names(&keys, std::slice::from_ref(&s.node))[0].clone(),
                s.mutual,
            )
        })
        .collect();
    assert_eq!(ranked, [("e".to_owned(), 3), ("f".to_owned(), 1)]);

    let three_hops = graph.suggest(&a, KNOWS, 3, 10).await.unwrap();
    let names3: Vec<String> = three_hops
        .iter()
        .map(|s| names(&keys, std::slice::from_ref(&s.node))[0].clone())
        .collect();
    assert_eq!(names3, ["e", "f", "g"]);
    assert_eq!(three_hops[2].mutual, 0);
    assert_eq!(graph.suggest(&a, KNOWS, 2, 1).await.unwrap().len(), 1);
    assert!(
        graph
            .suggest(&keys.person("nobody"), KNOWS, 2, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub(crate) async fn shortest_paths_take_the_fewest_links(graph: &dyn GraphBackend) {
    let keys = Keys::new();
    // A long way a-b-c-d-e and a short cut a-x-e (x is a place).
    people(graph, &keys, "abcde", &["ab", "cb", "cd", "de"]).await;
    let x = NodeRef {
        label: PLACE.into(),
        key: format!("{}-x", keys.0),
    };
    let (a, e) = (keys.person("a"), keys.person("e"));
    graph
        .merge(
            vec![node(&x, Vec::new())],
            vec![knows(&a, &x), knows(&e, &x)],
        )
        .await
        .unwrap();
    let path = graph.shortest_path(&a, &e, KNOWS, 5).await.unwrap();
    assert_eq!(path, Some(vec![a.clone(), x.clone(), e.clone()]));
    assert_eq!(
        graph
            .shortest_path(&a, &keys.person("d"), KNOWS, 2)
            .await
            .unwrap(),
        None,
        "three links away"
    );
    let d = keys.person("d");
    assert_eq!(
        graph
            .shortest_path(&a, &d, KNOWS, 3)
            .await
            .unwrap()
            .map(|p| p.len()),
        Some(4)
    );
    assert_eq!(
        graph
            .shortest_path(&a, &keys.person("nobody"), KNOWS, 5)
            .await
            .unwrap(),
        None
    );
}

pub(crate) async fn large_batches_merge_in_one_call(graph: &dyn GraphBackend) {
    let keys = Keys::new();
    let ids: Vec<NodeRef> = (0..500).map(|i| keys.person(&format!("n{i:03}"))).collect();
    let nodes = ids
        .iter()
        .map(|id| node(id, vec![("i".into(), Value::Int(1))]))
        .collect();
    let rels = ids
        .windows(2)
        .map(|pair| knows(&pair[0], &pair[1]))
        .collect();
    graph.merge(nodes, rels).await.unwrap();
    let middle = graph
        .neighbours(&ids[250], KNOWS, Direction::Both, 10)
        .await
        .unwrap();
    assert_eq!(names(&keys, &middle), ["n249", "n251"]);
    let path = graph
        .shortest_path(&ids[0], &ids[9], KNOWS, 10)
        .await
        .unwrap();
    assert_eq!(path.map(|p| p.len()), Some(10));
}

pub(crate) async fn bounded_merges_never_pass_the_limit_under_concurrency(
    graph: &dyn GraphBackend,
) {
    let keys = Keys::new();
    let hub = keys.person("hub");
    let limit = LinkLimit {
        max: 10,
        undirected: true,
    };
    // The hub is the source of half the links and the target of the others,
    // so both ends' counts and both lock orders are exercised.
    let links: Vec<Relationship> = (0..30)
        .map(|i| {
            let other = keys.person(&format!("p{i:02}"));
            if i % 2 == 0 {
                knows(&hub, &other)
            } else {
                knows(&other, &hub)
            }
        })
        .collect();
    let racing = links
        .iter()
        .map(|rel| graph.merge_relationship_within(rel.clone(), limit));
    let outcomes = futures::future::try_join_all(racing).await.unwrap();
    let created: Vec<&Relationship> = links
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| **o == LinkOutcome::Created)
        .map(|(rel, _)| rel)
        .collect();
    assert_eq!(created.len(), 10, "{outcomes:?}");
    for (rel, outcome) in links.iter().zip(&outcomes) {
        let hub_side = if rel.source == hub {
            LinkOutcome::SourceFull
        } else {
            LinkOutcome::TargetFull
        };
        assert!(
            *outcome == LinkOutcome::Created || *outcome == hub_side,
            "{outcome:?} for {rel:?}"
        );
    }
    let linked = graph
        .neighbours(&hub, KNOWS, Direction::Both, 100)
        .await
        .unwrap();
    let mut expected: Vec<&NodeRef> = created
        .iter()
        .map(|rel| {
            if rel.source == hub {
                &rel.target
            } else {
                &rel.source
            }
        })
        .collect();
    expected.sort();
    let linked: Vec<&NodeRef> = linked.iter().map(|n| &n.id).collect();
    assert_eq!(
        linked, expected,
        "exactly the acknowledged links are stored"
    );

    let again = graph
        .merge_relationship_within(created[0].clone(), limit)
        .await
        .unwrap();
    assert_eq!(again, LinkOutcome::Existed, "a full end keeps its links");
}

pub(crate) async fn directed_limits_count_outgoing_from_the_source_and_incoming_to_the_target(
    graph: &dyn GraphBackend,
) {
    let keys = Keys::new();
    people(graph, &keys, "abxyz", &["xa", "ya", "bz"]).await;
    let (a, b) = (keys.person("a"), keys.person("b"));
    let limit = LinkLimit {
        max: 1,
        undirected: false,
    };
    let mut first = knows(&a, &b);
    first.properties = vec![("since".into(), Value::Int(2024))];
    // a has two incoming links and b one outgoing: neither counts here.
    let outcome = graph.merge_relationship_within(first, limit).await.unwrap();
    assert_eq!(outcome, LinkOutcome::Created);
    let outcome = graph
        .merge_relationship_within(knows(&a, &keys.person("new")), limit)
        .await
        .unwrap();
    assert_eq!(outcome, LinkOutcome::SourceFull);
    assert_eq!(
        graph
            .get_node(&keys.person("new"))
            .await
            .unwrap()
            .map(|n| n.id),
        Some(keys.person("new")),
        "the ends are merged even when the link is refused"
    );
    // y has its one outgoing link already (y→a); a new node has none.
    let outcome = graph
        .merge_relationship_within(knows(&keys.person("y"), &b), limit)
        .await
        .unwrap();
    assert_eq!(outcome, LinkOutcome::SourceFull);
    let outcome = graph
        .merge_relationship_within(knows(&keys.person("fresh"), &b), limit)
        .await
        .unwrap();
    assert_eq!(outcome, LinkOutcome::TargetFull);
    let to_b = graph
        .neighbours(&b, KNOWS, Direction::Incoming, 10)
        .await
        .unwrap();
    assert_eq!(names(&keys, &to_b), ["a"]);
}

/// Merges and deletes cancelled at any await point leave the graph usable,
/// and a merge of two nodes and their link took effect whole or not at all.
pub(crate) async fn cancelled_writes_leave_the_graph_usable(graph: &dyn GraphBackend) {
    let keys = &Keys::new();
    let points = cancel_at_every_await(
        |run| async move {
            let (a, b) = (format!("a{run}"), format!("b{run}"));
            let nodes = vec![
                node(&keys.person(&a), Vec::new()),
                node(&keys.person(&b), Vec::new()),
            ];
            let link = knows(&keys.person(&a), &keys.person(&b));
            graph.merge(nodes, vec![link]).await.unwrap();
            graph.delete_node(&keys.person(&b)).await.unwrap();
        },
        async |run| {
            people(graph, keys, "z", &[]).await;
            let (a, b) = (
                keys.person(&format!("a{run}")),
                keys.person(&format!("b{run}")),
            );
            let merged = graph.get_node(&a).await.unwrap().is_some();
            let linked = graph.get_node(&b).await.unwrap().is_some();
            // b goes only after the merge; the merge is whole or nothing.
            assert!(merged || !linked, "half a merge after run {run}");
        },
    )
    .await;
    assert!(points >= 2, "{points} await points");
}

/// Every check of this suite, for the backend `$open` returns.
macro_rules! graph_conformance {
    ($suite:ident, $open:expr) => {
        conformance_tests!(
            $suite,
            $open,
            [
                merge_node_sets_keeps_and_removes_properties,
                property_values_round_trip,
                relationships_need_both_nodes_and_fail_the_whole_batch,
                neighbours_follow_direction_in_key_order,
                merging_a_relationship_twice_keeps_one,
                deleting_a_node_removes_its_relationships,
                suggestions_rank_by_mutual_neighbours,
                shortest_paths_take_the_fewest_links,
                large_batches_merge_in_one_call,
                bounded_merges_never_pass_the_limit_under_concurrency,
                directed_limits_count_outgoing_from_the_source_and_incoming_to_the_target,
                cancelled_writes_leave_the_graph_usable,
            ]
        );
    };
}

async fn open_embedded() -> Box<dyn GraphBackend> {
    let dir = tempfile::tempdir().unwrap().keep();
    Box::new(EmbeddedBackend::open(&dir.join("graph.db")).await.unwrap())
}

/// The real Neo4j of `tooling/services up`, its settings changed by `adjust`.
async fn connect_neo4j(
    adjust: impl FnOnce(&mut crate::config::Neo4jSettings),
) -> anyhow::Result<Neo4jBackend> {
    let mut settings = crate::config::real_services().neo4j;
    adjust(&mut settings);
    let server = settings
        .server()?
        .expect("NEO4J_HOST in tooling/services.env");
    Neo4jBackend::connect(&settings, &server).await
}

/// Unreachable is a failure.
fn opened(connected: anyhow::Result<Neo4jBackend>) -> Box<dyn GraphBackend> {
    match connected {
        Ok(backend) => Box::new(backend),
        Err(e) => {
            panic!("Neo4j is not reachable ({e:#}); start it with `tooling/services up neo4j`")
        }
    }
}

/// Over TLS (Bolt offers it on its port), trusting `authorities`.
fn over_tls(authorities: std::path::PathBuf) -> impl FnOnce(&mut crate::config::Neo4jSettings) {
    move |settings| {
        settings.tls = true;
        settings.tls_ca_file = Some(authorities);
    }
}

async fn open_neo4j() -> Box<dyn GraphBackend> {
    opened(connect_neo4j(|_| {}).await)
}

async fn open_neo4j_tls() -> Box<dyn GraphBackend> {
    let authorities = crate::config::services_tls_file("ca.pem");
    opened(connect_neo4j(over_tls(authorities)).await)
}

graph_conformance!(embedded, open_embedded());
graph_conformance!(neo4j, open_neo4j());
graph_conformance!(neo4j_tls, open_neo4j_tls());

#[tokio::test]
async fn neo4j_refuses_a_certificate_it_cannot_verify() {
    let stranger = crate::config::services_tls_file("other-ca.pem");
    let refused = connect_neo4j(over_tls(stranger)).await;
    crate::capabilities::tls::assert_certificate_refused(refused, "Neo4j");
}

/// A `neo4j://` URI: the driver asks the server for its routing table.
#[tokio::test]
async fn neo4j_answers_through_a_routing_uri() {
    let backend = connect_neo4j(|settings| {
        let host = settings.host.take().expect("NEO4J_HOST");
        settings.uri = Some(format!(
            "neo4j+s://{host}:{}",
            settings.port.take().unwrap_or(7687)
        ));
        settings.tls_ca_file = Some(crate::config::services_tls_file("ca.pem"));
    })
    .await
    .expect("connecting with a neo4j+s:// URI");
    backend.ping().await.unwrap();
}
