//! The sql conformance suite: one set of checks, run against every backend.
//! Each check works in tables of its own, so backends can share a database.

use super::*;
use crate::capabilities::cancellation::cancel_at_every_await;
use crate::config::SslMode;

fn table(name: &str) -> String {
    format!("{name}_{}", uuid::Uuid::new_v4().simple())
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

async fn create(backend: &dyn SqlBackend, ddl: String) {
    backend.execute(&ddl, vec![]).await.expect("create table");
}

/// A transaction cancelled at any await point commits both of its rows or
/// neither, and leaves no lock behind: a write right after goes through.
pub(crate) async fn a_cancelled_transaction_leaves_the_database_usable(backend: &dyn SqlBackend) {
    let t = &table("tx_cancelled");
    create(
        backend,
        format!("CREATE TABLE {t} (id INTEGER PRIMARY KEY, pair INTEGER NOT NULL)"),
    )
    .await;
    let insert = &format!("INSERT INTO {t} (id, pair) VALUES ($1, $2)");
    let points = cancel_at_every_await(
        |run| async move {
            let run = run as i64;
            let mut tx = backend.begin().await.unwrap();
            for half in 0..2 {
                let row = vec![Value::Int(run * 2 + half), Value::Int(run)];
                tx.execute(insert, row).await.unwrap();
            }
            tx.commit().await.unwrap();
        },
        async |run| {
            let outside = vec![Value::Int(-1 - run as i64), Value::Int(-1)];
            backend.execute(insert, outside).await.unwrap();
            let halves =
                format!("SELECT pair FROM {t} WHERE pair >= 0 GROUP BY pair HAVING count(*) <> 2");
            let split = backend.query(&halves, vec![]).await.unwrap();
            assert!(
                split.rows.is_empty(),
                "half a transaction: {:?}",
                split.rows
            );
        },
    )
    .await;
    assert!(
        points >= 2,
        "begin and commit at least: {points} await points"
    );
}

pub(crate) async fn round_trips_every_value_type(backend: &dyn SqlBackend) {
    let t = table("kinds");
    create(
        backend,
        format!(
            "CREATE TABLE {t} (id INTEGER PRIMARY KEY, b BOOLEAN, i BIGINT, f DOUBLE PRECISION, \
             s TEXT, bin BYTEA, ts TIMESTAMP, n TEXT)"
        ),
    )
    .await;
    let inserted = backend
        .execute(
            &format!("INSERT INTO {t} (id, b, i, f, s, bin, ts, n) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"),
            vec![
                Value::Int(1),
                Value::Boolean(true),
                Value::Int(-42),
                Value::Float(2.5),
                text("héllo 'quoted' ; DROP TABLE x"),
                Value::Bytes(vec![0, 159, 255]),
                Value::Timestamp(1_700_000_000_123_456),
                Value::Null,
            ],
        )
        .await
        .unwrap();
    assert_eq!(inserted, 1);
    let rows = backend
        .query(
            &format!("SELECT b, i, f, s, bin, ts, n FROM {t} WHERE id = $1"),
            vec![Value::Int(1)],
        )
        .await
        .unwrap();
    assert_eq!(rows.columns, ["b", "i", "f", "s", "bin", "ts", "n"]);
    assert_eq!(
        rows.rows,
        vec![vec![
            Value::Boolean(true),
            Value::Int(-42),
            Value::Float(2.5),
            text("héllo 'quoted' ; DROP TABLE x"),
            Value::Bytes(vec![0, 159, 255]),
            Value::Timestamp(1_700_000_000_123_456),
            Value::Null,
        ]]
    );
}

pub(crate) async fn placeholders_bind_by_number(backend: &dyn SqlBackend) {
    let rows = backend
        .query(
            "SELECT $2 AS second, $1 AS first",
            vec![text("a"), text("b")],
        )
        .await
        .unwrap();
    assert_eq!(rows.rows, vec![vec![text("b"), text("a")]]);
}

pub(crate) async fn empty_result_still_names_columns(backend: &dyn SqlBackend) {
    let t = table("empty");
    create(
        backend,
        format!("CREATE TABLE {t} (id INTEGER PRIMARY KEY, name TEXT)"),
    )
    .await;
    let rows = backend
        .query(&format!("SELECT id, name FROM {t}"), vec![])
        .await
        .unwrap();
    assert_eq!(rows.columns, ["id", "name"]);
    assert!(rows.rows.is_empty());
}

pub(crate) async fn unique_violation_is_conflict(backend: &dyn SqlBackend) {
    let t = table("uniq");
    create(
        backend,
        format!("CREATE TABLE {t} (email TEXT NOT NULL UNIQUE)"),
    )
    .await;
    let insert = format!("INSERT INTO {t} (email) VALUES ($1)");
    backend.execute(&insert, vec![text("a@b.c")]).await.unwrap();
    let err = backend
        .execute(&insert, vec![text("a@b.c")])
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict, "{err}");
    let count = backend
        .query(&format!("SELECT COUNT(*) FROM {t}"), vec![])
        .await
        .unwrap();
    assert_eq!(count.rows, vec![vec![Value::Int(1)]]);
}

