//! Components in OCI registries, in the CNCF Wasm OCI artifact layout (a
//! config of type `application/vnd.wasm.config.v0+json` and one
//! `application/wasm` layer), as `spin registry push`, `wash push` and
//! `wkg` write them: pulls verified against their digests into a cache on
//! disk, and pushes.

mod cache;
mod reference;
mod registry;

use bytes::Bytes;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

pub(crate) use cache::Cache;
pub(crate) use reference::{Reference, SCHEME};
use registry::Repository;

pub(crate) const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub(crate) const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
pub(crate) const LAYER_MEDIA_TYPE: &str = "application/wasm";

/// Why a component could not be pulled or pushed.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("{reference:?} is not a registry reference: {why}")]
    InvalidReference { reference: String, why: String },
    #[error("cannot reach the registry of {reference}: {why}")]
    Unreachable { reference: String, why: String },
    #[error(
        "registry {registry} refused the credentials{}",
        if *had_credentials { "" } else { " (none given: set SUMMER_REGISTRY_USER and SUMMER_REGISTRY_PASSWORD, or log in with docker)" }
    )]
    Unauthorized {
        registry: String,
        had_credentials: bool,
    },
    #[error("{reference} is not in its registry")]
    NotFound { reference: String },
    #[error("registry of {reference} answered {status} {doing}: {body}")]
    Refused {
        reference: String,
        doing: String,
        status: u16,
        body: String,
    },
    #[error("{reference}: the {what} read has digest {got}, not {expected}: refused")]
    Tampered {
        reference: String,
        what: &'static str,
        expected: String,
        got: String,
    },
    #[error("{reference} is not a Wasm component artifact: {why}")]
    NotAComponent { reference: String, why: String },
    #[error("the component cache at {path}: {source}")]
    Cache {
        path: String,
        source: std::io::Error,
    },
}

/// The digest of `bytes`, as OCI writes it.
pub(crate) fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// A component pulled from a registry.
#[derive(Clone, Debug)]
pub(crate) struct Pulled {
    /// The manifest's digest (what `@sha256:` pins).
    pub(crate) digest: String,
    pub(crate) wasm: Bytes,
}

/// Pulls the component `reference` names: from `cache` when its digest is
/// pinned and cached, otherwise from the registry (the tag resolved to a
/// digest), every byte checked against its digest. A registry that cannot
/// be reached is no failure when the tag resolved before and that digest
/// is cached.
pub(crate) async fn pull(reference: &Reference, cache: &Cache) -> Result<Pulled, OciError> {
    if let Some(digest) = &reference.digest
        && let Some(pulled) = cached(reference, digest, cache)?
    {
        return Ok(pulled);
    }
    let repository = Repository::new(reference);
    let manifest = match repository.manifest(reference.target()).await {
        Ok(manifest) => manifest,
        Err(OciError::Unreachable { reference: r, why }) => {
            let remembered = cache.tag(reference)?;
            if let Some(digest) = remembered
                && let Some(pulled) = cached(reference, &digest, cache)?
            {
                tracing::warn!("registry of {r} unreachable ({why}); serving cached {digest}");
                return Ok(pulled);
            }
            return Err(OciError::Unreachable { reference: r, why });
        }
        Err(other) => return Err(other),
    };
    let digest = digest_of(&manifest);
    if let Some(expected) = &reference.digest
        && *expected != digest
    {
        return Err(tampered(reference, "manifest", expected, &digest));
    }
    let layer = layer_of(reference, &manifest)?;
    let wasm = match cache.blob(&layer.digest)? {
        Some(wasm) => wasm,
        None => {
            let wasm = repository.blob(&layer.digest).await?;
            let got = digest_of(&wasm);
            if got != layer.digest || wasm.len() as u64 != layer.size {
                return Err(tampered(reference, "layer", &layer.digest, &got));
            }
            cache.put_blob(&layer.digest, &wasm)?;
            wasm
        }
    };
    cache.put_manifest(&digest, &manifest)?;
    cache.put_tag(reference, &digest)?;
    Ok(Pulled { digest, wasm })
}

