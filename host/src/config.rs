//! Settings from the command line, the environment and an optional `.env`.

use std::collections::BTreeMap;
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
    pub(crate) data_dir: PathBuf,

    /// Directory of compiled components, reused across restarts and by
    /// hosts that share it (default: `cache/components` in the data directory).
    #[arg(long, env = "SUMMER_COMPILE_CACHE")]
    pub(crate) compile_cache: Option<PathBuf>,

    /// Values of component variables (see `variables` in the manifest) the
    /// environment and .env do not set: a file of `SUMMER_VAR_*=value`
    /// lines, or a directory with one file per value named
    /// `<component>.<variable>` (a container or Kubernetes secret mount).
    /// Read again by `summer reload`.
    #[arg(long, env = "SUMMER_SECRETS")]
    pub(crate) secrets: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) postgres: PostgresSettings,

    #[command(flatten)]
    pub redis: RedisSettings,

    #[command(flatten)]
    pub(crate) storage: StorageSettings,

    #[command(flatten)]
    pub(crate) cassandra: CassandraSettings,

    #[command(flatten)]
    pub(crate) neo4j: Neo4jSettings,
}

/// Neo4j for the `graph` capability. Without a host, `graph` uses the
/// embedded graph store.
#[derive(Clone, Debug, clap::Args)]
#[command(next_help_heading = "Neo4j (graph capability)")]
pub(crate) struct Neo4jSettings {
    /// Neo4j URI: `bolt://` or `neo4j://` (routing), with `+s` for TLS
    /// verified against the system's authorities (or NEO4J_TLS_CA_FILE's)
    /// and `+ssc` for TLS that accepts any certificate; instead of
    /// NEO4J_HOST, NEO4J_PORT and NEO4J_TLS.
    #[arg(
        id = "neo4j-uri",
        long = "neo4j-uri",
        env = "NEO4J_URI",
        hide_env_values = true
    )]
    pub(crate) uri: Option<String>,

    /// Neo4j host (Bolt); setting it switches `graph` to Neo4j.
    #[arg(id = "neo4j-host", long = "neo4j-host", env = "NEO4J_HOST")]
    pub(crate) host: Option<String>,

    /// Neo4j Bolt port [default: 7687].
    #[arg(id = "neo4j-port", long = "neo4j-port", env = "NEO4J_PORT")]
    pub(crate) port: Option<u16>,

    /// Speak TLS to NEO4J_HOST (as a `bolt+s://` URI does).
    #[arg(id = "neo4j-tls", long = "neo4j-tls", env = "NEO4J_TLS")]
    pub(crate) tls: bool,

    /// PEM file of the certificate authorities that may sign the server's
    /// certificate, instead of the system's.
    #[arg(
        id = "neo4j-tls-ca-file",
        long = "neo4j-tls-ca-file",
        env = "NEO4J_TLS_CA_FILE"
    )]
    pub(crate) tls_ca_file: Option<PathBuf>,

    /// Neo4j user.
    #[arg(
        id = "neo4j-user",
        long = "neo4j-user",
        env = "NEO4J_USER",
        default_value = "neo4j"
    )]
    pub(crate) user: String,

    /// Neo4j password (prefer the environment variable over the flag).
    #[arg(
        id = "neo4j-password",
        long = "neo4j-password",
        env = "NEO4J_PASSWORD",
        default_value = "",
        hide_env_values = true
    )]
    pub(crate) password: String,

    /// Bolt connections in the pool: enough for the requests that reach
    /// the graph at once; Neo4j serves each on a thread of its own.
    #[arg(
        id = "neo4j-pool-size",
        long = "neo4j-pool-size",
        env = "NEO4J_POOL_SIZE",
        default_value_t = 16
    )]
    pub(crate) pool_size: usize,
}

/// The URI schemes of Neo4j's drivers: direct or routing, then plain, TLS
/// (`+s`) or TLS without certificate checks (`+ssc`).
const NEO4J_SCHEMES: [&str; 6] = [
    "bolt",
    "bolt+s",
    "bolt+ssc",
    "neo4j",
    "neo4j+s",
    "neo4j+ssc",
];

/// Where a Neo4j server is and how to reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Neo4jServer {
    /// A URI with one of the driver's schemes.
    pub(crate) uri: String,
    /// `host:port`, for messages.
    pub(crate) address: String,
    pub(crate) tls: Tls,
}

