//! Why the runtime could not serve a request with a component: the typed
//! failures that the HTTP front turns into statuses.

use std::time::Duration;

/// A request a component did not answer, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum InvokeError {
    /// Every permit of the component is taken; the request was not queued.
    #[error(
        "component {component} is serving its limit of {limit} requests at once; retry shortly"
    )]
    Busy { component: String, limit: u32 },
    /// The request body is over the component's limit (by its
    /// `Content-Length`, or by the bytes the component read).
    #[error("the request body is over the {limit} bytes component {component} accepts")]
    BodyTooLarge { component: String, limit: u64 },
    /// The client stopped sending its body.
    #[error("the request body stopped arriving for {} s", .idle.as_secs())]
    BodyStalled { idle: Duration },
    /// The component did not answer within its time limit.
    #[error("component {component} did not answer within {} s", .limit.as_secs_f64())]
    Timeout { component: String, limit: Duration },
    /// The component trapped (or failed to instantiate).
    #[error("component {component} trapped")]
    Trapped { component: String },
    /// The handler returned without setting a response.
    #[error("component {component} returned without a response")]
    NoResponse { component: String },
    /// The handler set an error code in place of a response.
    #[error("component {component} failed to produce a response")]
    ErrorCode { component: String },
    /// The request could not be passed into the instance.
    #[error("the request could not be handed to the component")]
    Handoff,
    /// The engine's instance pool is full.
    #[error("the host is at its concurrent request limit")]
    PoolExhausted,
}
