//! The registry client: the parts of the OCI distribution API a component
//! needs (manifests and blobs, up and down), with Basic credentials or the
//! bearer tokens a registry's challenge asks for.

use std::path::PathBuf;

use base64::Engine as _;
use bytes::Bytes;
use http::{Method, StatusCode};
use tokio::sync::Mutex;

use super::{OciError, Reference};
use crate::net;

/// The largest manifest, token answer or error body read.
const MAX_SMALL: usize = 4 << 20;
/// The largest layer pulled.
pub(crate) const MAX_LAYER: usize = 512 << 20;
/// Redirects followed to a blob's storage.
const MAX_REDIRECTS: usize = 3;

/// A user and password for one registry. Never printed.
#[derive(Clone)]
pub(crate) struct Credentials {
    user: String,
    password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials { .. }")
    }
}

impl Credentials {
    fn basic(&self) -> String {
        let pair = format!("{}:{}", self.user, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }

    /// `SUMMER_REGISTRY_USER` and `SUMMER_REGISTRY_PASSWORD`, else the
    /// entry for `registry` in Docker's `config.json` (`$DOCKER_CONFIG`, or
    /// `~/.docker`), else none.
    pub(crate) fn for_registry(registry: &str) -> Option<Self> {
        if let (Ok(user), Ok(password)) = (
            std::env::var("SUMMER_REGISTRY_USER"),
            std::env::var("SUMMER_REGISTRY_PASSWORD"),
        ) {
            return Some(Self { user, password });
        }
        let dir = std::env::var_os("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker")))?;
        let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
        from_docker_config(&text, registry)
    }
}

/// The credentials Docker's `config.json` holds for `registry` (`auths`,
/// keyed by host or by URL; `auth` is base64 of `user:password`).
fn from_docker_config(text: &str, registry: &str) -> Option<Credentials> {
    let config: serde_json::Value = serde_json::from_str(text).ok()?;
    let auths = config.get("auths")?.as_object()?;
    let entry = auths.iter().find_map(|(key, entry)| {
        let host = key
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .split('/')
            .next()?;
        (host == registry).then_some(entry)
    })?;
    if let Some(auth) = entry.get("auth").and_then(|a| a.as_str()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth)
            .ok()?;
        let (user, password) = String::from_utf8(decoded)
            .ok()?
            .split_once(':')
            .map(|(u, p)| (u.to_owned(), p.to_owned()))?;
        return Some(Credentials { user, password });
    }
    Some(Credentials {
        user: entry.get("username")?.as_str()?.to_owned(),
        password: entry.get("password")?.as_str()?.to_owned(),
    })
}

/// One repository of one registry.
pub(crate) struct Repository {
    reference: Reference,
    base: String,
    credentials: Option<Credentials>,
    /// The bearer token the registry's challenge gave, once asked for.
    token: Mutex<Option<String>>,
}

impl Repository {
    pub(crate) fn new(reference: &Reference) -> Self {
        Self {
            base: reference.base_url(),
            credentials: Credentials::for_registry(&reference.registry),
            reference: reference.clone(),
            token: Mutex::new(None),
        }
    }

    fn url(&self, what: &str) -> String {
        format!("{}/v2/{}/{what}", self.base, self.reference.repository)
    }

    /// The manifest at `target` (a tag or a digest), and its bytes.
    pub(crate) async fn manifest(&self, target: &str) -> Result<Bytes, OciError> {
        let url = self.url(&format!("manifests/{target}"));
        let accept = [("accept", super::MANIFEST_MEDIA_TYPE)];
        let answer = self
            .send(Method::GET, &url, &accept, Bytes::new(), MAX_SMALL)
            .await?;
        match answer.status() {
            StatusCode::OK => Ok(answer.into_body()),
            StatusCode::NOT_FOUND => Err(OciError::NotFound {
                reference: self.reference.to_string(),
            }),
            _ => Err(self.refused("reading the manifest", &answer)),
        }
    }

