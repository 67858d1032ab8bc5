//! The admin API client behind `summer deploy`, `summer rollback` and
//! `summer reload`: one request to a running host, its answer printed;
//! and `summer push`, a component to an OCI registry.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::runtime::loader::short;

/// Which host to talk to, and the token that lets us.
#[derive(Clone, Debug, clap::Args)]
pub struct Target {
    /// The running host's address.
    #[arg(long, env = "SUMMER_URL", default_value = "http://127.0.0.1:3000")]
    pub(crate) url: String,

    /// The host's admin token.
    #[arg(long, env = "SUMMER_ADMIN_TOKEN", hide_env_values = true)]
    pub(crate) admin_token: String,
}

/// Swaps `file` (or the registry reference `oci://…`, which the host
/// pulls) in as component `name` and reports what the fleet did.
pub fn deploy(target: &Target, name: &str, file: &PathBuf) -> Result<()> {
    let path = format!("/_admin/components/{name}");
    let reply = match file.to_str().filter(|f| f.starts_with(crate::oci::SCHEME)) {
        Some(reference) => {
            let body = serde_json::json!({ "source": reference }).to_string();
            target.send_typed("PUT", &path, "application/json", body.into_bytes())?
        }
        None => {
            let wasm =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            target.send("PUT", &path, wasm)?
        }
    };
    report_swap(&reply)
}

/// Pushes the component at `file` to the registry `reference` names, and
/// says the digest it is stored under.
pub async fn push(file: &PathBuf, reference: &str) -> Result<()> {
    let wasm = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let reference = crate::oci::Reference::parse(reference)?;
    let started = std::time::Instant::now();
    let pushed = crate::oci::push(wasm.into(), &reference).await?;
    println!(
        "pushed {} ({} bytes, layer {}) to {} in {:.0?}",
        file.display(),
        pushed.size,
        pushed.layer,
        reference.pinned(&pushed.digest),
        started.elapsed()
    );
    Ok(())
}

/// Returns component `name` to its previous version.
pub fn rollback(target: &Target, name: &str) -> Result<()> {
    let reply = target.send(
        "POST",
        &format!("/_admin/components/{name}/rollback"),
        Vec::new(),
    )?;
    report_swap(&reply)
}

/// Makes the host re-read its manifest.
pub fn reload(target: &Target) -> Result<()> {
    let reply = target.send("POST", "/_admin/reload", Vec::new())?;
    let list = |key: &str| -> String {
        let names: Vec<&str> = reply[key]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    };
    println!(
        "manifest reloaded: {} routes; added {}; removed {}; reloaded {}",
        reply["routes"],
        list("added"),
        list("removed"),
        list("reloaded")
    );
    Ok(())
}

impl Target {
    /// Sends one admin request; the JSON answer, or its error as ours.
    fn send(&self, method: &str, path: &str, body: Vec<u8>) -> Result<Value> {
        self.send_typed(method, path, "application/wasm", body)
    }

    /// [`Target::send`] with a body of `content_type`.
    fn send_typed(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Value> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let url = format!("{}{path}", self.url.trim_end_matches('/'));
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("authorization", format!("Bearer {}", self.admin_token))
            .header("content-type", content_type)
            .body(body)?;
        let mut response = agent.run(request).with_context(|| {
            format!(
                "cannot reach the host at {} (is summer serve running?)",
                self.url
            )
        })?;
        let status = response.status();
        let text = response.body_mut().read_to_string()?;
        let reply: Value = serde_json::from_str(&text)
            .with_context(|| format!("{url} answered {status} with no JSON: {text}"))?;
        if !status.is_success() {
            let message = reply["error"]["message"].as_str().unwrap_or(&text);
            bail!("{message} ({status})");
        }
        Ok(reply)
    }
}

/// Prints a swap and the fleet's confirmations; fails when a host of the
/// fleet did not follow.
fn report_swap(reply: &Value) -> Result<()> {
    let short_of = |v: &Value| v.as_str().map(|s| short(s).to_owned());
    let component = reply["component"].as_str().unwrap_or("?");
    let version = short_of(&reply["version"]).unwrap_or_default();
    if reply["changed"] == Value::Bool(false) {
        println!("{component}: version {version} is already serving");
        return Ok(());
    }
    let previous = short_of(&reply["previous"]).unwrap_or_else(|| "nothing".to_owned());
    println!(
        "{component}: now serving {version} (was {previous}), swapped in {:.1} ms",
        reply["took_ms"].as_f64().unwrap_or_default()
    );
    report_fleet(&reply["fleet"])
}

fn report_fleet(fleet: &Value) -> Result<()> {
    if fleet.is_null() {
        return Ok(());
    }
    if let Some(error) = fleet["error"].as_str() {
        bail!("the fleet was not told: {error}");
    }
    let reached = fleet["reached"].as_u64().unwrap_or_default();
    let confirmations = fleet["confirmations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut failed = 0;
    for confirmation in &confirmations {
        let host = confirmation["host"].as_str().unwrap_or("?");
        match confirmation["error"].as_str() {
            None => println!("  {host}: switched"),
            Some(error) => {
                failed += 1;
                println!("  {host}: FAILED: {error}");
            }
        }
    }
    let missing = reached.saturating_sub(confirmations.len() as u64);
    println!(
        "fleet {}: {} of {reached} other hosts switched",
        fleet["fleet"].as_str().unwrap_or("?"),
        confirmations.len() - failed
    );
    if failed > 0 || missing > 0 {
        bail!("{failed} host(s) failed and {missing} did not answer");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fleet(reached: u64, confirmations: Value) -> Value {
        json!({ "fleet": "f", "reached": reached, "confirmations": confirmations })
    }

    #[test]
    fn a_fleet_deploy_succeeds_only_when_every_reached_host_switched() {
        assert!(report_fleet(&Value::Null).is_ok());
        let switched = json!([{ "host": "a/1" }, { "host": "b/2" }]);
        assert!(report_fleet(&fleet(2, switched.clone())).is_ok());
        let missing = report_fleet(&fleet(3, switched)).unwrap_err();
        assert!(
            missing.to_string().contains("1 did not answer"),
            "{missing}"
        );
        let failed = json!([{ "host": "a/1" }, { "host": "b/2", "error": "no such component" }]);
        let failed = report_fleet(&fleet(2, failed)).unwrap_err();
        assert!(failed.to_string().contains("1 host(s) failed"), "{failed}");
        let unannounced = report_fleet(&json!({ "error": "redis is down" })).unwrap_err();
        assert!(unannounced.to_string().contains("redis is down"));
    }
}
