//! The benchmarks `tooling/bench` runs, each loading servers with wrk over
//! loopback in interleaved rounds and reporting medians and ratios:
//!
//! - `hello`: the same hello component served by `summer serve` and by
//!   `wasmtime serve`, fresh instances and reused ones, with a native hyper
//!   server as the physical limit;
//! - `api`: the Summer-Trip routes served by `summer serve` and by a native
//!   server making the same backend calls (`native_api`), on the embedded
//!   backends and on the real databases;
//! - `keyvalue`: one key read through `wasi:keyvalue` and through
//!   `summer:platform/cache` from the same component, timed in the guest;
//! - `traces`: hello and a cache read on hosts without trace export, with
//!   it, and with the collector down.
//!
//! Each prints a table and writes NAME.json and NAME.html to OUT.
//!
//!   bench hello --summer BIN --wasmtime BIN --native BIN --hello WASM --out DIR [load]
//!   bench api --summer BIN --native BIN --manifest TOML --components DIR --out DIR
//!             [--backends embedded,real] [--miss-ids N] [--nest DIR] [load]
//!   bench keyvalue --summer BIN --lookup WASM --out DIR [--backends embedded,real]
//!             [--rounds R] [--samples S] [--reads N] [--allow-busy]
//!   bench traces --summer BIN --components DIR --probe-tables TOML --otlp URL --out DIR [load]
//!   load: [--seconds S] [--connections C] [--rounds R] [--allow-busy]
//!
//! Every benchmark refuses to start while other work takes more than a
//! fifth of the CPU (`--allow-busy` runs anyway), samples the machine again
//! between rounds, and records what it saw under `machine` in its report.
//! Work of the system under test does not count: this program and its
//! servers, and with `--services DIR` the processes whose pid files
//! `tooling/services` keeps there (the databases).

mod api;
mod hello;
mod keyvalue;
mod load;
mod traces;

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

/// The command line, read flag by flag.
pub struct Flags(Vec<String>);

impl Flags {
    pub fn value(&self, flag: &str) -> Option<String> {
        self.0
            .iter()
            .position(|a| a == flag)
            .and_then(|i| self.0.get(i + 1).cloned())
    }

    pub fn path(&self, flag: &str) -> Result<PathBuf> {
        let path = self
            .value(flag)
            .with_context(|| format!("{flag} is required"))?;
        std::path::absolute(&path).with_context(|| format!("{flag} {path}"))
    }

    pub fn number(&self, flag: &str, default: u32) -> Result<u32> {
        self.value(flag).map_or(Ok(default), |v| {
            v.parse().with_context(|| format!("{flag} takes a number"))
        })
    }

    pub fn has(&self, flag: &str) -> bool {
        self.0.iter().any(|a| a == flag)
    }

    pub fn text(&self, flag: &str, default: &str) -> String {
        self.value(flag).unwrap_or_else(|| default.to_owned())
    }

    pub fn load(&self, seconds: u32) -> Result<load::Load> {
        Ok(load::Load {
            seconds: self.number("--seconds", seconds)?,
            connections: self.number("--connections", 32)?,
            rounds: self.number("--rounds", 3)? as usize,
        })
    }
}

fn main() -> Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        bail!("usage: bench hello|api|keyvalue|traces [flags]");
    }
    let benchmark = args.remove(0);
    let flags = Flags(args);
    match benchmark.as_str() {
        "hello" => hello::run(&flags),
        "api" => api::run(&flags),
        "keyvalue" => keyvalue::run(&flags),
        "traces" => traces::run(&flags),
        other => bail!("no benchmark named {other:?}: hello, api, keyvalue or traces"),
    }
}