pub(crate) async fn bad_statement_is_invalid(backend: &dyn SqlBackend) {
    let err = backend.query("SELEKT nothing", vec![]).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid, "{err}");
}

pub(crate) async fn malformed_uuid_is_invalid(backend: &dyn SqlBackend) {
    let err = backend
        .query("SELECT $1 AS id", vec![Value::Uuid("not-a-uuid".into())])
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid, "{err}");
}

pub(crate) async fn execute_counts_changed_rows(backend: &dyn SqlBackend) {
    let t = table("counted");
    create(
        backend,
        format!("CREATE TABLE {t} (id INTEGER PRIMARY KEY, v INTEGER)"),
    )
    .await;
    for id in 1..=3 {
        backend
            .execute(
                &format!("INSERT INTO {t} (id, v) VALUES ($1, 0)"),
                vec![Value::Int(id)],
            )
            .await
            .unwrap();
    }
    let changed = backend
        .execute(
            &format!("UPDATE {t} SET v = 1 WHERE id >= $1"),
            vec![Value::Int(2)],
        )
        .await
        .unwrap();
    assert_eq!(changed, 2);
}

pub(crate) async fn committed_transaction_is_visible(backend: &dyn SqlBackend) {
    let t = table("tx_commit");
    create(
        backend,
        format!("CREATE TABLE {t} (id INTEGER PRIMARY KEY)"),
    )
    .await;
    let mut tx = backend.begin().await.unwrap();
    tx.execute(
        &format!("INSERT INTO {t} (id) VALUES ($1)"),
        vec![Value::Int(7)],
    )
    .await
    .unwrap();
    let inside = tx
        .query(&format!("SELECT id FROM {t}"), vec![])
        .await
        .unwrap();
    assert_eq!(inside.rows, vec![vec![Value::Int(7)]]);
    tx.commit().await.unwrap();
    let after = backend
        .query(&format!("SELECT id FROM {t}"), vec![])
        .await
        .unwrap();
    assert_eq!(after.rows, vec![vec![Value::Int(7)]]);
}

pub(crate) async fn dropped_transaction_rolls_back(backend: &dyn SqlBackend) {
    let t = table("tx_drop");
    create(
        backend,
        format!("CREATE TABLE {t} (id INTEGER PRIMARY KEY)"),
    )
    .await;
    let mut tx = backend.begin().await.unwrap();
    tx.execute(
        &format!("INSERT INTO {t} (id) VALUES ($1)"),
        vec![Value::Int(7)],
    )
    .await
    .unwrap();
    drop(tx);
    let after = backend
        .query(&format!("SELECT id FROM {t}"), vec![])
        .await
        .unwrap();
    assert!(
        after.rows.is_empty(),
        "rolled-back row is visible: {:?}",
        after.rows
    );
}

pub(crate) async fn migrations_apply_once_and_refuse_edits(backend: &dyn SqlBackend) {
    let t = table("migrated");
    let component = format!("component_{t}");
    let first = vec![Migration {
        name: "001_create.sql".into(),
        script: format!(
            "CREATE TABLE {t} (id INTEGER PRIMARY KEY);\nINSERT INTO {t} (id) VALUES (1);"
        ),
    }];
    assert_eq!(
        apply_migrations(backend, &component, &first).await.unwrap(),
        1
    );
    assert_eq!(
        apply_migrations(backend, &component, &first).await.unwrap(),
        0
    );
    let edited = vec![Migration {
        name: "001_create.sql".into(),
        script: format!("CREATE TABLE {t} (id BIGINT PRIMARY KEY);"),
    }];
    let err = apply_migrations(backend, &component, &edited)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("changed after it was applied"),
        "{err}"
    );
    let rows = backend
        .query(&format!("SELECT id FROM {t}"), vec![])
        .await
        .unwrap();
    assert_eq!(rows.rows, vec![vec![Value::Int(1)]]);
}

