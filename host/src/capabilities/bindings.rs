//! Host-side bindings generated from Summer's WIT package.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "summer:platform/capabilities",
    imports: { default: async | trappable },
    additional_derives: [PartialEq],
    with: {
        "summer:platform/sql.transaction": crate::capabilities::sql::TransactionHandle,
        "summer:platform/blob.writer": crate::capabilities::blob::WriterHandle,
        "summer:platform/blob.reader": crate::capabilities::blob::ReaderHandle,
    },
});

/// `types` declares only types, so its host side carries no data.
pub(crate) struct TypesOnly;

impl wasmtime::component::HasData for TypesOnly {
    type Data<'a> = ();
}

impl summer::platform::types::Host for () {}
