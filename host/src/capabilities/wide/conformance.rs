//! The wide conformance suite: one set of checks, run against every
//! backend. Tables are declared once and shared; each check writes to
//! partitions of its own, so runs and backends do not see each other.

use super::*;
use crate::capabilities::ErrorKind;
use crate::capabilities::cancellation::cancel_at_every_await;

const EVENTS: &str = r#"
    [tables.events]
    partition_key = ["stream", "shard"]
    clustering_key = ["at", "seq"]
    clustering_order = "descending"
    columns = { stream = "uuid", shard = "int", at = "timestamp", seq = "int", body = "text", score = "float", flag = "boolean", blob = "bytes", ref = "uuid", count = "int" }
"#;

const LABELS: &str = r#"
    [tables.labels]
    partition_key = ["owner"]
    clustering_key = ["label"]
    columns = { owner = "text", label = "text", weight = "int" }
"#;

const PROFILES: &str = r#"
    [tables.profiles]
    partition_key = ["id"]
    columns = { id = "uuid", name = "text" }
"#;

async fn declared(backend: &dyn WideBackend, text: &str) -> TableSchema {
    let table = parse_tables("conformance", text).unwrap().remove(0);
    backend.declare(&table).await.unwrap();
    table
}

fn new_stream() -> Value {
    Value::Uuid(uuid::Uuid::new_v4().to_string())
}

fn event(stream: &Value, at: i64, seq: i64, body: &str) -> TypedRow {
    let table = parse_tables("conformance", EVENTS).unwrap().remove(0);
    table
        .typed_row(vec![
            ("stream".into(), stream.clone()),
            ("shard".into(), Value::Int(0)),
            ("at".into(), Value::Timestamp(at)),
            ("seq".into(), Value::Int(seq)),
            ("body".into(), Value::Text(body.into())),
        ])
        .unwrap()
}

fn bodies(table: &TableSchema, rows: &[TypedRow]) -> Vec<String> {
    rows.iter()
        .map(|row| {
            let cells = table.cells(row.clone());
            match cells.iter().find(|(name, _)| name == "body") {
                Some((_, Value::Text(body))) => body.clone(),
                other => panic!("no body in {other:?}"),
            }
        })
        .collect()
}

/// Every page of a scan, following the cursors.
async fn scan_all(
    backend: &dyn WideBackend,
    table: &TableSchema,
    partition: Vec<Value>,
    order: Order,
    limit: u32,
) -> Vec<Vec<TypedRow>> {
    let mut pages = Vec::new();
    let mut cursor = None;
    loop {
        let request = PageRequest {
            order,
            limit,
            cursor,
        };
        let page = scan_page(backend, table, partition.clone(), request)
            .await
            .unwrap();
        pages.push(page.rows);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return pages,
        }
    }
}

pub(crate) async fn put_then_get_round_trips_every_type(wide: &dyn WideBackend) {
    let table = declared(wide, EVENTS).await;
    let stream = new_stream();
    let reference = uuid::Uuid::new_v4().to_string();
    let cells = vec![
        ("stream".to_owned(), stream.clone()),
        ("shard".into(), Value::Int(-3)),
        ("at".into(), Value::Timestamp(1_700_000_000_123_456)),
        ("seq".into(), Value::Int(i64::MIN)),
        ("body".into(), Value::Text("héllo\0wörld".into())),
        ("score".into(), Value::Float(-2.5)),
        ("flag".into(), Value::Boolean(true)),
        ("blob".into(), Value::Bytes(vec![0, 1, 255])),
        ("ref".into(), Value::Uuid(reference.to_uppercase())),
        ("count".into(), Value::Int(i64::MAX)),
    ];
    let row = table.typed_row(cells).unwrap();
    wide.put(&table, vec![row.clone()]).await.unwrap();
    let key = row[..table.key_len()].to_vec();
    let stored = wide
        .get(&table, key)
        .await
        .unwrap()
        .expect("the row just written");
    assert_eq!(stored, row);
    assert!(
        stored.contains(&Value::Uuid(reference)),
        "uuids come back canonical"
    );

    let absent = vec![stream, Value::Int(-3), Value::Timestamp(0), Value::Int(0)];
    assert_eq!(wide.get(&table, absent).await.unwrap(), None);
}

