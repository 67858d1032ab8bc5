//! The Summer-Trip seed component: fills every database with realistic
//! generated data (see [`generate`]) through the capabilities' batch
//! operations — multi-row inserts, wide `put-many`, graph `merge-batch`,
//! cache `set-many` (a Redis pipeline) —
//! reporting progress after every batch and stopping between two batches
//! when the run is interrupted. A seed makes its batch of data once: each
//! run is recorded, and a seed already used is refused.

pub mod generate;
mod png;

use summer_sdk::graph::{self, NodeRef};
use summer_sdk::seed::{self, Outcome, Plan, Written};
use summer_sdk::sql::{self, Transaction};
use summer_sdk::{ApiError, Timestamp, Value, blob, cache, params, wide};
use summer_trip::people::{self, FRIEND, MEMBER_OF};
use uuid::Uuid;

use generate::{File, Group, Message, Notification, User};

summer_sdk::seed_component!(run);

/// Rows per multi-row `INSERT` (four parameters each).
const SQL_BATCH: usize = 250;
/// Nodes, relationships or wide rows per batch call (the capabilities' most).
const BATCH: usize = 1000;

/// Why a run stopped early.
enum Stop {
    Interrupted,
    Failed(String),
}

impl From<ApiError> for Stop {
    fn from(error: ApiError) -> Self {
        Stop::Failed(error.message)
    }
}

impl From<String> for Stop {
    fn from(_: String) -> Self {
        Stop::Interrupted
    }
}

/// Counts what each stage wrote to each capability.
#[derive(Default)]
struct Tally(Vec<Written>);

impl Tally {
    fn add(&mut self, stage: &str, capability: &str, count: usize) {
        let count = count as u64;
        match self
            .0
            .iter_mut()
            .find(|w| w.stage == stage && w.capability == capability)
        {
            Some(written) => written.count += count,
            None => self.0.push(Written {
                stage: stage.to_owned(),
                capability: capability.to_owned(),
                count,
            }),
        }
    }
}

fn run(plan: Plan) -> Outcome {
    let mut tally = Tally::default();
    let stopped = match seed_all(&plan, &mut tally) {
        Ok(()) => None,
        Err(Stop::Interrupted) => {
            Some("interrupted; what was written is complete batch by batch".to_owned())
        }
        Err(Stop::Failed(reason)) => Some(reason),
    };
    Outcome {
        written: tally.0,
        stopped,
    }
}

fn seed_all(plan: &Plan, tally: &mut Tally) -> Result<(), Stop> {
    register(plan.seed)?;
    let users = generate::users(plan.seed, plan.users);
    let groups = generate::groups(plan.seed, plan.groups);
    write_users(&users, tally)?;
    warm_user_cache(&users, tally)?;
    write_groups(&groups, tally)?;
    write_nodes(&users, &groups, tally)?;
    let memberships = generate::memberships(plan.seed, users.len(), groups.len());
    write_memberships(&memberships, &users, &groups, tally)?;
    let friendships = generate::friendships(plan.seed, users.len(), plan.friends_per_user);
    write_friendships(&friendships, &users, tally)?;
    let mut members = vec![Vec::new(); groups.len()];
    for (user, group) in &memberships {
        members[*group].push(users[*user].id);
    }
    write_messages(
        &generate::messages(plan.seed, plan.messages, &groups, &members, &users),
        tally,
    )?;
    write_notifications(&generate::notifications(plan.seed, &users), tally)?;
    write_files(&generate::files(plan.seed, plan.files), tally)?;
    sql::execute(
        "UPDATE seed_runs SET finished_at = $1 WHERE seed = $2",
        &params![Timestamp::now(), plan.seed as i64],
    )?;
    Ok(())
}