impl Neo4jSettings {
    /// The configured server; `None` for the embedded default.
    pub(crate) fn server(&self) -> Result<Option<Neo4jServer>, ConfigError> {
        let Some(uri) = self.uri.as_deref() else {
            return self.host.clone().map(|host| self.address(host)).transpose();
        };
        exclusive(
            "NEO4J_URI",
            &[
                ("NEO4J_HOST", self.host.is_some()),
                ("NEO4J_PORT", self.port.is_some()),
                ("NEO4J_TLS", self.tls),
            ],
        )?;
        let (scheme, rest) = uri.split_once("://").unwrap_or(("", uri));
        if !NEO4J_SCHEMES.contains(&scheme) {
            return Err(ConfigError::Scheme {
                setting: "NEO4J_URI",
                expected: NEO4J_SCHEMES.join(", "),
            });
        }
        let address = rest.rsplit('@').next().unwrap_or(rest);
        let address = address.split(['/', '?']).next().unwrap_or(address);
        let tls = match scheme.split_once('+').map(|(_, mode)| mode) {
            None => Tls::Off,
            Some("s") => Tls::Verified(self.tls_ca_file.clone()),
            Some(_) => Tls::Unverified,
        };
        Ok(Some(Neo4jServer {
            uri: uri.to_owned(),
            address: address.to_owned(),
            tls: self.checked(tls)?,
        }))
    }

    fn address(&self, host: String) -> Result<Neo4jServer, ConfigError> {
        let address = format!("{host}:{}", self.port.unwrap_or(7687));
        let (scheme, tls) = if self.tls {
            ("bolt+s", Tls::Verified(self.tls_ca_file.clone()))
        } else {
            ("bolt", Tls::Off)
        };
        Ok(Neo4jServer {
            uri: format!("{scheme}://{address}"),
            address,
            tls: self.checked(tls)?,
        })
    }

    fn checked(&self, tls: Tls) -> Result<Tls, ConfigError> {
        tls.with_ca_file(
            "NEO4J_TLS_CA_FILE",
            "NEO4J_TLS or a bolt+s:// or neo4j+s:// URI",
            &self.tls_ca_file,
        )
    }
}

/// How a client speaks TLS to its database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tls {
    Off,
    /// The certificate must verify against these authorities (a PEM file),
    /// or the system's when `None`.
    Verified(Option<PathBuf>),
    /// Any certificate is accepted (what the user's URI asked for).
    Unverified,
}

impl Tls {
    /// A client speaking TLS that checks certificates when `on`, against
    /// `ca_file`'s authorities when given.
    pub(crate) fn verified_if(on: bool, ca_file: &Option<PathBuf>) -> Self {
        if on {
            Tls::Verified(ca_file.clone())
        } else {
            Tls::Off
        }
    }

    /// Refuses a CA file that would go unused: TLS is off or unverified.
    fn with_ca_file(
        self,
        setting: &'static str,
        enable: &'static str,
        ca_file: &Option<PathBuf>,
    ) -> Result<Self, ConfigError> {
        match (&self, ca_file) {
            (Tls::Off | Tls::Unverified, Some(_)) => {
                Err(ConfigError::UnusedCaFile { setting, enable })
            }
            _ => Ok(self),
        }
    }
}

/// Cassandra (or ScyllaDB) for the `wide` capability. Without a host, `wide`
/// uses the embedded ordered store.
#[derive(Clone, Debug, clap::Args)]
#[command(next_help_heading = "Cassandra / ScyllaDB (wide capability)")]
pub(crate) struct CassandraSettings {
    /// Contact point host; setting it switches `wide` to Cassandra.
    #[arg(id = "cassandra-host", long = "cassandra-host", env = "CASSANDRA_HOST")]
    pub(crate) host: Option<String>,