pub(crate) async fn put_replaces_the_whole_row(wide: &dyn WideBackend) {
    let table = declared(wide, EVENTS).await;
    let stream = new_stream();
    let mut first = event(&stream, 10, 1, "first");
    first[table
        .columns
        .iter()
        .position(|c| c.name == "score")
        .unwrap()] = Value::Float(1.0);
    wide.put(&table, vec![first.clone()]).await.unwrap();
    let second = event(&stream, 10, 1, "second");
    wide.put(&table, vec![second.clone()]).await.unwrap();
    let key = second[..table.key_len()].to_vec();
    assert_eq!(wide.get(&table, key).await.unwrap(), Some(second));
}

pub(crate) async fn scans_page_through_a_partition_in_either_order(wide: &dyn WideBackend) {
    let table = declared(wide, EVENTS).await;
    let stream = new_stream();
    let rows: Vec<TypedRow> = (0..7)
        .map(|i| event(&stream, 1000 + i, 0, &format!("e{i}")))
        .collect();
    wide.put(&table, rows).await.unwrap();
    let partition = vec![stream.clone(), Value::Int(0)];

    let newest_first = scan_all(wide, &table, partition.clone(), Order::Descending, 3).await;
    let sizes: Vec<usize> = newest_first.iter().map(Vec::len).collect();
    assert_eq!(sizes, [3, 3, 1]);
    let all: Vec<String> = newest_first
        .iter()
        .flat_map(|p| bodies(&table, p))
        .collect();
    assert_eq!(all, ["e6", "e5", "e4", "e3", "e2", "e1", "e0"]);

    let oldest_first = scan_all(wide, &table, partition.clone(), Order::Ascending, 7).await;
    assert_eq!(
        oldest_first.len(),
        1,
        "an exact last page has no next cursor"
    );
    assert_eq!(
        bodies(&table, &oldest_first[0]),
        ["e0", "e1", "e2", "e3", "e4", "e5", "e6"]
    );
}

pub(crate) async fn rows_with_equal_leading_keys_order_by_the_next(wide: &dyn WideBackend) {
    let table = declared(wide, EVENTS).await;
    let stream = new_stream();
    let rows = vec![
        event(&stream, 5, 2, "5/2"),
        event(&stream, 5, -1, "5/-1"),
        event(&stream, -5, 0, "-5/0"),
        event(&stream, 5, 10, "5/10"),
    ];
    wide.put(&table, rows).await.unwrap();
    let partition = vec![stream, Value::Int(0)];
    let pages = scan_all(wide, &table, partition, Order::Ascending, 1).await;
    let all: Vec<String> = pages.iter().flat_map(|p| bodies(&table, p)).collect();
    assert_eq!(all, ["-5/0", "5/-1", "5/2", "5/10"]);
}

pub(crate) async fn text_keys_order_bytewise(wide: &dyn WideBackend) {
    let table = declared(wide, LABELS).await;
    let owner = Value::Text(uuid::Uuid::new_v4().to_string());
    let labels = ["b", "a", "ab", "B", "a b", "é", "aa"];
    let rows = labels
        .iter()
        .map(|label| {
            table
                .typed_row(vec![
                    ("owner".into(), owner.clone()),
                    ("label".into(), Value::Text((*label).into())),
                ])
                .unwrap()
        })
        .collect();
    wide.put(&table, rows).await.unwrap();
    let request = PageRequest {
        order: Order::Ascending,
        limit: 100,
        cursor: None,
    };
    let page = scan_page(wide, &table, vec![owner], request).await.unwrap();
    let got: Vec<Value> = page.rows.into_iter().map(|row| row[1].clone()).collect();
    let expected = ["B", "a", "a b", "aa", "ab", "b", "é"].map(|l| Value::Text(l.into()));
    assert_eq!(got, expected);
}

