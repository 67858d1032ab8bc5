//! A component's databases made ready before it serves: its SQL migrations
//! applied and its wide tables declared, in its namespace.

use anyhow::{Context, Result};

use crate::capabilities::{Backends, sql, wide};
use crate::manifest::ComponentSpec;

/// Applies the SQL migrations of `spec` and declares its wide tables
/// (in its namespace); the declared tables by name.
pub async fn prepare_databases(
    backends: &Backends,
    spec: &ComponentSpec,
) -> Result<wide::TableSet> {
    if let Some(dir) = &spec.sql_migrations {
        let migrations = sql::Migration::read_dir(dir)?;
        let applied = sql::apply_migrations(backends.sql.as_ref(), &spec.name, &migrations)
            .await
            .with_context(|| format!("migrating the database of component {}", spec.name))?;
        if applied > 0 {
            tracing::info!(component = %spec.name, "applied {applied} sql migration(s)");
        }
    }
    let mut declared = wide::TableSet::new();
    for path in &spec.wide_tables {
        let tables = wide::read_tables(&spec.namespace, path)?;
        let tables = wide::declare_tables(backends.wide.as_ref(), &tables)
            .await
            .with_context(|| format!("declaring the wide tables of component {}", spec.name))?;
        declared.extend(tables);
    }
    Ok(declared)
}