    /// Cassandra native protocol (CQL) port.
    #[arg(
        id = "cassandra-port",
        long = "cassandra-port",
        env = "CASSANDRA_PORT",
        default_value_t = 9042
    )]
    pub(crate) port: u16,

    /// The keyspace holding every component's tables; created if missing.
    #[arg(
        id = "cassandra-keyspace",
        long = "cassandra-keyspace",
        env = "CASSANDRA_KEYSPACE",
        default_value = "summer"
    )]
    pub(crate) keyspace: String,

    /// Replication factor used when the keyspace is created.
    #[arg(
        id = "cassandra-replication-factor",
        long = "cassandra-replication-factor",
        env = "CASSANDRA_REPLICATION_FACTOR",
        default_value_t = 1
    )]
    pub(crate) replication_factor: u32,

    /// Cassandra user, when the cluster requires a login.
    #[arg(id = "cassandra-user", long = "cassandra-user", env = "CASSANDRA_USER")]
    pub(crate) user: Option<String>,

    /// Cassandra password (prefer the environment variable over the flag).
    #[arg(
        id = "cassandra-password",
        long = "cassandra-password",
        env = "CASSANDRA_PASSWORD",
        hide_env_values = true
    )]
    pub(crate) password: Option<String>,

    /// Speak TLS to every node. The driver connects by address, so each
    /// node's certificate must name its IP address.
    #[arg(id = "cassandra-tls", long = "cassandra-tls", env = "CASSANDRA_TLS")]
    pub(crate) tls: bool,

    /// PEM file of the certificate authorities that may sign the nodes'
    /// certificates, instead of the system's.
    #[arg(
        id = "cassandra-tls-ca-file",
        long = "cassandra-tls-ca-file",
        env = "CASSANDRA_TLS_CA_FILE"
    )]
    pub(crate) tls_ca_file: Option<PathBuf>,
}

impl CassandraSettings {
    /// How the driver speaks TLS to the nodes.
    pub(crate) fn tls(&self) -> Result<Tls, ConfigError> {
        Tls::verified_if(self.tls, &self.tls_ca_file).with_ca_file(
            "CASSANDRA_TLS_CA_FILE",
            "CASSANDRA_TLS",
            &self.tls_ca_file,
        )
    }
}

/// S3-compatible object storage for the `blob` capability. Without an
/// endpoint, `blob` uses the embedded directory store.
#[derive(Clone, Debug, clap::Args)]
#[command(next_help_heading = "S3 / MinIO (blob capability)")]
pub(crate) struct StorageSettings {
    /// S3 endpoint: a host, or a URL (`https://` for TLS); setting it
    /// switches `blob` to S3.
    #[arg(
        id = "storage-endpoint",
        long = "storage-endpoint",
        env = "STORAGE_ENDPOINT"
    )]
    pub(crate) endpoint: Option<String>,

    /// S3 port, when the endpoint has none [default: 9000 for a host, the
    /// scheme's for a URL].
    #[arg(id = "storage-port", long = "storage-port", env = "STORAGE_PORT")]
    pub(crate) port: Option<u16>,

    /// PEM file of the certificate authorities that may sign an `https://`
    /// endpoint's certificate, instead of the system's.
    #[arg(
        id = "storage-tls-ca-file",
        long = "storage-tls-ca-file",
        env = "STORAGE_TLS_CA_FILE"
    )]
    pub(crate) tls_ca_file: Option<PathBuf>,

    /// Access key id.
    #[arg(
        id = "storage-access-key",
        long = "storage-access-key",
        env = "STORAGE_ACCESS_KEY",
        default_value = ""
    )]
    pub(crate) access_key: String,

    /// Secret key (prefer the environment variable over the flag).
    #[arg(
        id = "storage-secret-key",
        long = "storage-secret-key",
        env = "STORAGE_SECRET_KEY",
        default_value = "",
        hide_env_values = true
    )]
    pub(crate) secret_key: String,

    /// The bucket holding every component's objects; created if missing.
    #[arg(
        id = "storage-bucket",
        long = "storage-bucket",
        env = "STORAGE_BUCKET",
        default_value = "summer"
    )]
    pub(crate) bucket: String,

    /// Region to sign requests for (MinIO and most servers accept any).
    #[arg(
        id = "storage-region",
        long = "storage-region",
        env = "STORAGE_REGION",
        default_value = "us-east-1"
    )]
    pub(crate) region: String,

    /// Seconds one S3 request may take, retries included, before the call
    /// fails with `timeout`; keep it below the components' time limit so a
    /// hung server is reported as such.
    #[arg(
        id = "storage-timeout-secs",
        long = "storage-timeout-secs",
        env = "STORAGE_TIMEOUT_SECS",
        default_value_t = 10
    )]
    pub(crate) timeout_secs: u64,
}

/// Where an S3 server is and how to reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StorageEndpoint {
    /// `scheme://host:port`, with any path the endpoint gave.
    pub(crate) url: String,
    pub(crate) tls: Tls,
}

