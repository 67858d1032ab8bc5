//! What the benchmarks share: servers under test, wrk runs with a JSON
//! summary, interleaved rounds with medians, and SVG bar charts.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// Load before each measured run, so every server starts it warm.
pub const WARM_UP_SECONDS: u32 = 1;

/// The variables that switch a capability to its real server.
pub const REAL_BACKEND_VARIABLES: [&str; 5] = [
    "DATABASE_HOST",
    "REDIS_HOST",
    "STORAGE_ENDPOINT",
    "CASSANDRA_HOST",
    "NEO4J_HOST",
];

/// The share of the machine's CPU time other work may take while the
/// servers under test idle: a build beside a benchmark halves its figures.
pub const BUSY_SHARE: f64 = 0.2;
/// Clock ticks per second of the CPU times in /proc (USER_HZ).
const TICKS_PER_SECOND: f64 = 100.0;

/// Every process's parent and CPU time so far (user and system, in ticks).
fn processes() -> Vec<(u32, u32, u64)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // After the command's closing parenthesis: state, ppid, ... utime (12th), stime.
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            let ppid = fields.get(1)?.parse().ok()?;
            let cpu = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
            Some((pid, ppid, cpu))
        })
        .collect()
}

/// The processes of the system under test: this program's and the
/// services' (pid files under `services`, as `tooling/services` writes
/// them), with all their descendants.
fn under_test(services: Option<&Path>) -> HashSet<u32> {
    let mut roots: HashSet<u32> = HashSet::from([std::process::id()]);
    let pid_files = services
        .and_then(|dir| std::fs::read_dir(dir).ok())
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|service| {
            let dir = service.path();
            [
                dir.join(format!("{}.pid", service.file_name().to_string_lossy())),
                dir.join("weed.pid"),
                dir.join("data/postmaster.pid"),
            ]
        });
    for file in pid_files {
        if let Some(pid) = std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| t.lines().next()?.trim().parse().ok())
        {
            roots.insert(pid);
        }
    }
    let parents: HashMap<u32, u32> = processes()
        .into_iter()
        .map(|(pid, ppid, _)| (pid, ppid))
        .collect();
    parents
        .keys()
        .copied()
        .filter(|pid| {
            let mut at = *pid;
            for _ in 0..64 {
                if roots.contains(&at) {
                    return true;
                }
                match parents.get(&at) {
                    Some(&parent) if parent != 0 => at = parent,
                    _ => return false,
                }
            }
            false
        })
        .collect()
}

/// The share of the machine's CPU time that processes outside the system
/// under test used over `window`, while the servers under test idle.
pub fn busy_share(window: Duration, services: Option<&Path>) -> Result<f64> {
    let before: HashMap<u32, u64> = processes()
        .into_iter()
        .map(|(pid, _, cpu)| (pid, cpu))
        .collect();
    std::thread::sleep(window);
    let ours = under_test(services);
    let used: u64 = processes()
        .into_iter()
        .filter(|(pid, _, _)| !ours.contains(pid))
        .map(|(pid, _, cpu)| cpu.saturating_sub(before.get(&pid).copied().unwrap_or(0)))
        .sum();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    Ok(used as f64 / (window.as_secs_f64() * TICKS_PER_SECOND * cores))
}

/// What the machine was doing around the measured runs: the load average
/// at the start, and the CPU share work outside the system under test (this
/// program, its servers, the databases) took at the start and in a pause
/// between rounds.
#[derive(Default)]
pub struct Quiet {
    load_average: f64,
    shares: Vec<f64>,
    services: Option<PathBuf>,
}

impl Quiet {
    /// Refuses to start on a busy machine unless `allow_busy`; `services`
    /// is the folder of `tooling/services`, whose processes are under test.
    pub fn require(allow_busy: bool, services: Option<PathBuf>) -> Result<Self> {
        let load_average = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|t| t.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        let share = busy_share(Duration::from_secs(2), services.as_deref())?;
        if share > BUSY_SHARE && !allow_busy {
            bail!(
                "the machine is busy ({:.0}% of its CPU time, load average {load_average:.2}): figures measured beside other work are not Summer's; wait for it to finish, or pass --allow-busy to run anyway (the report then says so)",
                share * 100.0
            );
        }
        Ok(Self {
            load_average,
            shares: vec![share],
            services,
        })
    }

