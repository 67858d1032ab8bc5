//! The admin API under `/_admin/`: off unless a token is configured, every
//! request checked against it in constant time, every refusal logged.
//! `GET /_admin/components` lists the loaded components and their versions.

use http::{Method, Response, StatusCode, header};
use sha2::{Digest, Sha256};

use super::ResponseBody;
use super::error::{HttpError, json_response};
use crate::app::App;

/// The configured admin token, kept as its digest.
pub struct AdminToken {
    digest: [u8; 32],
}

impl AdminToken {
    pub fn new(token: &str) -> Self {
        Self {
            digest: Sha256::digest(token.as_bytes()).into(),
        }
    }

    /// Whether `presented` is the token. Both sides are hashed first, so the
    /// comparison takes the same time whatever the input's length and
    /// wherever it differs.
    pub fn accepts(&self, presented: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let difference = self
            .digest
            .iter()
            .zip(presented)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        difference == 0
    }
}

/// Answers a request under `/_admin/`.
pub fn handle(
    app: &App,
    method: &Method,
    path: &str,
    headers: &http::HeaderMap,
) -> Response<ResponseBody> {
    let Some(token) = app.admin_token() else {
        return HttpError::not_found("the admin API is off: set SUMMER_ADMIN_TOKEN to turn it on")
            .into_response();
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !presented.is_some_and(|p| token.accepts(p)) {
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
        return response;
    }
    match (method, path) {
        (&Method::GET, "/_admin/components") => list_components(app),
        _ => HttpError::not_found(format!("no admin route for {method} {path}")).into_response(),
    }
}

fn list_components(app: &App) -> Response<ResponseBody> {
    let components: Vec<serde_json::Value> = app
        .components()
        .iter()
        .map(|c| {
            let loaded_at: chrono::DateTime<chrono::Utc> = c.loaded_at.into();
            serde_json::json!({
                "name": &*c.name,
                "version": c.version,
                "loaded_at": loaded_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                "namespace": &*c.namespace,
                "routes": app.routes_of(&c.name),
            })
        })
        .collect();
    json_response(
        StatusCode::OK,
        &serde_json::json!({ "components": components }),
    )
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
