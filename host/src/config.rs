//! Settings from the command line, the environment and an optional `.env`.

use std::net::IpAddr;
use std::path::PathBuf;

/// How `summer serve` is reached and run: its address, its admin API, its
/// fleet and its file watcher.
#[derive(Clone, Debug, clap::Args)]
pub struct Listen {
    /// Bearer token of the admin API (`/_admin/...`); without one the admin
    /// API is off.
    #[arg(long, env = "SUMMER_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Address to listen on.
    #[arg(long, env = "SUMMER_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// Port to listen on; 0 picks a free one (the address is printed).
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,

    /// Serve `/metrics`, `/readyz` and `/_admin` on this address (such as
    /// 127.0.0.1:9090) instead of the public port, which then serves only
    /// the API, `/healthz` and `/openapi.json`.
    #[arg(long, env = "SUMMER_ADMIN_LISTEN")]
    pub admin_listen: Option<std::net::SocketAddr>,

    /// The fleet this host joins when Redis is configured: hosts of one
    /// fleet pass deploys to each other. `off` keeps this host to itself.
    #[arg(long, env = "SUMMER_FLEET", default_value = "summer")]
    pub fleet: String,

    /// Do not watch the manifest and component files for changes.
    #[arg(long, env = "SUMMER_NO_WATCH")]
    pub no_watch: bool,
}

/// Where the host keeps its files and which databases it uses.
#[derive(Clone, Debug, clap::Args)]
pub struct Settings {
    /// The manifest listing components, their routes and their grants.
    #[arg(long, env = "SUMMER_MANIFEST", default_value = "summer.toml")]
    pub manifest: PathBuf,

    /// Directory for the embedded databases and the compiled-component cache.
    #[arg(long, env = "SUMMER_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Directory of compiled components, reused across restarts and by
    /// hosts that share it (default: `cache/components` in the data directory).
    #[arg(long, env = "SUMMER_COMPILE_CACHE")]
    pub compile_cache: Option<PathBuf>,

    #[command(flatten)]
    pub postgres: PostgresSettings,

    #[command(flatten)]
    pub redis: RedisSettings,

    #[command(flatten)]
    pub storage: StorageSettings,

    #[command(flatten)]
    pub cassandra: CassandraSettings,

    #[command(flatten)]
    pub neo4j: Neo4jSettings,
}

/// Neo4j for the `graph` capability. Without a host, `graph` uses the
/// embedded graph store.
#[derive(Clone, Debug, clap::Args)]
#[command(next_help_heading = "Neo4j (graph capability)")]
pub struct Neo4jSettings {
    /// Neo4j host (Bolt); setting it switches `graph` to Neo4j.
    #[arg(id = "neo4j-host", long = "neo4j-host", env = "NEO4J_HOST")]
    pub host: Option<String>,

    /// Neo4j Bolt port.
    #[arg(
        id = "neo4j-port",
        long = "neo4j-port",
        env = "NEO4J_PORT",
        default_value_t = 7687
    )]
    pub port: u16,

    /// Neo4j user.
    #[arg(
        id = "neo4j-user",
        long = "neo4j-user",
        env = "NEO4J_USER",
        default_value = "neo4j"
    )]
    pub user: String,

    /// Neo4j password (prefer the environment variable over the flag).
    #[arg(
        id = "neo4j-password",
        long = "neo4j-password",
        env = "NEO4J_PASSWORD",
        default_value = "",
        hide_env_values = true
    )]
    pub password: String,

    /// Bolt connections in the pool: enough for the requests that reach
    /// the graph at once; Neo4j serves each on a thread of its own.
    #[arg(
        id = "neo4j-pool-size",
        long = "neo4j-pool-size",
        env = "NEO4J_POOL_SIZE",
        default_value_t = 16
    )]
    pub pool_size: usize,
}

/// Cassandra (or ScyllaDB) for the `wide` capability. Without a host, `wide`
/// uses the embedded ordered store.
#[derive(Clone, Debug, clap::Args)]
#[command(next_help_heading = "Cassandra / ScyllaDB (wide capability)")]
pub struct CassandraSettings {
    /// Contact point host; setting it switches `wide` to Cassandra.
    #[arg(id = "cassandra-host", long = "cassandra-host", env = "CASSANDRA_HOST")]
    pub host: Option<String>,

    /// Cassandra native protocol (CQL) port.
    #[arg(
        id = "cassandra-port",
        long = "cassandra-port",
        env = "CASSANDRA_PORT",
        default_value_t = 9042
    )]
    pub port: u16,

    /// The keyspace holding every component's tables; created if missing.
    #[arg(
        id = "cassandra-keyspace",
        long = "cassandra-keyspace",
        env = "CASSANDRA_KEYSPACE",
        default_value = "summer"
    )]
    pub keyspace: String,

    /// Replication factor used when the keyspace is created.
    #[arg(
        id = "cassandra-replication-factor",
        long = "cassandra-replication-factor",
        env = "CASSANDRA_REPLICATION_FACTOR",
        default_value_t = 1
    )]
    pub replication_factor: u32,

    /// Cassandra user, when the cluster requires a login.
    #[arg(id = "cassandra-user", long = "cassandra-user", env = "CASSANDRA_USER")]
    pub user: Option<String>,

    /// Cassandra password (prefer the environment variable over the flag).
    #[arg(
        id = "cassandra-password",
        long = "cassandra-password",
        env = "CASSANDRA_PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,
}

