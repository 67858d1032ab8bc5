//! The `summer` command line.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use summer::app::App;
use summer::config::{self, Settings};
use summer::manifest::Manifest;

/// Summer serves REST routes with sandboxed WebAssembly components.
#[derive(Parser)]
#[command(name = "summer", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the manifest's components over HTTP.
    Serve(Box<Settings>),
    /// Print the route table of a manifest, most specific route first.
    Routes {
        /// The manifest to read.
        #[arg(long, env = "SUMMER_MANIFEST", default_value = "summer.toml")]
        manifest: std::path::PathBuf,
    },
}

fn main() -> Result<()> {
    config::load_dotenv().context("reading .env")?;
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("SUMMER_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let outcome = match cli.command {
        Command::Serve(settings) => runtime.block_on(serve(*settings)),
        Command::Routes { manifest } => print_routes(&manifest),
    };
    runtime.shutdown_timeout(STRAGGLER_GRACE);
    outcome
}

/// How long exit waits for tasks still running after the server has
/// drained, such as an instance between its time-out and its interruption.
const STRAGGLER_GRACE: Duration = Duration::from_secs(2);

async fn serve(settings: Settings) -> Result<()> {
    let app = Arc::new(App::start(&settings).await?);
    let listener = TcpListener::bind((settings.host, settings.port))
        .await
        .with_context(|| format!("binding {}:{}", settings.host, settings.port))?;
    let address = listener.local_addr()?;
    println!("summer listening on http://{address}");
    summer::http::serve(listener, app, shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
}

fn print_routes(manifest: &std::path::Path) -> Result<()> {
    let manifest = Manifest::load(manifest)?;
    for (route, component) in manifest.route_table().iter() {
        println!("{route:<40} {component}");
    }
    Ok(())
}
