//! The admin API under `/_admin/`: off unless a token is configured, every
//! request checked against it in constant time, every refusal logged.
//!
//! - `GET /_admin/components`: the loaded components, their versions (and
//!   the registry reference, pinned to its digest, of those pulled)
//!   (content hashes), load times and routes;
//! - `GET /_admin/components/{name}`: one of them, with the earlier versions
//!   a rollback can return to;
//! - `PUT /_admin/components/{name}` with a `.wasm` body: swap it in;
//! - `POST /_admin/components/{name}/rollback`: back to the previous version;
//! - `POST /_admin/reload`: re-read the manifest.

use http::{Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use sha2::{Digest, Sha256};

use super::error::{HttpError, json_response};
use crate::app::{App, Deployed};
use crate::oci::OciError;
use crate::runtime::ResponseBody;
use crate::runtime::deploy::{DeployError, Trigger};
use crate::runtime::loader::LoadedComponent;

/// The configured admin token, kept as its digest.
pub(crate) struct AdminToken {
    digest: [u8; 32],
}

impl AdminToken {
    pub(crate) fn new(token: &str) -> Self {
        Self {
            digest: Sha256::digest(token.as_bytes()).into(),
        }
    }

    /// Whether `presented` is the token. Both sides are hashed first, so the
    /// comparison takes the same time whatever the input's length and
    /// wherever it differs.
    pub(crate) fn accepts(&self, presented: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let difference = self
            .digest
            .iter()
            .zip(presented)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        difference == 0
    }
}

/// The largest `.wasm` a deploy accepts.
pub(crate) const MAX_COMPONENT_BYTES: usize = 64 << 20;

/// Answers a request under `/_admin/`.
pub(crate) async fn handle(
    app: &App,
    token: Option<&AdminToken>,
    request: Request<Incoming>,
) -> Response<ResponseBody> {
    if let Some(refusal) = refuse_unauthorized(token, &request) {
        return refusal;
    }
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let route: Vec<&str> = path["/_admin/".len()..].split('/').collect();
    let outcome = match (&method, route.as_slice()) {
        (&Method::GET, ["components"]) => Ok(list_components(app)),
        (&Method::GET, ["components", name]) => show_component(app, name).await,
        (&Method::PUT, ["components", name]) => {
            let json = request
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|t| t.starts_with("application/json"));
            deploy(app, name, json, request.into_body()).await
        }
        (&Method::POST, ["components", name, "rollback"]) => rollback(app, name).await,
        (&Method::POST, ["reload"]) => reload(app).await,
        _ => Err(HttpError::not_found(format!(
            "no admin route for {method} {path}"
        ))),
    };
    outcome.unwrap_or_else(HttpError::into_response)
}

/// The refusal of a request without the right bearer token (logged), or
/// `None` to let it through.
fn refuse_unauthorized(
    token: Option<&AdminToken>,
    request: &Request<Incoming>,
) -> Option<Response<ResponseBody>> {
    let Some(token) = token else {
        let off =
            HttpError::not_found("the admin API is off: set SUMMER_ADMIN_TOKEN to turn it on");
        return Some(off.into_response());
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if presented.is_some_and(|p| token.accepts(p)) {
        return None;
    }
    let (method, path) = (request.method(), request.uri().path());
    tracing::warn!(%method, path, "refused an admin request without the right token");
    let mut response = HttpError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "the admin API needs Authorization: Bearer <SUMMER_ADMIN_TOKEN>",
    )
    .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        http::HeaderValue::from_static("Bearer"),
    );
    Some(response)
}

type Reply = Result<Response<ResponseBody>, HttpError>;

fn list_components(app: &App) -> Response<ResponseBody> {
    let routing = app.routing();
    let components: Vec<serde_json::Value> = routing
        .all()
        .iter()
        .map(|c| {
            let mut entry = describe(c);
            entry["routes"] = serde_json::json!(routing.routes_of(&c.name));
            entry
        })
        .collect();
    json_response(
        StatusCode::OK,
        &serde_json::json!({ "components": components }),
    )
}

async fn show_component(app: &App, name: &str) -> Reply {
    let routing = app.routing();
    let component = routing
        .get(name)
        .ok_or_else(|| HttpError::not_found(format!("no component named {name:?}")))?;
    let earlier = app.deployer().earlier_versions(name).await;
    let mut entry = describe(&component);
    entry["routes"] = serde_json::json!(routing.routes_of(name));
    entry["earlier"] = earlier.iter().map(|c| describe(c)).collect();
    Ok(json_response(StatusCode::OK, &entry))
}

