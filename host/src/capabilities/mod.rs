//! Host capabilities that components import: one module per capability, each
//! with its trait and its backends side by side, plus the grant checks.

/// Generates one `#[tokio::test]` per check of a conformance suite, run
/// against the backend that `$open` returns. Each capability's suite lists
/// its checks once and calls this for every backend.
#[cfg(test)]
macro_rules! conformance_tests {
    ($suite:ident, $open:expr, [$($check:ident),* $(,)?]) => {
        mod $suite {
            use super::*;
            $(
                #[tokio::test]
                async fn $check() {
                    let backend = $open.await;
                    super::$check(&*backend).await;
                }
            )*
        }
    };
}

pub(crate) mod bindings;
pub(crate) mod blob;
pub(crate) mod cache;
#[cfg(test)]
pub(crate) mod cancellation;
mod error;
pub mod graph;
pub(crate) mod keyvalue;
pub(crate) mod sql;
pub(crate) mod tls;
pub(crate) mod trace;
pub(crate) mod variables;
pub mod wide;

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use tracing::Instrument;
use wasmtime::component::Linker;

pub use error::{CapabilityError, ErrorKind};

use crate::config::Settings;
use crate::observe::metrics::{Call, metrics};
use crate::observe::traces;
use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;

/// A capability a component may be granted in the manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Capability {
    Sql,
    Cache,
    Blob,
    Wide,
    Graph,
    Keyvalue,
    Blobstore,
}

impl Capability {
    /// Every capability, in the order they are logged.
    pub(crate) const ALL: [Capability; 7] = [
        Capability::Sql,
        Capability::Wide,
        Capability::Graph,
        Capability::Cache,
        Capability::Blob,
        Capability::Keyvalue,
        Capability::Blobstore,
    ];

