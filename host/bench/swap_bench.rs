//! Hot-swap figures against a running `summer serve` whose manifest serves
//! the `faults` component from SOURCE: how long from a deploy call, or from
//! the file being written, to the first response from the new version; and
//! how much the host's memory grows over N swaps to new versions. A plain
//! request's latency and the host's memory before the swaps, measured in
//! the same run, are the baselines. `tooling/bench-swap` runs it.
//!
//!   cargo run --release -p summer --example swap_bench -- BASE_URL TOKEN PID SOURCE [N]

#[path = "../tests/support/wasm.rs"]
mod wasm;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use wasm::{variant, version_of};

struct Bench {
    base: String,
    token: String,
    pid: u32,
    source: PathBuf,
    agent: ureq::Agent,
}

impl Bench {
    /// The short version that served a `GET /faults/ok`.
    fn served_by(&self) -> String {
        let mut response = self
            .agent
            .get(format!("{}/faults/ok", self.base))
            .call()
            .expect("GET /faults/ok");
        assert_eq!(response.status(), 200);
        let _ = response.body_mut().read_to_vec();
        let header = response.headers()["x-summer-component"].to_str().unwrap();
        header.split('@').nth(1).unwrap().to_owned()
    }

    fn deploy(&self, wasm: &[u8]) {
        let response = self
            .agent
            .put(format!("{}/_admin/components/faults", self.base))
            .header("authorization", format!("Bearer {}", self.token))
            .send(wasm)
            .expect("PUT /_admin/components/faults");
        assert_eq!(response.status(), 200, "deploy refused");
    }

    /// From the deploy call to the first response by `wasm`.
    fn api_swap(&self, wasm: &[u8]) -> Duration {
        let started = Instant::now();
        self.deploy(wasm);
        self.until_served_by(wasm, started)
    }

    /// From the file being written to the first response by `wasm`.
    fn file_swap(&self, wasm: &[u8]) -> Duration {
        let temporary = self.source.with_extension("partial");
        std::fs::write(&temporary, wasm).unwrap();
        let started = Instant::now();
        std::fs::rename(&temporary, &self.source).unwrap();
        self.until_served_by(wasm, started)
    }

    fn until_served_by(&self, wasm: &[u8], started: Instant) -> Duration {
        let version = version_of(wasm)[..12].to_owned();
        while self.served_by() != version {
            assert!(started.elapsed() < Duration::from_secs(60), "never swapped");
            std::thread::sleep(Duration::from_millis(1));
        }
        started.elapsed()
    }

    /// The host's resident memory, in MiB.
    fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap();
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap();
        kib / 1024.0
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Median and p99, in ms.
fn summary(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |q: f64| millis(samples[((samples.len() - 1) as f64 * q).round() as usize]);
    (at(0.5), at(0.99))
}

fn row(what: &str, samples: Vec<Duration>, baseline: f64) {
    let n = samples.len();
    let (median, p99) = summary(samples);
    println!(
        "{what:<46} {n:>5} {median:>9.2} {p99:>9.2} {:>10.1}",
        median / baseline
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, base, token, pid, source, rest @ ..] = args.as_slice() else {
        eprintln!("usage: swap_bench BASE_URL TOKEN PID SOURCE [N]");
        std::process::exit(2);
    };
    let swaps: usize = rest.first().map_or(1000, |n| n.parse().expect("N"));
    let bench = Bench {
        base: base.trim_end_matches('/').to_owned(),
        token: token.clone(),
        pid: pid.parse().expect("PID"),
        source: PathBuf::from(source),
        agent: ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .new_agent(),
    };
    let original = std::fs::read(Path::new(source)).expect("reading SOURCE");

    let requests: Vec<Duration> = (0..500)
        .map(|_| {
            let started = Instant::now();
            bench.served_by();
            started.elapsed()
        })
        .collect();
    let (request_median, _) = summary(requests.clone());
    let rss_before = bench.rss_mib();

    let pair = [variant(&original, "a"), variant(&original, "b")];
    bench.deploy(&pair[0]);
    bench.deploy(&pair[1]);
    let known: Vec<Duration> = (0..100).map(|i| bench.api_swap(&pair[i % 2])).collect();
    let fresh: Vec<Duration> = (0..swaps)
        .map(|i| bench.api_swap(&variant(&original, &format!("swap-{i}"))))
        .collect();
    let files: Vec<Duration> = (0..20)
        .map(|i| bench.file_swap(&variant(&original, &format!("file-{i}"))))
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let rss_after = bench.rss_mib();

    println!(
        "{:<46} {:>5} {:>9} {:>9} {:>10}",
        "", "n", "median ms", "p99 ms", "× request"
    );
    row("GET /faults/ok (baseline)", requests, request_median);
    row(
        "API deploy → first new response (cached)",
        known,
        request_median,
    );
    row(
        "API deploy → first new response (new version)",
        fresh,
        request_median,
    );
    row("file written → first new response", files, request_median);
    let total = swaps + 100 + 22;
    println!(
        "host memory (RSS): {rss_before:.1} MiB before, {rss_after:.1} MiB after {total} swaps \
         ({swaps} of them to new versions): +{:.1} MiB ({:.2}×)",
        rss_after - rss_before,
        rss_after / rss_before
    );
}