impl StorageSettings {
    /// The configured S3 endpoint; `None` for the embedded default.
    pub(crate) fn server(&self) -> Result<Option<StorageEndpoint>, ConfigError> {
        let Some(endpoint) = self.endpoint.as_deref() else {
            return Ok(None);
        };
        let (scheme, rest) = endpoint.split_once("://").unwrap_or(("", endpoint));
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (default_port, scheme) = match scheme {
            "" => (9000, "http"),
            "http" => (80, "http"),
            "https" => (443, "https"),
            _ => {
                return Err(ConfigError::Scheme {
                    setting: "STORAGE_ENDPOINT",
                    expected: "http, https".to_owned(),
                });
            }
        };
        let named_port = authority
            .rsplit_once(':')
            .filter(|(host, _)| !host.ends_with(']') || authority.starts_with('['))
            .and_then(|(_, port)| port.parse::<u16>().ok());
        let url = match (named_port, self.port) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::UrlAndSplit {
                    url: "STORAGE_ENDPOINT with a port",
                    split: "STORAGE_PORT".to_owned(),
                });
            }
            (Some(_), None) => format!("{scheme}://{authority}{path}"),
            (None, port) => format!(
                "{scheme}://{authority}:{}{path}",
                port.unwrap_or(default_port)
            ),
        };
        let tls = Tls::verified_if(scheme == "https", &self.tls_ca_file).with_ca_file(
            "STORAGE_TLS_CA_FILE",
            "an https:// STORAGE_ENDPOINT",
            &self.tls_ca_file,
        )?;
        Ok(Some(StorageEndpoint {
            url: url.trim_end_matches('/').to_owned(),
            tls,
        }))
    }
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
    pub(crate) url: Option<String>,

    /// Redis host; setting it switches `cache` from the in-process store to Redis.
    #[arg(id = "redis-host", long = "redis-host", env = "REDIS_HOST")]
    pub(crate) host: Option<String>,

    /// Redis port [default: 6379].
    #[arg(id = "redis-port", long = "redis-port", env = "REDIS_PORT")]
    pub(crate) port: Option<u16>,

    /// Speak TLS to REDIS_HOST (as a `rediss://` URL does).
    #[arg(id = "redis-tls", long = "redis-tls", env = "REDIS_TLS")]
    pub(crate) tls: bool,

    /// PEM file of the certificate authorities that may sign the server's
    /// certificate, instead of the system's.
    #[arg(
        id = "redis-tls-ca-file",
        long = "redis-tls-ca-file",
        env = "REDIS_TLS_CA_FILE"
    )]
    pub(crate) tls_ca_file: Option<PathBuf>,
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
        let server = if let Some(url) = &self.url {
            exclusive("REDIS_URL", &split)?;
            Some(RedisServer::Url(url.clone()))
        } else {
            self.host.clone().map(|host| RedisServer::Address {
                host,
                port: self.port.unwrap_or(6379),
                tls: self.tls,
            })
        };
        if let Some(server) = &server {
            self.check_tls(server)?;
        }
        Ok(server)
    }

    /// Refuses REDIS_TLS_CA_FILE when nothing speaks TLS.
    fn check_tls(&self, server: &RedisServer) -> Result<(), ConfigError> {
        let tls = match server {
            RedisServer::Url(url) => url.starts_with("rediss://"),
            RedisServer::Address { tls, .. } => *tls,
        };
        Tls::verified_if(tls, &self.tls_ca_file)
            .with_ca_file(
                "REDIS_TLS_CA_FILE",
                "REDIS_TLS or a rediss:// URL",
                &self.tls_ca_file,
            )
            .map(drop)
    }
}

