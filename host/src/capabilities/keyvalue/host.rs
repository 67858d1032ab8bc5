//! The `wasi:keyvalue` host functions, once per served version: a bucket
//! is a keyspace inside the calling component's namespace, and every call
//! goes to the configured `KeyValueBackend`.

use std::future::Future;
use std::sync::Arc;

use anyhow::Result;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

use super::{Buckets, KeyPage, KeyValueBackend, Keyspace, check_bucket};
use crate::capabilities::{BackendName, CapabilityError, CapabilityState, observed};

/// The most keys one batch call may carry.
const MAX_BATCH: usize = 1000;

/// An open bucket, kept in the store's resource table.
pub struct Bucket(Keyspace);

/// A compare-and-swap in progress: the value the key held when it began.
pub struct Cas {
    space: Keyspace,
    key: String,
    current: Option<Vec<u8>>,
}

mod draft {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "wasi:keyvalue/imports@0.2.0-draft",
        imports: { default: async | trappable },
        with: { "wasi:keyvalue/store.bucket": super::Bucket },
    });
}

mod draft2 {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "wasi:keyvalue/imports@0.2.0-draft2",
        imports: { default: async | trappable },
        with: {
            "wasi:keyvalue/store.bucket": super::Bucket,
            "wasi:keyvalue/atomics.cas": super::Cas,
        },
    });
}

/// What the `wasi:keyvalue` host functions need from the store.
pub(crate) struct KeyValueView<'a> {
    pub(crate) backend: &'a Arc<dyn KeyValueBackend>,
    pub(crate) meter: &'a BackendName,
    /// The namespace every bucket of the component lives in.
    pub(crate) namespace: &'a Arc<str>,
    /// The buckets the manifest lets the component open.
    pub(crate) buckets: &'a Buckets,
    pub(crate) table: &'a mut ResourceTable,
}

struct KeyValueData;

impl HasData for KeyValueData {
    type Data<'a> = KeyValueView<'a>;
}

/// Links every served version of `wasi:keyvalue` into `linker`.
pub(crate) fn add_to_linker<T: CapabilityState>(linker: &mut Linker<T>) -> Result<()> {
    draft::Imports::add_to_linker::<T, KeyValueData>(linker, |state| state.keyvalue())?;
    draft2::Imports::add_to_linker::<T, KeyValueData>(linker, |state| state.keyvalue())?;
    Ok(())
}

/// Why a call failed, before it takes the form of one version's `error`.
enum Failure {
    NoSuchStore,
    AccessDenied,
    Other(String),
}

impl From<CapabilityError> for Failure {
    fn from(error: CapabilityError) -> Self {
        Failure::Other(error.to_string())
    }
}

type Answer<T> = wasmtime::Result<Result<T, Failure>>;

impl<'a> KeyValueView<'a> {
    fn open(&mut self, name: String) -> Answer<Resource<Bucket>> {
        // A name no bucket can have is one the host does not recognise.
        if check_bucket(&name).is_err() {
            return Ok(Err(Failure::NoSuchStore));
        }
        if !self.buckets.allows(&name) {
            return Ok(Err(Failure::AccessDenied));
        }
        let space = Keyspace {
            namespace: self.namespace.clone(),
            bucket: name,
        };
        Ok(Ok(self.table.push(Bucket(space))?))
    }

    fn space(&self, bucket: &Resource<Bucket>) -> wasmtime::Result<Keyspace> {
        Ok(self.table.get(bucket)?.0.clone())
    }