/// S3-compatible object storage for the `blob` capability. Without an
/// endpoint, `blob` uses the embedded directory store.
#[derive(Clone, Debug, clap::Args)]
#[command(next_help_heading = "S3 / MinIO (blob capability)")]
pub struct StorageSettings {
    /// S3 endpoint host (or URL with scheme); setting it switches `blob` to S3.
    #[arg(
        id = "storage-endpoint",
        long = "storage-endpoint",
        env = "STORAGE_ENDPOINT"
    )]
    pub endpoint: Option<String>,

    /// S3 port, when the endpoint has none.
    #[arg(
        id = "storage-port",
        long = "storage-port",
        env = "STORAGE_PORT",
        default_value_t = 9000
    )]
    pub port: u16,

    /// Access key id.
    #[arg(
        id = "storage-access-key",
        long = "storage-access-key",
        env = "STORAGE_ACCESS_KEY",
        default_value = ""
    )]
    pub access_key: String,

    /// Secret key (prefer the environment variable over the flag).
    #[arg(
        id = "storage-secret-key",
        long = "storage-secret-key",
        env = "STORAGE_SECRET_KEY",
        default_value = "",
        hide_env_values = true
    )]
    pub secret_key: String,

    /// The bucket holding every component's objects; created if missing.
    #[arg(
        id = "storage-bucket",
        long = "storage-bucket",
        env = "STORAGE_BUCKET",
        default_value = "summer"
    )]
    pub bucket: String,

    /// Region to sign requests for (MinIO and most servers accept any).
    #[arg(
        id = "storage-region",
        long = "storage-region",
        env = "STORAGE_REGION",
        default_value = "us-east-1"
    )]
    pub region: String,

    /// Seconds one S3 request may take, retries included, before the call
    /// fails with `timeout`; keep it below the components' time limit so a
    /// hung server is reported as such.
    #[arg(
        id = "storage-timeout-secs",
        long = "storage-timeout-secs",
        env = "STORAGE_TIMEOUT_SECS",
        default_value_t = 10
    )]
    pub timeout_secs: u64,
}

/// Redis for the `cache` capability. Without a host, `cache` uses the
/// embedded in-process store.
#[derive(Clone, Debug, clap::Args)]
#[command(next_help_heading = "Redis (cache capability)")]
pub struct RedisSettings {
    /// Redis host; setting it switches `cache` from the in-process store to Redis.
    #[arg(id = "redis-host", long = "redis-host", env = "REDIS_HOST")]
    pub host: Option<String>,

    /// Redis port.
    #[arg(
        id = "redis-port",
        long = "redis-port",
        env = "REDIS_PORT",
        default_value_t = 6379
    )]
    pub port: u16,
}

/// PostgreSQL for the `sql` capability. Without a host, `sql` uses the
/// embedded SQLite database.
#[derive(Clone, Debug, clap::Args)]
#[command(next_help_heading = "PostgreSQL (sql capability)")]
pub struct PostgresSettings {
    /// PostgreSQL host; setting it switches `sql` from embedded SQLite to PostgreSQL.
    #[arg(id = "database-host", long = "database-host", env = "DATABASE_HOST")]
    pub host: Option<String>,

    /// PostgreSQL port.
    #[arg(
        id = "database-port",
        long = "database-port",
        env = "DATABASE_PORT",
        default_value_t = 5432
    )]
    pub port: u16,

    /// PostgreSQL user.
    #[arg(
        id = "database-user",
        long = "database-user",
        env = "DATABASE_USER",
        default_value = "postgres"
    )]
    pub user: String,

    /// Password (prefer the environment variable over the flag).
    #[arg(
        id = "database-password",
        long = "database-password",
        env = "DATABASE_PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,

    /// The database holding every component's tables.
    #[arg(
        id = "database-name",
        long = "database-name",
        env = "DATABASE_NAME",
        default_value = "summer"
    )]
    pub name: String,

    /// Connections in the pool.
    #[arg(
        id = "database-pool-size",
        long = "database-pool-size",
        env = "DATABASE_POOL_SIZE",
        default_value_t = 10
    )]
    pub pool_size: u32,
}

impl Settings {
    /// Where compiled components are cached between runs.
    pub fn compile_cache_dir(&self) -> PathBuf {
        self.compile_cache
            .clone()
            .unwrap_or_else(|| self.data_dir.join("cache").join("components"))
    }
}

/// Loads `.env` from the working directory if there is one. Variables already
/// set in the environment win over the file.
pub fn load_dotenv() -> Result<(), dotenvy::Error> {
    match dotenvy::dotenv() {
        Ok(_) => Ok(()),
        Err(e) if e.not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Settings for the real servers `tooling/services up` starts: each variable
/// from the environment when set there, from `tooling/services.env`
/// otherwise. Flags are named after their variables (`DATABASE_HOST` is
/// `--database-host`).
#[cfg(test)]
pub(crate) fn real_services() -> Settings {
    use clap::Parser;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        settings: Settings,
    }

    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tooling/services.env");
    let mut args = vec!["summer".to_owned()];
    for item in dotenvy::from_path_iter(&path).expect("reading tooling/services.env") {
        let (key, value) = item.expect("a KEY=value line in tooling/services.env");
        if std::env::var_os(&key).is_none() {
            args.push(format!("--{}", key.to_lowercase().replace('_', "-")));
            args.push(value);
        }
    }
    Command::parse_from(args).settings
}