    /// The blob `digest`, following redirects to where it is stored.
    pub(crate) async fn blob(&self, digest: &str) -> Result<Bytes, OciError> {
        let mut url = self.url(&format!("blobs/{digest}"));
        let mut answer = self
            .send(Method::GET, &url, &[], Bytes::new(), MAX_LAYER)
            .await?;
        for _ in 0..MAX_REDIRECTS {
            if !answer.status().is_redirection() {
                break;
            }
            url = self.location(&answer, &url)?;
            let request = http::Request::get(&url)
                .body(Bytes::new())
                .expect("a valid URL");
            answer = net::exchange(request, MAX_LAYER)
                .await
                .map_err(|e| self.unreachable(e))?;
        }
        match answer.status() {
            StatusCode::OK => Ok(answer.into_body()),
            _ => Err(self.refused(&format!("reading blob {digest}"), &answer)),
        }
    }

    /// Uploads `bytes` as blob `digest`, unless the registry has it.
    pub(crate) async fn push_blob(&self, digest: &str, bytes: Bytes) -> Result<(), OciError> {
        let url = self.url(&format!("blobs/{digest}"));
        let head = self
            .send(Method::HEAD, &url, &[], Bytes::new(), MAX_SMALL)
            .await?;
        if head.status() == StatusCode::OK {
            return Ok(());
        }
        let start = self.url("blobs/uploads/");
        let started = self
            .send(Method::POST, &start, &[], Bytes::new(), MAX_SMALL)
            .await?;
        if started.status() != StatusCode::ACCEPTED {
            return Err(self.refused("starting an upload", &started));
        }
        let location = self.location(&started, &start)?;
        let separator = if location.contains('?') { '&' } else { '?' };
        let put = format!("{location}{separator}digest={digest}");
        let headers = [("content-type", "application/octet-stream")];
        let done = self
            .send(Method::PUT, &put, &headers, bytes, MAX_SMALL)
            .await?;
        match done.status() {
            StatusCode::CREATED => Ok(()),
            _ => Err(self.refused(&format!("uploading blob {digest}"), &done)),
        }
    }

    /// Stores `manifest` under `target` (a tag or its digest).
    pub(crate) async fn push_manifest(
        &self,
        target: &str,
        manifest: Bytes,
    ) -> Result<(), OciError> {
        let url = self.url(&format!("manifests/{target}"));
        let headers = [("content-type", super::MANIFEST_MEDIA_TYPE)];
        let done = self
            .send(Method::PUT, &url, &headers, manifest, MAX_SMALL)
            .await?;
        match done.status() {
            StatusCode::CREATED => Ok(()),
            _ => Err(self.refused("storing the manifest", &done)),
        }
    }