    /// What a backend call needs, apart from the resource table (which a
    /// future held across an await may not borrow).
    fn calls(&self) -> Calls<'a> {
        Calls {
            backend: self.backend,
            meter: self.meter,
        }
    }

    async fn get(&mut self, bucket: &Resource<Bucket>, key: String) -> Answer<Option<Vec<u8>>> {
        let space = self.space(bucket)?;
        let calls = self.calls();
        Ok(calls.run("get", calls.backend.get(&space, &key)).await)
    }

    async fn set(&mut self, bucket: &Resource<Bucket>, key: String, value: Vec<u8>) -> Answer<()> {
        let space = self.space(bucket)?;
        let calls = self.calls();
        Ok(calls
            .run("set", calls.backend.set(&space, &key, value))
            .await)
    }

    async fn delete(&mut self, bucket: &Resource<Bucket>, key: String) -> Answer<()> {
        let space = self.space(bucket)?;
        let calls = self.calls();
        let keys = [key];
        Ok(calls
            .run("delete", calls.backend.delete_many(&space, &keys))
            .await)
    }

    async fn exists(&mut self, bucket: &Resource<Bucket>, key: String) -> Answer<bool> {
        let space = self.space(bucket)?;
        let calls = self.calls();
        Ok(calls
            .run("exists", calls.backend.exists(&space, &key))
            .await)
    }

    async fn list_keys(
        &mut self,
        bucket: &Resource<Bucket>,
        cursor: Option<u64>,
    ) -> Answer<KeyPage> {
        let space = self.space(bucket)?;
        let calls = self.calls();
        Ok(calls
            .run("list-keys", calls.backend.list_keys(&space, cursor))
            .await)
    }

    async fn increment(
        &mut self,
        bucket: &Resource<Bucket>,
        key: String,
        delta: i64,
    ) -> Answer<i64> {
        let space = self.space(bucket)?;
        let calls = self.calls();
        Ok(calls
            .run("increment", calls.backend.increment(&space, &key, delta))
            .await)
    }

    async fn get_many(
        &mut self,
        bucket: &Resource<Bucket>,
        keys: Vec<String>,
    ) -> Answer<Vec<Option<(String, Vec<u8>)>>> {
        let space = self.space(bucket)?;
        let calls = self.calls();
        if let Err(failure) = check_batch(keys.len()) {
            return Ok(Err(failure));
        }
        let values = calls
            .run("get-many", calls.backend.get_many(&space, &keys))
            .await;
        Ok(values.map(|values| {
            keys.into_iter()
                .zip(values)
                .map(|(key, value)| value.map(|value| (key, value)))
                .collect()
        }))
    }

    async fn set_many(
        &mut self,
        bucket: &Resource<Bucket>,
        entries: Vec<(String, Vec<u8>)>,
    ) -> Answer<()> {
        let space = self.space(bucket)?;
        let calls = self.calls();
        if let Err(failure) = check_batch(entries.len()) {
            return Ok(Err(failure));
        }
        Ok(calls
            .run("set-many", calls.backend.set_many(&space, entries))
            .await)
    }

    async fn delete_many(&mut self, bucket: &Resource<Bucket>, keys: Vec<String>) -> Answer<()> {
        let space = self.space(bucket)?;
        let calls = self.calls();
        if let Err(failure) = check_batch(keys.len()) {
            return Ok(Err(failure));
        }
        Ok(calls
            .run("delete-many", calls.backend.delete_many(&space, &keys))
            .await)
    }

    /// Begins a compare-and-swap on `key`: reads the value it holds now.
    async fn begin_swap(&mut self, bucket: &Resource<Bucket>, key: String) -> Answer<Cas> {
        let space = self.space(bucket)?;
        Ok(self.calls().read_for_swap(space, key).await)
    }

    /// Writes `value` if the key still holds what `cas` read; otherwise
    /// hands back a new `cas` holding the key's latest value.
    async fn swap(&mut self, cas: Cas, value: Vec<u8>) -> wasmtime::Result<Swap> {
        let calls = self.calls();
        let swapped = calls
            .run(
                "cas.swap",
                calls
                    .backend
                    .compare_and_swap(&cas.space, &cas.key, cas.current.as_deref(), value),
            )
            .await;
        match swapped {
            Ok(true) => Ok(Swap::Done),
            Ok(false) => Ok(match calls.read_for_swap(cas.space, cas.key).await {
                Ok(latest) => Swap::Stale(latest),
                Err(failure) => Swap::Failed(failure),
            }),
            Err(failure) => Ok(Swap::Failed(failure)),
        }
    }
}

/// The backend and the meter of a view, lent to one call.
#[derive(Clone, Copy)]
struct Calls<'a> {
    backend: &'a Arc<dyn KeyValueBackend>,
    meter: &'a BackendName,
}