    /// Samples the machine in a pause between rounds; warns when it is busy.
    pub fn check(&mut self, round: usize) -> Result<()> {
        let share = busy_share(Duration::from_secs(1), self.services.as_deref())?;
        if share > BUSY_SHARE {
            eprintln!(
                "warning: before round {round}, other work took {:.0}% of the CPU: this run's figures are suspect",
                share * 100.0
            );
        }
        self.shares.push(share);
        Ok(())
    }

    /// For the report: the samples, and whether any was busy.
    pub fn report(&self) -> Value {
        json!({
            "load_average_at_start": self.load_average,
            "busy_cpu_shares": self.shares,
            "busy": self.shares.iter().any(|s| *s > BUSY_SHARE),
        })
    }
}

/// Which backends a server under test gets.
#[derive(Clone, Copy, PartialEq)]
pub enum Backends {
    Embedded,
    Real,
}

impl Backends {
    pub fn name(self) -> &'static str {
        match self {
            Backends::Embedded => "embedded",
            Backends::Real => "real",
        }
    }

    pub fn parse(list: &str) -> Result<Vec<Self>> {
        list.split(',')
            .map(|name| match name.trim() {
                "embedded" => Ok(Backends::Embedded),
                "real" => Ok(Backends::Real),
                other => bail!("--backends takes embedded and/or real, not {other:?}"),
            })
            .collect()
    }

    /// The embedded backends: none of the real servers' settings. The real
    /// ones: all of them, from the environment.
    pub fn configure(self, command: &mut Command) -> Result<()> {
        for variable in REAL_BACKEND_VARIABLES {
            match self {
                Backends::Embedded => {
                    command.env_remove(variable);
                }
                Backends::Real if std::env::var_os(variable).is_none() => {
                    bail!("the real backends need {variable} (source tooling/services.env)")
                }
                Backends::Real => {}
            }
        }
        Ok(())
    }
}

/// wrk's summary of a run, one JSON line; appended to every load script.
pub const WRK_REPORT: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"errors":%d,"non_2xx":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout,
    e.status, latency:percentile(50), latency:percentile(99)))
end
"#;

/// How hard and how long wrk loads each target.
#[derive(Clone, Copy)]
pub struct Load {
    pub seconds: u32,
    pub connections: u32,
    pub rounds: usize,
}

impl Load {
    pub fn describe(&self) -> String {
        format!(
            "wrk -t1 -c{} -d{}s per run after a {WARM_UP_SECONDS} s warm-up, {} interleaved rounds, medians; {} cores",
            self.connections,
            self.seconds,
            self.rounds,
            std::thread::available_parallelism().map_or(0, |n| n.get())
        )
    }
}