/// A component's name, version, load time, namespace and variables (each
/// with where its value came from; values are never shown), and the
/// registry reference it was pulled from, pinned to its digest.
fn describe(component: &LoadedComponent) -> serde_json::Value {
    let loaded_at: chrono::DateTime<chrono::Utc> = component.loaded_at.into();
    let variables: serde_json::Map<String, serde_json::Value> = component
        .variables
        .origins()
        .map(|(name, origin, secret)| {
            let shown = serde_json::json!({ "from": origin.as_str(), "secret": secret });
            (name.to_owned(), shown)
        })
        .collect();
    let mut described = serde_json::json!({
        "name": &*component.name,
        "version": component.version,
        "loaded_at": loaded_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "namespace": &*component.namespace,
        "variables": variables,
    });
    if let Some(pulled_from) = &component.pulled_from {
        described["source"] = serde_json::json!(&**pulled_from);
    }
    described
}

/// A new version as the body (`application/wasm`), or the registry
/// reference it is pulled from (`application/json`, `{"source": "oci://…"}`).
async fn deploy(app: &App, name: &str, json: bool, body: Incoming) -> Reply {
    let bytes = read_component(body).await?;
    let deployed = match json {
        true => {
            let reference = registry_reference(&bytes)?;
            app.deploy_from_registry(name, &reference).await
        }
        false => app.deploy(name, bytes, Trigger::Api).await,
    };
    Ok(json_response(
        StatusCode::OK,
        &deployed_body(&deployed.map_err(refused)?),
    ))
}

/// The reference of a `{"source": "oci://…"}` body.
fn registry_reference(body: &[u8]) -> Result<crate::oci::Reference, HttpError> {
    let invalid =
        |message: String| HttpError::new(StatusCode::BAD_REQUEST, "invalid_request", message);
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| invalid(format!("the body is not JSON: {e}")))?;
    let source = value["source"].as_str().ok_or_else(|| {
        invalid("the body names no \"source\" (oci://REGISTRY/REPOSITORY:TAG)".into())
    })?;
    crate::oci::Reference::parse(source).map_err(|e| invalid(e.to_string()))
}

async fn rollback(app: &App, name: &str) -> Reply {
    let deployed = app.rollback(name).await.map_err(refused)?;
    Ok(json_response(StatusCode::OK, &deployed_body(&deployed)))
}

async fn reload(app: &App) -> Reply {
    let reload = app.reload_manifest().await.map_err(refused)?;
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({
            "added": reload.added,
            "removed": reload.removed,
            "reloaded": reload.reloaded,
            "routes": reload.routes,
        }),
    ))
}

/// The request body, up to [`MAX_COMPONENT_BYTES`].
async fn read_component(body: Incoming) -> Result<bytes::Bytes, HttpError> {
    let limited = http_body_util::Limited::new(body, MAX_COMPONENT_BYTES);
    let wasm = match limited.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(HttpError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("a component may be at most {MAX_COMPONENT_BYTES} bytes"),
            ));
        }
        Err(e) => {
            return Err(HttpError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("reading the request body failed: {e}"),
            ));
        }
    };
    if wasm.is_empty() {
        return Err(HttpError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "send the component's .wasm as the request body",
        ));
    }
    Ok(wasm)
}

/// The HTTP answer to a refused swap.
fn refused(error: DeployError) -> HttpError {
    tracing::warn!("refused a swap: {error}");
    let message = error.to_string();
    match error {
        DeployError::UnknownComponent(_) => HttpError::not_found(message),
        DeployError::Invalid(_) => HttpError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_component",
            message,
        ),
        DeployError::Manifest(_) => HttpError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_manifest",
            message,
        ),
        DeployError::NoEarlierVersion(_) => {
            HttpError::new(StatusCode::CONFLICT, "no_earlier_version", message)
        }
        DeployError::Databases { .. } => HttpError::unavailable(message),
        DeployError::Configuration { .. } | DeployError::VariableSources(_) => HttpError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_configuration",
            message,
        ),
        DeployError::Pull { source, .. } => match source {
            OciError::Tampered { .. }
            | OciError::NotAComponent { .. }
            | OciError::InvalidReference { .. } => HttpError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_component",
                message,
            ),
            OciError::NotFound { .. } => HttpError::not_found(message),
            _ => HttpError::new(StatusCode::BAD_GATEWAY, "registry_failed", message),
        },
    }
}

fn deployed_body(deployed: &Deployed) -> serde_json::Value {
    let swap = &deployed.swap;
    let fleet = match &deployed.fleet {
        None => serde_json::Value::Null,
        Some(Ok(report)) => serde_json::json!(report),
        Some(Err(error)) => serde_json::json!({ "error": error }),
    };
    serde_json::json!({
        "component": swap.component,
        "version": swap.version,
        "previous": swap.previous,
        "changed": swap.changed,
        "trigger": swap.trigger.as_str(),
        "took_ms": swap.took.as_secs_f64() * 1000.0,
        "fleet": fleet,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_is_accepted() {
        let token = AdminToken::new("s3cret-token");
        assert!(token.accepts("s3cret-token"));
        for wrong in ["", "s3cret-toke", "s3cret-token ", "S3cret-token", "x"] {
            assert!(!token.accepts(wrong), "{wrong:?}");
        }
    }
}
