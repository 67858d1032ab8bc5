//! Log set-up: which events are written (`RUST_LOG`, or `SUMMER_LOG`, as an
//! `EnvFilter` directive; `info` by default) and how (text or JSON lines on
//! stderr).

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines with the span context (`request{id=..}:capability{..}`).
    #[default]
    Text,
    /// One JSON object per line, with the fields of the event and its spans.
    Json,
}

/// The filter from `RUST_LOG`, else `SUMMER_LOG`, else `info`.
fn filter() -> EnvFilter {
    ["RUST_LOG", "SUMMER_LOG"]
        .into_iter()
        .find_map(|var| {
            let directive = std::env::var(var).ok()?;
            match EnvFilter::try_new(&directive) {
                Ok(filter) => Some(filter),
                Err(e) => {
                    eprintln!("ignoring {var}={directive:?}: {e}");
                    None
                }
            }
        })
        .unwrap_or_else(|| EnvFilter::new("info"))
}

/// Installs the process's log subscriber.
pub fn init(format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .init(),
    }
}
