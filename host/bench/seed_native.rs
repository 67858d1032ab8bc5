//! The native baseline of `summer seed`: the same generated rows, written
//! in the same batches through the same backends (drivers, pools) the host
//! gives components, but called directly from Rust, with no WebAssembly in
//! between. Prints rows per second for users, graph nodes, friendships and
//! messages; `tooling/bench-seed` runs it beside `summer seed` and prints
//! the ratios.
//!
//!   cargo run --release -p summer --example seed_native -- --users N ...

#[path = "shared/mod.rs"]
mod shared;

use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use seed::generate;
use summer::capabilities::Backends;
use summer::capabilities::graph::{NodeRef, Relationship};
use summer::capabilities::wide::Value;
use summer::config::Settings;
use summer::manifest::Manifest;
use summer::runtime::prepare_databases;

/// Rows per `INSERT` and per batch call: as the seed component writes them.
const SQL_BATCH: usize = 250;
const BATCH: usize = 1000;
/// Where the Summer-Trip components keep their labels and tables.
const NAMESPACE: &str = "summer_trip";

/// The sizes and seed of `summer seed` (its `--files` is not used here).
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    sizes: summer::seed::Sizes,
    #[command(flatten)]
    settings: Settings,
}

fn uuid(id: uuid::Uuid) -> Value {
    Value::Uuid(id.hyphenated().to_string())
}

fn user_node(id: uuid::Uuid) -> NodeRef {
    NodeRef {
        label: format!("{NAMESPACE}__User"),
        key: id.to_string(),
    }
}

/// Prints one stage's rate and returns nothing: the line is the result.
fn report(stage: &str, rows: usize, started: Instant) {
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{stage:<16} {rows:>10} {seconds:>9.2} {:>11.0}",
        rows as f64 / seconds.max(1e-9)
    );
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let sizes = &args.sizes;
    let manifest = Manifest::load(&args.settings.manifest)?;
    let backends = Backends::open(&args.settings).await?;
    let mut tables = summer::capabilities::wide::TableSet::new();
    for component in manifest.components.iter().chain(&manifest.seed) {
        tables.extend(prepare_databases(&backends, component).await?);
    }
    let messages_table = tables.get("messages").context("no messages table")?.clone();

    let users = generate::users(sizes.seed, sizes.users);
    let groups = generate::groups(sizes.seed, sizes.groups);
    let memberships = generate::memberships(sizes.seed, users.len(), groups.len());
    let friendships = generate::friendships(sizes.seed, users.len(), sizes.friends_per_user);
    let mut members = vec![Vec::new(); groups.len()];
    for (user, group) in &memberships {
        members[*group].push(users[*user].id);
    }
    let messages = generate::messages(sizes.seed, sizes.messages, &groups, &members, &users);

    println!(
        "{:<16} {:>10} {:>9} {:>11}",
        "stage", "written", "seconds", "per second"
    );
    let started = Instant::now();
    for batch in users.chunks(SQL_BATCH) {
        let statement = shared::users::insert_statement(batch.len());
        let values = batch
            .iter()
            .flat_map(|u| {
                [
                    uuid(u.id),
                    Value::Text(u.name.clone()),
                    Value::Text(u.email.clone()),
                    Value::Timestamp(u.created_at),
                ]
            })
            .collect();
        let mut transaction = backends.sql.begin().await?;
        transaction.execute(&statement, values).await?;
        transaction.commit().await?;
    }
    report("users", users.len(), started);

    let started = Instant::now();
    let nodes: Vec<summer::capabilities::graph::Node> = users
        .iter()
        .map(|u| summer::capabilities::graph::Node {
            id: user_node(u.id),
            properties: Vec::new(),
        })
        .collect();
    for batch in nodes.chunks(BATCH) {
        backends.graph.merge(batch.to_vec(), Vec::new()).await?;
    }
    report("graph nodes", nodes.len(), started);

    let started = Instant::now();
    let links: Vec<Relationship> = friendships
        .iter()
        .map(|(a, b)| {
            let (low, high) = (
                users[*a].id.min(users[*b].id),
                users[*a].id.max(users[*b].id),
            );
            Relationship {
                source: user_node(low),
                kind: format!("{NAMESPACE}__FRIEND"),
                target: user_node(high),
                properties: Vec::new(),
            }
        })
        .collect();
    for batch in links.chunks(BATCH) {
        backends.graph.merge(Vec::new(), batch.to_vec()).await?;
    }
    report("friendships", links.len(), started);

    let started = Instant::now();
    for batch in messages.chunks(BATCH) {
        let rows = batch
            .iter()
            .map(|m| {
                messages_table.typed_row(vec![
                    ("conversation_id".into(), uuid(m.conversation)),
                    ("sent_at".into(), Value::Timestamp(m.sent_at)),
                    ("id".into(), uuid(m.id)),
                    ("user_id".into(), uuid(m.author)),
                    ("content".into(), Value::Text(m.content.clone())),
                ])
            })
            .collect::<Result<Vec<_>, _>>()?;
        backends.wide.put(&messages_table, rows).await?;
    }
    report("messages", messages.len(), started);
    Ok(())
}
