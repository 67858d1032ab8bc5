//! How `summer seed` shows a run: a progress bar per stage on a terminal,
//! a plain line per tenth of a stage otherwise, then a summary table.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::{Report, Reporter};

/// Progress bars, for a terminal.
#[derive(Default)]
pub struct Bars {
    bar: Mutex<Option<ProgressBar>>,
}

impl Reporter for Bars {
    fn begin(&self, stage: &str, total: u64) {
        let bar = ProgressBar::new(total).with_message(stage.to_owned());
        let style = ProgressStyle::with_template(
            "{msg:>14} [{bar:40}] {pos:>9}/{len:9} {per_sec:>12} eta {eta}",
        )
        .expect("a valid progress template")
        .progress_chars("=> ");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(200));
        *self.bar.lock().unwrap() = Some(bar);
    }

    fn advance(&self, count: u64) {
        if let Some(bar) = &*self.bar.lock().unwrap() {
            bar.inc(count);
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.lock().unwrap().take() {
            bar.finish();
        }
    }
}

/// Plain lines, for logs and pipes: one per tenth of each stage.
#[derive(Default)]
pub struct Lines {
    state: Mutex<LineState>,
}

#[derive(Default)]
struct LineState {
    stage: String,
    total: u64,
    done: u64,
    shown_tenths: u64,
}

impl Reporter for Lines {
    fn begin(&self, stage: &str, total: u64) {
        *self.state.lock().unwrap() = LineState {
            stage: stage.to_owned(),
            total,
            ..LineState::default()
        };
        println!("{stage}: 0/{total}");
    }

    fn advance(&self, count: u64) {
        let mut state = self.state.lock().unwrap();
        state.done += count;
        let tenths = (state.done * 10).checked_div(state.total).unwrap_or(10);
        if tenths > state.shown_tenths && tenths < 10 {
            state.shown_tenths = tenths;
            println!("{}: {}/{}", state.stage, state.done, state.total);
        }
    }

    fn finish(&self) {
        let state = self.state.lock().unwrap();
        println!("{}: {}/{} done", state.stage, state.done, state.total);
    }
}

/// The summary table: each stage's writes per capability, with the rate
/// over the stage's duration, then the totals per capability.
pub fn summary(report: &Report) -> String {
    let backends = &report.backends;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<16} {:<8} {:>10} {:>9} {:>11}",
        "stage", "database", "written", "seconds", "per second"
    );
    let mut totals: Vec<(String, u64)> = Vec::new();
    for written in &report.outcome.written {
        let seconds = stage_seconds(report, &written.stage);
        let rate = written.count as f64 / seconds.max(1e-9);
        let _ = writeln!(
            out,
            "{:<16} {:<8} {:>10} {:>9.2} {:>11.0}",
            written.stage, written.capability, written.count, seconds, rate
        );
        match totals.iter_mut().find(|(c, _)| *c == written.capability) {
            Some((_, total)) => *total += written.count,
            None => totals.push((written.capability.clone(), written.count)),
        }
    }
    let _ = writeln!(out);
    for (capability, total) in totals {
        let backend = backends
            .iter()
            .find(|(c, _)| *c == capability)
            .map_or("", |(_, b)| b.as_str());
        let _ = writeln!(out, "{capability:<8} {total:>10} written to {backend}");
    }
    out
}

fn stage_seconds(report: &Report, stage: &str) -> f64 {
    report
        .stages
        .iter()
        .filter(|s| s.name == stage)
        .filter_map(|s| Some(s.ended?.duration_since(s.started).as_secs_f64()))
        .sum()
}
