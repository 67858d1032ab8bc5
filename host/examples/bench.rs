//! The comparison benchmark `tooling/bench` runs: the same hello component
//! served by `summer serve` and by `wasmtime serve`, and a native hyper
//! server as the physical limit, loaded by wrk over loopback with the same
//! connections and duration, in interleaved rounds; medians of requests/s
//! and p50/p99 latency, and the ratios summer/wasmtime-serve and
//! summer/native. Two modes: a fresh instance per request (both hosts'
//! default) and instance reuse (128 requests per instance on both).
//! Prints a table and writes `hello.json` and `hello.html` to OUT.
//!
//!   bench --summer BIN --wasmtime BIN --native BIN --hello WASM --out DIR
//!         [--seconds 10] [--connections 32] [--rounds 3]

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// Requests one instance serves in reuse mode, on both hosts.
const REUSE: u32 = 128;
/// Load before each measured run, so every server starts it warm.
const WARM_UP_SECONDS: u32 = 1;

/// wrk's summary of a run, one JSON line.
const WRK_REPORT: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"errors":%d,"non_2xx":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout,
    e.status, latency:percentile(50), latency:percentile(99)))
end
"#;

struct Options {
    summer: PathBuf,
    wasmtime: PathBuf,
    native: PathBuf,
    hello: PathBuf,
    out: PathBuf,
    seconds: u32,
    connections: u32,
    rounds: usize,
}

impl Options {
    fn parse() -> Result<Self> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let value = |flag: &str| {
            args.iter()
                .position(|a| a == flag)
                .and_then(|i| args.get(i + 1).cloned())
        };
        let path = |flag: &str| -> Result<PathBuf> {
            let path = value(flag).with_context(|| format!("{flag} is required"))?;
            std::path::absolute(&path).with_context(|| format!("{flag} {path}"))
        };
        let number = |flag: &str, default: u32| -> Result<u32> {
            value(flag).map_or(Ok(default), |v| {
                v.parse().with_context(|| format!("{flag} takes a number"))
            })
        };
        Ok(Self {
            summer: path("--summer")?,
            wasmtime: path("--wasmtime")?,
            native: path("--native")?,
            hello: path("--hello")?,
            out: path("--out")?,
            seconds: number("--seconds", 10)?,
            connections: number("--connections", 32)?,
            rounds: number("--rounds", 3)? as usize,
        })
    }
}