/// A server under test, killed when dropped.
pub struct Running {
    pub name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Starts `command` as a server, its stderr into `log`. Every server runs
/// as in production: no backtraces captured on errors.
pub fn spawn(name: &'static str, command: &mut Command, log: &Path) -> Result<Running> {
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

/// The body of `GET url` once the server answers 200, or an error after 60 s.
pub fn wait_for(url: &str, server: &mut Running) -> Result<Vec<u8>> {
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
pub fn get(url: &str) -> Result<Vec<u8>> {
    send("GET", url, b"")
}

/// A plain HTTP/1.1 request; the body of a 2xx.
pub fn send(method: &str, url: &str, body: &[u8]) -> Result<Vec<u8>> {
    let rest = url.strip_prefix("http://").context("an http:// url")?;
    let (authority, path) = rest.split_once('/').context("a path")?;
    let mut stream = TcpStream::connect(authority)?;
    write!(
        stream,
        "{method} /{path} HTTP/1.1\r\nhost: {authority}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("a response")?;
    let head = String::from_utf8_lossy(&response[..split]);
    if !head.starts_with("HTTP/1.1 2") {
        bail!("{url}: {}", head.lines().next().unwrap_or_default());
    }
    Ok(response[split + 4..].to_vec())
}

/// One wrk run of `script` against `url`: its summary line as JSON, with
/// the rate (`rps`) added.
pub fn wrk(load: &Load, script: &Path, url: &str, seconds: u32) -> Result<Value> {
    let output = Command::new("wrk")
        .args(["-t1", &format!("-c{}", load.connections)])
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

/// Prints one run as it finishes.
pub fn log_run(round: usize, server: &str, what: &str, run: &Value) {
    eprintln!(
        "round {round} {server:<15} {what:<28} {:>9.0} req/s  p50 {:>6} µs  p99 {:>6} µs",
        run["rps"].as_f64().unwrap_or(0.0),
        run["p50_us"],
        run["p99_us"]
    );
}

pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The medians of a target's runs, its failures summed, and the runs.
pub fn summarize(mut fields: serde_json::Map<String, Value>, runs: Vec<Value>) -> Value {
    let field = |name: &str| median(runs.iter().filter_map(|r| r[name].as_f64()).collect());
    let failed: f64 = runs
        .iter()
        .map(|r| r["errors"].as_f64().unwrap_or(0.0) + r["non_2xx"].as_f64().unwrap_or(0.0))
        .sum();
    fields.insert("rps".into(), json!(field("rps")));
    fields.insert("p50_us".into(), json!(field("p50_us")));
    fields.insert("p99_us".into(), json!(field("p99_us")));
    fields.insert("failed".into(), json!(failed as u64));
    fields.insert("runs".into(), json!(runs));
    Value::Object(fields)
}

/// One load target: a server, its mode, and the url it is loaded at.
pub struct Target {
    pub server: &'static str,
    pub mode: &'static str,
    pub url: String,
}

/// Runs every target once per round, in a rotated order each round.
pub fn measure(
    load: &Load,
    targets: &[Target],
    script: &Path,
    quiet: &mut Quiet,
) -> Result<Vec<Value>> {
    let mut runs: Vec<Vec<Value>> = targets.iter().map(|_| Vec::new()).collect();
    for round in 0..load.rounds {
        quiet.check(round + 1)?;
        for i in 0..targets.len() {
            let index = (i + round) % targets.len();
            let target = &targets[index];
            wrk(load, script, &target.url, WARM_UP_SECONDS)?;
            let run = wrk(load, script, &target.url, load.seconds)?;
            log_run(round + 1, target.server, target.mode, &run);
            runs[index].push(run);
        }
    }
    Ok(targets
        .iter()
        .zip(runs)
        .map(|(target, runs)| {
            let mut fields = serde_json::Map::new();
            fields.insert("server".into(), json!(target.server));
            fields.insert("mode".into(), json!(target.mode));
            summarize(fields, runs)
        })
        .collect())
}

/// A Markdown table of `results` (from [`measure`]): their server and mode
/// under the `names` given, requests/s, p50, p99 and failures.
pub fn runs_table(names: (&str, &str), results: &[Value]) -> String {
    let mut text = format!(
        "| {} | {} | requests/s | p50 µs | p99 µs | failed |\n|---|---|---|---|---|---|\n",
        names.0, names.1
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
    text
}

/// One bar of a chart.
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub colour: &'static str,
}

/// The colour of a server's bars.
pub fn colour(server: &str) -> &'static str {
    match server {
        "summer" => "#e07b00",
        "native" => "#777",
        "nest" | "nest cluster" => "#c0392b",
        _ => "#3b6fb6",
    }
}

/// A horizontal bar chart as inline SVG, under an `<h2>` title.
pub fn chart(title: &str, bars: &[Bar], unit: &str) -> String {
    let max = bars.iter().map(|b| b.value).fold(1.0, f64::max);
    let mut svg = format!(
        "<h2>{title}</h2><svg width=\"860\" height=\"{}\" font-family=\"sans-serif\" font-size=\"13\">",
        bars.len() * 28 + 10
    );
    for (i, bar) in bars.iter().enumerate() {
        let width = 420.0 * bar.value / max;
        let y = i * 28 + 5;
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\">{}</text><rect x=\"330\" y=\"{y}\" width=\"{width:.1}\" height=\"20\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{}\">{:.0} {unit}</text>",
            y + 15,
            bar.label,
            bar.colour,
            335.0 + width,
            y + 15,
            bar.value
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Writes `report` as NAME.json and a page of `charts` as NAME.html to `out`.
pub fn write_report(out: &Path, name: &str, report: &Value, charts: &str) -> Result<()> {
    std::fs::create_dir_all(out)?;
    let json_path = out.join(format!("{name}.json"));
    let html_path = out.join(format!("{name}.html"));
    std::fs::write(&json_path, serde_json::to_string_pretty(report)?)?;
    let page = format!(
        "<!doctype html><meta charset=\"utf-8\"><title>Summer {name} benchmark</title>\
         <h1>Summer {name} benchmark</h1><p>{}</p>{charts}<pre>{}</pre>",
        report["setup"].as_str().unwrap_or_default(),
        serde_json::to_string_pretty(&report["ratios"]).unwrap_or_default()
    );
    std::fs::write(&html_path, page)?;
    println!(
        "report: {} and {}",
        json_path.display(),
        html_path.display()
    );
    Ok(())
}
