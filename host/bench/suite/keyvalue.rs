//! The keyvalue benchmark: one component (`lookup`) reads one key through
//! the standard `wasi:keyvalue` and through Summer's own
//! `summer:platform/cache`, on the embedded backends and on Redis. Each
//! sample is a request that reads the key N times and reports the time the
//! reads took, measured in the guest, so the figure is the round trip of
//! one read from the guest into the host, to the backend and back, without
//! the HTTP request around it. Both servers run side by side; the samples
//! are interleaved in a rotated order each round, and the report gives the
//! median per read and the ratio keyvalue/cache per backend set.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::Flags;
use crate::load::{self, Backends, Bar, Quiet, Running};

/// The key every sample reads, and its value.
const KEY: &str = "bench-key";
const VALUE: &[u8] = &[b'v'; 64];
/// The interfaces compared, as the lookup component names them.
const INTERFACES: [&str; 2] = ["keyvalue", "cache"];

struct Options {
    summer: PathBuf,
    lookup: PathBuf,
    out: PathBuf,
    backends: Vec<Backends>,
    rounds: usize,
    /// Samples per target and round.
    samples: usize,
    /// Reads per sample.
    reads: u32,
    allow_busy: bool,
}

/// `summer serve` with the lookup component granted both interfaces.
fn start(options: &Options, work: &Path, backends: Backends, port: u16) -> Result<Running> {
    let work = work.join(backends.name());
    std::fs::create_dir_all(&work)?;
    let manifest = work.join("summer.toml");
    std::fs::write(
        &manifest,
        format!(
            "[[component]]\nname = \"lookup\"\nsource = \"{}\"\nroutes = [\"/lookup/...\"]\n\
             grants = [\"cache\", \"keyvalue\"]\n",
            options.lookup.display()
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
    // Redis is the only real server this benchmark needs.
    for variable in load::REAL_BACKEND_VARIABLES {
        if variable != "REDIS_HOST" || backends == Backends::Embedded {
            command.env_remove(variable);
        }
    }
    if backends == Backends::Real && std::env::var_os("REDIS_HOST").is_none() {
        anyhow::bail!("the real backends need REDIS_HOST (source tooling/services.env)");
    }
    let name = match backends {
        Backends::Embedded => "summer (embedded)",
        Backends::Real => "summer (redis)",
    };
    load::spawn(name, &mut command, &work.join("summer.log"))
}

/// One load target: a backend set, an interface, and its url.
struct Target {
    backends: Backends,
    interface: &'static str,
    url: String,
}

/// Microseconds per read, from one sampling request.
fn sample(target: &Target) -> Result<f64> {
    let body = load::get(&target.url)?;
    let answer: Value = serde_json::from_slice(&body).context("the lookup component's answer")?;
    let nanos = answer["nanos"].as_f64().context("nanos in the answer")?;
    let reads = answer["reads"].as_f64().context("reads in the answer")?;
    Ok(nanos / reads / 1000.0)
}

fn measure(options: &Options, targets: &[Target], quiet: &mut Quiet) -> Result<Vec<Value>> {
    let mut samples: Vec<Vec<f64>> = targets.iter().map(|_| Vec::new()).collect();
    for round in 0..options.rounds {
        quiet.check(round + 1)?;
        for i in 0..targets.len() {
            let index = (i + round) % targets.len();
            let target = &targets[index];
            sample(target)?; // warm-up
            for _ in 0..options.samples {
                samples[index].push(sample(target)?);
            }
            eprintln!(
                "round {} {:<9} {:<8} {:>8.2} µs per read",
                round + 1,
                target.backends.name(),
                target.interface,
                load::median(samples[index].clone())
            );
        }
    }
    Ok(targets
        .iter()
        .zip(samples)
        .map(|(target, samples)| {
            json!({
                "backends": target.backends.name(),
                "interface": target.interface,
                "us_per_read": load::median(samples.clone()),
                "min_us_per_read": samples.iter().copied().fold(f64::INFINITY, f64::min),
                "samples_us": samples,
            })
        })
        .collect())
}

fn per_read(results: &[Value], backends: &str, interface: &str) -> f64 {
    results
        .iter()
        .find(|r| r["backends"] == backends && r["interface"] == interface)
        .and_then(|r| r["us_per_read"].as_f64())
        .unwrap_or(0.0)
}

fn ratios(options: &Options, results: &[Value]) -> Value {
    let ratios: serde_json::Map<String, Value> = options
        .backends
        .iter()
        .map(|b| {
            let (keyvalue, cache) = (
                per_read(results, b.name(), "keyvalue"),
                per_read(results, b.name(), "cache"),
            );
            (
                b.name().to_owned(),
                json!({ "keyvalue_over_cache": keyvalue / cache, "extra_us": keyvalue - cache }),
            )
        })
        .collect();
    Value::Object(ratios)
}

fn table(results: &[Value], ratios: &Value) -> String {
    let mut text = String::from(
        "| backends | interface | µs per read (median) | fastest sample |\n|---|---|---|---|\n",
    );
    for r in results {
        let _ = writeln!(
            text,
            "| {} | {} | {:.2} | {:.2} |",
            r["backends"].as_str().unwrap_or_default(),
            r["interface"].as_str().unwrap_or_default(),
            r["us_per_read"].as_f64().unwrap_or(0.0),
            r["min_us_per_read"].as_f64().unwrap_or(0.0),
        );
    }
    if let Some(ratios) = ratios.as_object() {
        for (backends, r) in ratios {
            let _ = writeln!(
                text,
                "{backends}: a wasi:keyvalue get costs {:.2}× a summer:platform/cache get ({:+.2} µs)",
                r["keyvalue_over_cache"].as_f64().unwrap_or(0.0),
                r["extra_us"].as_f64().unwrap_or(0.0),
            );
        }
    }
    text
}

fn charts(results: &[Value]) -> String {
    let bars: Vec<Bar> = results
        .iter()
        .map(|r| {
            let interface = r["interface"].as_str().unwrap_or_default();
            Bar {
                label: format!("{} {interface}", r["backends"].as_str().unwrap_or_default()),
                value: r["us_per_read"].as_f64().unwrap_or(0.0),
                colour: load::colour(if interface == "cache" { "summer" } else { "" }),
            }
        })
        .collect();
    load::chart("µs per read (lower is better)", &bars, "µs")
}

pub fn run(flags: &Flags) -> Result<()> {
    let options = Options {
        summer: flags.path("--summer")?,
        lookup: flags.path("--lookup")?,
        out: flags.path("--out")?,
        backends: Backends::parse(&flags.text("--backends", "embedded,real"))?,
        rounds: flags.number("--rounds", 5)? as usize,
        samples: flags.number("--samples", 5)? as usize,
        reads: flags.number("--reads", 2000)?,
        allow_busy: flags.has("--allow-busy"),
    };
    let mut quiet = Quiet::require(
        options.allow_busy,
        flags.value("--services").map(PathBuf::from),
    )?;
    let work = tempfile::tempdir()?;
    let mut servers = Vec::new();
    let mut targets = Vec::new();
    for &backends in &options.backends {
        let port = load::free_port()?;
        let mut server = start(&options, work.path(), backends, port)?;
        let base = format!("http://127.0.0.1:{port}/lookup");
        load::wait_for(&format!("http://127.0.0.1:{port}/readyz"), &mut server)?;
        load::send("PUT", &format!("{base}/{KEY}"), VALUE)?;
        servers.push(server);
        for interface in INTERFACES {
            targets.push(Target {
                backends,
                interface,
                url: format!("{base}/{interface}/{KEY}?n={}", options.reads),
            });
        }
    }
    let results = measure(&options, &targets, &mut quiet)?;
    let ratios = ratios(&options, &results);
    let report = json!({
        "benchmark": "keyvalue",
        "setup": format!(
            "{} reads of one 64-byte key per sample, timed in the guest; {} samples per target and round after a warm-up, {} interleaved rounds, medians; the embedded cache is in-process memory and the embedded keyvalue store SQLite, while on Redis both are one Redis",
            options.reads, options.samples, options.rounds
        ),
        "machine": quiet.report(),
        "results": results,
        "ratios": ratios,
    });
    println!("{}", table(&results, &report["ratios"]));
    if report["machine"]["busy"] == true {
        println!("the machine was busy during this run: see machine in the report");
    }
    drop(servers);
    load::write_report(&options.out, "keyvalue", &report, &charts(&results))
}