impl Calls<'_> {
    /// Runs one backend call, observed like every capability call.
    async fn run<T>(
        self,
        operation: &'static str,
        call: impl Future<Output = Result<T, CapabilityError>>,
    ) -> Result<T, Failure> {
        observed(self.meter, operation, call)
            .await
            .map_err(Failure::from)
    }
    /// A compare-and-swap handle on `key`, holding the value it has now.
    async fn read_for_swap(self, space: Keyspace, key: String) -> Result<Cas, Failure> {
        let current = self.run("cas.new", self.backend.get(&space, &key)).await?;
        Ok(Cas {
            space,
            key,
            current,
        })
    }
}

/// How a compare-and-swap ended.
enum Swap {
    Done,
    /// Someone wrote first: a fresh handle to retry with.
    Stale(Cas),
    Failed(Failure),
}

fn check_batch(len: usize) -> Result<(), Failure> {
    if len > MAX_BATCH {
        return Err(Failure::Other(format!(
            "a batch holds at most {MAX_BATCH} keys, not {len}"
        )));
    }
    Ok(())
}

/// The parts both versions share, written once against each version's
/// generated module: `open`, the bucket's methods but `list-keys`, and batch.
macro_rules! common_host {
    ($host:ident, $package:path, $cursor:ty) => {
        mod $host {
            use super::*;
            use $package::{batch, store};

            impl From<Failure> for store::Error {
                fn from(failure: Failure) -> Self {
                    match failure {
                        Failure::NoSuchStore => store::Error::NoSuchStore,
                        Failure::AccessDenied => store::Error::AccessDenied,
                        Failure::Other(message) => store::Error::Other(message),
                    }
                }
            }

            pub(super) type GuestResult<T> = wasmtime::Result<Result<T, store::Error>>;

            pub(super) fn answer<T, U>(
                answer: Answer<T>,
                convert: impl FnOnce(T) -> U,
            ) -> GuestResult<U> {
                Ok(answer?.map(convert).map_err(Into::into))
            }

            impl store::Host for KeyValueView<'_> {
                async fn open(&mut self, identifier: String) -> GuestResult<Resource<Bucket>> {
                    answer(KeyValueView::open(self, identifier), |b| b)
                }
            }

            impl store::HostBucket for KeyValueView<'_> {
                async fn get(
                    &mut self,
                    bucket: Resource<Bucket>,
                    key: String,
                ) -> GuestResult<Option<Vec<u8>>> {
                    answer(KeyValueView::get(self, &bucket, key).await, |v| v)
                }

                async fn set(
                    &mut self,
                    bucket: Resource<Bucket>,
                    key: String,
                    value: Vec<u8>,
                ) -> GuestResult<()> {
                    answer(KeyValueView::set(self, &bucket, key, value).await, |v| v)
                }

                async fn delete(
                    &mut self,
                    bucket: Resource<Bucket>,
                    key: String,
                ) -> GuestResult<()> {
                    answer(KeyValueView::delete(self, &bucket, key).await, |v| v)
                }

                async fn exists(
                    &mut self,
                    bucket: Resource<Bucket>,
                    key: String,
                ) -> GuestResult<bool> {
                    answer(KeyValueView::exists(self, &bucket, key).await, |v| v)
                }

                async fn list_keys(
                    &mut self,
                    bucket: Resource<Bucket>,
                    cursor: Option<$cursor>,
                ) -> GuestResult<store::KeyResponse> {
                    let cursor = match Cursor::decode(cursor) {
                        Ok(cursor) => cursor,
                        Err(failure) => return Ok(Err(failure.into())),
                    };
                    answer(
                        KeyValueView::list_keys(self, &bucket, cursor).await,
                        |page| store::KeyResponse {
                            keys: page.keys,
                            cursor: page.cursor.map(Cursor::encode),
                        },
                    )
                }

                async fn drop(&mut self, bucket: Resource<Bucket>) -> wasmtime::Result<()> {
                    self.table.delete(bucket)?;
                    Ok(())
                }
            }

            impl batch::Host for KeyValueView<'_> {
                async fn get_many(
                    &mut self,
                    bucket: Resource<Bucket>,
                    keys: Vec<String>,
                ) -> GuestResult<Vec<Option<(String, Vec<u8>)>>> {
                    answer(KeyValueView::get_many(self, &bucket, keys).await, |v| v)
                }

                async fn set_many(
                    &mut self,
                    bucket: Resource<Bucket>,
                    key_values: Vec<(String, Vec<u8>)>,
                ) -> GuestResult<()> {
                    answer(
                        KeyValueView::set_many(self, &bucket, key_values).await,
                        |v| v,
                    )
                }

                async fn delete_many(
                    &mut self,
                    bucket: Resource<Bucket>,
                    keys: Vec<String>,
                ) -> GuestResult<()> {
                    answer(KeyValueView::delete_many(self, &bucket, keys).await, |v| v)
                }
            }
        }
    };
}