pub(crate) async fn scans_stay_inside_their_partition(wide: &dyn WideBackend) {
    let table = declared(wide, EVENTS).await;
    let (a, b) = (new_stream(), new_stream());
    wide.put(
        &table,
        vec![
            event(&a, 1, 0, "a1"),
            event(&b, 2, 0, "b2"),
            event(&a, 3, 0, "a3"),
        ],
    )
    .await
    .unwrap();
    let mut other_shard = event(&a, 4, 0, "a-shard-1");
    other_shard[1] = Value::Int(1);
    wide.put(&table, vec![other_shard]).await.unwrap();

    let pages = scan_all(wide, &table, vec![a, Value::Int(0)], Order::Descending, 10).await;
    assert_eq!(bodies(&table, &pages[0]), ["a3", "a1"]);
}

pub(crate) async fn deletes_remove_a_row_or_a_partition(wide: &dyn WideBackend) {
    let table = declared(wide, EVENTS).await;
    let stream = new_stream();
    let rows: Vec<TypedRow> = (0..4)
        .map(|i| event(&stream, i, 0, &format!("e{i}")))
        .collect();
    wide.put(&table, rows.clone()).await.unwrap();
    let partition = vec![stream.clone(), Value::Int(0)];

    wide.delete(&table, rows[1][..table.key_len()].to_vec())
        .await
        .unwrap();
    wide.delete(&table, rows[1][..table.key_len()].to_vec())
        .await
        .unwrap();
    let pages = scan_all(wide, &table, partition.clone(), Order::Ascending, 10).await;
    assert_eq!(bodies(&table, &pages[0]), ["e0", "e2", "e3"]);

    wide.delete_partition(&table, partition.clone())
        .await
        .unwrap();
    let pages = scan_all(wide, &table, partition, Order::Ascending, 10).await;
    assert!(pages[0].is_empty());
}

pub(crate) async fn delete_existing_removes_each_row_for_exactly_one_caller(
    wide: &dyn WideBackend,
) {
    let table = declared(wide, EVENTS).await;
    let stream = new_stream();
    let rows: Vec<TypedRow> = (0..40)
        .map(|i| event(&stream, i, 0, &format!("e{i}")))
        .collect();
    wide.put(&table, rows.clone()).await.unwrap();
    let keys: Vec<Vec<Value>> = rows
        .iter()
        .map(|row| row[..table.key_len()].to_vec())
        .collect();
    let mut absent = keys[0].clone();
    absent[2] = Value::Timestamp(1_000_000);

    let mut asked = keys.clone();
    asked.push(absent);
    let racing = (0..4).map(|_| wide.delete_existing(&table, asked.clone()));
    let outcomes: Vec<Vec<bool>> = futures::future::try_join_all(racing).await.unwrap();
    for outcome in &outcomes {
        assert_eq!(outcome.len(), asked.len(), "one answer per key");
        assert!(!outcome[keys.len()], "a row that never existed was removed");
    }
    for (index, _) in keys.iter().enumerate() {
        let removers = outcomes.iter().filter(|o| o[index]).count();
        assert_eq!(removers, 1, "row {index} was removed by {removers} callers");
    }
    let partition = vec![stream, Value::Int(0)];
    let pages = scan_all(wide, &table, partition, Order::Ascending, 10).await;
    assert!(pages[0].is_empty(), "rows are left: {:?}", pages[0]);
    assert_eq!(
        wide.delete_existing(&table, keys[..1].to_vec())
            .await
            .unwrap(),
        [false]
    );
}

pub(crate) async fn many_rows_across_partitions_are_all_written(wide: &dyn WideBackend) {
    let table = declared(wide, EVENTS).await;
    let streams = [new_stream(), new_stream(), new_stream()];
    let rows: Vec<TypedRow> = (0..300)
        .map(|i| event(&streams[i % 3], i as i64, 0, &"x".repeat(200)))
        .collect();
    wide.put(&table, rows).await.unwrap();
    for stream in streams {
        let pages = scan_all(
            wide,
            &table,
            vec![stream, Value::Int(0)],
            Order::Descending,
            1000,
        )
        .await;
        assert_eq!(pages[0].len(), 100);
    }
}

