//! The traces benchmark: what trace export costs a request. Three `summer
//! serve` hosts on the same manifest, one without export (the baseline),
//! one exporting every span to the OTLP receiver of `tooling/services`,
//! and one pointed at a collector that is down, each loaded on hello and
//! on one database route (the probe reading a cache key from Redis: a
//! request span and a capability span); ratios against the baseline.
//!
//! The receiver runs on the same cores as the hosts, so the figures with
//! export include its work; the host with the collector down records,
//! batches and encodes every span without a receiver's work beside it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::Flags;
use crate::load::{self, Bar, Quiet, Running, Target};

struct Options {
    summer: PathBuf,
    components: PathBuf,
    probe_tables: PathBuf,
    otlp: String,
    out: PathBuf,
    load: load::Load,
}

/// The hosts: their names and the trace export settings they run with.
fn exports(otlp: &str, down: u16) -> [(&'static str, Vec<(&'static str, String)>); 3] {
    let to = |endpoint: String| {
        vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
            ("OTEL_SERVICE_NAME", "summer-bench".to_owned()),
        ]
    };
    [
        ("export off", Vec::new()),
        ("export on", to(otlp.to_owned())),
        ("collector down", to(format!("http://127.0.0.1:{down}"))),
    ]
}

fn manifest(options: &Options, work: &Path) -> Result<PathBuf> {
    let components = options.components.display();
    let path = work.join("summer.toml");
    std::fs::write(
        &path,
        format!(
            "[[component]]\nname = \"hello\"\nsource = \"{components}/hello.wasm\"\n\
             routes = [\"/hello\"]\n\n\
             [[component]]\nname = \"probe\"\nsource = \"{components}/probe.wasm\"\n\
             routes = [\"/probe/...\"]\ngrants = [\"sql\", \"wide\", \"graph\", \"cache\", \"blob\"]\n\
             wide = {{ tables = \"{}\" }}\n",
            options.probe_tables.display()
        ),
    )?;
    Ok(path)
}

fn start(
    options: &Options,
    work: &Path,
    name: &'static str,
    env: &[(&'static str, String)],
    port: u16,
) -> Result<Running> {
    let dir = work.join(name.replace(' ', "-"));
    std::fs::create_dir_all(&dir)?;
    let mut command = Command::new(&options.summer);
    command
        .args(["serve", "--no-watch", "--port", &port.to_string()])
        .arg("--manifest")
        .arg(manifest(options, work)?)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env("RUST_LOG", "warn")
        .envs(env.iter().map(|(k, v)| (k, v)));
    load::spawn(name, &mut command, &dir.join("summer.log"))
}

fn ratios(results: &[Value]) -> Value {
    let rps = |server: &str, mode: &str| {
        results
            .iter()
            .find(|r| r["server"] == server && r["mode"] == mode)
            .and_then(|r| r["rps"].as_f64())
            .unwrap_or(0.0)
    };
    let mut ratios = serde_json::Map::new();
    for route in ["hello", "cache read"] {
        let off = rps("export off", route);
        ratios.insert(
            route.to_owned(),
            json!({
                "on_over_off_rps": rps("export on", route) / off,
                "down_over_off_rps": rps("collector down", route) / off,
            }),
        );
    }
    Value::Object(ratios)
}

fn table(results: &[Value], ratios: &Value) -> String {
    let mut text = load::runs_table(("host", "route"), results);
    for route in ["hello", "cache read"] {
        let r = &ratios[route];
        let _ = writeln!(
            text,
            "{route}: export on/off {:.2}× requests/s, collector down/off {:.2}×",
            r["on_over_off_rps"].as_f64().unwrap_or(0.0),
            r["down_over_off_rps"].as_f64().unwrap_or(0.0),
        );
    }
    text
}

fn chart(results: &[Value]) -> String {
    let bars: Vec<Bar> = results
        .iter()
        .map(|r| Bar {
            label: format!(
                "{} ({})",
                r["mode"].as_str().unwrap_or_default(),
                r["server"].as_str().unwrap_or_default()
            ),
            value: r["rps"].as_f64().unwrap_or(0.0),
            colour: load::colour("summer"),
        })
        .collect();
    load::chart("Requests per second (higher is better)", &bars, "req/s")
}

pub fn run(flags: &Flags) -> Result<()> {
    let options = Options {
        summer: flags.path("--summer")?,
        components: flags.path("--components")?,
        probe_tables: flags.path("--probe-tables")?,
        otlp: flags.value("--otlp").context("--otlp is required")?,
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

    let down = load::free_port()?;
    let mut targets = Vec::new();
    let mut servers = Vec::new();
    for (name, env) in exports(&options.otlp, down) {
        let port = load::free_port()?;
        let mut server = start(&options, work.path(), name, &env, port)?;
        let base = format!("http://127.0.0.1:{port}");
        load::wait_for(&format!("{base}/hello"), &mut server)?;
        load::send("PUT", &format!("{base}/probe/cache/bench"), b"value")?;
        targets.push(Target {
            server: name,
            mode: "hello",
            url: format!("{base}/hello"),
        });
        targets.push(Target {
            server: name,
            mode: "cache read",
            url: format!("{base}/probe/cache/bench"),
        });
        servers.push(server);
    }

    let results = load::measure(&options.load, &targets, &script, &mut quiet)?;
    let ratios = ratios(&results);
    let report = json!({
        "benchmark": "traces",
        "setup": format!("{}; cache on Redis when REDIS_HOST is set", options.load.describe()),
        "machine": quiet.report(),
        "results": results,
        "ratios": ratios,
    });
    println!("{}", table(&results, &report["ratios"]));
    load::write_report(&options.out, "traces", &report, &chart(&results))
}