/// The cached component of manifest `digest`, if its manifest and layer
/// are both cached (each checked against its digest).
fn cached(reference: &Reference, digest: &str, cache: &Cache) -> Result<Option<Pulled>, OciError> {
    let Some(manifest) = cache.manifest(digest)? else {
        return Ok(None);
    };
    let layer = layer_of(reference, &manifest)?;
    Ok(cache.blob(&layer.digest)?.map(|wasm| Pulled {
        digest: digest.to_owned(),
        wasm,
    }))
}

fn tampered(reference: &Reference, what: &'static str, expected: &str, got: &str) -> OciError {
    OciError::Tampered {
        reference: reference.to_string(),
        what,
        expected: expected.to_owned(),
        got: got.to_owned(),
    }
}

/// The one layer of a component artifact.
struct Layer {
    digest: String,
    size: u64,
}

fn layer_of(reference: &Reference, manifest: &[u8]) -> Result<Layer, OciError> {
    let not_a_component = |why: String| OciError::NotAComponent {
        reference: reference.to_string(),
        why,
    };
    let manifest: Value = serde_json::from_slice(manifest)
        .map_err(|e| not_a_component(format!("its manifest is not JSON: {e}")))?;
    let config_type = manifest["config"]["mediaType"].as_str().unwrap_or_default();
    if config_type != CONFIG_MEDIA_TYPE {
        return Err(not_a_component(format!(
            "its config is {config_type:?}, not {CONFIG_MEDIA_TYPE}"
        )));
    }
    let layers = manifest["layers"].as_array().cloned().unwrap_or_default();
    let wasm: Vec<&Value> = layers
        .iter()
        .filter(|l| l["mediaType"] == LAYER_MEDIA_TYPE)
        .collect();
    let [layer] = wasm.as_slice() else {
        return Err(not_a_component(format!(
            "it has {} {LAYER_MEDIA_TYPE} layers, not one",
            wasm.len()
        )));
    };
    let digest = layer["digest"].as_str().unwrap_or_default();
    if !reference::valid_digest(digest) {
        return Err(not_a_component(format!(
            "its layer digest {digest:?} is not sha256"
        )));
    }
    Ok(Layer {
        digest: digest.to_owned(),
        size: layer["size"].as_u64().unwrap_or(0),
    })
}

/// What a push stored.
#[derive(Debug)]
pub struct Pushed {
    /// The manifest's digest.
    pub digest: String,
    /// The layer's digest: the component's content hash.
    pub layer: String,
    pub size: usize,
}

/// Pushes component `wasm` to `reference` (its tag) in the Wasm OCI
/// artifact layout.
pub(crate) async fn push(wasm: Bytes, reference: &Reference) -> Result<Pushed, OciError> {
    if !wasm.starts_with(b"\0asm\x0d\0\x01\0") {
        return Err(OciError::NotAComponent {
            reference: reference.to_string(),
            why: "the file is not a WebAssembly component (WASI 0.2)".into(),
        });
    }
    let layer = digest_of(&wasm);
    let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let config = Bytes::from(
        serde_json::to_vec(&json!({
            "created": created,
            "architecture": "wasm",
            "os": "wasip2",
            "layerDigests": [layer],
        }))
        .expect("JSON"),
    );
    let manifest = Bytes::from(
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": {
                "mediaType": CONFIG_MEDIA_TYPE,
                "digest": digest_of(&config),
                "size": config.len(),
            },
            "layers": [{
                "mediaType": LAYER_MEDIA_TYPE,
                "digest": layer,
                "size": wasm.len(),
            }],
            "annotations": { "org.opencontainers.image.created": created },
        }))
        .expect("JSON"),
    );
    let repository = Repository::new(reference);
    let size = wasm.len();
    repository.push_blob(&layer, wasm).await?;
    repository.push_blob(&digest_of(&config), config).await?;
    let digest = digest_of(&manifest);
    let target = reference.tag.clone().unwrap_or_else(|| digest.clone());
    repository.push_manifest(&target, manifest).await?;
    Ok(Pushed {
        digest,
        layer,
        size,
    })
}
