//! The `summer:platform/progress` host functions: stages and counts go to a
//! [`Reporter`]; an interruption (Ctrl-C) is answered at the next report.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;
use wasmtime::component::{HasData, Linker};

use super::bindings::summer::platform::progress as wit;
use super::state::SeedState;

/// Shows a seed run's progress: a bar per stage on a terminal, lines otherwise.
pub trait Reporter: Send + Sync {
    fn begin(&self, stage: &str, total: u64);
    fn advance(&self, count: u64);
    /// The current stage is over.
    fn finish(&self);
}

/// A seed run's progress: where reports go, and whether to stop.
pub struct Progress {
    reporter: Arc<dyn Reporter>,
    interrupted: Arc<AtomicBool>,
    /// The stages begun so far, in order.
    stages: std::sync::Mutex<Vec<Stage>>,
}

/// When a stage began and ended, for its rate.
#[derive(Clone, Debug)]
pub struct Stage {
    pub(crate) name: String,
    pub(crate) started: std::time::Instant,
    pub(crate) ended: Option<std::time::Instant>,
}

impl Progress {
    pub fn new(reporter: Arc<dyn Reporter>, interrupted: Arc<AtomicBool>) -> Self {
        Self {
            reporter,
            interrupted,
            stages: Default::default(),
        }
    }

    fn begin(&self, stage: &str, total: u64) {
        self.end_stage();
        self.stages.lock().unwrap().push(Stage {
            name: stage.to_owned(),
            started: std::time::Instant::now(),
            ended: None,
        });
        self.reporter.begin(stage, total);
    }

    fn advance(&self, count: u64) -> bool {
        self.reporter.advance(count);
        !self.interrupted.load(Ordering::SeqCst)
    }

    /// Ends the stage in progress, if any.
    pub(crate) fn end_stage(&self) {
        let mut stages = self.stages.lock().unwrap();
        if let Some(stage) = stages.last_mut().filter(|s| s.ended.is_none()) {
            stage.ended = Some(std::time::Instant::now());
            self.reporter.finish();
        }
    }

    /// Every stage begun, with its times.
    pub(crate) fn stages(&self) -> Vec<Stage> {
        self.stages.lock().unwrap().clone()
    }
}

struct ProgressData;

impl HasData for ProgressData {
    type Data<'a> = &'a Progress;
}

/// Links `summer:platform/progress` into `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<SeedState>) -> Result<()> {
    wit::add_to_linker::<SeedState, ProgressData>(linker, |state| &*state.progress)?;
    Ok(())
}

impl wit::Host for &Progress {
    async fn begin(&mut self, stage: String, total: u64) -> wasmtime::Result<()> {
        Progress::begin(self, &stage, total);
        Ok(())
    }

    async fn advance(&mut self, count: u64) -> wasmtime::Result<bool> {
        Ok(Progress::advance(self, count))
    }
}