/// Records the run; a seed used before is refused.
fn register(seed: u64) -> Result<(), Stop> {
    let registered = sql::execute(
        "INSERT INTO seed_runs (seed, started_at) VALUES ($1, $2)",
        &params![seed as i64, Timestamp::now()],
    );
    match registered {
        Ok(_) => Ok(()),
        Err(e) if e.status == 409 => Err(Stop::Failed(format!(
            "seed {seed} was used before, and a seed makes its data once: \
             run with another --seed to add a new batch"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Inserts `rows` of `columns` into `table`, [`SQL_BATCH`] rows per
/// statement, each batch in a transaction, reporting each.
fn insert_rows(table: &str, columns: &[&str], rows: Vec<Vec<Value>>) -> Result<(), Stop> {
    for batch in rows.chunks(SQL_BATCH) {
        let mut placeholders = Vec::with_capacity(batch.len());
        for row in 0..batch.len() {
            let cells: Vec<String> = (1..=columns.len())
                .map(|c| format!("${}", row * columns.len() + c))
                .collect();
            placeholders.push(format!("({})", cells.join(", ")));
        }
        let statement = format!(
            "INSERT INTO {table} ({}) VALUES {}",
            columns.join(", "),
            placeholders.join(", ")
        );
        let values: Vec<Value> = batch.iter().flatten().cloned().collect();
        let transaction = Transaction::begin()?;
        transaction.execute(&statement, &values)?;
        transaction.commit()?;
        seed::advance(batch.len() as u64)?;
    }
    Ok(())
}

fn write_users(users: &[User], tally: &mut Tally) -> Result<(), Stop> {
    seed::begin("users", users.len() as u64);
    let rows = users
        .iter()
        .map(|u| {
            params![
                u.id,
                u.name.as_str(),
                u.email.as_str(),
                Timestamp(u.created_at)
            ]
            .to_vec()
        })
        .collect();
    insert_rows("users", &["id", "name", "email", "created_at"], rows)?;
    tally.add("users", "sql", users.len());
    Ok(())
}

/// Puts every user in the cache as the users component keeps them there
/// (`user:{id}`, the user's JSON), so the first reads are hits.
fn warm_user_cache(users: &[User], tally: &mut Tally) -> Result<(), Stop> {
    seed::begin("user cache", users.len() as u64);
    for batch in users.chunks(BATCH) {
        let entries: Vec<(String, Vec<u8>)> = batch
            .iter()
            .map(|u| {
                let json = serde_json::json!({
                    "id": u.id,
                    "name": u.name,
                    "email": u.email,
                    "created_at": Timestamp(u.created_at),
                });
                (people::user_cache_key(u.id), json.to_string().into_bytes())
            })
            .collect();
        cache::set_many(&entries, Some(people::USER_CACHE_TTL))?;
        seed::advance(batch.len() as u64)?;
    }
    tally.add("user cache", "cache", users.len());
    Ok(())
}

fn write_groups(groups: &[Group], tally: &mut Tally) -> Result<(), Stop> {
    seed::begin("groups", groups.len() as u64);
    let rows = groups
        .iter()
        .map(|g| {
            params![
                g.id,
                g.name.as_str(),
                g.description.as_str(),
                Timestamp(g.created_at)
            ]
            .to_vec()
        })
        .collect();
    insert_rows("groups", &["id", "name", "description", "created_at"], rows)?;
    tally.add("groups", "sql", groups.len());
    Ok(())
}

/// A node for every user and group, so that links can be batched alone.
fn write_nodes(users: &[User], groups: &[Group], tally: &mut Tally) -> Result<(), Stop> {
    let nodes: Vec<NodeRef> = users
        .iter()
        .map(|u| people::user_node(u.id))
        .chain(groups.iter().map(|g| people::group_node(g.id)))
        .collect();
    seed::begin("graph nodes", nodes.len() as u64);
    for batch in nodes.chunks(BATCH) {
        graph::merge_batch(batch, &[])?;
        seed::advance(batch.len() as u64)?;
    }
    tally.add("graph nodes", "graph", nodes.len());
    Ok(())
}

fn write_links(
    stage: &str,
    links: Vec<(NodeRef, &str, NodeRef)>,
    tally: &mut Tally,
) -> Result<(), Stop> {
    seed::begin(stage, links.len() as u64);
    for batch in links.chunks(BATCH) {
        graph::merge_batch(&[], batch)?;
        seed::advance(batch.len() as u64)?;
    }
    tally.add(stage, "graph", links.len());
    Ok(())
}

fn write_memberships(
    pairs: &[(usize, usize)],
    users: &[User],
    groups: &[Group],
    tally: &mut Tally,
) -> Result<(), Stop> {
    let links = pairs
        .iter()
        .map(|(u, g)| {
            (
                people::user_node(users[*u].id),
                MEMBER_OF,
                people::group_node(groups[*g].id),
            )
        })
        .collect();
    write_links("memberships", links, tally)
}

/// Each friendship once, from the smaller id to the larger, as the social
/// component stores it.
fn write_friendships(
    pairs: &[(usize, usize)],
    users: &[User],
    tally: &mut Tally,
) -> Result<(), Stop> {
    let links = pairs
        .iter()
        .map(|(a, b)| {
            let (low, high) = ordered(users[*a].id, users[*b].id);
            (people::user_node(low), FRIEND, people::user_node(high))
        })
        .collect();
    write_links("friendships", links, tally)
}

fn ordered(a: Uuid, b: Uuid) -> (Uuid, Uuid) {
    if a < b { (a, b) } else { (b, a) }
}

/// Writes `rows` to the wide `table`, [`BATCH`] rows per `put-many`.
fn put_rows(table: &str, rows: &[Vec<(&str, Value)>]) -> Result<(), Stop> {
    for batch in rows.chunks(BATCH) {
        wide::put_many(table, batch.iter().map(|row| row.iter().cloned()))?;
        seed::advance(batch.len() as u64)?;
    }
    Ok(())
}

fn write_messages(messages: &[Message], tally: &mut Tally) -> Result<(), Stop> {
    seed::begin("messages", messages.len() as u64);
    let rows: Vec<Vec<(&str, Value)>> = messages
        .iter()
        .map(|m| {
            vec![
                ("conversation_id", m.conversation.into()),
                ("sent_at", Timestamp(m.sent_at).into()),
                ("id", m.id.into()),
                ("user_id", m.author.into()),
                ("content", m.content.as_str().into()),
            ]
        })
        .collect();
    put_rows("messages", &rows)?;
    tally.add("messages", "wide", messages.len());
    Ok(())
}

/// Every notification in the table of all of them, the unread ones also
/// in the unread table (as the notifications component keeps them).
fn write_notifications(notifications: &[Notification], tally: &mut Tally) -> Result<(), Stop> {
    let unread: Vec<&Notification> = notifications.iter().filter(|n| !n.read).collect();
    seed::begin("notifications", (notifications.len() + unread.len()) as u64);
    let cells = |n: &Notification| -> Vec<(&'static str, Value)> {
        vec![
            ("user_id", n.user.into()),
            ("created_at", Timestamp(n.created_at).into()),
            ("id", n.id.into()),
            ("type", n.kind.into()),
            ("content", n.content.as_str().into()),
        ]
    };
    let all: Vec<_> = notifications
        .iter()
        .map(|n| {
            let mut row = cells(n);
            row.push(("read", n.read.into()));
            row
        })
        .collect();
    put_rows("notifications", &all)?;
    let unread: Vec<_> = unread.into_iter().map(cells).collect();
    put_rows("unread_notifications", &unread)?;
    tally.add("notifications", "wide", all.len() + unread.len());
    Ok(())
}

fn write_files(files: &[File], tally: &mut Tally) -> Result<(), Stop> {
    seed::begin("files", files.len() as u64);
    for file in files {
        blob::put(
            &format!("files/{}", file.name),
            file.content_type,
            &file.body,
        )?;
        seed::advance(1)?;
    }
    tally.add("files", "blob", files.len());
    Ok(())
}