/// A server under test, killed when dropped.
struct Running {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One load target: a server, the path it serves hello at, and its mode.
struct Target {
    server: &'static str,
    mode: &'static str,
    url: String,
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The body of `GET url` once the server answers, or an error after 60 s.
fn wait_for(url: &str, server: &mut Running) -> Result<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(body) = get(url) {
            return Ok(body);
        }
        if let Some(status) = server.child.try_wait()? {
            let log = std::fs::read_to_string(&server.log).unwrap_or_default();
            bail!("{} exited with {status}:\n{log}", server.name);
        }
        if Instant::now() > deadline {
            bail!("{} did not answer {url} within 60 s", server.name);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A plain HTTP/1.1 GET; the body of a 200.
fn get(url: &str) -> Result<String> {
    let rest = url.strip_prefix("http://").context("an http:// url")?;
    let (authority, path) = rest.split_once('/').context("a path")?;
    let mut stream = TcpStream::connect(authority)?;
    write!(
        stream,
        "GET /{path} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").context("a response")?;
    if !head.starts_with("HTTP/1.1 200") {
        bail!("{url}: {}", head.lines().next().unwrap_or_default());
    }
    Ok(body.to_owned())
}

fn spawn(name: &'static str, command: &mut Command, log: &Path) -> Result<Running> {
    // Every server runs as in production: no backtraces captured on errors.
    let child = command
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log)?)
        .spawn()
        .with_context(|| format!("starting {name}"))?;
    Ok(Running {
        name,
        child,
        log: log.to_owned(),
    })
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
    for variable in [
        "DATABASE_HOST",
        "REDIS_HOST",
        "STORAGE_ENDPOINT",
        "CASSANDRA_HOST",
        "NEO4J_HOST",
    ] {
        command.env_remove(variable);
    }
    spawn("summer", &mut command, &work.join("summer.log"))
}

fn start_wasmtime(options: &Options, work: &Path, port: u16, reuse: u32) -> Result<Running> {
    let mut command = Command::new(&options.wasmtime);
    command
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .arg(format!("--max-instance-reuse-count={reuse}"))
        .arg(&options.hello);
    spawn(
        "wasmtime serve",
        &mut command,
        &work.join(format!("wasmtime-{reuse}.log")),
    )
}

/// One wrk run against `url`: its summary line as JSON.
fn wrk(options: &Options, script: &Path, url: &str, seconds: u32) -> Result<Value> {
    let output = Command::new("wrk")
        .args(["-t1", &format!("-c{}", options.connections)])
        .arg(format!("-d{seconds}s"))
        .arg("-s")
        .arg(script)
        .arg(url)
        .output()
        .context("running wrk")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = BufReader::new(stdout.as_bytes())
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("BENCH ").map(str::to_owned))
        .with_context(|| format!("wrk printed no summary: {stdout}"))?;
    let mut run: Value = serde_json::from_str(&line)?;
    let requests = run["requests"].as_f64().unwrap_or(0.0);
    let seconds = run["duration_us"].as_f64().unwrap_or(1.0) / 1e6;
    run["rps"] = json!(requests / seconds);
    Ok(run)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Runs every target once per round, in a rotated order each round.
fn measure(options: &Options, targets: &[Target], script: &Path) -> Result<Vec<Value>> {
    let mut runs: Vec<Vec<Value>> = targets.iter().map(|_| Vec::new()).collect();
    for round in 0..options.rounds {
        for i in 0..targets.len() {
            let index = (i + round) % targets.len();
            let target = &targets[index];
            wrk(options, script, &target.url, WARM_UP_SECONDS)?;
            let run = wrk(options, script, &target.url, options.seconds)?;
            eprintln!(
                "round {} {:<15} {:<6} {:>9.0} req/s  p50 {:>6} µs  p99 {:>6} µs",
                round + 1,
                target.server,
                target.mode,
                run["rps"].as_f64().unwrap_or(0.0),
                run["p50_us"],
                run["p99_us"]
            );
            runs[index].push(run);
        }
    }
    Ok(targets
        .iter()
        .zip(runs)
        .map(|(target, runs)| summarize(target, runs))
        .collect())
}

fn summarize(target: &Target, runs: Vec<Value>) -> Value {
    let field = |name: &str| median(runs.iter().filter_map(|r| r[name].as_f64()).collect());
    let failed: f64 = runs
        .iter()
        .map(|r| r["errors"].as_f64().unwrap_or(0.0) + r["non_2xx"].as_f64().unwrap_or(0.0))
        .sum();
    json!({
        "server": target.server,
        "mode": target.mode,
        "rps": field("rps"),
        "p50_us": field("p50_us"),
        "p99_us": field("p99_us"),
        "failed": failed,
        "runs": runs,
    })
}

fn find<'a>(results: &'a [Value], server: &str, mode: &str) -> &'a Value {
    results
        .iter()
        .find(|r| r["server"] == server && r["mode"] == mode)
        .expect("every target was measured")
}

fn ratios(results: &[Value]) -> Value {
    let rps = |server, mode| find(results, server, mode)["rps"].as_f64().unwrap_or(0.0);
    let p99 = |server, mode| {
        find(results, server, mode)["p99_us"]
            .as_f64()
            .unwrap_or(0.0)
    };
    let native = rps("native", "native");
    let mut ratios = serde_json::Map::new();
    for mode in ["fresh", "reuse"] {
        ratios.insert(
            mode.to_owned(),
            json!({
                "summer_over_wasmtime_rps": rps("summer", mode) / rps("wasmtime serve", mode),
                "summer_over_native_rps": rps("summer", mode) / native,
                "summer_over_wasmtime_p99": p99("summer", mode) / p99("wasmtime serve", mode),
            }),
        );
    }
    Value::Object(ratios)
}

