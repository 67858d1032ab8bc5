//! The error every capability backend returns, and its guest-visible form.

use std::fmt;

use super::Capability;
use super::bindings::summer::platform::types as wit;

/// What went wrong in a capability call, as the guest will see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    Conflict,
    Invalid,
    Unavailable,
    Denied,
    Timeout,
    Internal,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_label().replace('_', " "))
    }
}

impl ErrorKind {
    /// Whether the call failed, rather than answered that what it asked
    /// for is absent, taken or malformed.
    pub(crate) fn is_failure(self) -> bool {
        matches!(
            self,
            ErrorKind::Unavailable | ErrorKind::Denied | ErrorKind::Timeout | ErrorKind::Internal
        )
    }

    /// The kind as a metric label: `not_found`, `timeout`, ...
    pub(crate) fn as_label(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Denied => "denied",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Internal => "internal",
        }
    }
}

/// An error from a capability backend; crosses into the guest as `types.error`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct CapabilityError {
    pub kind: ErrorKind,
    pub message: String,
}

impl CapabilityError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }

    pub(crate) fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// An error reported by the server behind `capability`. When the server
    /// is down or slow the message starts with the capability's name, so
    /// the client's 503 or 504 says which one is missing.
    pub(crate) fn from_server(
        capability: Capability,
        kind: ErrorKind,
        detail: impl fmt::Display,
    ) -> Self {
        let message = match kind {
            ErrorKind::Unavailable => format!("{capability} is unavailable: {detail}"),
            ErrorKind::Timeout => format!("{capability} timed out: {detail}"),
            _ => detail.to_string(),
        };
        Self::new(kind, message)
    }
}

impl From<ErrorKind> for wit::ErrorKind {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::NotFound => wit::ErrorKind::NotFound,
            ErrorKind::Conflict => wit::ErrorKind::Conflict,
            ErrorKind::Invalid => wit::ErrorKind::Invalid,
            ErrorKind::Unavailable => wit::ErrorKind::Unavailable,
            ErrorKind::Denied => wit::ErrorKind::Denied,
            ErrorKind::Timeout => wit::ErrorKind::Timeout,
            ErrorKind::Internal => wit::ErrorKind::Internal,
        }
    }
}

impl From<CapabilityError> for wit::Error {
    fn from(error: CapabilityError) -> Self {
        wit::Error {
            kind: error.kind.into(),
            message: error.message,
        }
    }
}
