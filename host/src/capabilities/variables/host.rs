//! `wasi:config/store`, once per served version: a component reads the
//! variables its manifest entry declares, and nothing else.

use anyhow::Result;
use wasmtime::component::{HasData, Linker};

use super::Resolved;
use crate::capabilities::CapabilityState;

mod rc1 {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "wasi:config/imports@0.2.0-rc.1",
        imports: { default: async | trappable },
    });
}

mod draft {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "wasi:config/imports@0.2.0-draft-2024-09-27",
        imports: { default: async | trappable },
    });
}

/// What the `wasi:config` host functions need from the store.
pub(crate) struct VariablesView<'a> {
    pub(crate) variables: &'a Resolved,
}

struct VariablesData;

impl HasData for VariablesData {
    type Data<'a> = VariablesView<'a>;
}

/// Links every served version of `wasi:config/store` into `linker`.
pub(crate) fn add_to_linker<T: CapabilityState>(linker: &mut Linker<T>) -> Result<()> {
    rc1::Imports::add_to_linker::<T, VariablesData>(linker, |state| state.variables())?;
    draft::Imports::add_to_linker::<T, VariablesData>(linker, |state| state.variables())?;
    Ok(())
}

/// The store interface, written once against each version's bindings.
macro_rules! store_host {
    ($host:ident, $store:path) => {
        mod $host {
            use super::VariablesView;
            use $store as store;

            type GuestResult<T> = wasmtime::Result<Result<T, store::Error>>;

            impl store::Host for VariablesView<'_> {
                async fn get(&mut self, key: String) -> GuestResult<Option<String>> {
                    Ok(Ok(self.variables.value(&key).map(str::to_owned)))
                }

                async fn get_all(&mut self) -> GuestResult<Vec<(String, String)>> {
                    let all = self.variables.values();
                    Ok(Ok(all.map(|(k, v)| (k.to_owned(), v.to_owned())).collect()))
                }
            }
        }
    };
}

store_host!(rc1_host, super::rc1::wasi::config0_2_0_rc_1::store);
store_host!(
    draft_host,
    super::draft::wasi::config0_2_0_draft_2024_09_27::store
);