    /// The WIT interfaces (without version) the capability is imported as.
    pub(crate) fn interfaces(self) -> &'static [&'static str] {
        match self {
            Capability::Sql => &["summer:platform/sql"],
            Capability::Cache => &["summer:platform/cache"],
            Capability::Blob => &["summer:platform/blob"],
            Capability::Wide => &["summer:platform/wide"],
            Capability::Graph => &["summer:platform/graph"],
            Capability::Keyvalue => &[
                "wasi:keyvalue/store",
                "wasi:keyvalue/atomics",
                "wasi:keyvalue/batch",
            ],
            Capability::Blobstore => &[
                "wasi:blobstore/blobstore",
                "wasi:blobstore/container",
                "wasi:blobstore/types",
            ],
        }
    }

    /// The versions of a standard package Summer serves the capability at;
    /// None for Summer's own package, which components build against.
    pub(crate) fn served_versions(self) -> Option<&'static [&'static str]> {
        match self {
            Capability::Keyvalue => Some(&keyvalue::VERSIONS),
            Capability::Blobstore => Some(&blob::BLOBSTORE_VERSIONS),
            _ => None,
        }
    }

    /// The capability a component import names, if it is one of Summer's.
    pub(crate) fn from_import(import: &str) -> Option<Self> {
        let unversioned = import.split('@').next().unwrap_or(import);
        Self::ALL
            .into_iter()
            .find(|c| c.interfaces().contains(&unversioned))
    }

    /// The name the manifest grants it by, and logs and metrics show.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Capability::Sql => "sql",
            Capability::Cache => "cache",
            Capability::Blob => "blob",
            Capability::Wide => "wide",
            Capability::Graph => "graph",
            Capability::Keyvalue => "keyvalue",
            Capability::Blobstore => "blobstore",
        }
    }

    /// The capability whose backend serves this one: `blobstore` is served
    /// by the `blob` backend.
    pub(crate) fn backend(self) -> Capability {
        match self {
            Capability::Blobstore => Capability::Blob,
            other => other,
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The backends the host opened at start, shared by every request.
#[derive(Clone)]
pub struct Backends {
    pub sql: Arc<dyn sql::SqlBackend>,
    pub cache: Arc<dyn cache::CacheBackend>,
    pub blob: Arc<dyn blob::BlobBackend>,
    pub wide: Arc<dyn wide::WideBackend>,
    pub graph: Arc<dyn graph::GraphBackend>,
    pub keyvalue: Arc<dyn keyvalue::KeyValueBackend>,
    pub(crate) names: Arc<BackendNames>,
}

impl Backends {
    /// Opens each capability's backend: the real database when its settings
    /// are present, the embedded default under the data directory otherwise.
    pub async fn open(settings: &Settings) -> Result<Self> {
        let sql = sql::open_backend(settings).await?;
        let cache = cache::open_backend(settings).await?;
        let blob = blob::open_backend(settings).await?;
        let wide = wide::open_backend(settings).await?;
        let graph = graph::open_backend(settings).await?;
        let keyvalue = keyvalue::open_backend(settings).await?;
        let name =
            |capability, backend: String| BackendName::from_description(capability, &backend);
        let names = Arc::new(BackendNames {
            sql: name(Capability::Sql, sql.describe()),
            cache: name(Capability::Cache, cache.describe()),
            blob: name(Capability::Blob, blob.describe()),
            wide: name(Capability::Wide, wide.describe()),
            graph: name(Capability::Graph, graph.describe()),
            keyvalue: name(Capability::Keyvalue, keyvalue.describe()),
            blobstore: name(Capability::Blobstore, blob.describe()),
        });
        Ok(Self {
            sql,
            cache,
            blob,
            wide,
            graph,
            keyvalue,
            names,
        })
    }

    /// Closes every backend's connections (SQLite files are checkpointed,
    /// PostgreSQL sessions end), for a clean exit after the last request.
    pub async fn close(&self) {
        tokio::join!(
            self.sql.close(),
            self.cache.close(),
            self.blob.close(),
            self.wide.close(),
            self.graph.close(),
            self.keyvalue.close(),
        );
    }

    /// Probes every backend at once, each bounded by `READY_TIMEOUT`.
    pub(crate) async fn readiness(&self) -> Vec<Readiness> {
        // In the order of `describe`.
        let (sql, wide, graph, cache, blob, keyvalue) = tokio::join!(
            probe(self.sql.ping()),
            probe(self.wide.ping()),
            probe(self.graph.ping()),
            probe(self.cache.ping()),
            probe(self.blob.ping()),
            probe(self.keyvalue.ping()),
        );
        self.describe()
            .into_iter()
            .zip([sql, wide, graph, cache, blob, keyvalue])
            .map(|((capability, backend), outcome)| Readiness {
                capability,
                backend,
                outcome,
            })
            .collect()
    }

    /// A line per capability naming the backend it got, for the start-up log.
    pub(crate) fn describe(&self) -> Vec<(Capability, String)> {
        vec![
            (Capability::Sql, self.sql.describe()),
            (Capability::Wide, self.wide.describe()),
            (Capability::Graph, self.graph.describe()),
            (Capability::Cache, self.cache.describe()),
            (Capability::Blob, self.blob.describe()),
            (Capability::Keyvalue, self.keyvalue.describe()),
        ]
    }
}

/// How long a readiness probe waits for a backend.
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// One backend's answer to a readiness probe: how long it took, or why not.
#[derive(Clone, Debug)]
pub(crate) struct Readiness {
    pub(crate) capability: Capability,
    pub(crate) backend: String,
    pub(crate) outcome: Result<Duration, CapabilityError>,
}

async fn probe(
    ping: impl Future<Output = Result<(), CapabilityError>>,
) -> Result<Duration, CapabilityError> {
    let started = Instant::now();
    match tokio::time::timeout(READY_TIMEOUT, ping).await {
        Ok(Ok(())) => Ok(started.elapsed()),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(CapabilityError::new(
            ErrorKind::Timeout,
            format!("no answer within {READY_TIMEOUT:?}"),
        )),
    }
}

/// The backend serving one capability, as metrics and spans name it.
#[derive(Clone, Debug)]
pub(crate) struct BackendName {
    pub(crate) capability: Capability,
    /// `postgres`, `sqlite`, `redis`, ...
    pub(crate) name: Arc<str>,
}

impl BackendName {
    /// The backend's name from its description (`"postgres (host/db)"`).
    pub(crate) fn from_description(capability: Capability, description: &str) -> Self {
        let name = description.split_whitespace().next().unwrap_or("unknown");
        Self {
            capability,
            name: name.into(),
        }
    }
}

/// The backend of each capability as metrics and spans name it.
#[derive(Clone, Debug)]
pub(crate) struct BackendNames {
    pub(crate) sql: BackendName,
    pub(crate) cache: BackendName,
    pub(crate) blob: BackendName,
    pub(crate) wide: BackendName,
    pub(crate) graph: BackendName,
    pub(crate) keyvalue: BackendName,
    pub(crate) blobstore: BackendName,
}

/// Runs one capability call a guest made: in its own span (a child of the
/// request's), timed and counted by outcome.
pub(crate) async fn observed<T>(
    backend: &BackendName,
    operation: &'static str,
    call: impl Future<Output = Result<T, CapabilityError>>,
) -> Result<T, CapabilityError> {
    let span = tracing::debug_span!(
        "capability",
        capability = %backend.capability,
        backend = %backend.name,
        operation
    );
    let trace = call_span(backend, operation);
    let started = Instant::now();
    let result = call.instrument(span.clone()).await;
    let took = started.elapsed();
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) => e.kind.as_label(),
    };
    if let Some(trace) = trace {
        trace.set(KeyValue::new("summer.outcome", outcome));
        let failed = result.as_ref().is_err_and(|e| e.kind.is_failure());
        trace.end(failed.then(|| outcome.to_owned()));
    }
    let call = Call {
        capability: backend.capability.name(),
        backend: backend.name.clone(),
        operation,
        outcome,
    };
    metrics().call(&call, took);
    span.in_scope(|| tracing::debug!(took_us = took.as_micros() as u64, outcome, "called"));
    result
}