    /// Sends one request with the credentials the registry wants: the
    /// token it gave, or Basic; on a challenge, asks for a token and
    /// sends again.
    async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        limit: usize,
    ) -> Result<http::Response<Bytes>, OciError> {
        let answer = self
            .attempt(&method, url, headers, body.clone(), limit)
            .await?;
        if answer.status() != StatusCode::UNAUTHORIZED {
            return Ok(answer);
        }
        let challenge = answer
            .headers()
            .get(http::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if let Some(bearer) = challenge.strip_prefix("Bearer ") {
            let token = self.token_for(bearer).await?;
            *self.token.lock().await = Some(token);
            let again = self.attempt(&method, url, headers, body, limit).await?;
            if again.status() != StatusCode::UNAUTHORIZED {
                return Ok(again);
            }
        }
        Err(self.unauthorized())
    }

    async fn attempt(
        &self,
        method: &Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        limit: usize,
    ) -> Result<http::Response<Bytes>, OciError> {
        let mut request = http::Request::builder().method(method.clone()).uri(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let authorization = match self.token.lock().await.as_ref() {
            Some(token) => Some(format!("Bearer {token}")),
            None => self.credentials.as_ref().map(Credentials::basic),
        };
        if let Some(authorization) = authorization {
            request = request.header(http::header::AUTHORIZATION, authorization);
        }
        let request = request.body(body).map_err(|e| self.invalid_request(e))?;
        net::exchange(request, limit)
            .await
            .map_err(|e| self.unreachable(e))
    }

    /// A token from the challenge's realm for its service and scope.
    async fn token_for(&self, challenge: &str) -> Result<String, OciError> {
        let fields = challenge_fields(challenge);
        let field = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let realm = field("realm").ok_or_else(|| self.unauthorized())?;
        let mut query = Vec::new();
        for name in ["service", "scope"] {
            if let Some(value) = field(name) {
                query.push(format!(
                    "{name}={}",
                    percent_encoding::utf8_percent_encode(
                        value,
                        percent_encoding::NON_ALPHANUMERIC
                    )
                ));
            }
        }
        let url = format!("{realm}?{}", query.join("&"));
        let mut request = http::Request::get(&url);
        if let Some(credentials) = &self.credentials {
            request = request.header(http::header::AUTHORIZATION, credentials.basic());
        }
        let request = request
            .body(Bytes::new())
            .map_err(|e| self.invalid_request(e))?;
        let answer = net::exchange(request, MAX_SMALL)
            .await
            .map_err(|e| self.unreachable(e))?;
        if answer.status() != StatusCode::OK {
            return Err(self.unauthorized());
        }
        let body: serde_json::Value =
            serde_json::from_slice(answer.body()).map_err(|_| self.unauthorized())?;
        body.get("token")
            .or_else(|| body.get("access_token"))
            .and_then(|t| t.as_str())
            .map(str::to_owned)
            .ok_or_else(|| self.unauthorized())
    }

    /// Where `answer` points (its `Location`, made absolute against `from`).
    fn location(&self, answer: &http::Response<Bytes>, from: &str) -> Result<String, OciError> {
        let location = answer
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| self.refused("answering without a Location", answer))?;
        if location.starts_with("http://") || location.starts_with("https://") {
            return Ok(location.to_owned());
        }
        let origin_end = from
            .find("://")
            .and_then(|at| from[at + 3..].find('/').map(|slash| at + 3 + slash))
            .unwrap_or(from.len());
        Ok(format!("{}{location}", &from[..origin_end]))
    }

    fn unauthorized(&self) -> OciError {
        OciError::Unauthorized {
            registry: self.reference.registry.clone(),
            had_credentials: self.credentials.is_some(),
        }
    }

    /// A request that could not be built (from what the reference names).
    fn invalid_request(&self, error: http::Error) -> OciError {
        OciError::InvalidReference {
            reference: self.reference.to_string(),
            why: error.to_string(),
        }
    }

    fn unreachable(&self, error: net::NetError) -> OciError {
        OciError::Unreachable {
            reference: self.reference.to_string(),
            why: error.to_string(),
        }
    }

    fn refused(&self, doing: &str, answer: &http::Response<Bytes>) -> OciError {
        let body = String::from_utf8_lossy(&answer.body()[..answer.body().len().min(300)]);
        OciError::Refused {
            reference: self.reference.to_string(),
            doing: doing.to_owned(),
            status: answer.status().as_u16(),
            body: body.trim().to_owned(),
        }
    }
}

/// The `name="value"` pairs of a challenge.
fn challenge_fields(challenge: &str) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    let mut rest = challenge.trim();
    while let Some((name, after)) = rest.split_once('=') {
        let name = name.trim().trim_start_matches(',').trim().to_owned();
        let after = after.trim_start();
        let (value, remaining) = match after.strip_prefix('"') {
            Some(quoted) => match quoted.split_once('"') {
                Some((value, remaining)) => (value.to_owned(), remaining),
                None => (quoted.to_owned(), ""),
            },
            None => match after.split_once(',') {
                Some((value, remaining)) => (value.trim().to_owned(), remaining),
                None => (after.trim().to_owned(), ""),
            },
        };
        fields.push((name, value));
        rest = remaining.trim_start_matches(',').trim();
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bearer_challenge_is_read_field_by_field() {
        let fields = challenge_fields(
            r#"realm="https://auth.example.com/token",service="registry.example.com",scope="repository:trip/users:pull,push""#,
        );
        assert_eq!(
            fields,
            [
                ("realm".into(), "https://auth.example.com/token".into()),
                ("service".into(), "registry.example.com".into()),
                ("scope".into(), "repository:trip/users:pull,push".into()),
            ]
        );
    }

    #[test]
    fn docker_config_credentials_are_found_by_host_and_never_printed() {
        let config = r#"{"auths": {
            "https://ghcr.io": {"auth": "dXNlcjpzM2NyZXQ="},
            "127.0.0.1:5000": {"username": "summer", "password": "hunter2"}
        }}"#;
        let ghcr = from_docker_config(config, "ghcr.io").unwrap();
        assert_eq!(
            (ghcr.user.as_str(), ghcr.password.as_str()),
            ("user", "s3cret")
        );
        let local = from_docker_config(config, "127.0.0.1:5000").unwrap();
        assert_eq!(local.password, "hunter2");
        assert!(from_docker_config(config, "docker.io").is_none());
        assert!(!format!("{local:?}").contains("hunter2"));
    }
}