fn table(results: &[Value], ratios: &Value) -> String {
    let mut text = String::from(
        "| server | mode | requests/s | p50 µs | p99 µs | failed |\n|---|---|---|---|---|---|\n",
    );
    for r in results {
        let _ = writeln!(
            text,
            "| {} | {} | {:.0} | {:.0} | {:.0} | {} |",
            r["server"].as_str().unwrap_or_default(),
            r["mode"].as_str().unwrap_or_default(),
            r["rps"].as_f64().unwrap_or(0.0),
            r["p50_us"].as_f64().unwrap_or(0.0),
            r["p99_us"].as_f64().unwrap_or(0.0),
            r["failed"]
        );
    }
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

/// A bar chart of requests/s and one of p99, as inline SVG.
fn html(report: &Value, results: &[Value]) -> String {
    let chart = |title: &str, field: &str, unit: &str| {
        let max = results
            .iter()
            .filter_map(|r| r[field].as_f64())
            .fold(1.0, f64::max);
        let mut svg = format!(
            "<h2>{title}</h2><svg width=\"720\" height=\"{}\" font-family=\"sans-serif\" font-size=\"13\">",
            results.len() * 28 + 10
        );
        for (i, r) in results.iter().enumerate() {
            let value = r[field].as_f64().unwrap_or(0.0);
            let width = 420.0 * value / max;
            let y = i * 28 + 5;
            let colour = match r["server"].as_str() {
                Some("summer") => "#e07b00",
                Some("native") => "#777",
                _ => "#3b6fb6",
            };
            let _ = write!(
                svg,
                "<text x=\"0\" y=\"{}\">{} ({})</text><rect x=\"190\" y=\"{y}\" width=\"{width:.1}\" height=\"20\" fill=\"{colour}\"/>\
                 <text x=\"{:.1}\" y=\"{}\">{value:.0} {unit}</text>",
                y + 15,
                r["server"].as_str().unwrap_or_default(),
                r["mode"].as_str().unwrap_or_default(),
                195.0 + width,
                y + 15
            );
        }
        svg.push_str("</svg>");
        svg
    };
    format!(
        "<!doctype html><meta charset=\"utf-8\"><title>Summer hello benchmark</title>\
         <h1>Summer hello benchmark</h1><p>{}</p>{}{}<pre>{}</pre>",
        report["setup"],
        chart("Requests per second (higher is better)", "rps", "req/s"),
        chart("p99 latency (lower is better)", "p99_us", "µs"),
        serde_json::to_string_pretty(&report["ratios"]).unwrap_or_default()
    )
}

fn main() -> Result<()> {
    let options = Options::parse()?;
    std::fs::create_dir_all(&options.out)?;
    let work = tempfile::tempdir()?;
    let script = work.path().join("report.lua");
    std::fs::write(&script, WRK_REPORT)?;

    let ports = [free_port()?, free_port()?, free_port()?, free_port()?];
    let mut servers = [
        start_summer(&options, work.path(), ports[0])?,
        start_wasmtime(&options, work.path(), ports[1], 1)?,
        start_wasmtime(&options, work.path(), ports[2], REUSE)?,
        spawn(
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
    let targets: Vec<Target> = plan
        .iter()
        .map(|&(server, mode, index, path)| Target {
            server,
            mode,
            url: format!("http://127.0.0.1:{}{path}", ports[index]),
        })
        .collect();
    let server_of: Vec<usize> = plan.iter().map(|p| p.2).collect();
    let mut bodies = Vec::new();
    for (target, &server) in targets.iter().zip(&server_of) {
        bodies.push(wait_for(&target.url, &mut servers[server])?);
    }
    if bodies.iter().any(|b| b != &bodies[0]) {
        bail!("the servers answer differently: {bodies:?}");
    }

    let results = measure(&options, &targets, &script)?;
    let ratios = ratios(&results);
    let report = json!({
        "benchmark": "hello",
        "setup": format!(
            "wrk -t1 -c{} -d{}s per run, {} interleaved rounds, medians; {} cores; instance reuse {REUSE}",
            options.connections,
            options.seconds,
            options.rounds,
            std::thread::available_parallelism().map_or(0, |n| n.get())
        ),
        "results": results,
        "ratios": ratios,
    });
    std::fs::write(
        options.out.join("hello.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    std::fs::write(options.out.join("hello.html"), html(&report, &results))?;
    println!("{}", table(&results, &report["ratios"]));
    println!(
        "report: {} and {}",
        options.out.join("hello.json").display(),
        options.out.join("hello.html").display()
    );
    Ok(())
}