pub(crate) async fn tables_without_clustering_hold_one_row_per_partition(wide: &dyn WideBackend) {
    let table = declared(wide, PROFILES).await;
    let id = new_stream();
    for name in ["first", "second"] {
        let row = table
            .typed_row(vec![
                ("id".into(), id.clone()),
                ("name".into(), Value::Text(name.into())),
            ])
            .unwrap();
        wide.put(&table, vec![row]).await.unwrap();
    }
    let request = PageRequest {
        order: Order::Ascending,
        limit: 1,
        cursor: None,
    };
    let page = scan_page(wide, &table, vec![id.clone()], request)
        .await
        .unwrap();
    assert_eq!(page.rows, [vec![id.clone(), Value::Text("second".into())]]);
    assert_eq!(page.next, None);
    assert_eq!(
        wide.get(&table, vec![id])
            .await
            .unwrap()
            .map(|row| row[1].clone()),
        Some(Value::Text("second".into()))
    );
}

pub(crate) async fn foreign_or_forged_cursors_are_invalid(wide: &dyn WideBackend) {
    let table = declared(wide, EVENTS).await;
    let stream = new_stream();
    let rows: Vec<TypedRow> = (0..3).map(|i| event(&stream, i, 0, "e")).collect();
    wide.put(&table, rows).await.unwrap();
    let partition = vec![stream, Value::Int(0)];
    let request = PageRequest {
        order: Order::Descending,
        limit: 1,
        cursor: None,
    };
    let page = scan_page(wide, &table, partition.clone(), request)
        .await
        .unwrap();
    let cursor = page.next.expect("more rows follow");

    for (partition, order, cursor) in [
        (
            vec![new_stream(), Value::Int(0)],
            Order::Descending,
            cursor.clone(),
        ),
        (partition.clone(), Order::Ascending, cursor.clone()),
        (partition.clone(), Order::Descending, format!("{cursor}x")),
        (partition.clone(), Order::Descending, "!!".to_owned()),
    ] {
        let request = PageRequest {
            order,
            limit: 1,
            cursor: Some(cursor),
        };
        let error = scan_page(wide, &table, partition, request)
            .await
            .unwrap_err();
        assert_eq!(error.kind, ErrorKind::Invalid, "{error}");
    }
    let request = PageRequest {
        order: Order::Descending,
        limit: 0,
        cursor: None,
    };
    let error = scan_page(wide, &table, partition, request)
        .await
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::Invalid);
}