/// The trace span of a capability call (no values: what was called, where,
/// and how it went).
fn call_span(backend: &BackendName, operation: &'static str) -> Option<traces::CallSpan> {
    if !traces::enabled() {
        return None;
    }
    let capability = backend.capability.name();
    traces::call_span(
        format!("{capability} {operation}"),
        SpanKind::Client,
        vec![
            KeyValue::new("summer.capability", capability),
            KeyValue::new("summer.backend", backend.name.to_string()),
            KeyValue::new("summer.operation", operation),
        ],
    )
}

/// [`observed`], with the result in the form the guest receives it.
pub(crate) async fn guest_call<T>(
    backend: &BackendName,
    operation: &'static str,
    call: impl Future<Output = Result<T, CapabilityError>>,
) -> wasmtime::Result<Result<T, bindings::summer::platform::types::Error>> {
    Ok(observed(backend, operation, call).await.map_err(Into::into))
}

/// Parses a stored counter the way Redis does: a decimal `i64`.
pub(crate) fn parse_counter(value: &[u8]) -> Result<i64, CapabilityError> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| CapabilityError::invalid("the value is not an integer"))
}

/// Store data that can hand out the per-capability views the bindings need.
pub(crate) trait CapabilityState: Send + 'static {
    fn sql(&mut self) -> sql::SqlView<'_>;
    fn cache(&mut self) -> cache::CacheView<'_>;
    fn blob(&mut self) -> blob::BlobView<'_>;
    fn wide(&mut self) -> wide::WideView<'_>;
    fn graph(&mut self) -> graph::GraphView<'_>;
    fn keyvalue(&mut self) -> keyvalue::KeyValueView<'_>;
    /// The blob backend as `wasi:blobstore` sees it (metered as `blobstore`).
    fn blobstore(&mut self) -> blob::BlobView<'_>;
    fn variables(&mut self) -> variables::VariablesView<'_>;
}

/// Links `wasi:config` (every component may read the variables it
/// declares), `summer:platform/trace` (every component may add to its
/// request's trace) and the granted capabilities, and only those, into
/// `linker`.
pub(crate) fn add_to_linker<T: CapabilityState>(
    linker: &mut Linker<T>,
    grants: &BTreeSet<Capability>,
) -> Result<()> {
    variables::add_to_linker(linker)?;
    trace::add_to_linker(linker)?;
    if grants.is_empty() {
        return Ok(());
    }
    bindings::summer::platform::types::add_to_linker::<T, bindings::TypesOnly>(linker, |_| ())?;
    for grant in grants {
        match grant {
            Capability::Sql => sql::add_to_linker(linker)?,
            Capability::Cache => cache::add_to_linker(linker)?,
            Capability::Blob => blob::add_to_linker(linker)?,
            Capability::Wide => wide::add_to_linker(linker)?,
            Capability::Graph => graph::add_to_linker(linker)?,
            Capability::Keyvalue => keyvalue::add_to_linker(linker)?,
            Capability::Blobstore => blob::add_blobstore_to_linker(linker)?,
        }
    }
    Ok(())
}