/// Settings that contradict each other.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{url} and {split} are both set: give the URL or the separate variables, not both")]
    UrlAndSplit { url: &'static str, split: String },
    #[error("{setting} has an unknown scheme: use one of {expected}")]
    Scheme {
        setting: &'static str,
        expected: String,
    },
    #[error("{setting} is set but nothing verifies a certificate with it: set {enable} too")]
    UnusedCaFile {
        setting: &'static str,
        enable: &'static str,
    },
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
pub(crate) struct PostgresSettings {
    /// PostgreSQL URL (`postgres://user:password@host:port/database`, with
    /// `sslmode` and `sslrootcert` as libpq takes them); instead of the
    /// DATABASE_HOST, _PORT, _USER, _PASSWORD and _NAME variables.
    #[arg(
        id = "database-url",
        long = "database-url",
        env = "DATABASE_URL",
        hide_env_values = true
    )]
    pub(crate) url: Option<String>,

    /// PostgreSQL host; setting it switches `sql` from embedded SQLite to PostgreSQL.
    #[arg(id = "database-host", long = "database-host", env = "DATABASE_HOST")]
    pub(crate) host: Option<String>,

    /// PostgreSQL port [default: 5432].
    #[arg(id = "database-port", long = "database-port", env = "DATABASE_PORT")]
    pub(crate) port: Option<u16>,

    /// PostgreSQL user [default: postgres].
    #[arg(id = "database-user", long = "database-user", env = "DATABASE_USER")]
    pub(crate) user: Option<String>,

    /// Password (prefer the environment variable over the flag).
    #[arg(
        id = "database-password",
        long = "database-password",
        env = "DATABASE_PASSWORD",
        hide_env_values = true
    )]
    pub(crate) password: Option<String>,

    /// The database holding every component's tables [default: summer].
    #[arg(id = "database-name", long = "database-name", env = "DATABASE_NAME")]
    pub(crate) name: Option<String>,

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
    pub(crate) ssl_mode: Option<SslMode>,

    /// PEM file of the certificate authorities that may sign the server's
    /// certificate (libpq's `sslrootcert`), instead of the system's.
    #[arg(
        id = "database-ssl-root-cert",
        long = "database-ssl-root-cert",
        env = "DATABASE_SSL_ROOT_CERT"
    )]
    pub(crate) ssl_root_cert: Option<PathBuf>,

    /// Connections in the pool.
    #[arg(
        id = "database-pool-size",
        long = "database-pool-size",
        env = "DATABASE_POOL_SIZE",
        default_value_t = 10
    )]
    pub(crate) pool_size: u32,
}

/// How a PostgreSQL connection uses TLS, as libpq's `sslmode` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// Where a PostgreSQL server is, from DATABASE_URL or the split variables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PostgresServer {
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
    pub(crate) fn server(&self) -> Result<Option<PostgresServer>, ConfigError> {
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
    pub(crate) fn compile_cache_dir(&self) -> PathBuf {
        self.compile_cache
            .clone()
            .unwrap_or_else(|| self.data_dir.join("cache").join("components"))
    }
}

/// Loads `.env` from the working directory if there is one. Variables already
/// set in the environment win over the file. The component variables of the
/// environment are noted first, so that a reload reads `.env` afresh.
pub fn load_dotenv() -> Result<(), dotenvy::Error> {
    let _ = STARTED_WITH.set(component_variables());
    match dotenvy::dotenv() {
        Ok(path) => {
            let _ = DOTENV.set(path);
            Ok(())
        }
        Err(e) if e.not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

/// The `SUMMER_VAR_*` variables the host was started with, before `.env`.
static STARTED_WITH: std::sync::OnceLock<BTreeMap<String, String>> = std::sync::OnceLock::new();
/// The `.env` file read at start, if there was one.
static DOTENV: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// The prefix of the environment variables that set component variables.
pub(crate) const VARIABLE_PREFIX: &str = "SUMMER_VAR_";

fn component_variables() -> BTreeMap<String, String> {
    std::env::vars()
        .filter(|(key, _)| key.starts_with(VARIABLE_PREFIX))
        .collect()
}

/// Where the values of component variables come from.
#[derive(Clone, Default)]
pub(crate) struct VariablePlaces {
    /// The `SUMMER_VAR_*` variables the host was started with.
    pub(crate) environment: BTreeMap<String, String>,
    /// The `.env` file, read again at each reload.
    pub(crate) dotenv: Option<PathBuf>,
    /// SUMMER_SECRETS: a file or a directory.
    pub(crate) secrets: Option<PathBuf>,
}

/// Names the places, never the values.
impl std::fmt::Debug for VariablePlaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VariablePlaces")
            .field("environment", &self.environment.keys().collect::<Vec<_>>())
            .field("dotenv", &self.dotenv)
            .field("secrets", &self.secrets)
            .finish()
    }
}