pub(crate) async fn declarations_grow_by_columns_and_keep_their_keys(wide: &dyn WideBackend) {
    let name = format!(
        "evolving_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let text = EVENTS.replace("tables.events", &format!("tables.{name}"));
    let table = declared(wide, &text).await;
    let stream = new_stream();
    wide.put(&table, vec![event(&stream, 1, 0, "old")])
        .await
        .unwrap();

    let grown_text = text.replace("count = \"int\"", "count = \"int\", extra = \"text\"");
    let grown = declared(wide, &grown_text).await;
    let mut row = event(&stream, 2, 0, "new");
    row.push(Value::Null);
    let extra = grown
        .columns
        .iter()
        .position(|c| c.name == "extra")
        .unwrap();
    row.insert(extra, Value::Text("more".into()));
    row.pop();
    wide.put(&grown, vec![row.clone()]).await.unwrap();
    let old = wide
        .get(
            &grown,
            vec![
                stream.clone(),
                Value::Int(0),
                Value::Timestamp(1),
                Value::Int(0),
            ],
        )
        .await
        .unwrap()
        .expect("the row written before the column was added");
    assert_eq!(old[extra], Value::Null);
    assert_eq!(
        wide.get(&grown, row[..4].to_vec()).await.unwrap(),
        Some(row)
    );

    let rekeyed = parse_tables(
        "conformance",
        &grown_text.replace("\"descending\"", "\"ascending\""),
    )
    .unwrap()
    .remove(0);
    let error = wide.declare(&rekeyed).await.unwrap_err();
    assert!(
        format!("{error:#}").contains("keys cannot change"),
        "{error:#}"
    );
}

/// Every check of this suite, for the backend `$open` returns.
/// Batch writes and deletes cancelled at any await point leave the store
/// usable: a write and a read right after go through. (Cassandra does not
/// make a batch atomic, so how much of a cancelled one landed is not
/// checked.)
pub(crate) async fn cancelled_writes_leave_the_store_usable(wide: &dyn WideBackend) {
    let table = &declared(wide, EVENTS).await;
    let stream = &new_stream();
    let points = cancel_at_every_await(
        |run| async move {
            let run = run as i64;
            let rows: Vec<TypedRow> = (0..3).map(|seq| event(stream, run, seq, "batch")).collect();
            wide.put(table, rows.clone()).await.unwrap();
            let keys = rows.iter().map(|r| r[..table.key_len()].to_vec()).collect();
            wide.delete_existing(table, keys).await.unwrap();
        },
        async |run| {
            let marker = event(stream, -1 - run as i64, 0, "after");
            let key = marker[..table.key_len()].to_vec();
            wide.put(table, vec![marker]).await.unwrap();
            assert!(wide.get(table, key).await.unwrap().is_some());
        },
    )
    .await;
    assert!(points >= 2, "{points} await points");
}

macro_rules! wide_conformance {
    ($suite:ident, $open:expr) => {
        conformance_tests!(
            $suite,
            $open,
            [
                put_then_get_round_trips_every_type,
                put_replaces_the_whole_row,
                scans_page_through_a_partition_in_either_order,
                rows_with_equal_leading_keys_order_by_the_next,
                text_keys_order_bytewise,
                scans_stay_inside_their_partition,
                deletes_remove_a_row_or_a_partition,
                delete_existing_removes_each_row_for_exactly_one_caller,
                many_rows_across_partitions_are_all_written,
                tables_without_clustering_hold_one_row_per_partition,
                foreign_or_forged_cursors_are_invalid,
                declarations_grow_by_columns_and_keep_their_keys,
                cancelled_writes_leave_the_store_usable,
            ]
        );
    };
}

async fn open_embedded() -> Box<dyn WideBackend> {
    let dir = tempfile::tempdir().unwrap().keep();
    Box::new(EmbeddedBackend::open(&dir.join("wide.db")).await.unwrap())
}

/// The real Cassandra of `tooling/services up`, its settings changed by `adjust`.
async fn connect_cassandra(
    adjust: impl FnOnce(&mut crate::config::CassandraSettings),
) -> anyhow::Result<CassandraBackend> {
    let mut settings = crate::config::real_services().cassandra;
    adjust(&mut settings);
    let host = settings
        .host
        .clone()
        .expect("CASSANDRA_HOST in tooling/services.env");
    CassandraBackend::connect(&settings, &host).await
}

/// Unreachable is a failure.
fn opened(connected: anyhow::Result<CassandraBackend>) -> Box<dyn WideBackend> {
    match connected {
        Ok(backend) => Box::new(backend),
        Err(e) => panic!(
            "Cassandra is not reachable ({e:#}); start it with `tooling/services up cassandra`"
        ),
    }
}

/// Over TLS (the native port offers it), trusting `authorities`.
fn over_tls(authorities: std::path::PathBuf) -> impl FnOnce(&mut crate::config::CassandraSettings) {
    move |settings| {
        settings.tls = true;
        settings.tls_ca_file = Some(authorities);
    }
}

async fn open_cassandra() -> Box<dyn WideBackend> {
    opened(connect_cassandra(|_| {}).await)
}

async fn open_cassandra_tls() -> Box<dyn WideBackend> {
    let authorities = crate::config::services_tls_file("ca.pem");
    opened(connect_cassandra(over_tls(authorities)).await)
}

wide_conformance!(embedded, open_embedded());
wide_conformance!(cassandra, open_cassandra());
wide_conformance!(cassandra_tls, open_cassandra_tls());

#[tokio::test]
async fn cassandra_refuses_a_certificate_it_cannot_verify() {
    let stranger = crate::config::services_tls_file("other-ca.pem");
    let refused = connect_cassandra(over_tls(stranger)).await;
    crate::capabilities::tls::assert_certificate_refused(refused, "Cassandra");
}
