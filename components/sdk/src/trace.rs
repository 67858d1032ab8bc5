//! The request's trace: spans of the component's own and attributes on
//! the request's span, exported by the host with its own spans (see
//! `docs/operations.md`, "Traces"). Needs no grant. When the host exports
//! no traces these record nothing and [`traceparent`] is `None`.
//!
//! ```no_run
//! use summer_sdk::trace;
//!
//! trace::set_request_attribute("trip.user_id", "42");
//! let total = trace::in_span("score suggestions", |span| {
//!     span.set_attribute("trip.candidates", "17");
//!     17 // capability calls made here are children of this span
//! });
//! # let _ = total;
//! ```

use crate::bindings::summer::platform::trace as wit;

/// A span of the component's own, inside the innermost one open when it
/// started (at first the request's). It ends when dropped.
#[derive(Debug)]
pub struct Span(wit::Span);

impl Span {
    /// Starts a span named `name`.
    pub fn start(name: &str) -> Span {
        Span(wit::Span::new(name))
    }

    /// Sets attribute `key` of this span to `value`.
    pub fn set_attribute(&self, key: &str, value: &str) -> &Span {
        self.0.set_attribute(key, value);
        self
    }
}

/// Runs `work` inside a span named `name`, which ends when `work` returns.
pub fn in_span<T>(name: &str, work: impl FnOnce(&Span) -> T) -> T {
    let span = Span::start(name);
    work(&span)
}

/// Sets attribute `key` of the request's own span to `value`.
pub fn set_request_attribute(key: &str, value: &str) {
    wit::set_request_attribute(key, value);
}

/// The W3C `traceparent` of the innermost open span (`00-{trace id}-{span
/// id}-{flags}`), to log or to pass on; `None` when the host exports no
/// traces.
pub fn traceparent() -> Option<String> {
    wit::traceparent()
}
