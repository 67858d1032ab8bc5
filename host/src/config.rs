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

/// Redis for the `cache` capability (and the fleet's messages). Without a
/// URL or host, `cache` uses the embedded in-process store.
#[derive(Clone, Debug, clap::Args)]
#[command(next_help_heading = "Redis (cache capability)")]
pub struct RedisSettings {
    /// Redis URL (`redis://` or, over TLS, `rediss://`, with any password
    /// and database number); instead of REDIS_HOST and REDIS_PORT.
    #[arg(
        id = "redis-url",
        long = "redis-url",
        env = "REDIS_URL",
        hide_env_values = true
    )]
    pub url: Option<String>,

    /// Redis host; setting it switches `cache` from the in-process store to Redis.
    #[arg(id = "redis-host", long = "redis-host", env = "REDIS_HOST")]
    pub host: Option<String>,

    /// Redis port [default: 6379].
    #[arg(id = "redis-port", long = "redis-port", env = "REDIS_PORT")]
    pub port: Option<u16>,

    /// Speak TLS to REDIS_HOST (as a `rediss://` URL does).
    #[arg(id = "redis-tls", long = "redis-tls", env = "REDIS_TLS")]
    pub tls: bool,

    /// PEM file of the certificate authorities that may sign the server's
    /// certificate, instead of the system's.
    #[arg(
        id = "redis-tls-ca-file",
        long = "redis-tls-ca-file",
        env = "REDIS_TLS_CA_FILE"
    )]
    pub tls_ca_file: Option<PathBuf>,
}

/// Where a Redis server is, from REDIS_URL or the split variables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedisServer {
    Url(String),
    Address { host: String, port: u16, tls: bool },
}

impl RedisSettings {
    /// The configured server; `None` for the embedded default.
    pub fn server(&self) -> Result<Option<RedisServer>, ConfigError> {
        let split = [
            ("REDIS_HOST", self.host.is_some()),
            ("REDIS_PORT", self.port.is_some()),
        ];
        if let Some(url) = &self.url {
            exclusive("REDIS_URL", &split)?;
            return Ok(Some(RedisServer::Url(url.clone())));
        }
        Ok(self.host.clone().map(|host| RedisServer::Address {
            host,
            port: self.port.unwrap_or(6379),
            tls: self.tls,
        }))
    }
}

/// Settings that contradict each other.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{url} and {split} are both set: give the URL or the separate variables, not both")]
    UrlAndSplit { url: &'static str, split: String },
}

/// Fails when a URL setting comes with any of the variables it replaces.
fn exclusive(url: &'static str, split: &[(&'static str, bool)]) -> Result<(), ConfigError> {
    let given: Vec<&str> = split
        .iter()
        .filter(|(_, set)| *set)
        .map(|(name, _)| *name)
        .collect();
    if given.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::UrlAndSplit {
            url,
            split: given.join(", "),
        })
    }
}

/// PostgreSQL for the `sql` capability. Without a URL or host, `sql` uses
/// the embedded SQLite database.
#[derive(Clone, Debug, clap::Args)]
#[command(next_help_heading = "PostgreSQL (sql capability)")]
pub struct PostgresSettings {
    /// PostgreSQL URL (`postgres://user:password@host:port/database`, with
    /// `sslmode` and `sslrootcert` as libpq takes them); instead of the
    /// DATABASE_HOST, _PORT, _USER, _PASSWORD and _NAME variables.
    #[arg(
        id = "database-url",
        long = "database-url",
        env = "DATABASE_URL",
        hide_env_values = true
    )]
    pub url: Option<String>,

    /// PostgreSQL host; setting it switches `sql` from embedded SQLite to PostgreSQL.
    #[arg(id = "database-host", long = "database-host", env = "DATABASE_HOST")]
    pub host: Option<String>,

    /// PostgreSQL port [default: 5432].
    #[arg(id = "database-port", long = "database-port", env = "DATABASE_PORT")]
    pub port: Option<u16>,

    /// PostgreSQL user [default: postgres].
    #[arg(id = "database-user", long = "database-user", env = "DATABASE_USER")]
    pub user: Option<String>,

    /// Password (prefer the environment variable over the flag).
    #[arg(
        id = "database-password",
        long = "database-password",
        env = "DATABASE_PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,

    /// The database holding every component's tables [default: summer].
    #[arg(id = "database-name", long = "database-name", env = "DATABASE_NAME")]
    pub name: Option<String>,

    /// TLS to PostgreSQL: `disable`, `prefer` (TLS when the server offers
    /// it, the default), `require` (TLS, certificate not checked),
    /// `verify-ca` or `verify-full` (certificate and host name checked).
    /// Overrides a URL's `sslmode`.
    #[arg(
        id = "database-ssl-mode",
        long = "database-ssl-mode",
        env = "DATABASE_SSL_MODE",
        value_enum
    )]
    pub ssl_mode: Option<SslMode>,

    /// PEM file of the certificate authorities that may sign the server's
    /// certificate (libpq's `sslrootcert`), instead of the system's.
    #[arg(
        id = "database-ssl-root-cert",
        long = "database-ssl-root-cert",
        env = "DATABASE_SSL_ROOT_CERT"
    )]
    pub ssl_root_cert: Option<PathBuf>,

    /// Connections in the pool.
    #[arg(
        id = "database-pool-size",
        long = "database-pool-size",
        env = "DATABASE_POOL_SIZE",
        default_value_t = 10
    )]
    pub pool_size: u32,
}

