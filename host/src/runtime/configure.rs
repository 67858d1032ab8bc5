//! A component's configuration, resolved when it loads: its variables'
//! values, and the outbound hosts that name variables.

use std::sync::Arc;

use anyhow::{Context, Result};

use crate::capabilities::variables::{self, Resolved, Sources, VariableError};
use crate::config::VariablePlaces;
use crate::manifest::{ComponentSpec, OutboundHosts};

/// What a component's manifest entry resolves to, for its sandbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Configuration {
    pub(crate) variables: Arc<Resolved>,
    pub(crate) outbound: Arc<OutboundHosts>,
}

/// The variable sources as they are now: `.env` and the secrets are read
/// again each time.
pub(crate) fn open_sources(places: &VariablePlaces) -> Result<Sources, VariableError> {
    Sources::open(
        &places.environment,
        places.dotenv.as_deref(),
        places.secrets.as_deref(),
    )
}

/// Resolves `spec`'s variables from `sources`, then its outbound hosts.
pub(crate) fn configure(spec: &ComponentSpec, sources: &Sources) -> Result<Configuration> {
    let resolved = variables::resolve(&spec.name, &spec.variables, sources)?;
    let expanded: Vec<String> = spec
        .outbound_templates
        .iter()
        .map(|template| variables::expand(template, &resolved))
        .collect();
    let outbound = if expanded.is_empty() {
        spec.allowed_outbound_hosts.clone()
    } else {
        let more = OutboundHosts::parse(&expanded)
            .with_context(|| format!("in component {:?}, once its variables are set", spec.name))?;
        Arc::new(spec.allowed_outbound_hosts.extended(more))
    };
    Ok(Configuration {
        variables: Arc::new(resolved),
        outbound,
    })
}