/// Every check of this suite, for the backend `$open` returns.
macro_rules! sql_conformance {
    ($suite:ident, $open:expr) => {
        conformance_tests!(
            $suite,
            $open,
            [
                round_trips_every_value_type,
                placeholders_bind_by_number,
                empty_result_still_names_columns,
                unique_violation_is_conflict,
                bad_statement_is_invalid,
                malformed_uuid_is_invalid,
                execute_counts_changed_rows,
                committed_transaction_is_visible,
                dropped_transaction_rolls_back,
                a_cancelled_transaction_leaves_the_database_usable,
                migrations_apply_once_and_refuse_edits,
            ]
        );
    };
}

async fn open_sqlite() -> Box<dyn SqlBackend> {
    let dir = tempfile::tempdir().unwrap().keep();
    Box::new(
        SqliteBackend::open(&dir.join("conformance.db"))
            .await
            .unwrap(),
    )
}

sql_conformance!(sqlite, open_sqlite());

/// The real PostgreSQL of `tooling/services up`, changed by `edit`.
async fn connect_postgres(
    edit: impl FnOnce(&mut crate::config::PostgresSettings),
) -> anyhow::Result<PostgresBackend> {
    let mut settings = crate::config::real_services().postgres;
    settings.pool_size = 2;
    edit(&mut settings);
    let server = settings
        .server()?
        .expect("DATABASE_HOST in tooling/services.env");
    PostgresBackend::connect(&settings, &server).await
}

/// Unreachable is a failure.
async fn open(connected: anyhow::Result<PostgresBackend>) -> Box<dyn SqlBackend> {
    match connected {
        Ok(backend) => Box::new(backend),
        Err(e) => panic!(
            "PostgreSQL is not reachable ({e:#}); start it with `tooling/services up postgres`"
        ),
    }
}

/// Plain TCP, the server's TLS refused.
async fn open_postgres() -> Box<dyn SqlBackend> {
    open(connect_postgres(|s| s.ssl_mode = Some(SslMode::Disable)).await).await
}

/// TLS, the certificate checked against the services' CA.
async fn open_postgres_tls() -> Box<dyn SqlBackend> {
    let authorities = crate::config::services_tls_file("ca.pem");
    open(
        connect_postgres(|s| {
            s.ssl_mode = Some(SslMode::VerifyFull);
            s.ssl_root_cert = Some(authorities);
        })
        .await,
    )
    .await
}

sql_conformance!(postgres, open_postgres());

/// A `begin` cancelled at any await point must not hand the pool's one
/// connection to the next caller inside a transaction nothing will end:
/// two statements there would share one transaction id.
#[tokio::test]
async fn a_cancelled_begin_leaves_no_transaction_open_on_postgres() {
    let one_connection = connect_postgres(|s| {
        s.ssl_mode = Some(SslMode::Disable);
        s.pool_size = 1;
    });
    let backend = &*open(one_connection.await).await;
    let points = cancel_at_every_await(
        |_| async move { drop(backend.begin().await.unwrap()) },
        async |run| {
            let transaction = async || {
                let id = backend.query("SELECT txid_current()", vec![]).await.unwrap();
                id.rows
            };
            let (first, second) = (transaction().await, transaction().await);
            assert_ne!(
                first, second,
                "after a begin cancelled at its await point {run}, statements ran inside a transaction"
            );
        },
    )
    .await;
    assert!(points >= 1, "{points} await points");
}
sql_conformance!(postgres_tls, open_postgres_tls());

#[tokio::test]
async fn postgres_refuses_a_certificate_it_cannot_verify() {
    let stranger = crate::config::services_tls_file("other-ca.pem");
    let refused = connect_postgres(|s| {
        s.ssl_mode = Some(SslMode::VerifyFull);
        s.ssl_root_cert = Some(stranger);
    })
    .await;
    crate::capabilities::tls::assert_certificate_refused(refused, "PostgreSQL");
}
