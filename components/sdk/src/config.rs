//! The component's variables, declared in its manifest entry
//! (`variables = { api_url = { default = "…" }, api_key = { required = true,
//! secret = true } }`) and read through the standard `wasi:config/store`.
//! No grant is needed; the guide is `docs/variables.md`.
//!
//! ```no_run
//! use summer_sdk::config;
//!
//! # fn example() -> Result<(), summer_sdk::ApiError> {
//! let api_url = config::get("api_url")?.unwrap_or_else(|| "https://api.example.com".into());
//! let api_key = config::require("api_key")?;
//! # let _ = (api_url, api_key); Ok(()) }
//! ```

use crate::ApiError;
use crate::bindings::wasi::config0_2_0_rc_1::store as wit;

/// The value of variable `name`; `None` when the manifest entry does not
/// declare it or it has no value.
pub fn get(name: &str) -> Result<Option<String>, ApiError> {
    wit::get(name).map_err(failed)
}

/// The value of variable `name`, or a 500 naming it when it has none (the
/// manifest should declare it `required`, which the host checks at start).
pub fn require(name: &str) -> Result<String, ApiError> {
    get(name)?.ok_or_else(|| ApiError::internal(format!("variable {name} has no value")))
}

/// Every declared variable that has a value.
pub fn all() -> Result<Vec<(String, String)>, ApiError> {
    wit::get_all().map_err(failed)
}

fn failed(error: wit::Error) -> ApiError {
    let reason = match error {
        wit::Error::Upstream(reason) | wit::Error::Io(reason) => reason,
    };
    ApiError::internal(format!("reading the configuration failed: {reason}"))
}
