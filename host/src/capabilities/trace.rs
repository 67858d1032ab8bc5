//! `summer:platform/trace`: a component's spans and attributes, added to
//! the trace of the request it serves. Every component may import it; it
//! needs no grant and holds no store data (the request's open spans live
//! in its trace scope).

use wasmtime::component::{HasData, Linker, Resource};

use super::bindings::summer::platform::trace::{self as wit, Span};
use crate::observe::traces;

/// The rep of a span that records nothing (export off, or no request).
const UNRECORDED: u32 = u32::MAX;

/// The interface's host side: stateless.
pub(crate) struct Tracing;

impl HasData for Tracing {
    type Data<'a> = Tracing;
}

pub(crate) fn add_to_linker<T: Send + 'static>(linker: &mut Linker<T>) -> anyhow::Result<()> {
    wit::add_to_linker::<T, Tracing>(linker, |_| Tracing)?;
    Ok(())
}

impl wit::Host for Tracing {
    async fn set_request_attribute(&mut self, key: String, value: String) -> wasmtime::Result<()> {
        traces::set_guest_attribute(0, key, value);
        Ok(())
    }

    async fn traceparent(&mut self) -> wasmtime::Result<Option<String>> {
        Ok(traces::traceparent())
    }
}

impl wit::HostSpan for Tracing {
    async fn new(&mut self, name: String) -> wasmtime::Result<Resource<Span>> {
        let id = traces::start_guest_span(name)
            .and_then(|id| u32::try_from(id).ok())
            .unwrap_or(UNRECORDED);
        Ok(Resource::new_own(id))
    }

    async fn set_attribute(
        &mut self,
        span: Resource<Span>,
        key: String,
        value: String,
    ) -> wasmtime::Result<()> {
        if span.rep() != UNRECORDED {
            traces::set_guest_attribute(u64::from(span.rep()), key, value);
        }
        Ok(())
    }

    async fn drop(&mut self, span: Resource<Span>) -> wasmtime::Result<()> {
        if span.rep() != UNRECORDED {
            traces::end_guest_span(u64::from(span.rep()));
        }
        Ok(())
    }
}
