//! The `summer` command line.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use futures::FutureExt;
use tokio::net::TcpListener;

use summer::app::App;
use summer::config::{self, Settings};
use summer::http::{Front, Surface};
use summer::manifest::Manifest;
use summer::observe::logs::LogFormat;

/// mimalloc: the host allocates and frees on every request (headers, body
/// chunks, store data), where it is markedly faster than the system malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Summer serves REST routes with sandboxed WebAssembly components.
#[derive(Parser)]
#[command(name = "summer", version, about, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// How log lines are written (which ones: RUST_LOG, e.g. `summer=debug`).
    #[arg(
        long,
        global = true,
        env = "SUMMER_LOG_FORMAT",
        value_enum,
        default_value_t
    )]
    log_format: LogFormat,
}

/// The common tasks, shown after `summer --help`.
const EXAMPLES: &str = "\
Examples:
  summer serve                    serve summer.toml's components on http://127.0.0.1:3000
  summer new photos               start a component in components/photos, then build it with
                                  tooling/build-components components/photos
  summer routes                   the route table, most specific route first
  summer seed --users 10000       fill the databases with generated data
  summer deploy photos FILE.wasm  swap a build into a running host (SUMMER_ADMIN_TOKEN)

Settings come from flags, the environment or a .env file (`summer serve --help`
lists them); each capability uses its embedded default until its database is set.";

