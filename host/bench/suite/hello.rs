//! The hello benchmark: the same trivial component served by `summer serve`
//! and by `wasmtime serve`, with a fresh instance per request (both hosts'
//! default) and with instance reuse (128 requests per instance on both),
//! and a native hyper server as the physical limit; the ratios
//! summer/wasmtime-serve and summer/native.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};
use serde_json::{Value, json};

use crate::Flags;
use crate::load::{self, Bar, Load, Quiet, Running, Target};

/// Requests one instance serves in reuse mode, on both hosts.
const REUSE: u32 = 128;

struct Options {
    summer: PathBuf,
    wasmtime: PathBuf,
    native: PathBuf,
    hello: PathBuf,
    out: PathBuf,
    load: Load,
}

/// `summer serve` with the hello component twice: fresh instances at
/// `/hello`, reused ones at `/hello/reuse`.
fn start_summer(options: &Options, work: &Path, port: u16) -> Result<Running> {
    let hello = options.hello.display();
    let manifest = work.join("summer.toml");
    std::fs::write(
        &manifest,
        format!(
            "[[component]]\nname = \"hello\"\nsource = \"{hello}\"\nroutes = [\"/hello\"]\n\n\
             [[component]]\nname = \"hello-reuse\"\nsource = \"{hello}\"\nroutes = [\"/hello/reuse\"]\n\
             instance_reuse = {REUSE}\n"
        ),
    )?;
    let mut command = Command::new(&options.summer);
    command
        .args(["serve", "--no-watch", "--port", &port.to_string()])
        .arg("--manifest")
        .arg(&manifest)
        .arg("--data-dir")
        .arg(work.join("data"))
        .env("RUST_LOG", "warn");
    for variable in load::REAL_BACKEND_VARIABLES {
        command.env_remove(variable);
    }
    load::spawn("summer", &mut command, &work.join("summer.log"))
}

fn start_wasmtime(options: &Options, work: &Path, port: u16, reuse: u32) -> Result<Running> {
    let mut command = Command::new(&options.wasmtime);
    command
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .arg(format!("--max-instance-reuse-count={reuse}"))
        .arg(&options.hello);
    load::spawn(
        "wasmtime serve",
        &mut command,
        &work.join(format!("wasmtime-{reuse}.log")),
    )
}

fn find<'a>(results: &'a [Value], server: &str, mode: &str) -> &'a Value {
    results
        .iter()
        .find(|r| r["server"] == server && r["mode"] == mode)
        .expect("every target was measured")
}

fn ratios(results: &[Value]) -> Value {
    let field =
        |server, mode, name: &str| find(results, server, mode)[name].as_f64().unwrap_or(0.0);
    let native = field("native", "native", "rps");
    let mut ratios = serde_json::Map::new();
    for mode in ["fresh", "reuse"] {
        ratios.insert(
            mode.to_owned(),
            json!({
                "summer_over_wasmtime_rps": field("summer", mode, "rps") / field("wasmtime serve", mode, "rps"),
                "summer_over_native_rps": field("summer", mode, "rps") / native,
                "summer_over_wasmtime_p99": field("summer", mode, "p99_us") / field("wasmtime serve", mode, "p99_us"),
            }),
        );
    }
    Value::Object(ratios)
}

fn table(results: &[Value], ratios: &Value) -> String {
    let mut text = load::runs_table(("server", "mode"), results);
    for mode in ["fresh", "reuse"] {
        let r = &ratios[mode];
        let _ = writeln!(
            text,
            "{mode}: summer/wasmtime-serve {:.2}× requests/s (p99 {:.2}×), summer/native {:.2}×",
            r["summer_over_wasmtime_rps"].as_f64().unwrap_or(0.0),
            r["summer_over_wasmtime_p99"].as_f64().unwrap_or(0.0),
            r["summer_over_native_rps"].as_f64().unwrap_or(0.0),
        );
    }
    text
}

/// A bar chart of requests/s and one of p99.
fn charts(results: &[Value]) -> String {
    let bars = |field: &str| -> Vec<Bar> {
        results
            .iter()
            .map(|r| {
                let server = r["server"].as_str().unwrap_or_default();
                Bar {
                    label: format!("{server} ({})", r["mode"].as_str().unwrap_or_default()),
                    value: r[field].as_f64().unwrap_or(0.0),
                    colour: load::colour(server),
                }
            })
            .collect()
    };
    load::chart(
        "Requests per second (higher is better)",
        &bars("rps"),
        "req/s",
    ) + &load::chart("p99 latency (lower is better)", &bars("p99_us"), "µs")
}

pub fn run(flags: &Flags) -> Result<()> {
    let options = Options {
        summer: flags.path("--summer")?,
        wasmtime: flags.path("--wasmtime")?,
        native: flags.path("--native")?,
        hello: flags.path("--hello")?,
        out: flags.path("--out")?,
        load: flags.load(10)?,
    };
    let mut quiet = Quiet::require(
        flags.has("--allow-busy"),
        flags.value("--services").map(PathBuf::from),
    )?;
    let work = tempfile::tempdir()?;
    let script = work.path().join("report.lua");
    std::fs::write(&script, load::WRK_REPORT)?;

    let ports = [
        load::free_port()?,
        load::free_port()?,
        load::free_port()?,
        load::free_port()?,
    ];
    let mut servers = [
        start_summer(&options, work.path(), ports[0])?,
        start_wasmtime(&options, work.path(), ports[1], 1)?,
        start_wasmtime(&options, work.path(), ports[2], REUSE)?,
        load::spawn(
            "native",
            Command::new(&options.native).arg(ports[3].to_string()),
            &work.path().join("native.log"),
        )?,
    ];
    // Each target: server, mode, which of `servers` serves it, path.
    let plan = [
        ("summer", "fresh", 0, "/hello"),
        ("summer", "reuse", 0, "/hello/reuse"),
        ("wasmtime serve", "fresh", 1, "/hello"),
        ("wasmtime serve", "reuse", 2, "/hello"),
        ("native", "native", 3, "/hello"),
    ];
    let mut targets = Vec::new();
    let mut bodies = Vec::new();
    for (server, mode, index, path) in plan {
        let url = format!("http://127.0.0.1:{}{path}", ports[index]);
        bodies.push(load::wait_for(&url, &mut servers[index])?);
        targets.push(Target { server, mode, url });
    }
    if bodies.iter().any(|b| b != &bodies[0]) {
        bail!("the servers answer differently: {bodies:?}");
    }

    let results = load::measure(&options.load, &targets, &script, &mut quiet)?;
    let ratios = ratios(&results);
    let report = json!({
        "benchmark": "hello",
        "setup": format!("{}; instance reuse {REUSE}", options.load.describe()),
        "machine": quiet.report(),
        "results": results,
        "ratios": ratios,
    });
    println!("{}", table(&results, &report["ratios"]));
    load::write_report(&options.out, "hello", &report, &charts(&results))
}