/// A `list-keys` cursor in one version's form.
trait Cursor: Sized {
    fn decode(cursor: Option<Self>) -> Result<Option<u64>, Failure>;
    fn encode(cursor: u64) -> Self;
}

/// 0.2.0-draft's cursors are numbers.
impl Cursor for u64 {
    fn decode(cursor: Option<Self>) -> Result<Option<u64>, Failure> {
        Ok(cursor)
    }
    fn encode(cursor: u64) -> Self {
        cursor
    }
}

/// 0.2.0-draft2's cursors are strings: the same number, in decimal.
impl Cursor for String {
    fn decode(cursor: Option<Self>) -> Result<Option<u64>, Failure> {
        cursor
            .map(|c| {
                c.parse().map_err(|_| {
                    Failure::Other(format!("{c:?} is not a cursor list-keys returned"))
                })
            })
            .transpose()
    }
    fn encode(cursor: u64) -> Self {
        cursor.to_string()
    }
}

common_host!(draft_host, super::draft::wasi::keyvalue0_2_0_draft, u64);
common_host!(
    draft2_host,
    super::draft2::wasi::keyvalue0_2_0_draft2,
    String
);

impl draft::wasi::keyvalue0_2_0_draft::atomics::Host for KeyValueView<'_> {
    /// 0.2.0-draft counts with unsigned numbers: a delta past `i64::MAX`,
    /// or a stored value below zero, is an error.
    async fn increment(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        delta: u64,
    ) -> draft_host::GuestResult<u64> {
        let Ok(delta) = i64::try_from(delta) else {
            return Ok(Err(draft::wasi::keyvalue0_2_0_draft::store::Error::Other(
                format!("a delta of {delta} is past the largest counter"),
            )));
        };
        let answer = KeyValueView::increment(self, &bucket, key, delta).await?;
        Ok(match answer {
            Ok(value) => u64::try_from(value).map_err(|_| {
                draft::wasi::keyvalue0_2_0_draft::store::Error::Other(format!(
                    "the counter is {value}, below zero"
                ))
            }),
            Err(failure) => Err(failure.into()),
        })
    }
}

mod draft2_atomics {
    use super::draft2::wasi::keyvalue0_2_0_draft2::atomics::{self, CasError};
    use super::draft2_host::{GuestResult, answer};
    use super::*;

    impl atomics::Host for KeyValueView<'_> {
        async fn increment(
            &mut self,
            bucket: Resource<Bucket>,
            key: String,
            delta: i64,
        ) -> GuestResult<i64> {
            answer(
                KeyValueView::increment(self, &bucket, key, delta).await,
                |v| v,
            )
        }

        async fn swap(
            &mut self,
            cas: Resource<Cas>,
            value: Vec<u8>,
        ) -> wasmtime::Result<Result<(), CasError>> {
            let cas = self.table.delete(cas)?;
            Ok(match KeyValueView::swap(self, cas, value).await? {
                Swap::Done => Ok(()),
                Swap::Stale(latest) => Err(CasError::CasFailed(self.table.push(latest)?)),
                Swap::Failed(failure) => Err(CasError::StoreError(failure.into())),
            })
        }
    }

    impl atomics::HostCas for KeyValueView<'_> {
        async fn new(
            &mut self,
            bucket: Resource<Bucket>,
            key: String,
        ) -> GuestResult<Resource<Cas>> {
            match KeyValueView::begin_swap(self, &bucket, key).await? {
                Ok(cas) => Ok(Ok(self.table.push(cas)?)),
                Err(failure) => Ok(Err(failure.into())),
            }
        }

        async fn current(&mut self, cas: Resource<Cas>) -> GuestResult<Option<Vec<u8>>> {
            Ok(Ok(self.table.get(&cas)?.current.clone()))
        }

        async fn drop(&mut self, cas: Resource<Cas>) -> wasmtime::Result<()> {
            self.table.delete(cas)?;
            Ok(())
        }
    }
}
