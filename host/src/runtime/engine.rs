//! The wasmtime engine: component model, pooling allocator, epoch
//! interruption, and the one ticker thread that advances the epoch.

use std::time::Duration;

use anyhow::Result;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances; execution deadlines are counted in ticks.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Engine-wide bounds, sized for the pooling allocator's slots.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EngineLimits {
    /// Component instances alive at once (one per in-flight request).
    pub(crate) max_instances: u32,
    /// Upper bound on any one linear memory.
    pub(crate) max_memory_bytes: usize,
}

impl EngineLimits {
    /// Room for 1,000 instances at once, each memory at most `max_memory_bytes`
    /// (the largest limit a component may be given).
    pub(crate) fn with_memory_cap(max_memory_bytes: usize) -> Self {
        Self {
            max_instances: 1000,
            max_memory_bytes,
        }
    }
}

/// Core instances, memories and tables a Rust component built with the WASI
/// adapter uses per component instance, with room to spare.
const CORE_INSTANCES_PER_COMPONENT: u32 = 8;
const MEMORIES_PER_COMPONENT: u32 = 2;
const TABLES_PER_COMPONENT: u32 = 4;

/// Bytes of each linear memory and table kept mapped between instances.
const KEEP_RESIDENT_BYTES: usize = 1 << 20;

/// Builds the engine every component is compiled for and instantiated in.
pub(crate) fn build_engine(limits: EngineLimits) -> Result<Engine> {
    let mut pool = PoolingAllocationConfig::new();
    let n = limits.max_instances;
    crate::observe::metrics::metrics().set_instance_slots(n);
    pool.total_component_instances(n)
        .total_core_instances(n * CORE_INSTANCES_PER_COMPONENT)
        .total_memories(n * MEMORIES_PER_COMPONENT)
        .total_tables(n * TABLES_PER_COMPONENT)
        .total_stacks(n)
        .max_memory_size(limits.max_memory_bytes)
        // A reused slot is reset with memset (only the pages the last
        // instance touched, where the kernel can tell) instead of madvise,
        // whose page faults and TLB shootdowns dominate instantiation.
        .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
        .table_keep_resident(KEEP_RESIDENT_BYTES)
        .pagemap_scan(Enabled::Auto);
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        // Components are served through wasi:http 0.2's synchronous calls;
        // the concurrent (0.3) machinery would put every host call and
        // guest entry through its task bookkeeping.
        .concurrency_support(false)
        .epoch_interruption(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).map_err(Into::into)
}

/// Advances the engine's epoch every `EPOCH_TICK` for as long as the engine
/// exists. The thread holds only a weak reference: every store, component
/// and loader keeps the engine, so the epoch keeps advancing until the last
/// instance that could need interrupting is gone, even during shutdown.
pub(crate) fn start_epoch_ticker(engine: &Engine) {
    let engine = engine.weak();
    std::thread::Builder::new()
        .name("summer-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                match engine.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })
        .expect("spawning the epoch thread");
}

/// Converts a wall-clock budget into epoch ticks. The next tick may come at
/// any moment, so one tick is added: the deadline is never shorter than the
/// budget, and at most one tick longer.
pub(crate) fn ticks_for(budget: Duration) -> u64 {
    budget.as_millis().div_ceil(EPOCH_TICK.as_millis()) as u64 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_calls_take_the_synchronous_path() {
        let engine = build_engine(EngineLimits {
            max_instances: 2,
            max_memory_bytes: 1 << 20,
        })
        .unwrap();
        assert!(!engine.get_concurrency_support());
    }

    #[test]
    fn deadlines_are_never_shorter_than_the_budget() {
        assert_eq!(ticks_for(Duration::from_millis(500)), 51);
        assert_eq!(ticks_for(Duration::from_millis(505)), 52);
        assert_eq!(ticks_for(Duration::from_millis(1)), 2);
        for ms in [1, 9, 10, 11, 499, 500, 30_000] {
            let budget = Duration::from_millis(ms);
            let shortest = EPOCH_TICK * (ticks_for(budget) as u32 - 1);
            assert!(
                shortest >= budget,
                "{ms} ms budget can expire after {shortest:?}"
            );
        }
    }
}
