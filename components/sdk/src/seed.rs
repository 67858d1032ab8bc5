//! Seed components: the `run` entry point `summer seed` calls, exported with
//! [`seed_component!`](crate::seed_component), and the progress reports
//! that also tell the component when to stop.

use crate::bindings::summer::platform::progress;

pub use crate::bindings::exports::summer::platform::seed::{Outcome, Plan, Written};

/// Starts a stage of `total` items.
pub fn begin(stage: &str, total: u64) {
    progress::begin(stage, total);
}

/// Reports `count` more items written; `Err` when the run was interrupted,
/// so that `?` stops the component after the batch it just wrote.
pub fn advance(count: u64) -> Result<(), String> {
    if progress::advance(count) {
        Ok(())
    } else {
        Err("interrupted".to_owned())
    }
}

/// Exports `$run: fn(Plan) -> Outcome` as the component's
/// `summer:platform/seed` run.
#[macro_export]
macro_rules! seed_component {
    ($run:path) => {
        struct __SummerSeed;

        impl $crate::bindings::exports::summer::platform::seed::Guest for __SummerSeed {
            fn run(plan: $crate::seed::Plan) -> $crate::seed::Outcome {
                $run(plan)
            }
        }

        #[cfg(target_arch = "wasm32")]
        $crate::bindings::export!(__SummerSeed with_types_in $crate::bindings);
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn($crate::seed::Plan) -> $crate::seed::Outcome = $run;
    };
}
