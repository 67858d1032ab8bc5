//! Schema migrations that a component ships with: `.sql` scripts the host
//! applies in name order when it loads the component, each once.

use std::path::Path;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use super::{SqlBackend, Value};

/// One migration script.
#[derive(Clone, Debug)]
pub(crate) struct Migration {
    pub(crate) name: String,
    pub(crate) script: String,
}

impl Migration {
    /// Reads every `*.sql` file of `dir`, sorted by file name.
    pub(crate) fn read_dir(dir: &Path) -> Result<Vec<Migration>> {
        let entries = std::fs::read_dir(dir)
            .with_context(|| format!("reading migrations directory {}", dir.display()))?;
        let mut migrations = Vec::new();
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_some_and(|ext| ext == "sql") {
                let script = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading migration {}", path.display()))?;
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                migrations.push(Migration { name, script });
            }
        }
        migrations.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(migrations)
    }

    fn checksum(&self) -> String {
        format!("{:x}", Sha256::digest(self.script.as_bytes()))
    }
}

const CREATE_LEDGER: &str = "CREATE TABLE IF NOT EXISTS summer_migrations (
    component TEXT NOT NULL,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at TIMESTAMP NOT NULL,
    PRIMARY KEY (component, name)
)";

/// Applies the migrations of `component` that are not applied yet, each in
/// its own transaction. Returns how many it applied. A migration whose
/// script changed after it was applied is an error, not a silent re-run.
pub(crate) async fn apply_migrations(
    backend: &dyn SqlBackend,
    component: &str,
    migrations: &[Migration],
) -> Result<usize> {
    backend.execute(CREATE_LEDGER, vec![]).await?;
    let applied = backend
        .query(
            "SELECT name, checksum FROM summer_migrations WHERE component = $1",
            vec![Value::Text(component.to_owned())],
        )
        .await?;
    let mut count = 0;
    for migration in migrations {
        let previous = applied
            .rows
            .iter()
            .find(|row| matches!(row.first(), Some(Value::Text(name)) if *name == migration.name));
        match previous.and_then(|row| row.get(1)) {
            Some(Value::Text(sum)) if *sum == migration.checksum() => continue,
            Some(_) => bail!(
                "migration {} of component {component} changed after it was applied; \
                 add a new migration instead",
                migration.name
            ),
            None => {}
        }
        apply_one(backend, component, migration)
            .await
            .with_context(|| {
                format!(
                    "applying migration {} of component {component}",
                    migration.name
                )
            })?;
        count += 1;
    }
    Ok(count)
}

async fn apply_one(backend: &dyn SqlBackend, component: &str, migration: &Migration) -> Result<()> {
    let mut tx = backend.begin().await?;
    tx.execute_script(&migration.script).await?;
    tx.execute(
        "INSERT INTO summer_migrations (component, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
        vec![
            Value::Text(component.to_owned()),
            Value::Text(migration.name.clone()),
            Value::Text(migration.checksum()),
            Value::Timestamp(chrono::Utc::now().timestamp_micros()),
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
