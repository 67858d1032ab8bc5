//! Host bindings of the `seeder` world: the `progress` import and the
//! `seed` export; the capability imports are the host's own bindings.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "summer:platform/seeder",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "summer:platform/types": crate::capabilities::bindings::summer::platform::types,
        "summer:platform/sql": crate::capabilities::bindings::summer::platform::sql,
        "summer:platform/cache": crate::capabilities::bindings::summer::platform::cache,
        "summer:platform/blob": crate::capabilities::bindings::summer::platform::blob,
        "summer:platform/wide": crate::capabilities::bindings::summer::platform::wide,
        "summer:platform/graph": crate::capabilities::bindings::summer::platform::graph,
        "summer:platform/trace": crate::capabilities::bindings::summer::platform::trace,
    },
});