impl Settings {
    /// Where this host reads component variables from.
    pub(crate) fn variable_places(&self) -> VariablePlaces {
        VariablePlaces {
            environment: STARTED_WITH
                .get()
                .cloned()
                .unwrap_or_else(component_variables),
            dotenv: DOTENV.get().cloned(),
            secrets: self.secrets.clone(),
        }
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

    fn neo4j(uri: Option<&str>, host: Option<&str>, tls: bool) -> Neo4jSettings {
        let mut settings = real_services().neo4j;
        settings.uri = uri.map(str::to_owned);
        settings.host = host.map(str::to_owned);
        settings.port = None;
        settings.tls = tls;
        settings.tls_ca_file = None;
        settings
    }

    #[test]
    fn neo4j_uris_choose_tls_by_scheme() {
        let server = |uri| neo4j(Some(uri), None, false).server().unwrap().unwrap();
        let aura = server("neo4j+s://abc.databases.neo4j.io");
        assert_eq!(aura.tls, Tls::Verified(None));
        assert_eq!(aura.address, "abc.databases.neo4j.io");
        assert_eq!(server("bolt+ssc://db:7687").tls, Tls::Unverified);
        assert_eq!(server("bolt://db:7687").tls, Tls::Off);
        assert_eq!(server("neo4j://db:7687/?policy=x").address, "db:7687");
        let direct = neo4j(None, Some("db"), true).server().unwrap().unwrap();
        assert_eq!(direct.uri, "bolt+s://db:7687");
        assert_eq!(neo4j(None, None, false).server().unwrap(), None);
    }

    #[test]
    fn neo4j_settings_that_contradict_are_refused() {
        let message = |settings: Neo4jSettings| settings.server().unwrap_err().to_string();
        let both = message(neo4j(Some("bolt://db"), Some("db"), true));
        assert!(both.contains("NEO4J_HOST, NEO4J_TLS"), "{both}");
        let scheme = message(neo4j(Some("http://db"), None, false));
        assert!(scheme.contains("bolt+s"), "{scheme}");
        let mut unused = neo4j(None, Some("db"), false);
        unused.tls_ca_file = Some("ca.pem".into());
        let unused = message(unused);
        assert!(unused.contains("NEO4J_TLS_CA_FILE"), "{unused}");
        let mut unverified = neo4j(Some("bolt+ssc://db"), None, false);
        unverified.tls_ca_file = Some("ca.pem".into());
        assert!(unverified.server().is_err());
    }

    fn storage(endpoint: &str, port: Option<u16>) -> Result<StorageEndpoint, ConfigError> {
        let mut settings = real_services().storage;
        settings.endpoint = Some(endpoint.to_owned());
        settings.port = port;
        settings.tls_ca_file = None;
        settings.server().map(Option::unwrap)
    }

    #[test]
    fn storage_endpoints_take_their_port_from_the_url_or_the_setting() {
        let url = |endpoint, port| storage(endpoint, port).unwrap().url;
        assert_eq!(url("minio", None), "http://minio:9000");
        assert_eq!(url("minio", Some(9100)), "http://minio:9100");
        assert_eq!(url("http://minio", Some(9000)), "http://minio:9000");
        assert_eq!(
            url("https://s3.example.com", None),
            "https://s3.example.com:443"
        );
        assert_eq!(
            url("https://s3.example.com:8443/", None),
            "https://s3.example.com:8443"
        );
        assert_eq!(url("http://[::1]:9000", None), "http://[::1]:9000");
        assert_eq!(url("http://[::1]", None), "http://[::1]:80");
        let https = storage("https://s3.example.com", None).unwrap();
        assert_eq!(https.tls, Tls::Verified(None));
        assert!(storage("https://s3.example.com:8443", Some(443)).is_err());
        assert!(storage("ftp://s3.example.com", None).is_err());
    }

    #[test]
    fn a_ca_file_without_tls_is_refused() {
        let mut plain = real_services().storage;
        plain.tls_ca_file = Some("ca.pem".into());
        let message = plain.server().unwrap_err().to_string();
        assert!(message.contains("STORAGE_TLS_CA_FILE"), "{message}");
        let mut cassandra = real_services().cassandra;
        cassandra.tls_ca_file = Some("ca.pem".into());
        assert!(cassandra.tls().is_err());
        cassandra.tls = true;
        assert_eq!(cassandra.tls(), Ok(Tls::Verified(Some("ca.pem".into()))));
        let mut cache = redis(Some("redis://cache"), None, None);
        cache.tls_ca_file = Some("ca.pem".into());
        assert!(cache.server().is_err());
        cache.url = Some("rediss://cache".into());
        assert!(cache.server().is_ok());
    }
}