/// How a PostgreSQL connection uses TLS, as libpq's `sslmode` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// Where a PostgreSQL server is, from DATABASE_URL or the split variables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PostgresServer {
    Url(String),
    Address {
        host: String,
        port: u16,
        user: String,
        name: String,
    },
}

impl PostgresSettings {
    /// The configured server; `None` for the embedded default.
    pub fn server(&self) -> Result<Option<PostgresServer>, ConfigError> {
        if let Some(url) = &self.url {
            exclusive(
                "DATABASE_URL",
                &[
                    ("DATABASE_HOST", self.host.is_some()),
                    ("DATABASE_PORT", self.port.is_some()),
                    ("DATABASE_USER", self.user.is_some()),
                    ("DATABASE_PASSWORD", self.password.is_some()),
                    ("DATABASE_NAME", self.name.is_some()),
                ],
            )?;
            return Ok(Some(PostgresServer::Url(url.clone())));
        }
        Ok(self.host.clone().map(|host| PostgresServer::Address {
            host,
            port: self.port.unwrap_or(5432),
            user: self.user.clone().unwrap_or_else(|| "postgres".to_owned()),
            name: self.name.clone().unwrap_or_else(|| "summer".to_owned()),
        }))
    }
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
    use clap::{CommandFactory, Parser};

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        settings: Settings,
    }

    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tooling/services.env");
    let known: Vec<String> = Command::command()
        .get_arguments()
        .filter_map(|arg| arg.get_long().map(str::to_owned))
        .collect();
    let mut args = vec!["summer".to_owned()];
    for item in dotenvy::from_path_iter(&path).expect("reading tooling/services.env") {
        let (key, value) = item.expect("a KEY=value line in tooling/services.env");
        let flag = key.to_lowercase().replace('_', "-");
        // The file also names what only the services use (their TLS ports).
        if std::env::var_os(&key).is_none() && known.contains(&flag) {
            args.push(format!("--{flag}"));
            args.push(value);
        }
    }
    Command::parse_from(args).settings
}

/// A variable of `tooling/services.env` that is not a setting of the host
/// (such as a service's TLS port): from the environment when set there.
#[cfg(test)]
pub(crate) fn services_variable(key: &str) -> String {
    if let Ok(value) = std::env::var(key) {
        return value;
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tooling/services.env");
    dotenvy::from_path_iter(&path)
        .expect("reading tooling/services.env")
        .map(|item| item.expect("a KEY=value line in tooling/services.env"))
        .find_map(|(k, v)| (k == key).then_some(v))
        .unwrap_or_else(|| panic!("{key} is not in tooling/services.env"))
}

/// A file of the private CA `tooling/services up` makes: `ca.pem`, which
/// signed the services' certificate, or `other-ca.pem`, which signed none.
#[cfg(test)]
pub(crate) fn services_tls_file(name: &str) -> PathBuf {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.services/tls")
        .join(name);
    assert!(
        path.is_file(),
        "{} is missing; run `tooling/services up`",
        path.display()
    );
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redis(url: Option<&str>, host: Option<&str>, port: Option<u16>) -> RedisSettings {
        RedisSettings {
            url: url.map(str::to_owned),
            host: host.map(str::to_owned),
            port,
            tls: false,
            tls_ca_file: None,
        }
    }

    #[test]
    fn a_url_or_split_variables_but_not_both() {
        let url = "rediss://:secret@cache.example:6380/0";
        assert_eq!(
            redis(Some(url), None, None).server().unwrap(),
            Some(RedisServer::Url(url.to_owned()))
        );
        assert_eq!(
            redis(None, Some("cache"), None).server().unwrap(),
            Some(RedisServer::Address {
                host: "cache".into(),
                port: 6379,
                tls: false
            })
        );
        assert_eq!(redis(None, None, None).server().unwrap(), None);
        let error = redis(Some(url), Some("cache"), Some(1))
            .server()
            .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("REDIS_URL"), "{message}");
        assert!(message.contains("REDIS_HOST, REDIS_PORT"), "{message}");
        assert!(!message.contains("secret"), "{message}");
    }

    #[test]
    fn a_database_url_excludes_every_split_variable() {
        let mut settings = real_services().postgres;
        settings.url = Some("postgres://u:hunter2@db.example/app?sslmode=verify-full".into());
        let message = settings.server().unwrap_err().to_string();
        assert!(message.contains("DATABASE_URL"), "{message}");
        assert!(message.contains("DATABASE_HOST"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
        settings.host = None;
        settings.port = None;
        settings.user = None;
        settings.password = None;
        settings.name = None;
        assert!(matches!(
            settings.server(),
            Ok(Some(PostgresServer::Url(_)))
        ));
    }
}