#[derive(Subcommand)]
enum Command {
    /// Serve the manifest's components over HTTP.
    Serve(Box<ServeArgs>),
    /// Fill the databases with generated data by running the manifest's seed
    /// component (its `[seed]` entry) over the configured backends.
    Seed(Box<SeedArgs>),
    /// Swap a new version of a component into a running host (and its
    /// fleet) through the admin API; the old version keeps serving if the
    /// new one is refused.
    Deploy {
        /// The component's name in the manifest.
        name: String,
        /// The new `.wasm`, or `oci://REGISTRY/REPOSITORY:TAG` (or
        /// `@sha256:…`) for the host to pull.
        file: std::path::PathBuf,
        #[command(flatten)]
        target: summer::client::Target,
    },
    /// Push a component to an OCI registry, in the Wasm OCI artifact
    /// layout (a `application/vnd.wasm.config.v0+json` config and one
    /// `application/wasm` layer). Credentials: SUMMER_REGISTRY_USER and
    /// SUMMER_REGISTRY_PASSWORD, else Docker's config.json.
    Push {
        /// The component's `.wasm`.
        file: std::path::PathBuf,
        /// Where to: `REGISTRY/REPOSITORY:TAG` (`oci://` may lead).
        reference: String,
    },
    /// Return a component of a running host (and its fleet) to its
    /// previous version.
    Rollback {
        /// The component's name in the manifest.
        name: String,
        #[command(flatten)]
        target: summer::client::Target,
    },
    /// Make a running host re-read its manifest (routes added, removed or
    /// moved; components added, removed or changed).
    Reload {
        #[command(flatten)]
        target: summer::client::Target,
    },
    /// Start a new component: its crate and its manifest entry.
    ///
    /// The crate comes from a template: a handler with one route, written
    /// with the guest SDK; a Cargo.toml for both `tooling/build-components`
    /// and `cargo component build`; its WIT world. A running host serves
    /// the component as soon as it is built.
    New(summer::scaffold::NewComponent),
    /// Print the route table of a manifest, most specific route first.
    Routes {
        /// The manifest to read.
        #[arg(long, env = "SUMMER_MANIFEST", default_value = "summer.toml")]
        manifest: std::path::PathBuf,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    #[command(flatten)]
    listen: config::Listen,
    #[command(flatten)]
    settings: Settings,
}

/// What `summer seed` makes, and where.
#[derive(clap::Args)]
struct SeedArgs {
    #[command(flatten)]
    sizes: summer::seed::Sizes,
    #[command(flatten)]
    settings: Settings,
}

fn main() -> Result<()> {
    config::load_dotenv().context("reading .env")?;
    let cli = Cli::parse();
    summer::observe::logs::init(cli.log_format);
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let outcome = match cli.command {
        Command::Serve(args) => runtime.block_on(serve(args.listen, args.settings)),
        Command::Seed(args) => runtime.block_on(seed(*args)),
        Command::Deploy { name, file, target } => summer::client::deploy(&target, &name, &file),
        Command::Push { file, reference } => {
            runtime.block_on(summer::client::push(&file, &reference))
        }
        Command::Rollback { name, target } => summer::client::rollback(&target, &name),
        Command::Reload { target } => summer::client::reload(&target),
        Command::New(new) => new_component(&new),
        Command::Routes { manifest } => print_routes(&manifest),
    };
    runtime.shutdown_timeout(STRAGGLER_GRACE);
    outcome
}

/// `summer new`: writes the crate and the entry, then says what comes next.
fn new_component(new: &summer::scaffold::NewComponent) -> Result<()> {
    let made = new.create()?;
    let dir = made.crate_dir.display();
    println!(
        "created {dir} (Cargo.toml, wit/world.wit, src/lib.rs) and its entry in {manifest}\n\n\
         next:\n\
         \x20 tooling/build-components {dir}   # a running host serves it once built\n\
         \x20 summer serve                     # when no host is running yet\n\
         \x20 curl localhost:3000{route}\n\n\
         with cargo-component instead: `cargo component build --release` in {dir},\n\
         then copy the .wasm it names to {source} (or `summer deploy {name} FILE.wasm`)",
        manifest = new.manifest.display(),
        route = made.route,
        source = made.source.display(),
        name = new.name,
    );
    Ok(())
}

/// How long exit waits for tasks still running after the server has
/// drained, such as an instance between its time-out and its interruption.
const STRAGGLER_GRACE: Duration = Duration::from_secs(2);

async fn serve(listen: config::Listen, settings: Settings) -> Result<()> {
    let exporting = summer::observe::traces::start(tokio::runtime::Handle::current())?;
    if exporting.is_some() {
        tracing::info!("exporting traces over OTLP/HTTP");
    }
    let mut app = App::start(&settings).await?;
    if listen.fleet != "off" && settings.redis.server()?.is_some() {
        app.join_fleet(&listen.fleet, &settings).await?;
    }
    let app = Arc::new(app);
    if !listen.no_watch {
        app.watch().await?;
    }
    let front = Arc::new(Front::new(app.clone(), listen.admin_token.as_deref()));
    let listener = TcpListener::bind((listen.host, listen.port))
        .await
        .with_context(|| format!("binding {}:{}", listen.host, listen.port))?;
    let shutdown = shutdown_signal().shared();
    let public = match listen.admin_listen {
        None => Surface::All,
        Some(address) => {
            let operations = TcpListener::bind(address)
                .await
                .with_context(|| format!("binding the admin address {address}"))?;
            println!(
                "summer operations (/metrics, /readyz, /_admin) on http://{}",
                operations.local_addr()?
            );
            let (front, shutdown) = (front.clone(), shutdown.clone());
            tokio::spawn(async move {
                let served = summer::http::serve(operations, front, Surface::Operations, shutdown);
                if let Err(e) = served.await {
                    tracing::error!("the operations listener failed: {e:#}");
                }
            });
            Surface::Api
        }
    };
    let address = listener.local_addr()?;
    println!("summer listening on http://{address}");
    summer::http::serve(listener, front, public, shutdown).await?;
    close_backends(&app).await;
    Ok(())
}

/// How long closing the database connections may take at exit.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

async fn close_backends(app: &App) {
    match tokio::time::timeout(CLOSE_GRACE, app.backends().close()).await {
        Ok(()) => tracing::info!("database connections closed"),
        Err(_) => tracing::warn!("database connections still open after {CLOSE_GRACE:?}; exiting"),
    }
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

async fn seed(args: SeedArgs) -> Result<()> {
    use std::io::IsTerminal;
    use std::sync::atomic::{AtomicBool, Ordering};
    use summer::seed::{self, Progress, Reporter, terminal};

    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("interrupted: stopping after the current batch (Ctrl-C again to quit now)");
        flag.store(true, Ordering::SeqCst);
        let _ = tokio::signal::ctrl_c().await;
        std::process::exit(130);
    });
    let reporter: Arc<dyn Reporter> = if std::io::stdout().is_terminal() {
        Arc::new(terminal::Bars::default())
    } else {
        Arc::new(terminal::Lines::default())
    };
    let progress = Arc::new(Progress::new(reporter, interrupted));
    let report = seed::run(&args.settings, args.sizes.plan(), progress).await?;
    if !report.outcome.written.is_empty() {
        print!("{}", terminal::summary(&report));
    }
    match report.outcome.stopped {
        Some(reason) => anyhow::bail!("seeding stopped: {reason}"),
        None => Ok(()),
    }
}

fn print_routes(manifest: &std::path::Path) -> Result<()> {
    let manifest = Manifest::load(manifest)?;
    for (route, component) in manifest.route_table().iter() {
        println!("{route:<40} {component}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every command says what it does and every option what it is for,
    /// in `summer --help` and each `summer COMMAND --help`.
    #[test]
    fn every_command_and_option_has_help() {
        let cli = Cli::command();
        cli.clone().debug_assert();
        let mut missing = Vec::new();
        for command in std::iter::once(&cli).chain(cli.get_subcommands()) {
            if command.get_about().is_none() {
                missing.push(format!("summer {}", command.get_name()));
            }
            for arg in command.get_arguments().filter(|a| !a.is_hide_set()) {
                let builtin = matches!(arg.get_id().as_str(), "help" | "version");
                if !builtin && arg.get_help().is_none() {
                    missing.push(format!("summer {} {}", command.get_name(), arg.get_id()));
                }
            }
        }
        assert!(missing.is_empty(), "no help for: {missing:#?}");
    }
}
